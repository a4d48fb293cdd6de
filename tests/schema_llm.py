"""A model double that never reads prompt text: an OpenAI-compatible chat-completions server that answers only from
the machine-readable parts of a request — its tools' names and parameter schemas, and the JSON Schema it asks the
reply to follow.

For each ``POST /v1/chat/completions`` it answers, in this order:

1. a 400 naming ``response_format``, when the request's ``response_format.type`` is in the config's ``refuse``
   (an endpoint without structured outputs, as OpenAI words the refusal);
2. a **tool call**, when the first goal not yet reached names a tool the request offers: the goal's arguments are
   checked against that tool's ``parameters`` (a mismatch is a 400, so a broken test fails loudly) and the goal is
   then reached;
3. a **JSON object filling the schema** of ``response_format.json_schema`` (or, for ``json_object`` and plain text,
   a JSON Schema document found verbatim in the messages): every property filled by type — strings with ``text``,
   booleans with ``boolean``, numbers with their minimum, arrays with ``items`` elements, enums with the first value
   that names a goal's tool, else their first value;
4. otherwise **text**: ``answer``.

It knows nothing of Skyflo's prompts, agents or field names: a test configures it with goals expressed in tool names
and arguments only. Streaming, usage and the SSE format are those of tests/scripted_llm.py.

Configuration, per *config id* (each with its base URL ``http://host:port/s/<id>/v1``; ``/v1`` is ``default``)::

    POST /s/<id>/_config  {"goals": [{"tool": "k8s_scale", "args": {...}}],   # called in order, each once
                           "answer": "Done.", "text": "done", "boolean": true, "items": 1,
                           "refuse": ["json_schema"], "tokens_per_second": 0}
    GET  /s/<id>/_config   the config, with "reached": the goals reached so far
    GET  /s/<id>/_requests the request bodies received

In pytest: the `schema_llm` fixture (tests/llm.py) gives a handle with `.configure(goals=[goal(...)], ...)`.
Standalone: ``python -m tests.schema_llm --port 8091``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from typing import Any

from jsonschema import exceptions, validators
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse

from tests.scripted_llm import DoubleApp, _Completion, _server, listen_socket

REFUSAL = "Invalid parameter: 'response_format' of type '{}' is not supported with this model."


def goal(tool: str, args: dict) -> dict:
    """A tool call the double makes once, when a request first offers `tool`."""
    return {"tool": tool, "args": args}


@dataclass
class Config:
    goals: list[dict] = field(default_factory=list)
    answer: str = "Done."
    text: str = "done"
    boolean: bool = True
    items: int = 1
    refuse: list[str] = field(default_factory=list)
    tokens_per_second: float = 0.0
    reached: int = 0
    requests: list[dict] = field(default_factory=list)

    @classmethod
    def of(cls, body: dict) -> Config:
        known = {"goals", "answer", "text", "boolean", "items", "refuse", "tokens_per_second"}
        return cls(**{k: v for k, v in body.items() if k in known})

    def public(self) -> dict:
        names = ("goals", "answer", "text", "boolean", "items", "refuse", "tokens_per_second", "reached")
        return {name: getattr(self, name) for name in names}

    def next_goal(self) -> dict | None:
        return self.goals[self.reached] if self.reached < len(self.goals) else None


class SchemaLLM(DoubleApp):
    """The schema-only double: one config per id."""

    control_path = "/_config"
    model_id = "schema-only"

    def new_state(self) -> Config:
        return Config()

    async def control(self, request: Request) -> JSONResponse:
        if request.method == "POST":
            self._state_set(request, Config.of(await request.json()))
        return JSONResponse(self._state(request).public())

    async def completions(self, request: Request):
        body = await request.json()
        config = self._state(request)
        with self.lock:
            config.requests.append(body)
            try:
                reply = _reply(body, config)
            except _Refusal as refusal:
                error = {"message": str(refusal), "type": "invalid_request_error", "param": refusal.param}
                return JSONResponse({"error": error}, status_code=400)
        completion = _Completion(body, reply)
        if body.get("stream"):
            return StreamingResponse(completion.sse(config.tokens_per_second), media_type="text/event-stream")
        return JSONResponse(completion.whole())


class _Refusal(Exception):  # noqa: N818 - an HTTP 400 answer
    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.param = param


def _reply(body: dict, config: Config) -> dict:
    response_format = body.get("response_format") or {}
    if response_format.get("type") in config.refuse:
        raise _Refusal(REFUSAL.format(response_format["type"]), param="response_format")
    tool_call = _goal_call(body, config)
    if tool_call is not None:
        return {"content": "", "tool_calls": [tool_call]}
    schema = _requested_schema(body)
    if schema is not None:
        return {"content": json.dumps(fill(schema, config, _goal_names(config)))}
    return {"content": config.answer}


def _goal_call(body: dict, config: Config) -> dict | None:
    wanted = config.next_goal()
    offered = {t["function"]["name"]: t["function"] for t in body.get("tools") or () if t.get("type") == "function"}
    if wanted is None or wanted["tool"] not in offered:
        return None
    schema = offered[wanted["tool"]].get("parameters") or {"type": "object"}
    error = exceptions.best_match(validators.validator_for(schema)(schema).iter_errors(wanted["args"]))
    if error is not None:
        raise _Refusal(f"schema_llm: the goal's arguments do not fit {wanted['tool']}'s parameters: {error.message}")
    config.reached += 1
    return {"name": wanted["tool"], "arguments": wanted["args"]}


def _goal_names(config: Config) -> list[str]:
    return [g["tool"] for g in config.goals[config.reached :]]


def _requested_schema(body: dict) -> dict | None:
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        return response_format["json_schema"]["schema"]
    return _embedded_schema(body.get("messages") or [])


def _embedded_schema(messages: list[dict]) -> dict | None:
    """A JSON Schema document written verbatim into a message (what endpoints without json_schema get)."""
    decoder = json.JSONDecoder()
    for message in reversed(messages):
        text = message.get("content") if isinstance(message.get("content"), str) else ""
        for start in (i for i, ch in enumerate(text) if ch == "{"):
            try:
                found, _ = decoder.raw_decode(text, start)
            except json.JSONDecodeError:
                continue
            if isinstance(found, dict) and found.get("type") == "object" and "properties" in found:
                return found
    return None


def fill(schema: dict, config: Config, names: list[str]) -> Any:
    """A value that validates against `schema`, chosen by type alone."""
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return fill(_preferred_option(schema[key], names), config, names)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return next((v for v in names if v in schema["enum"]), schema["enum"][0])
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    return _FILLERS[kind](schema, config, names)


def _preferred_option(options: list[dict], names: list[str]) -> dict:
    naming = [o for o in options if any(n in (o.get("enum") or ()) for n in names)]
    not_null = [o for o in options if o.get("type") != "null"]
    return (naming or not_null or options)[0]


def _array(schema: dict, config: Config, names: list[str]) -> list:
    count = max(schema.get("minItems", 0), min(config.items, schema.get("maxItems", config.items)))
    return [fill(schema.get("items") or {"type": "string"}, config, names) for _ in range(count)]


def _object(schema: dict, config: Config, names: list[str]) -> dict:
    return {name: fill(sub, config, names) for name, sub in (schema.get("properties") or {}).items()}


def _string(schema: dict, config: Config, names: list[str]) -> str:
    text = config.text.ljust(schema.get("minLength", 0), ".")
    return text[: schema["maxLength"]] if "maxLength" in schema else text


_FILLERS = {
    "object": _object,
    "array": _array,
    "string": _string,
    "boolean": lambda schema, config, names: config.boolean,
    "integer": lambda schema, config, names: int(schema.get("minimum", 1)),
    "number": lambda schema, config, names: schema.get("minimum", 1),
    "null": lambda schema, config, names: None,
}


class SchemaServerThread:
    """The double on a loopback port in a daemon thread (`url` is the origin)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        from tests.scripted_llm import ServerThread

        self._thread = ServerThread(app=SchemaLLM(), host=host, port=port)
        self.url = self._thread.url

    def start(self) -> SchemaServerThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._thread.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091, help="0: any free port (printed)")
    args = parser.parse_args(argv)
    sock = listen_socket(args.host, args.port)
    print(f"listening on http://{args.host}:{sock.getsockname()[1]}", flush=True)
    _server(SchemaLLM()).run(sockets=[sock])


if __name__ == "__main__":
    main()
