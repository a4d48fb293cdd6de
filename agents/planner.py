"""The planner node: reads the conversation, may discover with read-only tools, emits a plan."""

from __future__ import annotations

from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from agents.briefing import setting, tool_catalogue
from agents.context import RunContext
from agents.prompts import load_prompt
from agents.read_only_loop import discover_then_answer
from agents.state import State
from agents.structured import OutputSchema, output_schema
from agents.tool_runs import ensure_not_cancelled
from agents.transcript import bounded_history, results_block

MAX_STEPS = 10


class PlanStep(BaseModel):
    title: str = Field(description="What this step does, e.g. 'Scale deployment web in shop to 3 replicas'.")
    tool: str | None = Field(default=None, description="The one tool this step calls.")


class Plan(BaseModel):
    summary: str = Field(default="", description="One sentence: what you will do and why.")
    steps: list[PlanStep] = Field(default_factory=list, description="[] when no tool is needed.")


def plan_schema(ctx: RunContext) -> OutputSchema:
    """The Plan's strict schema, with `tool` limited to the tools this run may use."""
    names = ctx.policy.allowed_names()

    def narrow(schema: dict) -> None:
        tool = schema["properties"]["steps"]["items"]["properties"]["tool"]
        description = tool.get("description", "")
        tool.clear()
        tool.update({"anyOf": [{"type": "string", "enum": names}, {"type": "null"}]} if names else {"type": "null"})
        tool["description"] = description

    return output_schema(Plan, narrow=narrow)


async def planner(state: State, runtime: Runtime[RunContext]) -> dict:
    """Plan the run (or re-plan with the verifier's findings); emits `plan.created` when tools are needed."""
    ctx = runtime.context
    await ensure_not_cancelled(ctx)
    if state.preset_call and state.round == 0:
        return await _preset(ctx, state)
    history, summary = await bounded_history(ctx, state.summary or None)
    system = f"{load_prompt('planner')}\n\n{setting(ctx)}\nTools:\n{tool_catalogue(ctx)}"
    messages = [{"role": "system", "content": system}, *history, {"role": "user", "content": _ask(state)}]
    plan, discovered = await discover_then_answer(
        ctx, messages, plan_schema(ctx), call_prefix=f"{state.run_id}:{state.round}:plan", step_id="plan"
    )
    steps = [_step(ctx, index, step) for index, step in enumerate(plan.steps[:MAX_STEPS], start=1)]
    if steps:
        await ctx.emit("plan.created", {"steps": steps})
    return {
        "summary": summary or "",
        "plan": steps,
        "plan_summary": plan.summary,
        "step_index": 0,
        "step_calls": [],
        "results": [*state.results, *discovered],
        "replan": False,
    }


def _ask(state: State) -> str:
    if state.round == 0:
        return state.request
    return (
        f"{state.request}\n\nA previous attempt did not meet the goal (re-plan {state.round}).\n"
        f"Verifier findings: {state.findings}\n\nTool results so far:\n{results_block(state.results)}"
    )


def _step(ctx: RunContext, index: int, step: PlanStep) -> dict:
    # Mutating is the policy's verdict from the tool's annotations, never the model's.
    mutating = ctx.policy.requires_approval(step.tool) if step.tool else False
    # Ids are ours (s1, s2, ...) so call ids derived from them are unique within a round.
    return {"id": f"s{index}", "title": step.title, "tool": step.tool, "mutating": mutating}


async def _preset(ctx: RunContext, state: State) -> dict:
    """An undo run: its one step is the restoring call, exactly as saved; it goes to the approval like any other
    (the policy, not the model or the preset, says whether it needs one)."""
    preset = state.preset_call
    step = {"id": "s1", "title": preset["title"], "tool": preset["tool"]}
    step["mutating"] = ctx.policy.requires_approval(preset["tool"])
    await ctx.emit("plan.created", {"steps": [step]})
    await ctx.emit("step.started", {"step_id": "s1"})
    call = {"call_id": f"{state.run_id}:0:s1:1", "tool": preset["tool"], "args": dict(preset["args"])}
    call |= {"mutating": step["mutating"], "status": "pending"}
    return {"plan": [step], "plan_summary": preset["title"], "step_index": 0, "step_calls": [call], "replan": False}
