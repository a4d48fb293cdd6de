"""Chat-completions servers that behave like the providers Skyflo is pointed at, as their documentation describes
the wire format — for the dialect tests of the LLM client (agents/tests/test_provider_dialects.py).

One server, many *setups* (``/p/<id>/...``), each configured with ``POST /p/<id>/_setup``::

    {"dialect": "openai" | "reasoning" | "azure" | "vllm" | "vllm-split" | "ollama" | "litellm",
     "replies": [{"content": "...", "reasoning": "...", "tool_calls": [{"name", "arguments"}],
                  "error": {"status": 400, "message": "...", "code": "...", "headers": {...}},
                  "reset_after": 3}]}   # one reply per request, in order

What each dialect does (and refuses):

- openai: ``usage: null`` on every chunk and the usage in one last chunk without choices, only when
  ``stream_options.include_usage``; parallel tool calls, each split across chunks by ``index``.
- reasoning (o-series): refuses ``max_tokens``, a ``temperature`` and ``system`` messages with OpenAI's 400 wording;
  usage carries ``completion_tokens_details.reasoning_tokens``.
- azure: only ``/openai/deployments/{deployment}/chat/completions?api-version=…`` with an ``api-key`` header (401
  without it, 404 without api-version), OpenAI's chunks otherwise.
- vllm: ``reasoning_content`` deltas before the answer, each tool call whole in one chunk; vllm-split: a tool call's
  id and name only in its first chunk, the arguments in later ones.
- ollama: ``reasoning`` deltas, tool calls whole in one chunk without an ``index``, usage only when asked.
- litellm: the model echoed with its provider prefix, errors worded after LiteLLM's exception classes.

``usage: false`` sends no usage although asked (servers that ignore ``stream_options``).
``reset_after: N`` drops the connection after N content chunks (a proxy or load balancer cutting a stream).
``GET /p/<id>/_requests`` lists what arrived: ``{"path", "query", "headers", "body"}``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from tests.scripted_llm import _TOKEN_RE, ServerThread


@dataclass
class Setup:
    dialect: str = "openai"
    replies: list[dict] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)


class ConnectionDropped(Exception):  # noqa: N818 - raised inside a response to cut the connection
    pass


class ProviderLLM:
    def __init__(self):
        self.setups: dict[str, Setup] = {}
        self.lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/p/{sid}/_setup", self.setup, methods=["POST"]),
                Route("/p/{sid}/_requests", self.requests, methods=["GET"]),
                Route("/p/{sid}/v1/chat/completions", self.completions, methods=["POST"]),
                Route("/p/{sid}/openai/deployments/{deployment}/chat/completions", self.azure, methods=["POST"]),
            ]
        )

    def _setup(self, request: Request) -> Setup:
        with self.lock:
            return self.setups.setdefault(request.path_params["sid"], Setup())

    async def setup(self, request: Request) -> JSONResponse:
        body = await request.json()
        with self.lock:
            self.setups[request.path_params["sid"]] = Setup(
                body.get("dialect", "openai"), list(body.get("replies", []))
            )
        return JSONResponse({"ok": True})

    async def requests(self, request: Request) -> JSONResponse:
        return JSONResponse(self._setup(request).requests)

    async def azure(self, request: Request):
        if not request.headers.get("api-key"):
            return _error(401, "Access denied due to invalid subscription key or wrong API endpoint.", "401")
        if not request.query_params.get("api-version"):
            return _error(404, "Resource not found", "404")
        return await self.completions(request)

    async def completions(self, request: Request):
        body = await request.json()
        setup = self._setup(request)
        record = {"path": request.url.path, "query": dict(request.query_params), "headers": dict(request.headers)}
        with self.lock:
            setup.requests.append(record | {"body": body})
            reply = setup.replies.pop(0) if setup.replies else {"error": {"status": 400, "message": "no reply left"}}
        refusal = _refusal(setup.dialect, body)
        if refusal is not None:
            return refusal
        if reply.get("error"):
            error = reply["error"]
            return _error(error["status"], error["message"], error.get("code"), error.get("headers"), setup.dialect)
        stream = _Stream(setup.dialect, body, reply)
        return StreamingResponse(stream.chunks(), media_type="text/event-stream")


def _error(status: int, message: str, code=None, headers=None, dialect: str = "openai") -> JSONResponse:
    if dialect == "litellm":
        body = {"error": {"message": message, "type": None, "param": None, "code": str(status)}}
    else:
        body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers or {})


def _refusal(dialect: str, body: dict) -> JSONResponse | None:
    """What an o-series model refuses, in OpenAI's words."""
    if dialect != "reasoning":
        return None
    if "max_tokens" in body:
        message = (
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."
        )
        return _error(400, message, "unsupported_parameter")
    if "temperature" in body:
        message = "Unsupported parameter: 'temperature' is not supported with this model."
        return _error(400, message, "unsupported_parameter")
    if any(m.get("role") == "system" for m in body.get("messages", [])):
        return _error(400, "Unsupported value: 'messages[0].role' does not support 'system' with this model.", None)
    return None


