"""The run context: everything a graph node needs from the outside world.

`agents/` never touches the ORM. The workflow engineer implements `RunContext` over Django
(workflows/) and passes it as the LangGraph runtime context::

    graph = build_graph(checkpointer)
    await graph.ainvoke(
        {"request": text, "run_id": str(run.id)},            # start of a run
        config={"configurable": {"thread_id": str(conversation.id)}},
        context=ctx,
    )
    await graph.ainvoke(Command(resume={"call_id": call_id, "decision": "approve", "by": user_id, "reason": "ok"}),
                        config=..., context=ctx)              # after an approval decision

The result of `ainvoke` is the state dict. If it contains "__interrupt__", the run is waiting
for an approval: `result["__interrupt__"][0].value == {"call_id", "tool", "args", "preview"}`
(create the Approval row, emit approval.requested, free the worker). Otherwise the run is over
and `result["outcome"]` is one of "succeeded" | "failed" | "denied" | "cancelled" (the
run.finished status). Resume values: {"call_id": the interrupt's call_id, "decision": "approve" | "deny" |
"expired", "by": str, "reason": str}. `agents.errors.RunCancelled` propagates out of ainvoke on cancel,
`agents.errors.LLMNotConfigured` (attr `.variable`) when the LLM is not configured.

Close `llm` (`await llm.aclose()`) when the run is over. Nodes read it as `runtime.context`.
Everything here is async and must be safe to call from the
event loop that runs the graph.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from agents.llm import LLMClient
    from agents.mcp_client import ToolSession
    from agents.state import CallResult
    from agents.tool_policy import ToolPolicy


@runtime_checkable
class MessageStream(Protocol):
    """One assistant message being streamed (agent = "planner" | "verifier" | "responder")."""

    message_id: str

    async def push(self, text: str) -> None:
        """A token delta -> `message.delta {message_id, agent, text}` (the publisher coalesces)."""

    async def complete(self, text: str) -> None:
        """The full text: persist the assistant Message and emit `message.completed`."""


@runtime_checkable
class RunContext(Protocol):
    """Per-run services handed to the graph as LangGraph runtime context."""

    run_id: str
    conversation_id: str
    user_request: str  # the message that started this run
    history: list[dict]  # earlier turns [{"role": "user"|"assistant", "content": str}], oldest first
    default_namespace: str | None
    llm: LLMClient
    tools: ToolSession  # entered (``async with``) by the driver for the duration of the run
    policy: ToolPolicy
    max_replans: int  # the verifier re-plans at most this many further rounds (2)

    async def emit(self, type: str, data: dict) -> None:  # noqa: A002 - event type
        """Publish one DESIGN.md event, e.g. ("plan.created", {"steps": [...]}).

        Nodes emit: plan.created, step.started {step_id}, step.finished {step_id, status},
        tool.call {call_id, tool, args, mutating}, tool.output {call_id, stream, chunk},
        tool.result {call_id, ok, output, truncated}, verification.result {passed, checks, notes}.
        The driver emits run.*, approval.* and (via MessageStream) message.*.
        """

    async def ledger_get(self, call_id: str) -> CallResult | None:
        """The stored result of a call that already FINISHED in this run, else None.

        A call that was started but never finished (worker crash mid-call) returns
        {"ok": False, "output": "...interrupted...", "unknown": True} if the implementation
        wants to prevent a blind repeat of a mutating call; nodes treat any dict as "done".
        """

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
        """Record that a call is about to run (before the tool server sees it); an approved change also keeps
        `before` (what it changes, as read just now) and `undo` (the restoring call, or why there is none).

        Only plan-step calls use the ledger (mutating ones always, after approval); the planner's
        and verifier's read-only discovery calls do not. Call ids are "{run_id}:{round}:{step_id}:{n}".
        """

    async def ledger_finish(self, call_id: str, ok: bool, result: CallResult) -> None:
        """Record the call's result."""

    async def cancelled(self) -> bool:
        """True once cancel was requested for this run (checked between chunks and before calls)."""

    async def message_stream(self, agent: str) -> MessageStream:
        """Open a new streamed assistant message for `agent`."""

    async def record_usage(
        self,
        prompt_tokens: int,
        completion_tokens: int,
        model: str,
        *,
        cached_tokens: int = 0,
        reasoning_tokens: int = 0,
    ) -> None:
        """Add one LLM call's token usage to the run (summed for run.finished usage; cached and reasoning tokens,
        parts of the two counts, for its cost)."""

    async def mutation_refusal(self, call: dict) -> str | None:
        """Right before an approved call runs: why it may not run now (a sentence), or None.

        Read fresh, not from the run's start: the approval of exactly this call and these arguments, the
        cluster not read-only, the asker's and the approver's current rights, the connection's namespaces.
        """
