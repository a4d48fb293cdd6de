"""The verifier node: checks the outcome with read-only tools and gives a verdict with evidence."""

from __future__ import annotations

from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from agents.briefing import plan_text, setting, tool_catalogue
from agents.context import RunContext
from agents.prompts import load_prompt
from agents.read_only_loop import discover_then_answer
from agents.state import State
from agents.structured import output_schema
from agents.tool_runs import ensure_not_cancelled
from agents.transcript import results_block


class Check(BaseModel):
    check: str = ""
    passed: bool = False
    evidence: str = ""


class Verdict(BaseModel):
    passed: bool
    checks: list[Check] = Field(default_factory=list)
    notes: str = ""


async def verifier(state: State, runtime: Runtime[RunContext]) -> dict:
    """Emit `verification.result`; a failed verdict asks for a re-plan while rounds remain."""
    ctx = runtime.context
    await ensure_not_cancelled(ctx)
    system = f"{load_prompt('verifier')}\n\n{setting(ctx)}\nTools:\n{tool_catalogue(ctx)}"
    user = (
        f"Request: {state.request}\n\nPlan that was executed:\n{plan_text(state.plan)}\n\n"
        f"Tool results:\n{results_block(state.results)}"
    )
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    verdict, checked = await discover_then_answer(
        ctx, messages, VERDICT, call_prefix=f"{state.run_id}:{state.round}:verify", step_id="verify"
    )
    result = verdict.model_dump()
    await ctx.emit("verification.result", result)
    replan = not verdict.passed and state.round < ctx.max_replans
    update = {"verification": result, "results": [*state.results, *checked], "replan": replan}
    if replan:
        update |= {"round": state.round + 1, "findings": verdict.notes or _failed_checks(verdict)}
    return update


VERDICT = output_schema(Verdict)


def _failed_checks(verdict: Verdict) -> str:
    return "; ".join(f"{c.check}: {c.evidence}" for c in verdict.checks if not c.passed) or "the goal is not met"
