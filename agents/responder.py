"""The responder node: the streamed final answer, and the run's outcome."""

from __future__ import annotations

import json

from langgraph.runtime import Runtime

from agents.briefing import plan_text
from agents.context import RunContext
from agents.model_call import chat
from agents.prompts import load_prompt
from agents.state import State
from agents.tool_runs import ensure_not_cancelled
from agents.transcript import bounded_history, results_block


async def responder(state: State, runtime: Runtime[RunContext]) -> dict:
    """Stream the answer via `ctx.message_stream("responder")`; set `outcome`."""
    ctx = runtime.context
    await ensure_not_cancelled(ctx)
    history, _ = await bounded_history(ctx, state.summary or None)
    messages = [
        {"role": "system", "content": load_prompt("responder")},
        *history,
        {"role": "user", "content": f"{state.request}\n\n---\nWhat this run did (for your answer):\n{report(state)}"},
    ]
    stream = await ctx.message_stream("responder")
    response = await chat(ctx, messages, on_token=stream.push)
    await stream.complete(response.content)
    return {"outcome": outcome(state), "answer": response.content}


def outcome(state: State) -> str:
    if state.denied:
        return "denied"
    if state.refused or (state.verification is not None and not state.verification.get("passed")):
        return "failed"
    return "succeeded"


def report(state: State) -> str:
    parts = [f"Plan: {state.plan_summary}\n{plan_text(state.plan)}" if state.plan else "No tool was needed."]
    parts.append(f"Tool results:\n{results_block(state.results)}")
    if state.verification is not None:
        parts.append(f"Verification: {json.dumps(state.verification)}")
    if state.denied:
        d = state.denied
        parts.append(
            f"NOT DONE: {d['tool']}({json.dumps(d['args'], sort_keys=True)}) was not run: the approval was "
            f"{'denied' if d['decision'] == 'deny' else 'not given in time (expired)'}"
            f"{' by ' + str(d['by']) if d.get('by') else ''}; reason: {d.get('reason') or '-'}. "
            "The remaining steps were skipped."
        )
    for r in state.refused:
        parts.append(f"NOT DONE: {r['tool']} was refused: {r['reason']}")
    return "\n\n".join(parts)
