"""The RunContext of agents/context.py over Django: events through chats' publisher, the ToolCall ledger, usage.

Ledger rule after a crash: a ToolCall left `started` with no result may or may not have changed the cluster.
It is never re-run blindly: `ledger_get` answers it as done with `unknown: True`, the executor reports it and
the verifier checks the cluster's actual state.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from agents.namespace_scope import OutOfScope, scope_arguments
from agents.state import CallResult
from chats.deltas import DeltaStream
from chats.event_log import storable
from chats.publisher import aevent_publish
from chats.services import message_assistant_create
from orgs.pricing import Usage, run_cost
from orgs.selectors import cluster_can_operate, cluster_can_request_changes
from skyflo.metrics import llm_chat_observed
from skyflo.tracing import llm_traced
from workflows.models import Approval, Run, ToolCall
from workflows.run_loop import RunHandle, db

UNKNOWN_OUTCOME = (
    "This call was started but its worker stopped before it reported a result; it was NOT run again. "
    "Its effect is unknown: check the cluster's actual state."
)


def llm_cost(model: str, prompt_tokens: int, completion_tokens: int) -> Decimal:
    """USD at the install's prices (no organisation's own); the table and its rules are orgs/pricing.py."""
    return run_cost(model, Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens))


class DjangoMessageStream:
    """One streamed assistant message: deltas through chats' DeltaStream, the full text as a Message row."""

    def __init__(self, *, run: Run, agent: str):
        self.message_id = str(uuid.uuid4())
        self.run = run
        self.agent = agent
        self.closed = False
        self._deltas = DeltaStream(
            conversation_id=run.conversation_id, run_id=run.id, message_id=self.message_id, agent=agent
        )

    async def push(self, text: str) -> None:
        await self._deltas.push(text)

    async def complete(self, text: str) -> None:
        await self.close()
        message = await db(
            message_assistant_create,
            conversation_id=self.run.conversation_id,
            message_id=self.message_id,
            content=text,
            run_id=self.run.id,
        )
        await aevent_publish(
            conversation_id=self.run.conversation_id,
            run_id=self.run.id,
            type="message.completed",
            data={
                "message": {
                    "id": str(message.id),
                    "role": message.role,
                    "content": message.content,
                    "run": str(self.run.id),
                    "agent": self.agent,
                }
            },
        )

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await self._deltas.close()


class RunLLM:
    """The process's LLM client as one run uses it: the run's first request marks the run set up, so that its
    set-up slot (workflows/run_loop.py) goes to the next run while this one waits for the model."""

    def __init__(self, client, handle: RunHandle):
        self._client = client
        self._handle = handle

    def ensure_configured(self) -> None:
        self._client.ensure_configured()

    async def chat(self, messages: list[dict], **kwargs):
        self._handle.set_up()
        clock = self._handle.clock
        first = clock is not None and "to_model" not in clock.steps
        if first:
            clock.mark("to_model")  # from the MCP session and policy: checkpoint read, the planner's prompt
            kwargs["on_token"] = _first_token_logged(kwargs.get("on_token"), clock, self._handle.run_id)
        try:
            return await llm_traced(self._client.model, llm_chat_observed(self._client.chat, messages, **kwargs))
        finally:
            if first and not clock.logged:  # an answer without content tokens (or none): its end instead
                clock.mark("model_end")
                clock.log(self._handle.run_id)


def _first_token_logged(on_token, clock, run_id: str):
    async def timed(text: str) -> None:
        if not clock.logged:
            clock.mark("model_first_delta")
            clock.log(run_id)
        if on_token is not None:
            await on_token(text)

    return timed


@dataclass
class DjangoRunContext:
    run: Run
    handle: RunHandle
    user_request: str
    history: list[dict]
    default_namespace: str | None
    llm: Any
    tools: Any
    policy: Any = None
    max_replans: int = 2
    streams: list[DjangoMessageStream] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return str(self.run.id)

    @property
    def conversation_id(self) -> str:
        return str(self.run.conversation_id)

    async def emit(self, type: str, data: dict) -> None:  # noqa: A002 - the event's field name
        await aevent_publish(conversation_id=self.run.conversation_id, run_id=self.run.id, type=type, data=data)

    async def ledger_get(self, call_id: str) -> CallResult | None:
        return await db(ledger_get, run_id=self.run.id, call_id=call_id)

    async def ledger_start(
        self,
        call_id: str,
        tool: str,
        args: dict,
        mutating: bool,
        *,
        before: dict | None = None,
        undo: dict | None = None,
    ) -> None:
        await db(
            ledger_start,
            run_id=self.run.id,
            call_id=call_id,
            tool=tool,
            args=args,
            mutating=mutating,
            before=before,
            undo=undo,
        )

    async def ledger_finish(self, call_id: str, ok: bool, result: CallResult) -> None:
        await db(ledger_finish, run_id=self.run.id, call_id=call_id, ok=ok, result=result)

    async def cancelled(self) -> bool:
        return self.handle.cancel_requested

    async def message_stream(self, agent: str) -> DjangoMessageStream:
        stream = DjangoMessageStream(run=self.run, agent=agent)
        self.streams.append(stream)
        return stream

    async def record_usage(self, prompt_tokens: int, completion_tokens: int, model: str, **details: int) -> None:
        """`details`: cached_tokens, reasoning_tokens where the provider reports them (orgs/pricing.py)."""
        usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, **details)
        cost = await db(run_cost, model or "", usage, org=self.run.conversation.org_id)
        await db(run_usage_add, run_id=self.run.id, prompt=prompt_tokens, completion=completion_tokens, cost=cost)

    async def mutation_refusal(self, call: dict) -> str | None:
        return await db(mutation_refusal, run_id=self.run.id, call=call)

    async def streams_close(self) -> None:
        for stream in self.streams:
            try:
                await stream.close()
            except Exception:  # noqa: S112 - a failed flush must not hide the run's own outcome
                continue


