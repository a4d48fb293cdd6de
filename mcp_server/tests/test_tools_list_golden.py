"""Golden snapshot of `tools/list` (names, titles, descriptions, annotations, input and output schemas).

Regenerate after an intended change, then review the diff:
    MCP_UPDATE_GOLDEN=1 .venv/bin/pytest mcp_server/tests/test_tools_list_golden.py
"""

import json
import os
from pathlib import Path

from mcp_server.tests.conftest import memory_session

GOLDEN = Path(__file__).parent / "golden" / "tools_list.json"
READ_ONLY = {
    "k8s_get", "k8s_describe", "k8s_logs", "k8s_events", "k8s_api_resources", "k8s_rollout_status",
    "k8s_rollout_history", "k8s_diff", "helm_list", "helm_status", "helm_history", "helm_get_values",
    "helm_get_manifest", "helm_template",
}  # fmt: skip
MUTATING = {
    "k8s_apply", "k8s_patch", "k8s_scale", "k8s_set_image", "k8s_rollout_restart", "k8s_rollout_undo", "k8s_label",
    "k8s_annotate", "k8s_delete", "k8s_cordon", "k8s_uncordon", "k8s_drain", "helm_install", "helm_upgrade",
    "helm_rollback", "helm_uninstall", "helm_repo_add",
}  # fmt: skip


async def _listing() -> list[dict]:
    async with memory_session({"PATH": os.environ.get("PATH", "")}) as session:
        result = await session.list_tools()
    return [tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in result.tools]


async def test_it_matches_the_golden_snapshot():
    listing = await _listing()
    if os.environ.get("MCP_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(listing, indent=2, sort_keys=True) + "\n")
    assert listing == json.loads(GOLDEN.read_text())


async def test_it_lists_exactly_the_designed_tools_with_full_annotations():
    listing = {tool["name"]: tool for tool in await _listing()}
    assert set(listing) == READ_ONLY | MUTATING
    for name, tool in listing.items():
        hints = tool["annotations"]
        assert set(hints) >= {"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint", "title"}
        assert hints["readOnlyHint"] is (name in READ_ONLY)
        assert tool["title"]
        assert tool["description"]
        assert all(p.get("description") for p in tool["inputSchema"]["properties"].values()), name
