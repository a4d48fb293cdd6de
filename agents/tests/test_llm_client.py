"""The LLM client against the scripted OpenAI-compatible server: streaming, tool calls, usage, retries."""

from __future__ import annotations

import asyncio

import pytest

from agents.errors import LLMError, LLMNotConfigured, RunCancelled
from agents.llm import LLMClient
from tests.scripted_llm import call, fail, say

SYSTEM = {"role": "system", "content": "agent: responder\nBe brief."}
USER = {"role": "user", "content": "hello"}


@pytest.fixture
async def clients(scripted_llm):
    made: list[LLMClient] = []

    def make(**kwargs) -> LLMClient:
        made.append(LLMClient(base_url=scripted_llm.base_url, api_key="k", model="scripted", backoff_s=0.01, **kwargs))
        return made[-1]

    yield make
    for llm in made:
        await llm.aclose()


async def test_it_streams_tokens_and_reports_usage(scripted_llm, clients):
    scripted_llm.set_script([say("three replicas are ready")], tokens_per_second=200)
    tokens: list[str] = []

    async def on_token(text: str) -> None:
        tokens.append(text)

    response = await clients().chat([SYSTEM, USER], on_token=on_token)

    assert tokens == ["three", " replicas", " are", " ready"]
    assert response.content == "three replicas are ready"
    assert response.completion_tokens == 4
    assert response.prompt_tokens > 0
    sent = scripted_llm.requests()[0]
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}


async def test_it_assembles_tool_call_deltas(scripted_llm, clients):
    args = {"kind": "deployment", "name": "web", "namespace": "shop", "replicas": 3}
    scripted_llm.set_script([call("k8s_scale", args, agent=None)])
    tools = [{"type": "function", "function": {"name": "k8s_scale", "parameters": {"type": "object"}}}]

    response = await clients().chat([SYSTEM, USER], tools=tools)

    assert [(c.name, c.arguments) for c in response.tool_calls] == [("k8s_scale", args)]
    assert response.finish_reason == "tool_calls"
    assert scripted_llm.requests()[0]["tools"] == tools


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_it_retries_a_rate_limit_or_server_error_then_succeeds(scripted_llm, clients, status):
    scripted_llm.set_script([fail(status), say("ok now")])

    response = await clients().chat([SYSTEM, USER])

    assert response.content == "ok now"
    assert len(scripted_llm.requests()) == 2


async def test_it_gives_up_after_its_retries(scripted_llm, clients):
    scripted_llm.set_script([fail(429), fail(429), fail(429)])

    with pytest.raises(LLMError):
        await clients(max_retries=2).chat([SYSTEM, USER])
    assert len(scripted_llm.requests()) == 3


async def test_it_does_not_retry_a_client_error(scripted_llm, clients):
    scripted_llm.set_script([])  # nothing matches -> 400

    with pytest.raises(LLMError, match="no scripted turn"):
        await clients().chat([SYSTEM, USER])
    assert len(scripted_llm.requests()) == 1


async def test_it_gives_up_on_an_endpoint_that_stops_sending(scripted_llm, clients):
    scripted_llm.set_script([say("first then silence")], tokens_per_second=0.2)  # 5 s between tokens
    tokens: list[str] = []

    async def on_token(text: str) -> None:
        tokens.append(text)

    with pytest.raises(LLMError, match="LLM request failed"):
        await asyncio.wait_for(clients(timeout=0.5).chat([SYSTEM, USER], on_token=on_token), timeout=30)
    assert tokens == ["first"]  # what came before the silence was handed out, and not retried
    assert len(scripted_llm.requests()) == 1


async def test_it_stops_streaming_when_the_run_is_cancelled(scripted_llm, clients):
    scripted_llm.set_script([say(" ".join(["word"] * 200))], tokens_per_second=100)
    tokens: list[str] = []

    async def on_token(text: str) -> None:
        tokens.append(text)

    async def is_cancelled() -> bool:
        return len(tokens) >= 5

    with pytest.raises(RunCancelled):
        await clients().chat([SYSTEM, USER], on_token=on_token, is_cancelled=is_cancelled)
    assert len(tokens) < 200


@pytest.mark.parametrize(
    ("base_url", "api_key", "model", "variable"),
    [
        (None, None, "m", "LLM_BASE_URL"),
        ("http://127.0.0.1:9/v1", "", "m", "LLM_API_KEY"),
        ("http://127.0.0.1:9/v1", "k", "", "LLM_MODEL"),
    ],
)
async def test_it_names_the_missing_variable(base_url, api_key, model, variable):
    llm = LLMClient(base_url=base_url, api_key=api_key, model=model)

    with pytest.raises(LLMNotConfigured) as raised:
        await llm.chat([USER])
    assert raised.value.variable == variable
    assert variable in str(raised.value)
