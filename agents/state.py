"""Graph state. One thread per conversation; every run overwrites its per-run fields at `start`.

Input of a run: {"request": str, "run_id": str}. Output read by the driver: `outcome`
("succeeded" | "failed" | "denied" | "cancelled") and `answer`; while waiting for an approval the
result carries "__interrupt__" instead (see agents/context.py; workflows/graph.py wires the graph over it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NotRequired, TypedDict


class StepCall(TypedDict):
    """One tool call of a plan step, from the model's reply (agents/executor.py) to the ledger (`call_id` keys it)."""

    call_id: str
    tool: str
    args: dict
    mutating: bool  # needs an approval: decided from the tool's annotations, never by the model
    status: str  # pending | invalid | refused | done
    reason: NotRequired[str]  # why it is invalid or refused


class CallResult(TypedDict):
    """What a tool call returned: as the MCP client gives it, as the ledger keeps it, as a retry reads it back."""

    ok: bool
    output: str  # the command's output (stderr appended on failure), redacted and capped
    truncated: bool  # the output was cut (it then ends with a marker)
    command: str | None  # the exact command that ran, e.g. "kubectl scale ..."
    unknown: NotRequired[bool]  # started but never finished (a worker died mid-call): never run again blindly


@dataclass(kw_only=True)
class InputState:
    request: str = ""
    run_id: str = ""
    # An undo run's single step {tool, args, title}: planned without the model (agents/planner.py).
    preset_call: dict | None = None


@dataclass(kw_only=True)
class State(InputState):
    round: int = 0  # 0 for the first plan, +1 per re-plan after a failed verification
    summary: str = ""  # summary of a long conversation history (kept across runs of the thread)
    plan: list[dict] = field(default_factory=list)  # [{id, title, tool, mutating}]
    plan_summary: str = ""
    step_index: int = 0
    step_calls: list[StepCall] = field(default_factory=list)  # resolved calls of the current step
    pending_approval: dict | None = None  # {call_id, tool, args, preview} awaiting a decision
    approval: dict | None = None  # the resume value {decision, by, reason}
    results: list[dict] = field(default_factory=list)  # every finished call of this run
    findings: str = ""  # the failed verification's notes, for the re-plan
    verification: dict | None = None  # {passed, checks, notes}
    replan: bool = False
    denied: dict | None = None  # {call_id, tool, args, decision, by, reason}
    refused: list[dict] = field(default_factory=list)  # calls the policy refused
    outcome: str | None = None
    answer: str = ""


def run_reset(state: State) -> dict:
    """The per-run fields at the start of a run."""
    return {
        "round": 0,
        "plan": [],
        "plan_summary": "",
        "step_index": 0,
        "step_calls": [],
        "pending_approval": None,
        "approval": None,
        "results": [],
        "findings": "",
        "verification": None,
        "replan": False,
        "denied": None,
        "refused": [],
        "outcome": None,
        "answer": "",
    }
