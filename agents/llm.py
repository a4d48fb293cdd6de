"""The LLM client: streaming chat completions against any OpenAI-compatible endpoint.

Built by the workflow engineer from settings (or an organisation's model connection)::

    LLMClient(base_url=settings.LLM_BASE_URL, api_key=settings.LLM_API_KEY, model=settings.LLM_MODEL,
              timeout=60.0, api_version=settings.LLM_API_VERSION, extra_headers=settings.LLM_EXTRA_HEADERS,
              reasoning_effort=settings.LLM_REASONING_EFFORT)

Construction never fails; the first call raises `LLMNotConfigured(variable)` when the endpoint is
not configured (no base URL and no key -> "LLM_BASE_URL"; a base URL without a key -> "LLM_API_KEY";
no model -> "LLM_MODEL"). A key without a base URL means api.openai.com.

Dialects (agents/dialects.py): OpenAI, OpenAI reasoning models, Azure OpenAI (an `api_version` given), and the
OpenAI-compatible servers (vLLM, Ollama, LiteLLM). Structured replies ask for `json_schema`; an endpoint that
refuses it gets `json_object`, then plain text, with the schema in the prompt, remembered per endpoint and model.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp
import httpx2
import openai
from openai import AsyncAzureOpenAI, AsyncOpenAI, AsyncStream, DefaultAioHttpClient
from pydantic import BaseModel

from agents import dialects
from agents.errors import (
    LLMBadOutput,
    LLMContextExceeded,
    LLMError,
    LLMNotConfigured,
    LLMRateLimited,
    RunCancelled,
)
from agents.llm_response import LLMResponse
from agents.structured import OutputSchema, ReplyInvalid, output_schema, repair_message, reply_parse

log = logging.getLogger(__name__)

Model = TypeVar("Model", bound=BaseModel)
OnToken = Callable[[str], Awaitable[None]]
IsCancelled = Callable[[], Awaitable[bool]]

_CANCEL_POLL_S = 0.1  # how often `is_cancelled` is consulted while tokens stream
MAX_RETRY_AFTER_S = 30.0  # a longer Retry-After fails the run now instead of holding it
_STREAM_BROKEN = (httpx2.HTTPError, aiohttp.ClientError, openai.APIConnectionError)

# What each endpoint+model accepted for structured replies, for the life of the process.
_FORMATS: dict[tuple[str, str], str] = {}
FORMATS = ("json_schema", "json_object", "text")


class _Refused(Exception):  # noqa: N818 - internal signal
    """The endpoint refused the structured-output format: try the next one."""


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
        api_version: str | None = None,
        extra_headers: dict[str, str] | None = None,
        reasoning_effort: str | None = None,
        max_output_tokens: int | None = None,
    ):
        self.base_url = base_url or None
        self.api_key = api_key or None
        self.model = model or ""
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.api_version = api_version or None
        self.extra_headers = dict(extra_headers or {})
        self.dialect = dialects.dialect_for(self.model, azure=bool(self.api_version), reasoning_effort=reasoning_effort)
        self.max_output_tokens = max_output_tokens
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
            # HTTP in C).
            common = {
                "api_key": self.api_key,
                "timeout": self.timeout,
                "max_retries": 0,
                "default_headers": self.extra_headers or None,
                "http_client": DefaultAioHttpClient(timeout=self.timeout),
            }
            if self.api_version:
                self._client = AsyncAzureOpenAI(
                    **_azure_location(self.base_url), api_version=self.api_version, **common
                )
            else:
                self._client = AsyncOpenAI(base_url=self.base_url, **common)
        return self._client

    @property
    def endpoint_key(self) -> tuple[str, str]:
        return (self.base_url or "https://api.openai.com/v1", self.model)

    def output_format(self) -> str:
        """The structured-output format this endpoint+model accepts (as far as we know yet)."""
        return _FORMATS.get(self.endpoint_key, FORMATS[0])

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
        output: OutputSchema | None = None,
        on_token: OnToken | None = None,
        is_cancelled: IsCancelled | None = None,
    ) -> LLMResponse:
        """One streamed completion. `on_token` gets content deltas; `is_cancelled` is polled between chunks and
        raises `RunCancelled`. `output` asks for a structured reply in the best format the endpoint accepts.
        A context-length refusal compacts the messages and retries once."""
        try:
            return await self._chat_formats(messages, tools, output, on_token, is_cancelled)
        except LLMContextExceeded:
            compacted = dialects.compact(messages)
            log.warning("the model's context was exceeded: retrying once with %d compacted messages", len(compacted))
            return await self._chat_formats(compacted, tools, output, on_token, is_cancelled)

    async def _chat_formats(self, messages, tools, output, on_token, is_cancelled) -> LLMResponse:
        while True:
            form = self.output_format() if output is not None else None
            try:
                return await self._chat_retrying(messages, tools, output, form, on_token, is_cancelled)
            except _Refused:
                following = FORMATS[FORMATS.index(form) + 1]
                log.warning(
                    "%s refuses response_format %s for %s: using %s",
                    *self.endpoint_key[:1],
                    form,
                    self.model,
                    following,
                )
                _FORMATS[self.endpoint_key] = following

    async def _chat_retrying(self, messages, tools, output, form, on_token, is_cancelled) -> LLMResponse:
        client, shown = self.client, [0]
        body = dialects.request_body(self, messages, tools, output, form)
        for attempt in range(self.max_retries + 1):
            try:
                return await self._stream_once(client, body, on_token, is_cancelled, shown)
            except openai.APIStatusError as exc:
                self._refusal_check(exc, form)
                if not _retryable(exc) or attempt == self.max_retries:
                    raise _failure(exc) from exc
                await asyncio.sleep(self._delay(attempt, exc))
            except _STREAM_BROKEN as exc:
                # A stalled endpoint (timeout) after text was shown would only stall again: give up. A reset
                # connection is retried, and what was already shown is not shown again.
                stalled = isinstance(exc, openai.APITimeoutError) and shown[0]
                if stalled or attempt == self.max_retries:
                    raise LLMError(f"LLM request failed: {exc!r}") from exc
                log.warning("LLM stream broke (%r); retrying without repeating what was shown", exc)
                await asyncio.sleep(self._delay(attempt, exc))
        raise LLMError("LLM request failed")  # pragma: no cover - the loop always returns or raises

    def _refusal_check(self, exc: openai.APIStatusError, form: str | None) -> None:
        if form is None or form == FORMATS[-1] or exc.status_code != 400:
            return
        if dialects.refuses_response_format(_error_text(exc)):
            raise _Refused from exc

    def _delay(self, attempt: int, exc: Exception) -> float:
        wait = dialects.retry_after(getattr(getattr(exc, "response", None), "headers", None) or {})
        if wait is not None:
            if wait > MAX_RETRY_AFTER_S:
                raise LLMRateLimited(f"the endpoint asks to wait {wait:.0f} s before the next request") from exc
            return wait
        return self.backoff_s * (2**attempt) * (0.5 + random.random() / 2)  # noqa: S311 - jitter

    async def _stream_once(self, client, body: dict, on_token, is_cancelled, shown: list[int]) -> LLMResponse:
        # The SDK's own request path (auth, base URL, timeouts, status errors, SSE decoding and error events), with
        # `cast_to=object` so that chunks stay the JSON dicts they arrive as: building a ChatCompletionChunk model
        # per chunk cost most of the CPU a streamed token took. `body` is already plain JSON.
        stream = await client.post(
            "/chat/completions",
            body=body,
            cast_to=object,
            stream=True,
            stream_cls=AsyncStream[object],
            options={"security": {"bearer_auth": True}},
        )
        response, calls, last_poll = LLMResponse(model=self.model), {}, 0.0
        reader = _Shown(shown, on_token)
        try:
            async for chunk in stream:
                if is_cancelled is not None and time.monotonic() - last_poll >= _CANCEL_POLL_S:
                    last_poll = time.monotonic()
                    if await is_cancelled():
                        raise RunCancelled
                await dialects.absorb(chunk, response, calls, reader.push)
        finally:
            await stream.close()
        response.tool_calls = [dialects.tool_call(index, parts) for index, parts in sorted(calls.items())]
        dialects.usage_estimate(response, body)
        return response

    async def structured(
        self,
        messages: list[dict],
        schema: type[Model] | OutputSchema,
        *,
        is_cancelled: IsCancelled | None = None,
    ) -> tuple[Model, LLMResponse]:
        """A Pydantic object from one completion; one repair with the validator's message, then `LLMBadOutput`."""
        output = schema if isinstance(schema, OutputSchema) else output_schema(schema)
        return await structured_reply(self, messages, output, is_cancelled=is_cancelled)


