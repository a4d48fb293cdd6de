"""/orgs/{slug}/clusters/: admins see and manage all; others see only clusters granted to them or their teams.
The MCP token is write-only: stored encrypted and never returned."""

from guardian.shortcuts import assign_perm

from orgs.models import AuditEvent, ClusterConnection, Role
from orgs.tests.matrix import as_role, assert_refused
from tests.accounts import make_cluster, make_team


def _base(trio):
    return f"/api/v1/orgs/{trio.org.slug}/clusters/"


def _clusters(trio):
    return list(ClusterConnection.objects.filter(org=trio.org).order_by("name").values())


def test_it_lists_all_clusters_to_admins_and_granted_ones_to_others(trio):
    staging, _ = make_cluster(trio.org, "staging"), make_cluster(trio.org, "prod")
    team = make_team(trio.org, "payments", (trio.operator,))
    assign_perm("orgs.use_cluster", team.group, staging)
    assert_refused(trio, "get", _base(trio), min_role=Role.VIEWER)

    def names(role):
        return [c["name"] for c in as_role(trio, role).get(_base(trio)).json()["results"]]

    assert sorted(names("admin")) == ["prod", "staging"]
    assert names("operator") == ["staging"]
    assert names("viewer") == []


def test_it_creates_clusters_for_admins_with_a_write_only_token(trio):
    body = {"name": "staging", "mcp_server_url": "http://mcp.internal/mcp", "mcp_server_token": "s3cr3t-value"}
    assert_refused(trio, "post", _base(trio), min_role=Role.ADMIN, data=body, snapshot=lambda: _clusters(trio))
    response = as_role(trio, "admin").post(_base(trio), body, format="json")
    assert response.status_code == 201
    assert response.json()["has_token"] is True
    assert b"s3cr3t-value" not in response.content
    cluster = ClusterConnection.objects.get(org=trio.org)
    assert cluster.mcp_server_token == "s3cr3t-value"
    assert "s3cr3t-value" not in cluster.mcp_token_encrypted
    assert AuditEvent.objects.filter(action="cluster.created", target_id=str(cluster.pk)).exists()
    assert b"s3cr3t-value" not in as_role(trio, "admin").get(f"{_base(trio)}{cluster.pk}/").content


def test_it_refuses_bad_cluster_input(trio):
    body = {"name": "Not A Label", "mcp_server_url": "not a url"}
    response = as_role(trio, "admin").post(_base(trio), body, format="json")
    assert response.status_code == 400
    assert "mcp_server_url" in response.json()
    make_cluster(trio.org, "staging")
    body = {"name": "staging", "mcp_server_url": "http://x.internal/mcp"}
    assert as_role(trio, "admin").post(_base(trio), body, format="json").status_code == 400


def test_it_reads_a_cluster_only_where_granted(trio):
    cluster = make_cluster(trio.org, "staging")
    url = f"{_base(trio)}{cluster.pk}/"
    assert_refused(trio, "get", url, min_role=Role.ADMIN, below={"viewer": 404, "operator": 404})
    assign_perm("orgs.use_cluster", trio.viewer, cluster)
    assert as_role(trio, "viewer").get(url).json()["name"] == "staging"


def test_it_updates_clusters_for_admins(trio):
    cluster = make_cluster(trio.org, "staging", token="old-token")
    assign_perm("orgs.use_cluster", trio.operator, cluster)
    url = f"{_base(trio)}{cluster.pk}/"
    body = {"read_only": True, "mcp_server_token": "new-token"}
    below = {"viewer": 404, "operator": 403}
    assert_refused(trio, "patch", url, min_role=Role.ADMIN, data=body, below=below, snapshot=lambda: _clusters(trio))
    response = as_role(trio, "admin").patch(url, body, format="json")
    assert response.status_code == 200
    cluster.refresh_from_db()
    assert (cluster.read_only, cluster.mcp_server_token) == (True, "new-token")
    event = AuditEvent.objects.get(action="cluster.updated")
    assert event.data == {"changed": ["mcp_server_token", "read_only"]}


def test_it_deletes_clusters_for_admins(trio):
    cluster = make_cluster(trio.org, "staging")
    assign_perm("orgs.use_cluster", trio.operator, cluster)
    url = f"{_base(trio)}{cluster.pk}/"
    below = {"viewer": 404, "operator": 403}
    assert_refused(trio, "delete", url, min_role=Role.ADMIN, below=below, snapshot=lambda: _clusters(trio))
    assert as_role(trio, "admin").delete(url).status_code == 204
    assert _clusters(trio) == []
    assert AuditEvent.objects.filter(action="cluster.deleted").exists()
