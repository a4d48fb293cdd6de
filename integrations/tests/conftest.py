import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone
from guardian.shortcuts import assign_perm

from chats.models import Conversation, Message
from integrations import services
from skyflo.celery import app
from tests.accounts import make_cluster
from workflows.models import Approval, Run


@dataclass
class Room:
    """A conversation of the operator on cluster `staging`, an approval of the operator's run waiting in it."""

    trio: object
    cluster: object
    conversation: Conversation

    def waiting(self, *, by=None, **fields) -> Approval:
        by = by or self.trio.operator
        message = Message.objects.create(conversation=self.conversation, role="user", author=by, content="scale")
        run = Run.objects.create(
            conversation=self.conversation, message=message, requested_by=by, status=Run.Status.AWAITING_APPROVAL
        )
        defaults = {
            "call_id": f"{run.id}:0:s1:1",
            "tool": "k8s_scale",
            "args": {"kind": "deployment", "name": "web", "namespace": "shop", "replicas": 3},
            "preview": "-  replicas: 1\n+  replicas: 3",
            "requested_by": by,
            "expires_at": timezone.now() + timezone.timedelta(minutes=30),
        }
        return Approval.objects.create(run=run, **{**defaults, **fields})


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
    cluster = make_cluster(trio.org)
    for user in (trio.operator, trio.viewer):
        assign_perm("orgs.use_cluster", user, cluster)
    assign_perm("orgs.operate_cluster", trio.operator, cluster)
    conversation = Conversation.objects.create(org=trio.org, cluster=cluster, owner=trio.operator, namespace="shop")
    for user in (trio.viewer, trio.admin):
        assign_perm("chats.view_conversation", user, conversation)
        assign_perm("chats.ask_conversation", user, conversation)
    return Room(trio=trio, cluster=cluster, conversation=conversation)


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
