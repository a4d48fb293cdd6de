"""Acting as the person per cluster connection: admins turn it on with the tool server's key (write-only) and set the
mapping from a Skyflo user and their teams to a Kubernetes user and groups; the API and the settings page show it."""

import pytest
from django.test import Client

from orgs.impersonation import ImpersonationError, kube_identity
from orgs.models import ClusterConnection
from tests.accounts import make_cluster, make_team
from tests.live import access_token

KEY = "k" * 40


def _url(trio, cluster) -> str:
    return f"/api/v1/orgs/{trio.org.slug}/clusters/{cluster.pk}/"


def patch(trio, cluster, body: dict, user=None):
    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {access_token(user or trio.admin)}"}
    return client.patch(_url(trio, cluster), body, content_type="application/json", **headers)


def test_an_admin_turns_it_on_with_the_tool_servers_key_which_is_never_shown(trio):
    cluster = make_cluster(trio.org)
    refused = patch(trio, cluster, {"impersonate": True})
    response = patch(
        trio, cluster, {"impersonate": True, "impersonation_key": KEY, "impersonation_group": "k8s:{team}"}
    )

    assert refused.status_code == 400
    assert "MCP_IMPERSONATION_KEY" in refused.content.decode()
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["impersonate"], body["impersonation_user"], body["impersonation_group"]) == (
        True,
        "{email}",
        "k8s:{team}",
    )
    assert body["has_impersonation_key"] is True
    assert KEY.encode() not in response.content
    cluster.refresh_from_db()
    assert cluster.impersonation_key == KEY
    assert KEY not in cluster.impersonation_key_encrypted
    assert patch(trio, cluster, {"impersonate": False}, user=trio.operator).status_code in (403, 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"impersonation_user": "{name}"}, "impersonation_user"),
        ({"impersonation_group": "team-{id}"}, "impersonation_group"),
        ({"impersonation_user": "{email"}, "impersonation_user"),
        ({"kind": "mcp", "impersonate": True, "impersonation_key": KEY}, "impersonate"),
    ],
)
def test_it_refuses_a_mapping_it_cannot_apply(trio, body, field):
    response = patch(trio, make_cluster(trio.org), body)

    assert response.status_code == 400
    assert field in response.json()


def test_the_default_mapping_is_the_email_and_a_group_per_team(trio):
    cluster = make_cluster(trio.org)
    make_team(trio.org, "Ops Crew", (trio.operator,))
    make_team(trio.org, "payments", (trio.operator,))
    make_team(trio.org, "others", (trio.viewer,))

    identity = kube_identity(trio.operator, cluster)

    assert identity.user == trio.operator.email
    assert identity.groups == ("skyflo:team:ops-crew", "skyflo:team:payments")


def test_a_mapping_that_names_a_system_identity_stops_the_run_with_a_sentence(trio):
    cluster = make_cluster(trio.org, impersonation_user="system:{id}")

    with pytest.raises(ImpersonationError) as raised:
        kube_identity(trio.operator, cluster)

    assert "reserved for Kubernetes itself" in raised.value.sentence


def test_the_settings_page_shows_it_per_connection_and_saves_it(trio):
    on = make_cluster(trio.org, "prod", impersonate=True, impersonation_group="")
    on.impersonation_key = KEY
    on.save()
    off = make_cluster(trio.org, "staging")
    client = Client()
    client.force_login(trio.admin)
    url = f"/orgs/{trio.org.slug}/settings/clusters/"

    page = client.get(url).content.decode()
    data = {"action": "identity", "cluster": off.pk, "impersonate": "on", "impersonation_user": "{id}"}
    data |= {"impersonation_group": "team:{team}", "impersonation_key": KEY}
    saved = client.post(url, data)

    assert "Act as the person" in page
    assert "on · user <code>{email}</code> · groups <code>none</code>" in page
    assert "off (calls run as the tool server's own identity)" in page
    assert KEY not in page
    assert saved.status_code == 302
    off = ClusterConnection.objects.get(pk=off.pk)
    assert (off.impersonate, off.impersonation_user, off.impersonation_group) == (True, "{id}", "team:{team}")
    assert off.impersonation_key == KEY