# --- the ledger (sync; run on the DB threads) ------------------------------------------------------------------


def ledger_get(*, run_id, call_id: str) -> CallResult | None:
    call = ToolCall.objects.filter(run_id=run_id, call_id=call_id).first()
    if call is None:
        return None
    if call.state == ToolCall.State.STARTED or call.result is None:
        return {"ok": False, "output": UNKNOWN_OUTCOME, "truncated": False, "command": None, "unknown": True}
    return call.result


def ledger_start(
    *, run_id, call_id: str, tool: str, args: dict, mutating: bool, before: dict | None = None, undo: dict | None = None
) -> None:
    # A second start of the same call id keeps the first row; callers consult ledger_get first.
    with contextlib.suppress(IntegrityError), transaction.atomic():
        ToolCall.objects.create(
            run_id=run_id,
            call_id=call_id,
            tool=tool,
            args=storable(args),
            mutating=mutating,
            before=storable(before),
            undo=storable(undo),
        )


def ledger_finish(*, run_id, call_id: str, ok: bool, result: CallResult) -> None:
    state = ToolCall.State.SUCCEEDED if ok else ToolCall.State.FAILED
    ToolCall.objects.filter(run_id=run_id, call_id=call_id).update(
        state=state, result=storable(result), finished_at=timezone.now()
    )


def ledger_abandon(*, run_id) -> int:
    """Calls cut off by a cancel: failed, outcome unknown (the tool server killed the command)."""
    return ToolCall.objects.filter(run_id=run_id, state=ToolCall.State.STARTED).update(
        state=ToolCall.State.FAILED,
        result={"ok": False, "output": "cancelled while running", "truncated": False, "unknown": True},
        finished_at=timezone.now(),
    )


def run_usage_add(*, run_id, prompt: int, completion: int, cost: Decimal) -> None:
    Run.objects.filter(pk=run_id).update(
        prompt_tokens=F("prompt_tokens") + prompt,
        completion_tokens=F("completion_tokens") + completion,
        cost_usd=F("cost_usd") + cost,
    )


# --- the last check before a mutating call (sync; run on the DB threads) -------------------------------------


def mutation_refusal(*, run_id, call: dict) -> str | None:
    """Why the approved `call` may not run now, read fresh from the database; None when it may."""
    run = Run.objects.select_related("conversation__cluster__org", "requested_by").get(pk=run_id)
    approval = Approval.objects.select_related("decided_by").filter(run=run, call_id=call["call_id"]).first()
    if approval is None or approval.decision != Approval.Decision.APPROVED:
        return "This call was not approved, so it was not run."
    if approval.tool != call["tool"] or approval.args != call["args"]:
        return "This call is not the one that was approved, so it was not run."
    cluster = run.conversation.cluster
    if cluster is None:
        return "The conversation's cluster connection was deleted, so the call was not run."
    return _rights_refusal(run, approval, cluster) or _namespaces_refusal(run, call, cluster)


def _rights_refusal(run: Run, approval: Approval, cluster) -> str | None:
    if cluster.read_only:
        return f"The cluster connection {cluster.name} is read-only now, so the call was not run."
    if not cluster_can_request_changes(user=run.requested_by, cluster=cluster):
        return "The person who asked may no longer request changes on this cluster, so the call was not run."
    approver = approval.decided_by
    if approver is None or not approver.is_active or not cluster_can_operate(user=approver, cluster=cluster):
        return "The person who approved may no longer approve changes on this cluster, so the call was not run."
    if cluster.org.four_eyes and approver.pk == run.requested_by_id:
        return "Four-eyes rule: the call was approved by the person who asked for it, so it was not run."
    return None


def _namespaces_refusal(run: Run, call: dict, cluster) -> str | None:
    default = run.conversation.namespace or cluster.default_namespace or None
    try:
        scoped = scope_arguments(call["tool"], call["args"], allowed=cluster.allowed_namespaces or (), default=default)
    except OutOfScope as exc:
        return f"{exc} The call was not run."
    if scoped != call["args"]:
        return "The cluster connection's namespaces changed since this call was approved, so it was not run."
    return None
