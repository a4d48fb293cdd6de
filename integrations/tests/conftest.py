import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from integrations import services
from skyflo.celery import app
from workflows.models import Approval, Run
from workflows.tests.conftest import Room as RunRoom
from workflows.tests.conftest import room_make


@dataclass
class Room(RunRoom):
    """A conversation of the operator on cluster `staging`, an approval of the operator's run waiting in it."""

    def waiting(self, *, by=None, **fields) -> Approval:
        run = self.run(status=Run.Status.AWAITING_APPROVAL, by=by)
        args = {"kind": "deployment", "name": "web", "namespace": "shop", "replicas": 3}
        return self.approval(run, **{"args": args, **fields})


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """Celery tasks run in the calling thread (so they see the test's transaction), retries included."""
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def room(trio) -> Room:
    return room_make(trio, Room)


@pytest.fixture
def connected(room, slack):
    """The org's Slack app is the scripted workspace's."""
    return services.slack_connection_set(
        actor=room.trio.owner,
        org=room.trio.org,
        channel="C0APPROVALS",
        bot_token=slack.token,
        signing_secret=slack.signing_secret,
    )


# --- a webhook receiver ------------------------------------------------------------------------------------------


@dataclass
class Receiver:
    url: str
    requests: list = field(default_factory=list)
    status: int = 200


class _ReceiverHandler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        receiver = self.server.receiver
        receiver.requests.append({"headers": dict(self.headers), "body": body})
        self.send_response(receiver.status)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _ReceiverHandler)
    httpd.receiver = Receiver(url=f"http://127.0.0.1:{httpd.server_address[1]}/hooks/{uuid.uuid4().hex}")
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.receiver
    httpd.shutdown()


def payload_of(request: dict) -> dict:
    return json.loads(request["body"])
