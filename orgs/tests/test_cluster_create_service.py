"""cluster_create is the entry point for the embedded launcher (a trusted caller, actor=None) and for admins."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from orgs import selectors, services
from orgs.models import AuditEvent, ClusterConnection, Role
from tests.accounts import make_member, make_org


def test_it_connects_the_first_orgs_cluster_for_the_launcher(db):
    org = make_org()
    owner = make_member(org, Role.OWNER)
    cluster = services.cluster_create(
        actor=None, org=org, name="sandbox", mcp_server_url="http://127.0.0.1:8765/mcp", mcp_server_token="tok",
        is_sandbox=True,
    )  # fmt: skip
    assert cluster.mcp_server_token == "tok"
    assert selectors.cluster_can_operate(user=owner, cluster=cluster)
    event = AuditEvent.objects.get(action="cluster.created")
    assert (event.actor, event.org) == (None, org)


def test_it_refuses_non_admins_and_outsiders(db):
    org = make_org()
    operator = make_member(org, Role.OPERATOR)
    outsider = make_member(make_org(), Role.OWNER)
    with pytest.raises(PermissionDenied):
        services.cluster_create(actor=operator, org=org, name="x", mcp_server_url="http://x.internal/mcp")
    with pytest.raises(Http404):
        services.cluster_create(actor=outsider, org=org, name="x", mcp_server_url="http://x.internal/mcp")
    with pytest.raises(ValidationError):
        services.cluster_create(actor=None, org=org, name="Bad Name", mcp_server_url="http://x.internal/mcp")
    assert not ClusterConnection.objects.exists()