class _Stream:
    def __init__(self, dialect: str, body: dict, reply: dict):
        self.dialect, self.reply = dialect, reply
        self.id = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        self.model = ("openai/" if dialect == "litellm" else "") + (body.get("model") or "model")
        # `"usage": false` in a reply: a server that ignores stream_options (Ollama before 0.5) sends none.
        self.usage_asked = bool((body.get("stream_options") or {}).get("include_usage")) and reply.get("usage", True)
        self.prompt_tokens = sum(len(str(m.get("content") or "")) for m in body.get("messages", [])) // 4 + 1

    def _chunk(self, delta: dict | None, finish: str | None = None, usage: dict | None = None) -> str:
        chunk = {"id": self.id, "object": "chat.completion.chunk", "created": int(time.time()), "model": self.model}
        chunk["choices"] = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
        if self.dialect in ("openai", "reasoning", "azure", "litellm") and self.usage_asked:
            chunk["usage"] = usage  # OpenAI: null on every chunk but the last
        elif usage is not None:
            chunk["usage"] = usage
        return f"data: {json.dumps(chunk)}\n\n"

    async def chunks(self):
        yield self._chunk({"role": "assistant", "content": ""})
        reasoning_key = {"vllm": "reasoning_content", "vllm-split": "reasoning_content", "ollama": "reasoning"}
        if self.reply.get("reasoning") and self.dialect in reasoning_key:
            for token in _TOKEN_RE.findall(self.reply["reasoning"]):
                yield self._chunk({reasoning_key[self.dialect]: token, "content": None})
        for n, token in enumerate(_TOKEN_RE.findall(self.reply.get("content") or "")):
            if self.reply.get("reset_after") is not None and n == self.reply["reset_after"]:
                raise ConnectionDropped
            yield self._chunk({"content": token})
        for index, call in enumerate(self.reply.get("tool_calls") or ()):
            for delta in self._tool_call_deltas(index, call):
                yield self._chunk({"tool_calls": [delta]})
        yield self._chunk({}, finish="tool_calls" if self.reply.get("tool_calls") else "stop")
        if self.usage_asked:
            yield self._chunk(None, usage=self._usage())
        yield "data: [DONE]\n\n"

    def _tool_call_deltas(self, index: int, call: dict) -> list[dict]:
        call_id, arguments = f"call_{uuid.uuid4().hex[:10]}", json.dumps(call.get("arguments", {}))
        whole = {"id": call_id, "type": "function", "function": {"name": call["name"], "arguments": arguments}}
        if self.dialect == "ollama":
            return [whole]  # no index
        if self.dialect == "vllm":
            return [{"index": index, **whole}]
        head = {"index": index, "id": call_id, "type": "function", "function": {"name": call["name"], "arguments": ""}}
        pieces = [arguments[i : i + 5] for i in range(0, len(arguments), 5)]
        return [head, *({"index": index, "function": {"arguments": piece}} for piece in pieces)]

    def _usage(self) -> dict:
        completion = len(_TOKEN_RE.findall(self.reply.get("content") or "")) + 1
        usage = {"prompt_tokens": self.prompt_tokens, "completion_tokens": completion}
        usage["total_tokens"] = usage["prompt_tokens"] + completion
        if self.dialect in ("openai", "reasoning"):  # OpenAI reports the part of the prompt it had cached
            usage["prompt_tokens_details"] = {"cached_tokens": self.prompt_tokens // 2}
        if self.dialect == "reasoning":
            usage["completion_tokens"] += 64
            usage["total_tokens"] += 64
            usage["completion_tokens_details"] = {"reasoning_tokens": 64}
        return usage


def provider_server() -> ServerThread:
    return ServerThread(app=ProviderLLM())  # type: ignore[arg-type]
