"""Finding 7: a cluster's stored token must not follow a changed URL, and cluster connections must not reach
internal addresses (the "Test connection" button was a port scanner for anyone who makes their own org)."""

import ipaddress
import socket
import threading

import pytest
from django.test import Client

from orgs.models import ClusterConnection
from orgs.services.tool_server_address import REFUSED
from orgs.tests.matrix import as_role
from orgs.views import CONNECT_FAILED
from tests.accounts import make_cluster, make_member, make_org

LOOPBACK = [ipaddress.ip_network("127.0.0.0/8")]


def _clusters_url(org):
    return f"/api/v1/orgs/{org.slug}/clusters/"


def test_finding_07_url_change_requires_token(trio):
    cluster = make_cluster(trio.org, "staging", url="http://mcp.example.com/mcp", token="the-real-token")
    url = f"{_clusters_url(trio.org)}{cluster.pk}/"
    admin = as_role(trio, "admin")

    response = admin.patch(url, {"mcp_server_url": "http://attacker.example.net/mcp"}, format="json")

    assert response.status_code == 400
    assert "mcp_server_token" in response.json()
    cluster.refresh_from_db()
    assert (cluster.mcp_server_url, cluster.mcp_server_token) == ("http://mcp.example.com/mcp", "the-real-token")
    body = {"mcp_server_url": "http://other.example.net/mcp", "mcp_server_token": "other-token"}
    assert admin.patch(url, body, format="json").status_code == 200
    cluster.refresh_from_db()
    assert (cluster.mcp_server_url, cluster.mcp_server_token) == ("http://other.example.net/mcp", "other-token")


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:5432/mcp",
        "http://[::1]:6379/mcp",
        "http://10.0.0.7:8081/mcp",
        "http://192.168.1.1/mcp",
        "http://[::ffff:169.254.169.254]/mcp",
        "http://localhost:6379/mcp",
    ],
)
def test_finding_07_internal_addresses_are_refused(trio, settings, target):
    settings.MCP_ALLOWED_NETWORKS = []
    admin = as_role(trio, "admin")
    response = admin.post(_clusters_url(trio.org), {"name": "probe", "mcp_server_url": target}, format="json")
    assert response.status_code == 400
    assert response.json()["mcp_server_url"] == [REFUSED]
    assert not ClusterConnection.objects.filter(org=trio.org).exists()

    cluster = make_cluster(trio.org, "staging", url="http://mcp.example.com/mcp")
    body = {"mcp_server_url": target, "mcp_server_token": "x"}
    assert admin.patch(f"{_clusters_url(trio.org)}{cluster.pk}/", body, format="json").status_code == 400
    cluster.refresh_from_db()
    assert cluster.mcp_server_url == "http://mcp.example.com/mcp"


def test_finding_07_allowed_networks_setting_admits_internal_addresses(trio, settings):
    settings.MCP_ALLOWED_NETWORKS = [ipaddress.ip_network("10.20.0.0/16")]
    admin = as_role(trio, "admin")
    body = {"name": "inside", "mcp_server_url": "http://10.20.1.2:8081/mcp", "mcp_server_token": "t"}
    assert admin.post(_clusters_url(trio.org), body, format="json").status_code == 201
    body = {"name": "outside", "mcp_server_url": "http://10.30.1.2:8081/mcp", "mcp_server_token": "t"}
    assert admin.post(_clusters_url(trio.org), body, format="json").status_code == 400


@pytest.fixture
def open_port():
    """A TCP port that accepts and hangs up: an open port that is not a tool server."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def _closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


def _test_connection(client, org, cluster):
    return client.post(f"/orgs/{org.slug}/settings/clusters/{cluster.pk}/test/").json()


def test_finding_07_test_connection_does_not_tell_open_from_closed_ports(db, settings, open_port):
    settings.MCP_ALLOWED_NETWORKS = LOOPBACK
    org = make_org()
    client = Client()
    client.force_login(make_member(org, "owner"))
    closed = make_cluster(org, "closed", url=f"http://127.0.0.1:{_closed_port()}/mcp")
    opened = make_cluster(org, "opened", url=f"http://127.0.0.1:{open_port}/mcp")

    answers = [_test_connection(client, org, cluster) for cluster in (closed, opened)]

    assert answers == [{"ok": False, "detail": CONNECT_FAILED}] * 2


def test_finding_07_test_connection_refuses_internal_addresses(db, settings, open_port):
    settings.MCP_ALLOWED_NETWORKS = []
    org = make_org()
    client = Client()
    client.force_login(make_member(org, "owner"))
    # A row stored before the rule (or a host that now resolves elsewhere) is checked again before connecting.
    cluster = make_cluster(org, "old", url=f"http://127.0.0.1:{open_port}/mcp")
    assert _test_connection(client, org, cluster) == {"ok": False, "detail": REFUSED}
