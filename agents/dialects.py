"""How each kind of OpenAI-compatible endpoint is spoken to and read, as its documentation describes.

- OpenAI: `stream_options.include_usage` (usage arrives in a last chunk without choices), parallel tool calls
  split across chunks by `index`, `response_format: json_schema` with `strict`.
- OpenAI reasoning models (o1, o3, o4-mini, gpt-5…): `max_completion_tokens` instead of `max_tokens`, no
  `temperature`, the `developer` role instead of `system`, `reasoning_effort`, reasoning tokens in
  `usage.completion_tokens_details`.
- Azure OpenAI: the same body, sent by the SDK's Azure client to `/openai/deployments/{model}/chat/completions`
  with the `api-version` query and the `api-key` header.
- vLLM and Ollama: `reasoning_content` / `reasoning` deltas (thinking, never answer text); a tool call whole in one
  chunk or split with its id and name only in the first; Ollama may omit the tool call's `index`.
- LiteLLM proxy: OpenAI's format, with errors named after LiteLLM's exception classes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from agents.llm_response import LLMResponse, ModelToolCall
from agents.structured import OutputSchema, with_instruction
from agents.transcript import truncate

if TYPE_CHECKING:
    from agents.llm import LLMClient

_REASONING_MODEL = re.compile(r"^(?:[\w.-]+/)?(?:o\d|gpt-5)", re.IGNORECASE)
_FORMAT_REFUSAL = re.compile(r"response_format|json_schema|structured output|guided_json", re.IGNORECASE)
_CONTEXT_EXCEEDED = re.compile(
    r"context_length_exceeded|context length|context window|ContextWindowExceeded|maximum context|"
    r"too many tokens|prompt is too long|exceeds the context",
    re.IGNORECASE,
)
COMPACT_KEEP_CHARS = 4000  # per message kept when the conversation is compacted


@dataclass(frozen=True)
class Dialect:
    reasoning: bool = False
    reasoning_effort: str | None = None


def dialect_for(model: str, *, azure: bool, reasoning_effort: str | None) -> Dialect:
    reasoning = bool(_REASONING_MODEL.match(model or "")) or bool(reasoning_effort)
    return Dialect(reasoning=reasoning, reasoning_effort=reasoning_effort if reasoning else None)


def request_body(
    client: LLMClient, messages: list[dict], tools: list[dict] | None, output: OutputSchema | None, form: str | None
) -> dict:
    """The chat.completions body for this dialect and structured-output format."""
    if output is not None and form != "json_schema":
        messages = with_instruction(messages, output)
    body: dict = {"model": client.model, "messages": _roles(messages, client.dialect), "stream": True}
    body["stream_options"] = {"include_usage": True}
    if tools:
        body["tools"] = tools
    if output is not None and form == "json_schema":
        schema = {"name": output.name, "schema": output.schema, "strict": True}
        body["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif output is not None and form == "json_object":
        body["response_format"] = {"type": "json_object"}
    return body | _sampling(client)


def _sampling(client: LLMClient) -> dict:
    limit = client.max_output_tokens
    if client.dialect.reasoning:
        extra = {"max_completion_tokens": limit} if limit else {}
        return extra | (
            {"reasoning_effort": client.dialect.reasoning_effort} if client.dialect.reasoning_effort else {}
        )
    return {"temperature": 0} | ({"max_tokens": limit} if limit else {})


def _roles(messages: list[dict], dialect: Dialect) -> list[dict]:
    if not dialect.reasoning:
        return messages
    return [{**m, "role": "developer"} if m.get("role") == "system" else m for m in messages]


async def absorb(chunk: dict, response: LLMResponse, calls: dict, push: Callable[[str], Awaitable[None]]) -> None:
    """Fold one chat.completion.chunk (a dict, as sent) into `response`; answer text goes to `push`."""
    if chunk.get("usage"):
        _usage(chunk["usage"], response)
    if chunk.get("model"):
        response.model = chunk["model"]
    for choice in chunk.get("choices") or ():
        if choice.get("finish_reason"):
            response.finish_reason = choice["finish_reason"]
        delta = choice.get("delta") or {}
        response.reasoning += delta.get("reasoning_content") or delta.get("reasoning") or ""
        if delta.get("content"):
            response.content += delta["content"]
            await push(delta["content"])
        for part in delta.get("tool_calls") or ():
            _tool_call_part(part, calls)


def _usage(usage: dict, response: LLMResponse) -> None:
    response.prompt_tokens = usage.get("prompt_tokens") or 0
    response.completion_tokens = usage.get("completion_tokens") or 0
    response.cached_tokens = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    response.reasoning_tokens = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0


def _tool_call_part(part: dict, calls: dict) -> None:
    index = part.get("index")
    if index is None:  # Ollama: no index; a new id starts a new call
        last = max(calls, default=None)
        new = last is None or (part.get("id") and part["id"] != calls[last]["id"])
        index = (last + 1 if last is not None else 0) if new else last
    slot = calls.setdefault(index, {"id": "", "name": "", "arguments": ""})
    slot["id"] = slot["id"] or part.get("id") or ""
    function = part.get("function") or {}
    name = function.get("name") or ""
    if name and name != slot["name"]:  # some servers repeat the whole name in every chunk
        slot["name"] += name
    arguments = function.get("arguments")
    if isinstance(arguments, dict):  # a server that sends the object itself, not its JSON text
        arguments = json.dumps(arguments)
    slot["arguments"] += arguments or ""


def tool_call(index: int, parts: dict) -> ModelToolCall:
    raw = parts["arguments"].strip() or "{}"
    call_id = parts["id"] or f"call_{index}"
    try:
        arguments = json.loads(raw)
    except json.JSONDecodeError as exc:
        error = f"the arguments are not valid JSON ({exc.msg} at character {exc.pos})"
        return ModelToolCall(id=call_id, name=parts["name"], arguments=None, raw_arguments=raw, error=error)
    if not isinstance(arguments, dict):
        error = "the arguments must be a JSON object"
        return ModelToolCall(id=call_id, name=parts["name"], arguments=None, raw_arguments=raw, error=error)
    return ModelToolCall(id=call_id, name=parts["name"], arguments=arguments, raw_arguments=raw)


def usage_estimate(response: LLMResponse, body: dict) -> None:
    """Endpoints that send no usage (Ollama when not asked, some proxies): about four characters a token."""
    if response.prompt_tokens or response.completion_tokens:
        return
    prompt = sum(len(str(m.get("content") or "")) for m in body.get("messages", ()))
    completion = len(response.content) + sum(len(c.raw_arguments) for c in response.tool_calls)
    response.prompt_tokens, response.completion_tokens = prompt // 4 + 1, completion // 4 + 1


def refuses_response_format(error_text: str) -> bool:
    return bool(_FORMAT_REFUSAL.search(error_text))


def context_exceeded(error_text: str) -> bool:
    return bool(_CONTEXT_EXCEEDED.search(error_text))


def retry_after(headers) -> float | None:
    """Seconds to wait from `retry-after-ms` (OpenAI) or `Retry-After` (seconds or an HTTP date)."""
    if headers.get("retry-after-ms"):
        try:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def compact(messages: list[dict]) -> list[dict]:
    """A shorter conversation for a second try: system messages and the last message kept, the older half of the
    rest dropped (never leaving a tool result without its call), every kept message cut to COMPACT_KEEP_CHARS."""
    system = [m for m in messages if m.get("role") in ("system", "developer")]
    rest = [m for m in messages if m.get("role") not in ("system", "developer")]
    last, middle = rest[-1:], rest[:-1]
    middle = middle[len(middle) // 2 :]
    while middle and middle[0].get("role") == "tool":
        middle = middle[1:]
    kept = [*system, *middle, *last]
    return [
        {**m, "content": truncate(m["content"], COMPACT_KEEP_CHARS)[0]} if isinstance(m.get("content"), str) else m
        for m in kept
    ]
