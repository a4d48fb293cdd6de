"""Pytest plugin: the scripted OpenAI-compatible LLM server (see tests/scripted_llm.py).

Fixtures (and `schema_llm`, the same for the schema-only double of tests/schema_llm.py):
- `scripted_llm_server` (session): one real HTTP server on loopback for the whole session.
- `scripted_llm` (function): a `ScriptedLLMHandle` with its own script id, so its own base URL:
  `.base_url` (".../s/<id>/v1", give it to `LLMClient` or `LLM_BASE_URL`), `.api_key`, `.model`,
  `.set_script(turns, tokens_per_second=0, stamp=False)`, `.requests()` (received request bodies),
  `.remaining()` (turns not consumed yet).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.scripted_llm import ServerThread


@dataclass
class ScriptedLLMHandle:
    origin: str
    script_id: str
    api_key: str = "scripted-key"
    model: str = "scripted-model"

    @property
    def base_url(self) -> str:
        return f"{self.origin}/s/{self.script_id}/v1"

    def set_script(self, turns: list[dict], *, tokens_per_second: float = 0.0, stamp: bool = False) -> None:
        body = {"turns": turns, "tokens_per_second": tokens_per_second, "stamp": stamp}
        httpx.post(f"{self.origin}/s/{self.script_id}/_script", json=body, timeout=10).raise_for_status()

    def requests(self) -> list[dict]:
        response = httpx.get(f"{self.origin}/s/{self.script_id}/_requests", timeout=10)
        response.raise_for_status()
        return response.json()

    def remaining(self) -> list[dict]:
        response = httpx.get(f"{self.origin}/s/{self.script_id}/_script", timeout=10)
        response.raise_for_status()
        return response.json()["turns"]


@pytest.fixture(scope="session")
def scripted_llm_server() -> Iterator[ServerThread]:
    server = ServerThread().start()
    yield server
    server.stop()


@pytest.fixture
def scripted_llm(scripted_llm_server) -> ScriptedLLMHandle:
    return ScriptedLLMHandle(scripted_llm_server.url, uuid.uuid4().hex[:12])


# --- the schema-only model double (tests/schema_llm.py) -----------------------------------------------------


@dataclass
class SchemaLLMHandle:
    """One config of the schema-only double: `.base_url`, `.configure(goals=[goal(tool, args)], answer=...)`,
    `.requests()` (received bodies), `.reached()` (how many goals were reached)."""

    origin: str
    config_id: str
    api_key: str = "schema-key"
    model: str = "schema-only"

    @property
    def base_url(self) -> str:
        return f"{self.origin}/s/{self.config_id}/v1"

    def configure(self, **config) -> None:
        httpx.post(f"{self.origin}/s/{self.config_id}/_config", json=config, timeout=10).raise_for_status()

    def requests(self) -> list[dict]:
        response = httpx.get(f"{self.origin}/s/{self.config_id}/_requests", timeout=10)
        response.raise_for_status()
        return response.json()

    def reached(self) -> int:
        response = httpx.get(f"{self.origin}/s/{self.config_id}/_config", timeout=10)
        response.raise_for_status()
        return response.json()["reached"]


@pytest.fixture(scope="session")
def schema_llm_server():
    from tests.schema_llm import SchemaServerThread

    server = SchemaServerThread().start()
    yield server
    server.stop()


@pytest.fixture
def schema_llm(schema_llm_server) -> SchemaLLMHandle:
    return SchemaLLMHandle(schema_llm_server.url, uuid.uuid4().hex[:12])
