"""Structured replies: a Pydantic model as a JSON Schema that OpenAI's strict mode accepts, the same schema written
into the prompt for endpoints that refuse `json_schema`, and the tolerant reading of the reply.

Strict mode wants every property listed in `required`, `additionalProperties: false` on every object and no
`default`; refs are inlined so that servers with partial JSON Schema support (vLLM's guided decoding, Ollama's
`format`) read the same document.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

_DROPPED_KEYWORDS = ("default", "title")


@dataclass(frozen=True)
class OutputSchema:
    """What a structured reply must look like: its name, the Pydantic model, the strict JSON Schema."""

    name: str
    model: type[BaseModel]
    schema: dict

    def instruction(self) -> str:
        """The schema as prompt text (for endpoints that cannot take it as `response_format`)."""
        return (
            "Reply with exactly one JSON object and nothing else (no prose, no code fence). "
            f"It must validate against this JSON Schema (named {self.name}):\n{json.dumps(self.schema)}"
        )


class ReplyInvalid(ValueError):
    """The reply is not JSON or does not fit the schema; the message is the validator's."""


def output_schema(model: type[BaseModel], *, narrow: Callable[[dict], None] | None = None) -> OutputSchema:
    """`model` as an OutputSchema; `narrow` may tighten the generated schema in place (e.g. an enum of names)."""
    schema = strict_schema(model)
    if narrow is not None:
        narrow(schema)
    return OutputSchema(name=model.__name__, model=model, schema=schema)


def strict_schema(model: type[BaseModel]) -> dict:
    raw = model.model_json_schema()
    definitions = raw.pop("$defs", {})
    return _strict(_inline(raw, definitions))


def _inline(node: Any, definitions: dict) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(copy.deepcopy(definitions[node["$ref"].rsplit("/", 1)[-1]]), definitions)
        return {key: _inline(value, definitions) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item, definitions) for item in node]
    return node


def _strict(node: Any) -> Any:
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    strict = {key: _strict(value) for key, value in node.items() if key not in _DROPPED_KEYWORDS}
    if "properties" in node:  # property names are names, not keywords: keep a property called "title"
        strict["properties"] = {name: _strict(value) for name, value in node["properties"].items()}
    if strict.get("type") == "object" or "properties" in strict:
        strict["properties"] = strict.get("properties", {})
        strict["required"] = list(strict["properties"])
        strict["additionalProperties"] = False
    return strict


def reply_parse(text: str, output: OutputSchema) -> BaseModel:
    """The reply as `output.model`: JSON alone, in a ``` fence, or inside prose. Raises `ReplyInvalid`."""
    candidate = _json_text(text)
    try:
        return output.model.model_validate(json.loads(candidate))
    except json.JSONDecodeError as exc:
        raise ReplyInvalid(f"the reply is not valid JSON ({exc.msg} at character {exc.pos})") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in exc.errors())
        raise ReplyInvalid(f"the JSON does not fit the schema: {problems}") from exc


def _json_text(text: str) -> str:
    candidate = text.strip()
    fence = candidate.find("```")
    if fence != -1:
        body = candidate[fence + 3 :]
        body = body.split("\n", 1)[1] if "\n" in body else body
        candidate = body.split("```", 1)[0]
    start, end = candidate.find("{"), candidate.rfind("}")
    if start == -1 or end < start:
        raise ReplyInvalid("the reply contains no JSON object")
    return candidate[start : end + 1]


def repair_message(error: ReplyInvalid, output: OutputSchema) -> dict:
    """The one repair request: the validator's message and the schema."""
    return {"role": "user", "content": f"Your last reply was not usable: {error}.\n{output.instruction()}"}


def with_instruction(messages: list[dict], output: OutputSchema) -> list[dict]:
    """`messages` with the schema written into the system prompt (many chat templates allow only one, first)."""
    if messages and messages[0].get("role") == "system":
        first = {**messages[0], "content": f"{messages[0].get('content') or ''}\n\n{output.instruction()}"}
        return [first, *messages[1:]]
    return [{"role": "system", "content": output.instruction()}, *messages]
