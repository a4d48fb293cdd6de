"""Cancel: the run stops between LLM chunks, and a cancelled tool call kills the command on the tool server."""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from agents.errors import RunCancelled
from agents.tests.conftest import GraphRun
from tests.scripted_llm import plan, say


def commands_mentioning(text: str) -> list[str]:
    # -ww: without a terminal ps cuts args at 80 columns, and a long checkout path pushes the namespace past it.
    ps = subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True, check=True)
    return [line for line in ps.stdout.splitlines() if text in line and "rollout" in line]


async def test_it_stops_the_answer_stream_when_the_run_is_cancelled(scripted_llm, make_context):
    story = " ".join(f"w{n}" for n in range(300))
    scripted_llm.set_script([plan([]), say(story, agent="responder")], tokens_per_second=100)
    ctx = make_context("tell me a long story")
    original_emit = ctx.emit

    async def emit(type_: str, data: dict) -> None:
        await original_emit(type_, data)
        if type_ == "message.delta" and len(ctx.of_type("message.delta")) == 5:
            ctx.cancel_requested = True

    ctx.emit = emit

    with pytest.raises(RunCancelled):
        await GraphRun().start(ctx)

    assert 5 <= len(ctx.of_type("message.delta")) < 300
    assert not ctx.of_type("message.completed")


async def test_it_never_starts_a_run_that_is_already_cancelled(scripted_llm, make_context):
    scripted_llm.set_script([plan([]), say("never", agent="responder")])
    ctx = make_context("hello", cancel_requested=True)

    with pytest.raises(RunCancelled):
        await GraphRun().start(ctx)
    assert scripted_llm.requests() == []


async def test_it_kills_the_command_when_the_awaiting_task_is_cancelled(tool_session, sandbox_cluster, k8s_namespace):
    sandbox_cluster.scenario("pending", namespace=k8s_namespace)  # a rollout that never completes
    lines: list[str] = []

    async def on_output(line: str) -> None:
        lines.append(line)

    args = {"kind": "deployment", "name": "analytics", "namespace": k8s_namespace}
    task = asyncio.create_task(tool_session.call("k8s_rollout_status", args, call_id="c1", on_output=on_output))
    # If the call ends instead of showing up as a process, say how, not only that no process was seen.
    for _ in range(200):
        if commands_mentioning(k8s_namespace) or task.done():
            break
        await asyncio.sleep(0.05)
    assert not task.done(), (
        f"the rollout watch ended on its own: {task.result() if not task.exception() else task.exception()!r}"
    )
    assert commands_mentioning(k8s_namespace), f"the rollout watch never started (output so far: {lines})"

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(100):
        if not commands_mentioning(k8s_namespace):
            break
        await asyncio.sleep(0.05)
    assert commands_mentioning(k8s_namespace) == []
    result = await tool_session.call("k8s_get", {"kind": "deployment", "namespace": k8s_namespace}, call_id="c2")
    assert result["ok"]  # the session is still usable
    assert "analytics" in result["output"]
