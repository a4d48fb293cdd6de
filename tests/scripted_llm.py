"""A scripted OpenAI-compatible chat-completions server for tests and benchmarks.

It speaks the real protocol (``POST /v1/chat/completions`` streaming SSE or JSON, ``GET /v1/models``):
content streamed token by token at a configurable rate, tool-call deltas with the arguments split
across chunks, a usage chunk, and scripted failures (429/5xx) to exercise retries.

A script is a list of turns. For each request the server answers with the first unconsumed turn
whose conditions match (``agent``: the ``agent: NAME`` line of the system prompt; ``contains``: a
substring of any message; ``last_contains``: a substring of the last message). A turn is consumed
once unless it has ``"repeat": true``. No match -> HTTP 400 naming the agent, so a broken script
fails loudly. Helpers build turns::

    from tests.scripted_llm import plan, call, verdict, say
    script = [
        plan([("Scale deployment web in shop to 3 replicas", "k8s_scale")]),
        call("k8s_scale", {"resource_type": "deployment", "name": "web", "namespace": "shop", "replicas": 3}),
        call("k8s_get", {"resource_type": "deployment", "name": "web", "namespace": "shop"}, agent="verifier"),
        verdict(True, "web has 3/3 ready replicas"),
        say("Scaled web in shop to 3 replicas; verified 3/3 ready.", agent="responder"),
    ]

Scripts live on the server, one per *script id*, each with its own base URL ``http://host:port/s/<id>/v1`` (so
concurrent tests and runs never share turns); ``/v1`` is the script id ``default``. Control endpoints (JSON): ``POST
/s/<id>/_script`` ``{"turns": [...], "tokens_per_second": 0, "stamp": false}`` replaces the script and clears the
log; ``GET /s/<id>/_requests`` lists the received request bodies; ``GET /s/<id>/_script`` the remaining turns. A
turn's own ``"stamp"`` overrides the script's (a benchmark stamps the streamed answer but not the planner's JSON).

Run standalone: ``python -m tests.scripted_llm --port 8090 [--tokens-per-second 100 --tokens 200]``
(the default script then answers every request with N tokens of text, for benchmarks).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

_AGENT_RE = re.compile(r"^agent:\s*(\w+)", re.MULTILINE)
_TOKEN_RE = re.compile(r"\s*\S+|\s+")


# -- script helpers ---------------------------------------------------------------------------


def _turn(reply: dict, agent: str | None, **match: Any) -> dict:
    turn = {"reply": reply, **{k: v for k, v in match.items() if v is not None}}
    if agent:
        turn["agent"] = agent
    return turn


def say(text: str, *, agent: str | None = None, **match: Any) -> dict:
    """A plain text reply (streamed token by token)."""
    return _turn({"content": text}, agent, **match)


def call(
    tool: str, args: dict | str | None = None, *, agent: str | None = "executor", content: str = "", **match
) -> dict:
    """A reply with one tool call (default: answers the executor); `args` as a string is sent verbatim."""
    return calls([(tool, args or {})], agent=agent, content=content, **match)


def calls(pairs: list[tuple[str, dict | str]], *, agent: str | None = "executor", content: str = "", **match) -> dict:
    """A reply with several tool calls in one assistant message."""
    tool_calls = [{"name": name, "arguments": args} for name, args in pairs]
    return _turn({"content": content, "tool_calls": tool_calls}, agent, **match)


def plan(steps: list, *, summary: str = "", agent: str | None = "planner", **match: Any) -> dict:
    """The planner's structured plan. `steps`: (title, tool) tuples, titles, or dicts; [] = no tools needed."""
    shaped = []
    for index, step in enumerate(steps, start=1):
        if isinstance(step, dict):
            shaped.append({"id": f"s{index}", **step})
        elif isinstance(step, tuple):
            shaped.append({"id": f"s{index}", "title": step[0], "tool": step[1]})
        else:
            shaped.append({"id": f"s{index}", "title": str(step), "tool": None})
    return _turn({"content": json.dumps({"summary": summary, "steps": shaped})}, agent, **match)


def verdict(passed: bool, notes: str = "", checks: list | None = None, *, agent: str | None = "verifier", **match):
    """The verifier's structured verdict."""
    body = {"passed": passed, "notes": notes, "checks": checks or [{"check": notes or "goal", "passed": passed}]}
    return _turn({"content": json.dumps(body)}, agent, **match)


