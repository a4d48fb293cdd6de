"""Finding 10 of issue 13: a YAML alias bomb is refused, bounded, and never blocks the tool server."""

import json

import anyio
import httpx
import pytest

from mcp_server.tests.conftest import call_ok, http_session, text_of

LEVELS = "abcdefghi"
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{b}: &{b} [*{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}]\n"
    for a, b in zip(LEVELS[:-1], LEVELS[1:], strict=True)
)
CHARTS = "https://charts.invalid/stable"  # configured, never contacted: the values are refused first
MANIFEST_BOMB = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\n" + BOMB.replace("a: &a", "x0: &a", 1)


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("k8s_diff", {"manifest": MANIFEST_BOMB}),
        ("k8s_diff", {"kind": "configmap", "name": "bomb", "patch": BOMB}),
        ("helm_template", {"release": "r", "chart": f"{CHARTS}/web-1.0.0.tgz", "values_yaml": BOMB}),
    ],
)
async def test_finding_10_yaml_alias_bomb_is_refused_without_blocking(
    toolserver_factory, k8s_namespace, tool, arguments
):
    assert len(BOMB) < 600
    toolserver = toolserver_factory(env={"MCP_HELM_REPOSITORIES": CHARTS})
    async with http_session(toolserver) as session:
        with anyio.fail_after(120):  # a hang guard only: the old server never answered
            result = await session.call_tool(tool, {"namespace": k8s_namespace, **arguments})
            async with httpx.AsyncClient() as client:
                health = await client.get(f"http://127.0.0.1:{toolserver.port}/healthz")
            listed = await call_ok(session, "k8s_get", kind="configmaps", namespace=k8s_namespace)
    assert result.is_error
    assert "alias" in text_of(result) or "too large" in text_of(result), text_of(result)
    assert "$ " not in text_of(result)
    assert health.json() == {"status": "ok"}
    assert listed.structured_content["exit_code"] == 0
    assert json.dumps(result.model_dump(mode="json")).count("x") < 10_000
