"""A cluster connection may point at another MCP server: its kind and the tool allow/deny lists admins edit, and the
list of the server's tools with their annotations and the approval each gets, shown against the real
kubernetes-mcp-server."""

import ipaddress

import pytest
from django.test import Client
from mcp_types import ToolAnnotations

from orgs.models import AuditEvent, ClusterConnection, Role
from orgs.tests.matrix import as_role, assert_refused
from orgs.tool_catalog import approval_for
from tests.accounts import make_cluster

LOOPBACK = [ipaddress.ip_network("127.0.0.0/8")]


def _base(trio):
    return f"/api/v1/orgs/{trio.org.slug}/clusters/"


@pytest.fixture
def third_party(trio, settings, kubernetes_mcp_server):
    """A connection to kubernetes-mcp-server (no token) that denies two tools."""
    settings.MCP_ALLOWED_NETWORKS = LOOPBACK
    body = {
        "name": "redhat",
        "mcp_server_url": kubernetes_mcp_server.url,
        "kind": "mcp",
        "tool_deny": ["pods_delete", "configuration_view"],
    }
    response = as_role(trio, "admin").post(_base(trio), body, format="json")
    assert response.status_code == 201, response.content
    return ClusterConnection.objects.get(pk=response.json()["id"])


def test_it_stores_the_kind_and_the_tool_lists_admins_edit(trio):
    admin = as_role(trio, "admin")
    body = {"name": "other", "mcp_server_url": "http://mcp.example.com/mcp", "kind": "mcp", "tool_allow": ["pods_list"]}
    created = admin.post(_base(trio), body, format="json")
    url = f"{_base(trio)}{created.json()['id']}/"

    patched = admin.patch(url, {"tool_allow": [], "tool_deny": ["resources_delete"]}, format="json")

    assert created.status_code == 201
    assert (created.json()["kind"], created.json()["tool_allow"], created.json()["tool_deny"]) == (
        "mcp",
        ["pods_list"],
        [],
    )
    assert patched.status_code == 200
    assert (patched.json()["tool_allow"], patched.json()["tool_deny"]) == ([], ["resources_delete"])
    event = AuditEvent.objects.filter(action="cluster.updated").latest("created_at")
    assert event.data == {"changed": ["tool_allow", "tool_deny"]}
    assert make_cluster(trio.org, "plain").kind == "skyflo"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tool_deny": ["rm -rf"]}, "tool_deny"),
        ({"tool_allow": ["a" * 129]}, "tool_allow"),
        ({"tool_allow": ["pods_list"], "tool_deny": ["pods_list"]}, "tool_deny"),
        ({"kind": "stdio"}, "kind"),
    ],
)
def test_it_refuses_bad_kinds_and_tool_names(trio, change, field):
    cluster = make_cluster(trio.org, "other", url="http://mcp.example.com/mcp")

    response = as_role(trio, "admin").patch(f"{_base(trio)}{cluster.pk}/", change, format="json")

    assert response.status_code == 400
    assert field in response.json()
    cluster.refresh_from_db()
    assert (cluster.kind, cluster.tool_allow, cluster.tool_deny) == ("skyflo", [], [])


def test_it_lists_the_servers_tools_with_their_annotations_approval_and_whether_offered(trio, third_party):
    url = f"{_base(trio)}{third_party.pk}/tools/"
    assert_refused(trio, "get", url, min_role=Role.ADMIN)

    response = as_role(trio, "admin").get(url)

    assert response.status_code == 200
    tools = {t["name"]: t for t in response.json()["results"]}
    assert len(tools) == 20
    assert tools["pods_list"]["approval"] == "none"
    assert tools["pods_list"]["offered"] is True
    assert tools["resources_delete"]["approval"] == "required"
    assert tools["resources_delete"]["annotations"]["destructiveHint"] is True
    assert (tools["pods_run"]["approval"], tools["pods_run"]["annotations"]["destructiveHint"]) == ("required", False)
    assert [name for name, t in tools.items() if not t["offered"]] == ["configuration_view", "pods_delete"]


def test_another_server_offers_nothing_on_a_connection_limited_to_namespaces(trio, third_party):
    third_party.allowed_namespaces = ["shop"]
    third_party.save()

    response = as_role(trio, "admin").get(f"{_base(trio)}{third_party.pk}/tools/")

    assert response.status_code == 200
    assert [t["name"] for t in response.json()["results"] if t["offered"]] == []


def test_an_unreachable_server_is_one_sentence(trio, settings):
    settings.MCP_ALLOWED_NETWORKS = LOOPBACK
    cluster = make_cluster(trio.org, "down", url="http://127.0.0.1:9/mcp", kind="mcp")

    response = as_role(trio, "admin").get(f"{_base(trio)}{cluster.pk}/tools/")

    assert response.status_code == 502
    assert response.json()["detail"].startswith("Could not list this cluster's tools")


def test_only_read_only_annotated_tools_run_without_approval():
    assert approval_for(ToolAnnotations(read_only_hint=True)) == "none"
    assert approval_for(ToolAnnotations(read_only_hint=True, destructive_hint=True)) == "none"
    assert approval_for(ToolAnnotations(read_only_hint=False)) == "required"
    assert approval_for(ToolAnnotations(title="no hints")) == "required"
    assert approval_for(None) == "required"


def test_the_settings_page_shows_the_tools_and_edits_the_lists(trio, third_party):
    admin = Client()
    admin.force_login(trio.admin)
    page = f"/orgs/{trio.org.slug}/settings/clusters/"

    tools = admin.get(f"{page}{third_party.pk}/tools/")
    saved = admin.post(page, {"action": "tools", "cluster": third_party.pk, "tool_allow": "", "tool_deny": "pods_exec"})
    viewer = Client()
    viewer.force_login(trio.viewer)

    assert tools.status_code == 200
    html = tools.content.decode()
    assert "<code>resources_delete</code>" in html
    assert "destructive" in html
    assert "<strong>required</strong>" in html
    assert saved.status_code == 302
    third_party.refresh_from_db()
    assert third_party.tool_deny == ["pods_exec"]
    assert viewer.get(f"{page}{third_party.pk}/tools/").status_code == 403


def test_it_lists_our_own_tool_servers_tools_with_its_token(trio, settings, toolserver):
    settings.MCP_ALLOWED_NETWORKS = LOOPBACK
    cluster = make_cluster(trio.org, "ours", url=toolserver.url, token=toolserver.token)

    response = as_role(trio, "admin").get(f"{_base(trio)}{cluster.pk}/tools/")

    tools = {t["name"]: t for t in response.json()["results"]}
    assert (tools["k8s_get"]["approval"], tools["k8s_delete"]["approval"]) == ("none", "required")
    assert tools["k8s_delete"]["annotations"]["destructiveHint"] is True
    assert all(t["offered"] for t in tools.values())
