"""Tool-call arguments checked against the tool's `inputSchema` before anything reaches the tool server.

A call whose arguments are not a JSON object, or do not fit the schema, goes back to the model as that call's
tool error with the validator's message; it is never sent to the tool server as `{}` or half-filled.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from jsonschema import exceptions, validators

if TYPE_CHECKING:
    from agents.llm_response import ModelToolCall
    from agents.tool_policy import ToolPolicy

MAX_ARGUMENT_REPAIRS = 2  # per call: the model may correct its arguments twice


def arguments_problem(tool_call: ModelToolCall, policy: ToolPolicy) -> str | None:
    """Why the call's arguments are unusable (the validator's message), or None when they fit."""
    if tool_call.error:
        return tool_call.error
    spec = policy.tools.get(tool_call.name)
    if spec is None:
        return None  # an unknown tool is the policy's refusal, not an argument problem
    return schema_problem(spec.input_schema, tool_call.arguments)


def schema_problem(schema: dict | None, arguments) -> str | None:
    """Why `arguments` do not fit the tool's input schema (the validator's message), or None."""
    schema = schema or {"type": "object"}
    validator = validators.validator_for(schema)(schema)
    error = exceptions.best_match(validator.iter_errors(arguments))
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path) or "(the arguments)"
    return f"{where}: {error.message}"


def argument_error_message(tool_call: ModelToolCall, problem: str) -> dict:
    """The tool message that answers a call with unusable arguments."""
    sent = tool_call.raw_arguments[:500]
    content = (
        f"Error: {tool_call.name} was NOT run: its arguments do not fit the tool's parameters schema: {problem}. "
        f"You sent: {sent}. Call {tool_call.name} again with arguments that fit its parameters schema."
    )
    return {"role": "tool", "tool_call_id": tool_call.id, "content": content}


def assistant_arguments(tool_call: ModelToolCall) -> str:
    """The arguments as echoed back in the assistant message: never text some servers would fail to parse."""
    return tool_call.raw_arguments if tool_call.arguments is not None else json.dumps({})
