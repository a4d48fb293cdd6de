"""The run event payloads of DESIGN.md "WebSocket", typed in one place.

Every producer goes through `chats.publisher`, which calls `event_data_validate` before anything is persisted:
an unknown type or a payload missing a required field (or with a wrong type) is refused with `EventInvalid`.
Extra fields are kept (producers may add context such as `message_id` on `run.queued`), required ones never
go missing.
"""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError


class EventInvalid(ValueError):
    """An event of an unknown type or with a malformed payload."""


class _Payload(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class RunQueued(_Payload):
    message_id: str | None = None
    requested_by: str | None = None


class RunStarted(_Payload):
    cluster: str | None = None
    namespace: str | None = None


class PlanStep(_Payload):
    id: str
    title: str
    tool: str | None = None
    mutating: bool


class PlanCreated(_Payload):
    steps: list[PlanStep]


class StepStarted(_Payload):
    step_id: str


class StepFinished(_Payload):
    step_id: str
    status: str | None = None


class ToolCallEvent(_Payload):
    call_id: str
    tool: str
    args: dict[str, Any]
    mutating: bool


class ToolOutput(_Payload):
    call_id: str
    stream: Literal["stdout", "stderr"]
    chunk: str


class ToolResultEvent(_Payload):
    call_id: str
    ok: bool
    output: str
    truncated: bool
    undo: bool | None = None  # an approved change: whether Undo is offered (its state was saved before it ran)


class ApprovalRequested(_Payload):
    approval_id: str
    call_id: str
    tool: str
    args: dict[str, Any]
    preview: str
    expires_at: datetime | str
    undo: str = ""  # what the card says about undo before approving (agents/undo.py undo_note)


class ApprovalUpdated(_Payload):
    """An approver edited the pending call: the arguments that will run and the preview made again."""

    approval_id: str
    call_id: str
    tool: str
    args: dict[str, Any]
    proposed_args: dict[str, Any] | None = None
    preview: str
    by: str | None = None
    undo: str = ""


class ApprovalResolved(_Payload):
    approval_id: str
    decision: str
    by: str | None = None
    reason: str = ""
    source: Literal["browser", "slack", "webhook"] | None = None  # where it was decided; None when it expired
    args: dict[str, Any] | None = None  # only when an approver edited the call: what ran ...
    proposed_args: dict[str, Any] | None = None  # ... and what the model proposed


class VerificationResult(_Payload):
    passed: bool
    checks: list[Any]
    notes: str = ""


class MessageDelta(_Payload):
    message_id: str
    agent: str
    text: str


class MessageCompleted(_Payload):
    message: dict[str, Any]


class RunFinished(_Payload):
    status: Literal["succeeded", "failed", "cancelled", "denied"]
    usage: dict[str, Any] | None = None


class RunError(_Payload):
    code: str
    detail: str


EVENT_PAYLOADS: dict[str, type[_Payload]] = {
    "run.queued": RunQueued,
    "run.started": RunStarted,
    "plan.created": PlanCreated,
    "step.started": StepStarted,
    "step.finished": StepFinished,
    "tool.call": ToolCallEvent,
    "tool.output": ToolOutput,
    "tool.result": ToolResultEvent,
    "approval.requested": ApprovalRequested,
    "approval.updated": ApprovalUpdated,
    "approval.resolved": ApprovalResolved,
    "verification.result": VerificationResult,
    "message.delta": MessageDelta,
    "message.completed": MessageCompleted,
    "run.finished": RunFinished,
    "run.error": RunError,
}
EVENT_TYPES = frozenset(EVENT_PAYLOADS)
# High-volume types that do not count as conversation activity (they would churn the activity index).
STREAM_TYPES = frozenset({"message.delta", "tool.output"})


def event_data_validate(*, type: str, data: dict) -> dict:  # noqa: A002 - the envelope's field name
    """Return `data` if it is a valid payload for `type`, else raise EventInvalid naming the problem."""
    model = EVENT_PAYLOADS.get(type)
    if model is None:
        raise EventInvalid(f"unknown event type {type!r}")
    if not isinstance(data, dict):
        raise EventInvalid(f"{type}: data must be an object")
    try:
        model.model_validate(data)
    except ValidationError as exc:
        raise EventInvalid(f"{type}: {exc.errors(include_url=False)}") from exc
    return data


def event_frame(*, type: str, seq: int, run_id, ts: datetime, data: dict) -> dict:  # noqa: A002
    """The wire envelope `{"type", "seq", "run", "ts", "data"}`."""
    return {"type": type, "seq": seq, "run": str(run_id) if run_id else None, "ts": ts_format(ts), "data": data}


def ts_format(ts: datetime) -> str:
    return ts.isoformat(timespec="microseconds").replace("+00:00", "Z")
