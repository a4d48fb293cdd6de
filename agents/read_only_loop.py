"""The discover-then-answer loop shared by the planner and the verifier: the model may call read-only
tools a few times, then answers with a structured reply validated against its JSON Schema."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from agents.llm import parse_or_fail
from agents.llm_response import LLMResponse
from agents.model_call import chat
from agents.structured import OutputSchema, ReplyInvalid, repair_message, reply_parse
from agents.tool_arguments import argument_error_message, arguments_problem, assistant_arguments
from agents.tool_runs import run_call
from agents.transcript import tool_data

if TYPE_CHECKING:
    from agents.context import RunContext

MAX_TOOL_TURNS = 5


def assistant_message(response: LLMResponse) -> dict:
    calls = [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": assistant_arguments(c)}}
        for c in response.tool_calls
    ]
    return {"role": "assistant", "content": response.content or None, "tool_calls": calls}


async def discover_then_answer(
    ctx: RunContext, messages: list[dict], output: OutputSchema, *, call_prefix: str, step_id: str
) -> tuple:
    """Returns the validated answer (an `output.model`) and the records of the read-only calls made on the way.

    An answer that does not validate is repaired once with the validator's message; then `LLMBadOutput`."""
    tools = ctx.policy.function_schemas(read_only=True) or None
    results: list[dict] = []
    for _ in range(MAX_TOOL_TURNS):
        response = await chat(ctx, messages, tools=tools, output=output)
        if not response.tool_calls:
            try:
                return reply_parse(response.content, output), results
            except ReplyInvalid as exc:
                messages += [{"role": "assistant", "content": response.content}, repair_message(exc, output)]
                break
        messages.append(assistant_message(response))
        for tool_call in response.tool_calls:
            messages.append(
                await _discovery_call(ctx, tool_call, f"{call_prefix}:{len(results) + 1}", step_id, results)
            )
    else:
        messages.append({"role": "user", "content": f"Stop calling tools. {output.instruction()}"})
    response = await chat(ctx, messages, output=output)
    return parse_or_fail(response.content, output), results


async def _discovery_call(ctx: RunContext, tool_call, call_id: str, step_id: str, results: list[dict]) -> dict:
    """Run one read-only discovery call (or refuse it) -> the tool message answering it."""
    problem = arguments_problem(tool_call, ctx.policy)
    if problem is not None:
        return argument_error_message(tool_call, problem)
    call = {
        "call_id": call_id,
        "tool": tool_call.name,
        "args": tool_call.arguments,
        "mutating": ctx.policy.requires_approval(tool_call.name),
    }
    return {"role": "tool", "tool_call_id": tool_call.id, "content": await _read_only_call(ctx, call, step_id, results)}


async def _read_only_call(ctx: RunContext, call: dict, step_id: str, results: list[dict]) -> str:
    if call["mutating"] or not ctx.policy.allowed(call["tool"]):
        args = json.dumps(call["args"], sort_keys=True)
        return f"Refused: only read-only tools may be used here; {call['tool']}({args}) was not run."
    record = await run_call(ctx, call, step_id, use_ledger=False)
    results.append(record)
    return tool_data(call["call_id"], call["tool"], record["ok"], record["output"])
