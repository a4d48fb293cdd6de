"""Each audit event is pushed as one JSON line to the operator's sink (HTTP or syslog); a broken sink never fails
the action, it is logged."""

import json
import logging
import queue
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from orgs.tests.matrix import as_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def http_sink():
    received: queue.Queue = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            length = int(self.headers["Content-Length"])
            received.put((self.headers.get("Authorization"), self.headers["Content-Type"], self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/audit", received
    server.shutdown()


def set_budget(trio, django_capture_on_commit_callbacks, limit="100"):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_role(trio, "admin").put(
            f"/api/v1/orgs/{trio.org.slug}/budgets/", {"kind": "tokens", "monthly_limit": limit}, format="json"
        )
    assert response.status_code == 200, response.content


def next_line(received: queue.Queue, action: str):
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        item = received.get(timeout=15)
        line = json.loads((item[-1] if isinstance(item, tuple) else item).split(b" - audit - ", 1)[-1])
        if line["action"] == action:
            return item, line
    raise AssertionError(f"no {action} reached the sink")


def test_it_posts_each_event_as_a_json_line(trio, settings, http_sink, django_capture_on_commit_callbacks):
    settings.AUDIT_SINK_URL, received = http_sink
    settings.AUDIT_SINK_TOKEN = "sink-secret"
    set_budget(trio, django_capture_on_commit_callbacks)
    (authorization, content_type, _), line = next_line(received, "budget.set")
    assert (authorization, content_type) == ("Bearer sink-secret", "application/x-ndjson")
    assert (line["org"], line["actor"], line["client_ip"]) == (trio.org.slug, trio.admin.email, "127.0.0.1")
    assert line["data"] == {"team": None, "kind": "tokens", "monthly_limit": "100.000000"}


def test_it_sends_syslog_datagrams(trio, settings, django_capture_on_commit_callbacks):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        server.settimeout(15)
        settings.AUDIT_SINK_URL = f"syslog://127.0.0.1:{server.getsockname()[1]}"
        set_budget(trio, django_capture_on_commit_callbacks)
        datagram = server.recv(65535)
    assert datagram.startswith(b"<110>1 ")
    assert b" skyflo - audit - " in datagram
    assert json.loads(datagram.split(b" - audit - ", 1)[1])["action"] == "budget.set"


def test_a_broken_sink_never_fails_the_action(trio, settings, caplog, http_sink, django_capture_on_commit_callbacks):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings.AUDIT_SINK_URL = f"http://127.0.0.1:{port}/audit?token=never-logged"
    with caplog.at_level(logging.WARNING, logger="insights.audit_sink"):
        set_budget(trio, django_capture_on_commit_callbacks)
        deadline = time.monotonic() + 15
        while "refused or unreachable" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    assert f"audit sink http://127.0.0.1:{port} refused or unreachable" in caplog.text
    assert "never-logged" not in caplog.text
    # the sender lives on: the next event reaches a working sink
    settings.AUDIT_SINK_URL, received = http_sink
    set_budget(trio, django_capture_on_commit_callbacks, limit="200")
    assert next_line(received, "budget.set")[1]["data"]["monthly_limit"] == "200.000000"
