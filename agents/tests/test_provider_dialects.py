"""The LLM client against servers behaving as each provider documents (tests/provider_llm.py): OpenAI, OpenAI
reasoning models, Azure OpenAI, vLLM, Ollama, LiteLLM; and the failures they all have — 429 with Retry-After, 5xx, a
connection cut mid-stream, a context-length refusal."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx
import pytest

from agents.errors import LLMContextExceeded, LLMRateLimited
from agents.llm import LLMClient
from agents.verifier import Verdict
from tests.provider_llm import provider_server

SYSTEM = {"role": "system", "content": "You operate Kubernetes."}
USER = {"role": "user", "content": "scale web"}
TOOLS = [
    {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}
    for name in ("k8s_get", "k8s_scale")
]
GET = {"kind": "deployment", "name": "web", "namespace": "shop"}


@dataclass
class Provider:
    origin: str
    sid: str

    @property
    def base_url(self) -> str:
        return f"{self.origin}/p/{self.sid}/v1"

    @property
    def azure_endpoint(self) -> str:
        return f"{self.origin}/p/{self.sid}"

    def setup(self, dialect: str, replies: list[dict]) -> None:
        body = {"dialect": dialect, "replies": replies}
        httpx.post(f"{self.origin}/p/{self.sid}/_setup", json=body, timeout=10).raise_for_status()

    def requests(self) -> list[dict]:
        return httpx.get(f"{self.origin}/p/{self.sid}/_requests", timeout=10).json()


@pytest.fixture(scope="module")
def provider_origin():
    server = provider_server().start()
    yield server.url
    server.stop()


@pytest.fixture
def provider(provider_origin) -> Provider:
    return Provider(provider_origin, uuid.uuid4().hex[:10])


@pytest.fixture
async def client(provider):
    made: list[LLMClient] = []

    def make(model: str = "gpt-4.1-mini", **kwargs) -> LLMClient:
        kwargs.setdefault("base_url", provider.base_url)
        made.append(LLMClient(api_key="sk-test", model=model, backoff_s=0.01, max_output_tokens=512, **kwargs))
        return made[-1]

    yield make
    for llm in made:
        await llm.aclose()


class Tokens(list):
    async def __call__(self, text: str) -> None:
        self.append(text)


async def test_openai_parallel_tool_calls_and_usage_only_in_the_last_chunk(provider, client):
    calls = [{"name": "k8s_get", "arguments": GET}, {"name": "k8s_get", "arguments": {**GET, "name": "api"}}]
    provider.setup("openai", [{"tool_calls": calls}])

    response = await client().chat([SYSTEM, USER], tools=TOOLS)

    assert [(c.name, c.arguments) for c in response.tool_calls] == [(c["name"], c["arguments"]) for c in calls]
    assert len({c.id for c in response.tool_calls}) == 2
    assert response.prompt_tokens > 0
    assert response.completion_tokens > 0
    assert response.cached_tokens == response.prompt_tokens // 2  # billed at the cached price (orgs/pricing.py)
    body = provider.requests()[0]["body"]
    assert body["stream_options"] == {"include_usage": True}
    assert (body["temperature"], body["max_tokens"]) == (0, 512)
    assert provider.requests()[0]["headers"]["authorization"] == "Bearer sk-test"


async def test_reasoning_models_get_max_completion_tokens_no_temperature_and_the_developer_role(provider, client):
    provider.setup("reasoning", [{"content": "Scaled."}])

    response = await client("o4-mini", reasoning_effort="low").chat([SYSTEM, USER])

    assert response.content == "Scaled."
    assert response.reasoning_tokens == 64
    body = provider.requests()[0]["body"]
    assert body["max_completion_tokens"] == 512
    assert "max_tokens" not in body
    assert "temperature" not in body
    assert body["reasoning_effort"] == "low"
    assert [m["role"] for m in body["messages"]] == ["developer", "user"]


async def test_azure_openai_gets_the_deployment_url_api_version_and_api_key(provider, client):
    provider.setup("azure", [{"content": "ok"}])

    llm = client("prod-gpt4o", base_url=provider.azure_endpoint, api_version="2024-10-21")
    response = await llm.chat([SYSTEM, USER])

    assert response.content == "ok"
    sent = provider.requests()[0]
    assert sent["path"] == f"/p/{provider.sid}/openai/deployments/prod-gpt4o/chat/completions"
    assert sent["query"] == {"api-version": "2024-10-21"}
    assert sent["headers"]["api-key"] == "sk-test"
    assert "authorization" not in sent["headers"]


@pytest.mark.parametrize("dialect", ["vllm", "vllm-split", "ollama"])
async def test_reasoning_deltas_are_not_answer_text_and_tool_calls_arrive_whole_or_split(provider, client, dialect):
    provider.setup(
        dialect,
        [
            {"reasoning": "The user wants web. I should answer.", "content": "web has 1 replica"},
            {"reasoning": "Two lookups.", "tool_calls": [{"name": "k8s_get", "arguments": GET}] * 2},
        ],
    )
    tokens = Tokens()

    answer = await client("qwen3:8b").chat([SYSTEM, USER], on_token=tokens)
    looked = await client("qwen3:8b").chat([SYSTEM, USER], tools=TOOLS)

    assert "".join(tokens) == answer.content == "web has 1 replica"
    assert "I should answer" in answer.reasoning
    assert [(c.name, c.arguments) for c in looked.tool_calls] == [("k8s_get", GET), ("k8s_get", GET)]
    assert looked.tool_calls[0].id != looked.tool_calls[1].id


async def test_an_endpoint_that_sends_no_usage_is_estimated(provider, client):
    provider.setup("ollama", [{"content": "three replicas are ready", "usage": False}])

    response = await client("llama3.1").chat([SYSTEM, USER])

    assert response.content == "three replicas are ready"
    assert response.prompt_tokens > 0
    assert response.completion_tokens > 0


async def test_litellm_context_window_error_compacts_the_conversation_and_retries_once(provider, client):
    overflow = "litellm.ContextWindowExceededError: prompt is too long: 210000 tokens > 200000 maximum"
    provider.setup("litellm", [{"error": {"status": 400, "message": overflow}}, {"content": "ok"}])
    history = [{"role": "user" if n % 2 else "assistant", "content": f"turn {n} " + "x" * 9000} for n in range(12)]

    response = await client("claude-sonnet").chat([SYSTEM, *history, USER])

    assert response.content == "ok"
    assert response.model == "openai/claude-sonnet"
    first, second = (r["body"]["messages"] for r in provider.requests())
    assert len(second) < len(first)
    assert sum(len(m["content"]) for m in second) < sum(len(m["content"]) for m in first) / 2
    assert second[0] == SYSTEM
    assert second[-1] == USER


async def test_a_second_context_length_refusal_fails_with_llm_context_exceeded(provider, client):
    refusal = {
        "status": 400,
        "message": "This model's maximum context length is 8192 tokens.",
        "code": "context_length_exceeded",
    }
    provider.setup("openai", [{"error": refusal}, {"error": refusal}])

    with pytest.raises(LLMContextExceeded):
        await client().chat([SYSTEM, USER])
    assert len(provider.requests()) == 2


async def test_429_waits_as_retry_after_says_or_fails_when_it_is_too_long(provider, client):
    provider.setup(
        "openai",
        [
            {"error": {"status": 429, "message": "Rate limit reached", "headers": {"retry-after": "0"}}},
            {"content": "ok"},
            {"error": {"status": 429, "message": "Rate limit reached", "headers": {"retry-after": "600"}}},
        ],
    )

    assert (await client().chat([SYSTEM, USER])).content == "ok"
    with pytest.raises(LLMRateLimited):
        await client().chat([SYSTEM, USER])
    assert len(provider.requests()) == 3


async def test_5xx_is_retried(provider, client):
    provider.setup("openai", [{"error": {"status": 503, "message": "overloaded"}}, {"content": "ok"}])

    assert (await client().chat([SYSTEM, USER])).content == "ok"
    assert len(provider.requests()) == 2


async def test_a_stream_cut_mid_answer_is_retried_without_showing_a_token_twice(provider, client):
    answer = "web now has three ready replicas in shop"
    provider.setup("openai", [{"content": answer, "reset_after": 3}, {"content": answer}])
    tokens = Tokens()

    response = await client().chat([SYSTEM, USER], on_token=tokens)

    assert response.content == answer
    assert "".join(tokens) == answer
    assert len(provider.requests()) == 2


async def test_structured_replies_work_on_every_dialect(provider, client):
    verdict = '```json\n{"passed": true, "checks": [], "notes": "ok"}\n```'
    provider.setup("vllm", [{"reasoning": "check", "content": verdict}])

    parsed, _ = await client("qwen3:8b").structured([SYSTEM, USER], Verdict)

    assert parsed.passed is True
    assert provider.requests()[0]["body"]["response_format"]["type"] == "json_schema"
