"""Structured replies ask for a strict JSON Schema, fall back once per endpoint when it is refused, and are repaired
once with the validator's message before the run fails with llm_bad_output."""

from __future__ import annotations

import json
import uuid

import pytest

from agents.errors import LLMBadOutput
from agents.llm import LLMClient
from agents.planner import Plan
from agents.structured import output_schema
from agents.tests.conftest import GraphRun
from agents.verifier import Verdict
from tests.scripted_llm import fail, plan, say

SYSTEM = {"role": "system", "content": "agent: planner\nPlan."}
USER = {"role": "user", "content": "scale web"}
VERDICT = {"passed": True, "checks": [{"check": "ready", "passed": True, "evidence": "3/3"}], "notes": "ok"}


@pytest.fixture
async def clients(scripted_llm):
    made: list[LLMClient] = []
    model = f"scripted-{uuid.uuid4().hex[:6]}"  # what an endpoint accepts is remembered per endpoint and model

    def make() -> LLMClient:
        made.append(LLMClient(base_url=scripted_llm.base_url, api_key="k", model=model, backoff_s=0.01))
        return made[-1]

    yield make
    for llm in made:
        await llm.aclose()


def objects(schema):
    """Every object schema inside `schema`."""
    if isinstance(schema, dict):
        if schema.get("type") == "object":
            yield schema
        for value in schema.values():
            yield from objects(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from objects(item)


async def test_it_asks_for_the_plan_with_a_strict_json_schema(scripted_llm, make_context):
    scripted_llm.set_script([plan([]), say("Nothing to do.", agent="responder")])

    await GraphRun().start(make_context("what can you do?"))

    response_format = scripted_llm.requests()[0]["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "Plan"
    assert response_format["json_schema"]["strict"] is True
    schema = response_format["json_schema"]["schema"]
    for node in objects(schema):
        assert node["additionalProperties"] is False
        assert sorted(node["required"]) == sorted(node["properties"])
    assert "$ref" not in json.dumps(schema)
    assert '"default"' not in json.dumps(schema)
    tool = schema["properties"]["steps"]["items"]["properties"]["tool"]
    assert "k8s_scale" in tool["anyOf"][0]["enum"]


async def test_it_falls_back_to_json_object_then_text_and_remembers_it(scripted_llm, clients):
    refusal = "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model."
    scripted_llm.set_script(
        [
            fail(400, message=refusal, code="invalid_parameter"),
            fail(400, message="response_format json_object is not supported", code="invalid_parameter"),
            say(json.dumps(VERDICT)),
            say(json.dumps(VERDICT)),
        ]
    )

    first, _ = await clients().structured([SYSTEM, USER], Verdict)
    second, _ = await clients().structured([SYSTEM, USER], Verdict)  # a new client of the same endpoint and model

    assert first.passed
    assert second.passed
    sent = scripted_llm.requests()
    assert [r.get("response_format", {}).get("type") for r in sent] == ["json_schema", "json_object", None, None]
    schema_text = json.dumps(output_schema(Verdict).schema)
    assert schema_text not in sent[0]["messages"][0]["content"]
    for request in sent[1:]:
        assert schema_text in request["messages"][0]["content"]  # the schema is written into the prompt


async def test_it_repairs_an_invalid_reply_once_with_the_validator_message(scripted_llm, clients):
    scripted_llm.set_script([say('{"checks": []}'), say(json.dumps(VERDICT))])

    verdict, _ = await clients().structured([SYSTEM, USER], Verdict)

    assert verdict.passed is True
    repair = scripted_llm.requests()[1]["messages"][-1]["content"]
    assert "passed: Field required" in repair
    assert json.dumps(output_schema(Verdict).schema) in repair


async def test_it_fails_with_llm_bad_output_after_one_repair(scripted_llm, clients):
    scripted_llm.set_script([say("I think it worked."), say('{"passed": "maybe"}')])

    with pytest.raises(LLMBadOutput) as failure:
        await clients().structured([SYSTEM, USER], Verdict)

    assert failure.value.code == "llm_bad_output"
    assert "{" not in failure.value.sentence
    assert len(scripted_llm.requests()) == 2


@pytest.mark.parametrize(
    "reply",
    [
        'Here is the plan:\n```json\n{"summary": "scale", "steps": [{"title": "Scale web", "tool": "k8s_scale"}]}\n```',
        'Sure! {"summary": "scale", "steps": [{"title": "Scale web", "tool": "k8s_scale"}]} Let me know.',
    ],
)
async def test_it_reads_json_wrapped_in_prose_or_fences(scripted_llm, clients, reply):
    scripted_llm.set_script([say(reply)])

    parsed, _ = await clients().structured([SYSTEM, USER], Plan)

    assert [(s.title, s.tool) for s in parsed.steps] == [("Scale web", "k8s_scale")]
    assert len(scripted_llm.requests()) == 1
