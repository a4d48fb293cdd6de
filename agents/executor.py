"""The executor node: one plan step per visit; a call that needs approval stops at the approval node."""

from __future__ import annotations

from langgraph.runtime import Runtime

from agents.briefing import plan_text, setting
from agents.context import RunContext
from agents.model_call import chat
from agents.prompts import load_prompt
from agents.read_only_loop import assistant_message
from agents.state import State, StepCall
from agents.tool_arguments import MAX_ARGUMENT_REPAIRS, argument_error_message, arguments_problem
from agents.tool_runs import ensure_not_cancelled, preview, record, run_call
from agents.transcript import results_block
from agents.undo import snapshot


async def executor(state: State, runtime: Runtime[RunContext]) -> dict:
    """Resolve the current step's calls (LLM), run read-only ones, stop before any that needs approval.

    On the visit after an approval decision it runs the approved call (ledger-checked) or records
    the denial and stops the plan.
    """
    ctx = runtime.context
    step = state.plan[state.step_index]
    calls, results = [StepCall(**c) for c in state.step_calls], list(state.results)
    if state.pending_approval is not None:
        decision = (state.approval or {}).get("decision")
        call = next(c for c in calls if c["call_id"] == state.pending_approval["call_id"])
        if decision != "approve":
            return await _denied(ctx, state, step, call)
        # What runs is what was approved: an approver may have edited the arguments (workflows/services.py).
        approved, proposed = (state.approval or {}).get("args"), None
        if isinstance(approved, dict) and approved != call["args"]:
            proposed, call["args"] = call["args"], approved
        # Re-checked now, not when the approval was asked for: rights and the cluster may have changed since.
        if (refusal := await ctx.mutation_refusal(call)) is not None:
            call["status"] = "refused"
            return await _advance(ctx, state, step, calls, results, [{**call, "reason": refusal}])
        saved = await snapshot(ctx, call) if await ctx.ledger_get(call["call_id"]) is None else None
        result = await run_call(ctx, call, step["id"], saved=saved)
        if proposed is not None:  # the model is told, with the result the next node reads
            result["edited_from"] = proposed
        results.append(result)
        call["status"] = "done"
    elif not calls:
        await ensure_not_cancelled(ctx)
        await ctx.emit("step.started", {"step_id": step["id"]})
        calls = await _resolve(ctx, state, step)
    return await _advance(ctx, state, step, calls, results)


async def _advance(
    ctx: RunContext, state: State, step: dict, calls: list[StepCall], results: list[dict], refused: list | None = None
) -> dict:
    refused = [*state.refused, *(refused or [])]
    for call in (c for c in calls if c["status"] in ("pending", "invalid")):
        if call["status"] == "invalid":  # arguments the model could not get to fit the tool's schema
            call["status"] = "refused"
            refused.append({**call})
            continue
        call["args"], refusal = ctx.policy.check(call["tool"], call["args"])
        if refusal is not None:
            call["status"] = "refused"
            refused.append({**call, "reason": refusal})
            continue
        if call["mutating"] and (done := await ctx.ledger_get(call["call_id"])) is None:
            approval = {**{k: call[k] for k in ("call_id", "tool", "args")}, "preview": await preview(ctx, call)}
            return {"step_calls": calls, "results": results, "refused": refused, "pending_approval": approval}
        results.append(record(call, step["id"], done) if call["mutating"] else await run_call(ctx, call, step["id"]))
        call["status"] = "done"
    await ctx.emit("step.finished", {"step_id": step["id"], "status": _status(calls, results, step)})
    return {
        "step_calls": [],
        "step_index": state.step_index + 1,
        "results": results,
        "refused": refused,
        "pending_approval": None,
        "approval": None,
    }


def _status(calls: list[StepCall], results: list[dict], step: dict) -> str:
    if any(c["status"] == "refused" for c in calls):
        return "refused"
    ids = {c["call_id"] for c in calls}
    if any(not r["ok"] for r in results if r["call_id"] in ids):
        return "failed"
    return "succeeded" if calls else "skipped"


async def _denied(ctx: RunContext, state: State, step: dict, call: StepCall) -> dict:
    approval = state.approval or {}
    decision = approval.get("decision") if approval.get("decision") in ("deny", "expired") else "deny"
    await ctx.emit("step.finished", {"step_id": step["id"], "status": "denied"})
    denied = {**{k: call[k] for k in ("call_id", "tool", "args")}, "decision": decision}
    denied |= {"by": approval.get("by"), "reason": approval.get("reason") or ""}
    return {"step_calls": [], "pending_approval": None, "approval": None, "denied": denied}


async def _resolve(ctx: RunContext, state: State, step: dict) -> list[StepCall]:
    """LLM turns with the allowed tools' function schemas -> the step's concrete calls.

    Arguments that are not JSON or do not fit the tool's schema go back to the model as that call's error, at most
    MAX_ARGUMENT_REPAIRS times; a call still invalid after that is refused, never sent half-filled."""
    user = (
        f"Request: {state.request}\n\nPlan:\n{plan_text(state.plan)}\n\n"
        f"Current step: [{step['id']}] {step['title']} (suggested tool: {step.get('tool') or '-'})\n\n"
        f"Results so far:\n{results_block(state.results)}"
    )
    system = f"{load_prompt('executor')}\n\n{setting(ctx)}"
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    tools = ctx.policy.function_schemas() or None
    for repair in range(MAX_ARGUMENT_REPAIRS + 1):
        response = await chat(ctx, messages, tools=tools)
        problems = {c.id: arguments_problem(c, ctx.policy) for c in response.tool_calls}
        if not any(problems.values()) or repair == MAX_ARGUMENT_REPAIRS:
            break
        messages += [assistant_message(response), *_argument_replies(response.tool_calls, problems)]
    prefix = f"{state.run_id}:{state.round}:{step['id']}"
    return [
        _step_call(ctx, f"{prefix}:{n}", tool_call, problems[tool_call.id])
        for n, tool_call in enumerate(response.tool_calls, start=1)
    ]


def _argument_replies(tool_calls: list, problems: dict) -> list[dict]:
    """A tool message per call: the error for an invalid one; the others were not run either and must be resent."""
    return [
        argument_error_message(c, problems[c.id])
        if problems[c.id]
        else {
            "role": "tool",
            "tool_call_id": c.id,
            "content": "Not run: another call of this reply had invalid arguments. Send every call of this step again.",
        }
        for c in tool_calls
    ]


def _step_call(ctx: RunContext, call_id: str, tool_call, problem: str | None) -> StepCall:
    call: StepCall = {
        "call_id": call_id,
        "tool": tool_call.name,
        "args": tool_call.arguments or {},
        "mutating": ctx.policy.requires_approval(tool_call.name),
        "status": "pending",
    }
    if problem is not None:
        reason = (
            f"the model's arguments did not fit the tool's schema after {MAX_ARGUMENT_REPAIRS} corrections: {problem}"
        )
        call |= {"status": "invalid", "reason": reason}
    return call
