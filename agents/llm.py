"""The LLM client: streaming chat completions against any OpenAI-compatible endpoint.

Built by the workflow engineer from settings::

    LLMClient(base_url=settings.LLM_BASE_URL, api_key=settings.LLM_API_KEY, model=settings.LLM_MODEL,
              timeout=60.0)

Construction never fails; the first call raises `LLMNotConfigured(variable)` when the endpoint is
not configured (no base URL and no key -> "LLM_BASE_URL"; a base URL without a key -> "LLM_API_KEY";
no model -> "LLM_MODEL"). A key without a base URL means api.openai.com.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import openai
from openai import AsyncOpenAI, AsyncStream, DefaultAioHttpClient
from pydantic import BaseModel, ValidationError

from agents.errors import LLMError, LLMNotConfigured, RunCancelled

log = logging.getLogger(__name__)

Model = TypeVar("Model", bound=BaseModel)
OnToken = Callable[[str], Awaitable[None]]
IsCancelled = Callable[[], Awaitable[bool]]

_CANCEL_POLL_S = 0.1  # how often `is_cancelled` is consulted while tokens stream


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: dict
    raw_arguments: str = ""


@dataclass
class LLMResponse:
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""
    finish_reason: str | None = None


class LLMClient:
    """Streaming chat completions with tool calls, usage, timeout and retries on 429/5xx."""

    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        model: str | None,
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
    ):
        self.base_url = base_url or None
        self.api_key = api_key or None
        self.model = model or ""
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self._client: AsyncOpenAI | None = None

    def ensure_configured(self) -> None:
        """Raise `LLMNotConfigured` naming the variable to set."""
        if not self.base_url and not self.api_key:
            raise LLMNotConfigured("LLM_BASE_URL")
        if not self.api_key:
            raise LLMNotConfigured("LLM_API_KEY")
        if not self.model:
            raise LLMNotConfigured("LLM_MODEL")

    @property
    def client(self) -> AsyncOpenAI:
        self.ensure_configured()
        if self._client is None:
            # Retries are ours (below) so that they are visible and bounded in one place. The SDK's aiohttp
            # transport reads a streamed answer in about half the CPU of its default httpx one (aiohttp parses
            # HTTP in C): 90 -> 50 µs of the worker per streamed token with 50 concurrent streams.
            self._client = AsyncOpenAI(
                base_url=self.base_url,
                api_key=self.api_key,
                timeout=self.timeout,
                max_retries=0,
                http_client=DefaultAioHttpClient(timeout=self.timeout),
            )
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP connections (call when the run is over)."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def chat(
        self,
        messages: list[dict],
        *,
        tools: list[dict] | None = None,
        on_token: OnToken | None = None,
        is_cancelled: IsCancelled | None = None,
        json_mode: bool = False,
    ) -> LLMResponse:
        """One streamed completion. `on_token` gets content deltas; `is_cancelled` is polled
        between chunks and raises `RunCancelled`. Retries 429/5xx/connection errors with
        exponential backoff as long as no token was handed out yet."""
        client = self.client
        for attempt in range(self.max_retries + 1):
            emitted = [False]
            try:
                return await self._stream_once(client, messages, tools, on_token, is_cancelled, json_mode, emitted)
            except (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError) as exc:
                if emitted[0] or attempt == self.max_retries:
                    raise LLMError(f"LLM request failed: {exc}") from exc
                await asyncio.sleep(self._delay(attempt, exc))
            except openai.APIStatusError as exc:
                if exc.status_code >= 500 and not emitted[0] and attempt < self.max_retries:
                    await asyncio.sleep(self._delay(attempt, exc))
                    continue
                raise LLMError(f"LLM request failed ({exc.status_code}): {exc.message}") from exc
        raise LLMError("LLM request failed")  # pragma: no cover - loop always returns or raises

    def _delay(self, attempt: int, exc: Exception) -> float:
        retry_after = getattr(getattr(exc, "response", None), "headers", {}).get("retry-after")
        try:
            if retry_after is not None:
                return min(float(retry_after), 10.0)
        except ValueError:
            pass
        return self.backoff_s * (2**attempt) * (0.5 + random.random() / 2)  # noqa: S311 - jitter

    async def _stream_once(self, client, messages, tools, on_token, is_cancelled, json_mode, emitted):
        body: dict = {"model": self.model, "messages": messages, "stream": True}
        body["stream_options"] = {"include_usage": True}
        if tools:
            body["tools"] = tools
        if json_mode and not tools:
            body["response_format"] = {"type": "json_object"}
        # The SDK's own request path (auth, base URL, timeouts, status errors, SSE decoding and error events), with
        # `cast_to=object` so that chunks stay the JSON dicts they arrive as: building a ChatCompletionChunk model
        # per chunk cost ~130 µs of the ~180 µs a streamed token took, which at 50 concurrent streams of 100
        # tokens/s is most of a core. `body` is already plain JSON, so the params transform is not needed either.
        stream = await client.post(
            "/chat/completions",
            body=body,
            cast_to=object,
            stream=True,
            stream_cls=AsyncStream[object],
            options={"security": {"bearer_auth": True}},
        )
        response, calls = LLMResponse(model=self.model), {}
        last_poll = 0.0
        try:
            async for chunk in stream:
                if is_cancelled is not None and time.monotonic() - last_poll >= _CANCEL_POLL_S:
                    last_poll = time.monotonic()
                    if await is_cancelled():
                        raise RunCancelled
                await self._absorb(chunk, response, calls, on_token, emitted)
        finally:
            await stream.close()
        response.tool_calls = [_tool_call(index, parts) for index, parts in sorted(calls.items())]
        return response

    async def _absorb(self, chunk: dict, response: LLMResponse, calls: dict, on_token, emitted) -> None:
        """Fold one chat.completion.chunk (a dict, as sent) into `response`; content goes to `on_token`."""
        usage = chunk.get("usage")
        if usage:
            response.prompt_tokens = usage.get("prompt_tokens") or 0
            response.completion_tokens = usage.get("completion_tokens") or 0
        if chunk.get("model"):
            response.model = chunk["model"]
        for choice in chunk.get("choices") or ():
            if choice.get("finish_reason"):
                response.finish_reason = choice["finish_reason"]
            delta = choice.get("delta")
            if not delta:
                continue
            content = delta.get("content")
            if content:
                response.content += content
                emitted[0] = True
                if on_token is not None:
                    await on_token(content)
            for part in delta.get("tool_calls") or ():
                slot = calls.setdefault(part.get("index", 0), {"id": "", "name": "", "arguments": ""})
                slot["id"] = part.get("id") or slot["id"]
                function = part.get("function")
                if function:
                    slot["name"] += function.get("name") or ""
                    slot["arguments"] += function.get("arguments") or ""

    async def structured(
        self,
        messages: list[dict],
        schema: type[Model],
        *,
        is_cancelled: IsCancelled | None = None,
    ) -> tuple[Model, LLMResponse]:
        """A Pydantic object parsed from the JSON content of one completion (one repair retry)."""
        response = await self.chat(messages, is_cancelled=is_cancelled, json_mode=True)
        try:
            return parse_model(response.content, schema), response
        except ValueError as exc:
            repair = [
                *messages,
                {"role": "assistant", "content": response.content},
                {"role": "user", "content": f"That was not valid JSON for the schema ({exc}). Reply with JSON only."},
            ]
            second = await self.chat(repair, is_cancelled=is_cancelled, json_mode=True)
            second.prompt_tokens += response.prompt_tokens
            second.completion_tokens += response.completion_tokens
            return parse_model(second.content, schema), second


def parse_model(text: str, schema: type[Model]) -> Model:
    """Parse JSON (optionally inside ``` fences or surrounded by prose) into `schema`."""
    candidate = text.strip()
    if candidate.startswith("```"):
        candidate = candidate.strip("`")
        candidate = candidate.split("\n", 1)[1] if "\n" in candidate else candidate
    start, end = candidate.find("{"), candidate.rfind("}")
    if start == -1 or end < start:
        raise ValueError("no JSON object in the reply")
    try:
        return schema.model_validate(json.loads(candidate[start : end + 1]))
    except (json.JSONDecodeError, ValidationError) as exc:
        raise ValueError(str(exc)) from exc


def _tool_call(index: int, parts: dict) -> ToolCall:
    raw = parts["arguments"] or "{}"
    try:
        arguments = json.loads(raw)
    except json.JSONDecodeError:
        arguments = {}
    if not isinstance(arguments, dict):
        arguments = {}
    return ToolCall(id=parts["id"] or f"call_{index}", name=parts["name"], arguments=arguments, raw_arguments=raw)
