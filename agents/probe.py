""" "Test connection" for a model endpoint: one tiny streamed request that also offers a tool and asks for a JSON
Schema, and what the endpoint showed it supports (streaming, tools, json_schema)."""

from __future__ import annotations

import logging

from pydantic import BaseModel

from agents.errors import LLMError, LLMNotConfigured
from agents.llm import LLMClient
from agents.structured import output_schema

log = logging.getLogger(__name__)


class Pong(BaseModel):
    ok: bool


PONG = output_schema(Pong)
PROBE_TOOL = {
    "type": "function",
    "function": {
        "name": "noop",
        "description": "Does nothing. Do not call it.",
        "parameters": {"type": "object", "properties": {}, "additionalProperties": False},
    },
}
PROBE_MESSAGES = [{"role": "user", "content": 'Connection test: reply {"ok": true}.'}]


async def endpoint_probe(client: LLMClient) -> dict:
    """{ok, streaming, tools, json_schema, detail}; `detail` is a sentence for the admin (the cause is logged)."""
    report = {"ok": False, "streaming": False, "tools": False, "json_schema": False, "detail": ""}
    try:
        response = await _answer(client, [PROBE_TOOL])
        tools = response is not None
        if response is None:  # refused with the tool offered: once more without, to tell the two apart
            response = await _answer(client, None)
    except (LLMError, LLMNotConfigured) as exc:
        log.info("model connection test failed: %s", exc)
        return report | {"detail": exc.sentence}
    streamed = bool(response.content or response.tool_calls or response.finish_reason)
    report |= {"ok": streamed, "streaming": streamed, "tools": tools}
    report["json_schema"] = streamed and client.output_format() == "json_schema"
    if not streamed:
        return report | {"detail": "The endpoint answered, but not as a stream of chat-completion chunks."}
    return report | {"detail": f"Connected to {client.model}."}


async def _answer(client: LLMClient, tools: list[dict] | None):
    """The streamed answer; None when the endpoint refused the offered tools."""
    try:
        return await client.chat(PROBE_MESSAGES, tools=tools, output=PONG)
    except LLMError as exc:
        if tools and "tool" in str(exc).lower():
            return None
        raise
