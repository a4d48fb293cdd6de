import datetime as dt
from dataclasses import dataclass

import pytest
from guardian.shortcuts import assign_perm

from chats.models import Conversation, Message, RunEvent
from orgs.models import Membership
from tests.accounts import make_cluster, make_team
from workflows.models import Approval, Run, ToolCall

DAY = dt.datetime(2026, 11, 10, 9, 0, tzinfo=dt.UTC)


@dataclass
class Floor:
    """An organisation with two clusters, a team "platform" (the operator) and a team "data" (the viewer)."""

    trio: object
    prod: object
    staging: object
    platform: object
    data: object
    conversation: Conversation

    def run(self, *, by=None, at: dt.datetime = DAY, status=Run.Status.SUCCEEDED, cluster=None, **fields) -> Run:
        by = by or self.trio.operator
        conversation = self.conversation
        if cluster is not None and cluster != conversation.cluster:
            conversation = Conversation.objects.create(org=self.trio.org, cluster=cluster, owner=by)
        message = Message.objects.create(conversation=conversation, role="user", author=by, content="hi")
        finished = at + dt.timedelta(seconds=fields.pop("seconds", 10)) if status in Run.FINISHED else None
        return Run.objects.create(
            conversation=conversation,
            message=message,
            requested_by=by,
            status=status,
            created_at=at,
            started_at=at,
            finished_at=finished,
            **fields,
        )

    def first_token(self, run: Run, after_ms: int) -> None:
        seq = RunEvent.objects.filter(conversation_id=run.conversation_id).count() + 1
        for n, delay in enumerate((after_ms, after_ms + 40)):
            RunEvent.objects.create(
                conversation_id=run.conversation_id,
                run_id=run.id,
                seq=seq + n,
                type="message.delta",
                data={"text": "x"},
                ts=run.created_at + dt.timedelta(milliseconds=delay),
            )

    def approval(self, run: Run, decision: str, after_s: int, by=None, tool: str = "k8s_scale") -> Approval:
        return Approval.objects.create(
            run=run,
            call_id=f"{run.id}:0:s1:{tool}",
            tool=tool,
            args={"name": "web", "replicas": 3},
            requested_by=run.requested_by,
            decided_by=by,
            decision=decision,
            expires_at=run.created_at + dt.timedelta(minutes=30),
            created_at=run.created_at,
            decided_at=run.created_at + dt.timedelta(seconds=after_s) if decision != "pending" else None,
        )

    def tool_call(self, run: Run, tool: str, n: int = 1) -> None:
        for i in range(n):
            ToolCall.objects.create(run=run, call_id=f"{run.id}:{tool}:{i}", tool=tool, mutating=False)


@pytest.fixture
def floor(trio) -> Floor:
    prod = make_cluster(trio.org, "prod")
    staging = make_cluster(trio.org, "staging")
    for user in (trio.operator, trio.viewer):
        assign_perm("orgs.use_cluster", user, prod)
    conversation = Conversation.objects.create(org=trio.org, cluster=prod, owner=trio.operator, namespace="shop")
    for user in (trio.viewer, trio.admin):
        assign_perm("chats.view_conversation", user, conversation)
        assign_perm("chats.ask_conversation", user, conversation)
    platform = make_team(trio.org, "platform", (trio.operator,))
    data = make_team(trio.org, "data", (trio.viewer,))
    return Floor(trio, prod, staging, platform, data, conversation)


@pytest.fixture
def scene(floor):
    trio, next_day = floor.trio, DAY + dt.timedelta(days=1)
    r1 = floor.run(prompt_tokens=1000, completion_tokens=200, cost_usd="0.01", seconds=10)
    floor.first_token(r1, 300)
    floor.tool_call(r1, "k8s_get", 3)
    floor.tool_call(r1, "k8s_scale")
    floor.approval(r1, "approved", 20, by=trio.admin)
    floor.run(
        status="failed", cluster=floor.staging, error_code="llm_unreachable", prompt_tokens=500, cost_usd="0.002",
        seconds=4,
    )  # fmt: skip
    r3 = floor.run(by=trio.viewer, at=next_day, prompt_tokens=2000, completion_tokens=500, cost_usd="0.03", seconds=30)
    floor.first_token(r3, 900)
    floor.approval(r3, "denied", 60, by=trio.operator)
    floor.run(by=trio.admin, at=next_day, status="running", prompt_tokens=100, cost_usd="0.001")
    floor.run(at=DAY - dt.timedelta(days=5), prompt_tokens=99999, cost_usd="9")  # before the period
    _other_org_run(trio)
    return floor


def _other_org_run(trio) -> None:
    other = Membership.objects.get(user=trio.outsider).org
    cluster = make_cluster(other, "prod")
    conversation = Conversation.objects.create(org=other, cluster=cluster, owner=trio.outsider)
    Run.objects.create(conversation=conversation, requested_by=trio.outsider, created_at=DAY, prompt_tokens=7)
