from dataclasses import dataclass

import pytest
from django.utils import timezone
from guardian.shortcuts import assign_perm

from chats.models import Conversation, Message
from tests.accounts import make_cluster
from workflows.models import Approval, Run


@dataclass
class Room:
    trio: object
    cluster: object
    conversation: Conversation

    def run(self, *, status=Run.Status.QUEUED, by=None, **fields) -> Run:
        by = by or self.trio.operator
        message = Message.objects.create(conversation=self.conversation, role="user", author=by, content="hi")
        return Run.objects.create(
            conversation=self.conversation, message=message, requested_by=by, status=status, **fields
        )

    def approval(self, run: Run, **fields) -> Approval:
        defaults = {
            "call_id": f"{run.id}:0:s1:1",
            "tool": "k8s_scale",
            "args": {"kind": "deployment", "name": "web", "replicas": 3},
            "preview": "-  replicas: 1\n+  replicas: 3",
            "requested_by": run.requested_by,
            "expires_at": timezone.now() + timezone.timedelta(minutes=30),
        }
        return Approval.objects.create(run=run, **{**defaults, **fields})


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def room(trio) -> Room:
    """A conversation of the operator on a cluster; the viewer and a second operator may see it and ask."""
    return room_make(trio, Room)


def room_make(trio, room_class: type[Room]) -> Room:
    cluster = make_cluster(trio.org)
    for user in (trio.operator, trio.viewer):
        assign_perm("orgs.use_cluster", user, cluster)
    assign_perm("orgs.operate_cluster", trio.operator, cluster)
    conversation = Conversation.objects.create(org=trio.org, cluster=cluster, owner=trio.operator, namespace="shop")
    for user in (trio.viewer, trio.admin):
        assign_perm("chats.view_conversation", user, conversation)
        assign_perm("chats.ask_conversation", user, conversation)
    return room_class(trio=trio, cluster=cluster, conversation=conversation)
