"""The text blocks the agents share: the tool catalogue, the plan, and what the run did so far."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agents.context import RunContext


def tool_catalogue(ctx: RunContext) -> str:
    lines = []
    for name in ctx.policy.allowed_names():
        spec = ctx.policy.tools[name]
        kind = "read-only" if not ctx.policy.requires_approval(name) else "changes the cluster"
        first_line = (spec.description or "").strip().splitlines()[0] if spec.description else ""
        lines.append(f"- {name} ({kind}): {first_line}")
    return "\n".join(lines) or "(no tools available)"


def setting(ctx: RunContext) -> str:
    namespace = ctx.default_namespace or "(none; ask or use the namespace the user names)"
    return f"Default namespace: {namespace}"


def plan_text(plan: list[dict]) -> str:
    if not plan:
        return "(no plan)"
    return "\n".join(f"{i}. [{s['id']}] {s['title']} (tool: {s.get('tool') or '-'})" for i, s in enumerate(plan, 1))