async def structured_reply(llm, messages: list[dict], output: OutputSchema, **chat_kwargs) -> tuple:
    """(object, response) from `llm.chat` (an LLMClient or anything with its `chat`), repaired once."""
    response = await llm.chat(messages, output=output, **chat_kwargs)
    try:
        return reply_parse(response.content, output), response
    except ReplyInvalid as exc:
        repair = [*messages, {"role": "assistant", "content": response.content}, repair_message(exc, output)]
    second = await llm.chat(repair, output=output, **chat_kwargs)
    second.prompt_tokens += response.prompt_tokens
    second.completion_tokens += response.completion_tokens
    return parse_or_fail(second.content, output), second


class _Shown:
    """Hands content to `on_token` while skipping what an earlier, broken attempt already showed (`shown[0]`
    characters: the retried answer is taken to begin as the first one did)."""

    def __init__(self, shown: list[int], on_token: OnToken | None):
        self.shown, self.on_token, self.seen = shown, on_token, 0

    async def push(self, text: str) -> None:
        fresh = text[max(0, self.shown[0] - self.seen) :]
        self.seen += len(text)
        if fresh:
            self.shown[0] += len(fresh)
            if self.on_token is not None:
                await self.on_token(fresh)


def parse_or_fail(text: str, output: OutputSchema):
    """The reply as `output.model`, or `LLMBadOutput` with the validator's message (for the log)."""
    try:
        return reply_parse(text, output)
    except ReplyInvalid as exc:
        raise LLMBadOutput(f"invalid {output.name} after one repair: {exc}") from exc


def _azure_location(base_url: str | None) -> dict:
    """Azure's resource endpoint (`https://NAME.openai.azure.com`) or a full `.../openai[/deployments/X]` URL."""
    if base_url and "/openai" in base_url:
        return {"base_url": base_url}
    return {"azure_endpoint": base_url}


def _retryable(exc: openai.APIStatusError) -> bool:
    return exc.status_code == 429 or exc.status_code >= 500


def _error_text(exc: openai.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    inner = body.get("error", body) if isinstance(body.get("error", body), dict) else {}
    return " ".join(str(part) for part in (exc.message, inner.get("code"), inner.get("param"), inner.get("type")))


def _failure(exc: openai.APIStatusError) -> LLMError:
    detail = f"LLM request failed ({exc.status_code}): {exc.message}"
    if exc.status_code == 429:
        return LLMRateLimited(detail)
    if exc.status_code == 400 and dialects.context_exceeded(_error_text(exc)):
        return LLMContextExceeded(detail)
    return LLMError(detail)
