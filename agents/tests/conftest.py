"""Test scaffolding at the boundary of agents/: a RunContext that records what the graph emits.

Everything else is real: the scripted LLM server over HTTP, the tool server process against the
sandbox cluster, LangGraph's in-memory checkpointer.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from agents.llm import LLMClient
from agents.mcp_client import ToolSession
from agents.tool_policy import ToolPolicy
from workflows.graph import build_graph


@dataclass
class RecordedStream:
    ctx: RecordingContext
    agent: str
    message_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    deltas: list[str] = field(default_factory=list)

    async def push(self, text: str) -> None:
        self.deltas.append(text)
        await self.ctx.emit("message.delta", {"message_id": self.message_id, "agent": self.agent, "text": text})

    async def complete(self, text: str) -> None:
        self.ctx.messages.append({"agent": self.agent, "text": text})
        await self.ctx.emit("message.completed", {"message": {"id": self.message_id, "content": text}})


@dataclass
class RecordingContext:
    """A RunContext (agents/context.py) kept in memory; `ledger` may be shared between contexts."""

    llm: LLMClient
    tools: ToolSession
    policy: ToolPolicy
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    conversation_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    user_request: str = ""
    history: list[dict] = field(default_factory=list)
    default_namespace: str | None = None
    max_replans: int = 2
    events: list[tuple[str, dict]] = field(default_factory=list)
    ledger: dict[str, dict] = field(default_factory=dict)
    messages: list[dict] = field(default_factory=list)
    usage: list[tuple[int, int, str]] = field(default_factory=list)
    cancel_requested: bool = False

    async def emit(self, type: str, data: dict) -> None:  # noqa: A002 - the protocol's name
        self.events.append((type, data))

    async def ledger_get(self, call_id: str) -> dict | None:
        entry = self.ledger.get(call_id)
        return entry["result"] if entry and entry.get("result") is not None else None

    async def ledger_start(
        self,
        call_id: str,
        tool: str,
        args: dict,
        mutating: bool,
        *,
        before: dict | None = None,
        undo: dict | None = None,
    ) -> None:
        entry = {"tool": tool, "args": args, "mutating": mutating, "result": None, "before": before, "undo": undo}
        self.ledger.setdefault(call_id, entry)

    async def ledger_finish(self, call_id: str, ok: bool, result: dict) -> None:
        self.ledger[call_id]["result"] = result

    async def cancelled(self) -> bool:
        return self.cancel_requested

    async def message_stream(self, agent: str) -> RecordedStream:
        return RecordedStream(self, agent)

    async def record_usage(self, prompt_tokens: int, completion_tokens: int, model: str, **details: int) -> None:
        self.usage.append((prompt_tokens, completion_tokens, model))

    async def mutation_refusal(self, call: dict) -> str | None:
        return None  # the approver's and asker's rights live in the database (workflows/run_context.py)

    # -- assertions helpers
    def of_type(self, kind: str) -> list[dict]:
        return [data for type_, data in self.events if type_ == kind]

    def types(self) -> list[str]:
        return [type_ for type_, _ in self.events if type_ not in ("message.delta", "tool.output")]


@pytest.fixture
async def tool_session(toolserver) -> AsyncIterator[ToolSession]:
    async with ToolSession(url=toolserver.url, token=toolserver.token) as session:
        yield session


@pytest.fixture
async def llm_client(scripted_llm) -> AsyncIterator[LLMClient]:
    llm = LLMClient(base_url=scripted_llm.base_url, api_key="test", model="scripted", backoff_s=0.01)
    yield llm
    await llm.aclose()


@pytest.fixture
def make_context(llm_client, tool_session):
    def make(request: str, *, namespace: str | None = None, can_request_changes: bool = True, **kwargs):
        llm = llm_client
        policy = ToolPolicy(tool_session.tools, can_request_changes=can_request_changes, cluster_read_only=False)
        return RecordingContext(
            llm=llm, tools=tool_session, policy=policy, user_request=request, default_namespace=namespace, **kwargs
        )

    return make


class GraphRun:
    """One conversation thread on an in-memory checkpointer."""

    def __init__(self):
        self.graph = build_graph(InMemorySaver())
        self.config = {"configurable": {"thread_id": uuid.uuid4().hex}}

    async def start(self, ctx: RecordingContext) -> dict:
        result = await self.graph.ainvoke({"request": ctx.user_request, "run_id": ctx.run_id}, self.config, context=ctx)
        return self._seen(result)

    async def resume(self, ctx: RecordingContext, decision: str, reason: str = "") -> dict:
        value = {"call_id": self.pending_call_id, "decision": decision, "by": "approver-1", "reason": reason}
        return self._seen(await self.graph.ainvoke(Command(resume=value), self.config, context=ctx))

    def _seen(self, result: dict) -> dict:
        interrupts = result.get("__interrupt__") if isinstance(result, dict) else None
        self.pending_call_id = interrupts[0].value.get("call_id") if interrupts else None
        return result


@pytest.fixture
def graph_run() -> GraphRun:
    return GraphRun()


def deployment_replicas(sandbox_cluster, name: str, namespace: str) -> int:
    return sandbox_cluster.get_json("deployment", name, namespace)["spec"]["replicas"]


def deployment_manifest(name: str, replicas: int = 1, image: str = "nginx:1.27") -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: {name}
        image: {image}
"""


def create_deployment(sandbox_cluster, name: str, namespace: str, replicas: int = 1) -> None:
    sandbox_cluster.kubectl("apply", "-n", namespace, "-f", "-", input=deployment_manifest(name, replicas))
