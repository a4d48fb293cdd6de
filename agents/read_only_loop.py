"""The discover-then-answer loop shared by the planner and the verifier: the model may call read-only
tools a few times, then answers with JSON parsed into a Pydantic model."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel

from agents.llm import LLMResponse, parse_model
from agents.tool_runs import run_call
from agents.transcript import tool_data

if TYPE_CHECKING:
    from agents.context import RunContext

Model = TypeVar("Model", bound=BaseModel)
MAX_TOOL_TURNS = 5


async def chat(ctx: RunContext, messages: list[dict], **kwargs) -> LLMResponse:
    """One LLM call with cancellation polling and usage recorded."""
    response = await ctx.llm.chat(messages, is_cancelled=ctx.cancelled, **kwargs)
    await ctx.record_usage(response.prompt_tokens, response.completion_tokens, response.model)
    return response


def assistant_message(response: LLMResponse) -> dict:
    calls = [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.raw_arguments or "{}"}}
        for c in response.tool_calls
    ]
    return {"role": "assistant", "content": response.content or None, "tool_calls": calls}


async def discover_then_answer(
    ctx: RunContext, messages: list[dict], schema: type[Model], *, call_prefix: str, step_id: str
) -> tuple[Model, list[dict]]:
    """Returns the parsed answer and the records of the read-only calls made on the way."""
    tools = ctx.policy.function_schemas(read_only=True) or None
    results: list[dict] = []
    for _ in range(MAX_TOOL_TURNS):
        response = await chat(ctx, messages, tools=tools, json_mode=tools is None)
        if not response.tool_calls:
            try:
                return parse_model(response.content, schema), results
            except ValueError as exc:
                messages += [
                    {"role": "assistant", "content": response.content},
                    {"role": "user", "content": f"That was not valid JSON for the schema ({exc}). JSON only."},
                ]
                break
        messages.append(assistant_message(response))
        for tool_call in response.tool_calls:
            call = {
                "call_id": f"{call_prefix}:{len(results) + 1}",
                "tool": tool_call.name,
                "args": tool_call.arguments,
                "mutating": ctx.policy.requires_approval(tool_call.name),
            }
            content = await _read_only_call(ctx, call, step_id, results)
            messages.append({"role": "tool", "tool_call_id": tool_call.id, "content": content})
    else:
        messages.append({"role": "user", "content": "Stop calling tools. Reply now with the JSON only."})
    response = await chat(ctx, messages, json_mode=True)
    return parse_model(response.content, schema), results


async def _read_only_call(ctx: RunContext, call: dict, step_id: str, results: list[dict]) -> str:
    if call["mutating"] or not ctx.policy.allowed(call["tool"]):
        args = json.dumps(call["args"], sort_keys=True)
        return f"Refused: only read-only tools may be used here; {call['tool']}({args}) was not run."
    record = await run_call(ctx, call, step_id, use_ledger=False)
    results.append(record)
    return tool_data(call["call_id"], call["tool"], record["ok"], record["output"])
