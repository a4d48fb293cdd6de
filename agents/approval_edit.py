"""An approver's edit of a pending call, checked as the model's own arguments are: the tool's input schema, then
the connection's policy (namespaces, tools, read-only). An edit can never widen what the connection allows. The
diff preview is made again through the tool server, as for the model's call (agents/tool_runs.py `preview`)."""

from __future__ import annotations

from dataclasses import dataclass

from agents.tool_arguments import schema_problem
from agents.tool_policy import ToolPolicy
from agents.tool_runs import preview


class EditRefused(Exception):
    """The edit is refused; str(exc) is a sentence for the approver."""


@dataclass
class _PreviewContext:
    """What `preview` reads of a run's context: the open tool session and the policy (nothing is cancelled)."""

    tools: object
    policy: ToolPolicy

    async def cancelled(self) -> bool:
        return False


async def edit_check(*, tools, policy_inputs: dict, call_id: str, tool: str, args) -> tuple[dict, str]:
    """(the arguments as they will run, the new preview) over the open `tools` session; raises EditRefused."""
    policy = ToolPolicy(tools.tools, **policy_inputs)
    if not isinstance(args, dict):
        raise EditRefused("The arguments must be a JSON object.")
    if not policy.allowed(tool):
        raise EditRefused(policy.refusal(tool))
    if (problem := schema_problem(policy.tools[tool].input_schema, args)) is not None:
        raise EditRefused(f"The arguments do not fit {tool}'s parameters: {problem}. Nothing was changed.")
    scoped, refusal = policy.check(tool, args)
    if refusal is not None:
        raise EditRefused(f"{refusal} Nothing was changed.")
    text = await preview(_PreviewContext(tools, policy), {"call_id": call_id, "tool": tool, "args": scoped})
    return scoped, text
