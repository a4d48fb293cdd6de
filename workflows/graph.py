"""The agent graph: start -> planner -> executor (<-> approval) -> verifier (-> planner) -> responder.

`build_graph(checkpointer)` compiles it; nothing is compiled at import. Thread = conversation id.
Nodes live in agents/ and get everything through the runtime context (agents.context.RunContext).
"""

from __future__ import annotations

from typing import Literal

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from agents.context import RunContext
from agents.executor import executor
from agents.planner import planner
from agents.responder import responder
from agents.state import InputState, State, run_reset
from agents.verifier import verifier

DECISIONS = ("approve", "deny", "expired")


async def start(state: State, runtime: Runtime[RunContext]) -> dict:
    """Reset the per-run fields: the thread carries the conversation, not the previous run."""
    return run_reset(state)


async def approval(state: State, runtime: Runtime[RunContext]) -> dict:
    """Wait for a human decision on the pending call. No side effects: this node re-runs on resume.

    Interrupt value: {"call_id", "tool", "args", "preview"}.
    Resume with Command(resume={"call_id": str, "decision": "approve"|"deny"|"expired", "by": str, "reason": str}).
    A decision for another call (or none) is never applied to the pending one: it counts as a denial.
    """
    pending = dict(state.pending_approval or {})
    decision = interrupt(pending)
    if not isinstance(decision, dict) or decision.get("decision") not in DECISIONS:
        decision = {"decision": "deny", "by": None, "reason": "The decision could not be read; nothing was run."}
    elif decision.get("call_id") != pending.get("call_id"):
        decision = {"decision": "deny", "by": None, "reason": "A decision for another call was refused."}
    return {"approval": decision}


def route_after_planner(state: State) -> Literal["executor", "responder"]:
    return "executor" if state.plan else "responder"


def route_after_executor(state: State) -> Literal["approval", "executor", "verifier", "responder"]:
    if state.denied:
        return "responder"
    if state.pending_approval is not None:
        return "approval"
    if state.step_index < len(state.plan):
        return "executor"
    return "verifier"


def route_after_verifier(state: State) -> Literal["planner", "responder"]:
    return "planner" if state.replan else "responder"


def build_graph(checkpointer=None):
    """The compiled graph; input {"request", "run_id"}, context a RunContext."""
    builder = StateGraph(State, input_schema=InputState, context_schema=RunContext)
    builder.add_node("start", start)
    builder.add_node("planner", planner)
    builder.add_node("executor", executor)
    builder.add_node("approval", approval)
    builder.add_node("verifier", verifier)
    builder.add_node("responder", responder)
    builder.add_edge(START, "start")
    builder.add_edge("start", "planner")
    builder.add_conditional_edges("planner", route_after_planner)
    builder.add_conditional_edges("executor", route_after_executor)
    builder.add_edge("approval", "executor")
    builder.add_conditional_edges("verifier", route_after_verifier)
    builder.add_edge("responder", END)
    return builder.compile(checkpointer=checkpointer, name="skyflo")
