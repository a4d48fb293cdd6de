"""Per-call timeout, output cap, progress notifications and cancellation."""

import os
from pathlib import Path

import anyio
import pytest

from mcp_server.tests.conftest import call_ok, http_session, memory_session, text_of
from mcp_server.tests.manifests import apply, configmap, deployment


def _processes_mentioning(needle: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if needle in cmdline and str(os.getpid()) != proc.name:
                found.append(cmdline)
    return found


@pytest.fixture
def stuck(sandbox_cluster, k8s_namespace):
    apply(sandbox_cluster, k8s_namespace, deployment("stuck", image="registry.example/doesnotexist:1"))
    return k8s_namespace


async def test_it_times_out_a_hanging_rollout_and_kills_it(sandbox_cluster, stuck):
    async with memory_session(sandbox_cluster.env, MCP_TOOL_TIMEOUT_S="2") as session:
        result = await session.call_tool(
            "k8s_rollout_status", {"kind": "deployment", "name": "stuck", "namespace": stuck}
        )
    assert result.is_error
    assert result.structured_content["timed_out"] is True
    assert "timed out after 2s" in text_of(result)
    assert text_of(result).startswith(f"$ kubectl rollout status deployment/stuck -n {stuck}")
    assert _processes_mentioning(f"deployment/stuck -n {stuck}") == []


async def test_it_kills_the_process_when_the_call_is_cancelled(sandbox_cluster, stuck):
    needle = f"deployment/stuck -n {stuck}"
    running = []

    async def on_progress(progress, total, message):
        running.append(_processes_mentioning(needle))

    async with memory_session(sandbox_cluster.env) as session:
        with anyio.move_on_after(1.5):
            await session.call_tool(
                "k8s_rollout_status",
                {"kind": "deployment", "name": "stuck", "namespace": stuck},
                progress_callback=on_progress,
            )
        assert running
        assert running[0] != []
        # the session stays open: only the request's cancellation can end the process
        with anyio.fail_after(5):
            while _processes_mentioning(needle):
                await anyio.sleep(0.1)
        await call_ok(session, "k8s_get", kind="deployment", name="stuck", namespace=stuck)


async def test_it_truncates_a_huge_output_with_a_marker(mcp, sandbox_cluster, k8s_namespace):
    for n in range(3):
        apply(sandbox_cluster, k8s_namespace, configmap(f"big-{n}", {"blob": "x" * 40_000}))
    result = await call_ok(mcp, "k8s_get", kind="configmaps", namespace=k8s_namespace, output="json")
    output = result.structured_content["output"]
    assert result.structured_content["truncated"] is True
    assert "\n… [output truncated: " in output
    assert output.endswith(" bytes omitted]")
    assert len(output.encode()) < 64 * 1024 + 100


async def test_it_streams_output_lines_as_progress_before_the_result(toolserver, sandbox_cluster, k8s_namespace):
    logs = "".join(f"line {n}\n" for n in range(50))
    apply(sandbox_cluster, k8s_namespace, deployment("chatty", annotations={"sandbox.skyflo.dev/logs": logs}))
    sandbox_cluster.kubectl("rollout", "status", "deployment/chatty", "-n", k8s_namespace, "--timeout=30s")
    events = []

    async def on_progress(progress, total, message):
        events.append(("progress", progress, message))

    async with http_session(toolserver) as session:
        result = await session.call_tool(
            "k8s_logs",
            {"kind": "deployment", "name": "chatty", "namespace": k8s_namespace, "tail": 100},
            progress_callback=on_progress,
        )
        events.append(("result", None, result.structured_content["output"]))
    messages = [message for kind, _, message in events if kind == "progress"]
    assert messages[:3] == ["line 0", "line 1", "line 2"]
    assert events[-1][0] == "result"
    assert [progress for kind, progress, _ in events if kind == "progress"][:3] == [1, 2, 3]
