"""A canary Secret value never appears in any output: text, structured content, errors or progress."""

import base64
import json

import pytest

from mcp_server.tests.conftest import memory_session
from mcp_server.tests.manifests import apply, secret

CANARY = "canary-9f3Kx-do-not-leak"
CANARY_B64 = base64.b64encode(CANARY.encode()).decode()


@pytest.fixture(scope="module")
def canary_ns(sandbox_cluster):
    k8s_namespace = sandbox_cluster.new_namespace("canary")
    apply(sandbox_cluster, k8s_namespace, secret("db", CANARY))
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "leaky", "annotations": {"sandbox.skyflo.dev/logs": f"booting\npassword is {CANARY}\n"}},
        "spec": {"containers": [{"name": "app", "image": "busybox"}]},
    }
    apply(sandbox_cluster, k8s_namespace, json.dumps(pod))
    return k8s_namespace


def _assert_clean(result, progress):
    everything = json.dumps(result.model_dump(mode="json")) + json.dumps(progress)
    assert CANARY not in everything
    assert CANARY_B64 not in everything


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("k8s_get", {"kind": "secret", "name": "db", "output": "yaml"}),
        ("k8s_get", {"kind": "secret", "name": "db", "output": "json"}),
        ("k8s_get", {"kind": "secrets", "output": "yaml"}),
        ("k8s_describe", {"kind": "secret", "name": "db"}),
        ("k8s_logs", {"name": "leaky"}),
        ("k8s_apply", {"manifest": secret("db2", CANARY)}),
        ("k8s_diff", {"manifest": secret("db", CANARY + "-new")}),
        ("k8s_get", {"kind": "secret", "name": "missing-" + "x", "output": "yaml"}),
    ],
)
async def test_it_never_shows_the_canary(sandbox_cluster, canary_ns, tool, arguments):
    progress = []

    async def on_progress(value, total, message):
        progress.append(message)

    # a fresh server: nothing learned from earlier calls helps it
    async with memory_session(sandbox_cluster.env) as session:
        result = await session.call_tool(tool, {"namespace": canary_ns, **arguments}, progress_callback=on_progress)
    _assert_clean(result, progress)
    if tool == "k8s_get" and "missing" not in arguments.get("name", ""):
        assert "***REDACTED***" in result.structured_content["output"]