def fail(
    status: int = 429,
    *,
    agent: str | None = None,
    message: str | None = None,
    code: str | None = None,
    headers: dict | None = None,
    **match: Any,
) -> dict:
    """Answer one matching request with an HTTP error (e.g. 429 or 500) before the real turn; `message`, `code` and
    `headers` shape the error as a provider would (default: `retry-after: 0`)."""
    shaped = {k: v for k, v in {"message": message, "code": code, "headers": headers}.items() if v is not None}
    return _turn({}, agent, status=status, **shaped, **match)


# -- the server -------------------------------------------------------------------------------


@dataclass
class Script:
    turns: list[dict] = field(default_factory=list)
    tokens_per_second: float = 0.0
    stamp: bool = False  # benchmarks: every content token carries its send time, "tok@<epoch seconds> "
    requests: list[dict] = field(default_factory=list)

    def pick(self, body: dict) -> dict | None:
        for index, turn in enumerate(self.turns):
            if _matches(turn, body):
                if not turn.get("repeat"):
                    del self.turns[index]
                return turn
        return None


def request_agent(body: dict) -> str | None:
    for message in body.get("messages", []):
        if message.get("role") == "system":
            found = _AGENT_RE.search(_text(message))
            if found:
                return found.group(1)
    return None


def _text(message: dict) -> str:
    content = message.get("content") or ""
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def _matches(turn: dict, body: dict) -> bool:
    messages = body.get("messages", [])
    if turn.get("agent") and turn["agent"] != request_agent(body):
        return False
    if turn.get("contains") and not any(turn["contains"] in _text(m) for m in messages):
        return False
    return not (turn.get("last_contains") and (not messages or turn["last_contains"] not in _text(messages[-1])))


class DoubleApp:
    """An OpenAI-compatible ASGI app keeping one state per id: `/v1/...` uses "default", `/s/{sid}/v1/...` its own,
    so that concurrent tests each drive their own. Subclasses say how a state is made, set (`control`, at
    `control_path`) and answered (`completions`)."""

    control_path = ""
    model_id = ""

    def __init__(self, default_state=None):
        self.states = {"default": default_state or self.new_state()}
        self.lock = threading.Lock()
        routes = []
        for prefix in ("", "/s/{sid}"):
            routes += [
                Route(prefix + "/v1/chat/completions", self.completions, methods=["POST"]),
                Route(prefix + "/v1/models", self.models, methods=["GET"]),
                Route(prefix + self.control_path, self.control, methods=["GET", "POST"]),
                Route(prefix + "/_requests", self.requests, methods=["GET"]),
            ]
        self.app = Starlette(routes=routes)

    def new_state(self):
        raise NotImplementedError

    def _state(self, request: Request):
        with self.lock:
            return self.states.setdefault(request.path_params.get("sid", "default"), self.new_state())

    def _state_set(self, request: Request, state) -> None:
        with self.lock:
            self.states[request.path_params.get("sid", "default")] = state

    async def control(self, request: Request) -> JSONResponse:
        raise NotImplementedError

    async def completions(self, request: Request):
        raise NotImplementedError

    async def requests(self, request: Request) -> JSONResponse:
        return JSONResponse(self._state(request).requests)

    async def models(self, request: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [{"id": self.model_id, "object": "model", "owned_by": "tests"}]})


class ScriptedLLM(DoubleApp):
    """The scripted double: one script per id."""

    control_path = "/_script"
    model_id = "scripted"

    def new_state(self) -> Script:
        return Script()

    async def control(self, request: Request) -> JSONResponse:
        if request.method == "POST":
            body = await request.json()
            rate = float(body.get("tokens_per_second") or 0)
            self._state_set(request, Script(list(body.get("turns", [])), rate, bool(body.get("stamp"))))
        script = self._state(request)
        return JSONResponse(
            {"turns": script.turns, "tokens_per_second": script.tokens_per_second, "stamp": script.stamp}
        )

    async def completions(self, request: Request):
        body = await request.json()
        script = self._state(request)
        with self.lock:
            script.requests.append(body)
            turn = script.pick(body)
        if turn is None:
            detail = f"no scripted turn matches this request (agent={request_agent(body)!r})"
            return JSONResponse({"error": {"message": detail, "type": "invalid_request_error"}}, status_code=400)
        if turn.get("status"):
            error = {"message": turn.get("message") or f"scripted failure {turn['status']}", "type": "scripted"}
            error |= {"code": turn.get("code"), "param": None}
            headers = turn.get("headers") or {"retry-after": "0"}
            return JSONResponse({"error": error}, status_code=turn["status"], headers=headers)
        rate = float(turn.get("tokens_per_second") or script.tokens_per_second or 0)
        completion = _Completion(body, turn["reply"], stamp=turn.get("stamp", script.stamp))
        if body.get("stream"):
            return StreamingResponse(completion.sse(rate), media_type="text/event-stream")
        return JSONResponse(completion.whole())


def _arguments_text(tool_call: dict) -> str:
    # A string is sent as it is: a test can script arguments that are not JSON at all.
    arguments = tool_call.get("arguments", {})
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


class _Completion:
    def __init__(self, body: dict, reply: dict, *, stamp: bool = False):
        self.stamp = stamp
        self.id = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        self.model = body.get("model") or "scripted"
        self.created = int(time.time())
        self.tokens = _TOKEN_RE.findall(reply.get("content") or "")
        self.tool_calls = [
            {"id": f"call_{uuid.uuid4().hex[:10]}", "name": c["name"], "arguments": _arguments_text(c)}
            for c in reply.get("tool_calls") or []
        ]
        self.prompt_tokens = sum(len(_text(m)) for m in body.get("messages", [])) // 4 + 1
        self.usage_requested = (body.get("stream_options") or {}).get("include_usage", False)
        self.completion_tokens = len(self.tokens) + sum(len(c["arguments"]) // 4 + 1 for c in self.tool_calls)

    def _chunk(self, delta: dict, finish: str | None = None, usage: dict | None = None, choices: bool = True) -> str:
        body = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model}
        body["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}] if choices else []
        if usage is not None:
            body["usage"] = usage
        return f"data: {json.dumps(body)}\n\n"

    def usage(self) -> dict:
        total = self.prompt_tokens + self.completion_tokens
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens, "total_tokens": total}

    async def sse(self, rate: float):
        yield self._chunk({"role": "assistant", "content": ""})
        started = time.monotonic()
        for n, token in enumerate(self.tokens):
            if rate > 0:
                await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
            yield self._chunk({"content": f"{token.rstrip()}@{time.time():.6f} " if self.stamp else token})
        for index, tc in enumerate(self.tool_calls):
            head = {"index": index, "id": tc["id"], "type": "function"}
            yield self._chunk({"tool_calls": [{**head, "function": {"name": tc["name"], "arguments": ""}}]})
            args = tc["arguments"]
            for start in range(0, len(args), 7):
                piece = {"index": index, "function": {"arguments": args[start : start + 7]}}
                yield self._chunk({"tool_calls": [piece]})
        yield self._chunk({}, finish="tool_calls" if self.tool_calls else "stop")
        if self.usage_requested:
            yield self._chunk({}, usage=self.usage(), choices=False)
        yield "data: [DONE]\n\n"

    def whole(self) -> dict:
        message: dict = {"role": "assistant", "content": "".join(self.tokens) or None}
        if self.tool_calls:
            message["tool_calls"] = [
                {"id": tc["id"], "type": "function", "function": {"name": tc["name"], "arguments": tc["arguments"]}}
                for tc in self.tool_calls
            ]
        finish = "tool_calls" if self.tool_calls else "stop"
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": self.usage(),
        }


def listen_socket(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets whose proto says TCP; without it
    # the first token of a stream on a kept-alive connection waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def _server(llm: DoubleApp) -> uvicorn.Server:
    config = uvicorn.Config(llm.app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
    return uvicorn.Server(config)


class ServerThread:
    """The scripted server on a loopback port in a daemon thread (`url` is the origin)."""

    def __init__(self, app: DoubleApp | None = None, host: str = "127.0.0.1", port: int = 0):
        self.llm = app or ScriptedLLM()
        self.socket = sock = listen_socket(host, port)
        self.url = f"http://{host}:{sock.getsockname()[1]}"
        self.server = _server(self.llm)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("scripted LLM server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
        self.socket.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090, help="0: any free port (printed)")
    parser.add_argument("--tokens-per-second", type=float, default=0.0)
    parser.add_argument("--tokens", type=int, default=200, help="tokens per reply of the default script")
    parser.add_argument("--stamp", action="store_true", help='each token carries its send time: "tok@<epoch s> "')
    args = parser.parse_args(argv)
    text = " ".join(f"tok{n}" for n in range(args.tokens))
    default = Script([{**say(text), "repeat": True}], args.tokens_per_second, args.stamp)
    sock = listen_socket(args.host, args.port)
    print(f"listening on http://{args.host}:{sock.getsockname()[1]}", flush=True)
    _server(ScriptedLLM(default)).run(sockets=[sock])


if __name__ == "__main__":
    main()
