"""Which tools a run may use and which calls wait for a human — decided from MCP annotations only.

The LLM never decides approval. A tool is read-only only when the tool server says so with
`readOnlyHint: true`; anything else (no annotations, hint missing, false, or not a bool) is treated
as mutating and therefore needs approval (fail closed). The connection's allow/deny lists (set by admins)
decide which of the server's tools exist for the run at all: a withheld tool is never offered to the model
and a call naming it is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agents.namespace_scope import NOT_CONFINABLE, OutOfScope, scope_arguments


@dataclass(frozen=True)
class ToolSpec:
    """One tool as listed by the tool server (`tools/list`)."""

    name: str
    description: str
    input_schema: dict
    annotations: dict | None  # camelCase keys as on the wire: readOnlyHint, destructiveHint, ...

    @property
    def read_only(self) -> bool:
        return bool(self.annotations) and self.annotations.get("readOnlyHint") is True


def tool_spec(tool: Any) -> ToolSpec:
    """A `ToolSpec` from an MCP `Tool` object or a wire-format dict."""
    if isinstance(tool, ToolSpec):
        return tool
    if isinstance(tool, Mapping):
        return ToolSpec(
            name=tool["name"],
            description=tool.get("description") or "",
            input_schema=tool.get("inputSchema") or tool.get("input_schema") or {"type": "object"},
            annotations=tool.get("annotations"),
        )
    annotations = getattr(tool, "annotations", None)
    if annotations is not None and not isinstance(annotations, Mapping):
        annotations = annotations.model_dump(by_alias=True, exclude_none=True)
    return ToolSpec(
        name=tool.name,
        description=tool.description or "",
        input_schema=dict(tool.input_schema or {"type": "object"}),
        annotations=dict(annotations) if annotations else None,
    )


class ToolPolicy:
    """The asker's and the cluster's view of the tool server's tools.

    `requires_approval` is True for every tool that is not explicitly read-only (and for unknown
    tools). `allowed` refuses unknown tools, and mutating tools when the asker may not request
    changes or the cluster is read-only. `check` also confines a call's arguments to the connection's
    namespaces (agents/namespace_scope.py); every tool call of a run goes through it.
    """

    def __init__(
        self,
        tools: Iterable[Any],
        *,
        can_request_changes: bool,
        cluster_read_only: bool,
        allowed_namespaces: Sequence[str] = (),
        default_namespace: str | None = None,
        tool_allow: Sequence[str] = (),
        tool_deny: Sequence[str] = (),
        kind: str = "skyflo",
    ):
        listed = {spec.name: spec for spec in map(tool_spec, tools)}
        allow, deny = set(tool_allow or ()), set(tool_deny or ())
        self.tools = {name: spec for name, spec in listed.items() if name not in deny and (not allow or name in allow)}
        self.withheld = set(listed) - set(self.tools)
        # Another MCP server's tools: we know neither their arguments' meaning nor a diff tool of theirs.
        self.third_party = kind == "mcp"
        self.can_request_changes = can_request_changes
        self.cluster_read_only = cluster_read_only
        self.allowed_namespaces = tuple(allowed_namespaces or ())
        self.default_namespace = default_namespace or None

    def requires_approval(self, tool_name: str) -> bool:
        spec = self.tools.get(tool_name)
        return spec is None or not spec.read_only

    def allowed(self, tool_name: str) -> bool:
        if tool_name not in self.tools:
            return False
        if self.third_party and self.allowed_namespaces:
            return False  # we cannot tell where another server's call lands, so we cannot confine it
        if self.allowed_namespaces and tool_name in NOT_CONFINABLE:
            return False  # not offered at all on a connection confined to namespaces
        if not self.requires_approval(tool_name):
            return True
        return self.can_request_changes and not self.cluster_read_only

    def refusal(self, tool_name: str) -> str:
        """Why `allowed(tool_name)` is False, in words for the model and the user."""
        if tool_name in self.withheld:
            return f"{tool_name} is not offered on this cluster connection (an admin withheld it)."
        if tool_name not in self.tools:
            return f"Unknown tool {tool_name!r}."
        if self.third_party and self.allowed_namespaces:
            return (
                "This cluster connection is limited to namespaces, which Skyflo can enforce only on its own tool "
                "server; limit the other MCP server's own credentials instead and clear the connection's namespaces."
            )
        if self.allowed_namespaces and tool_name in NOT_CONFINABLE:
            return f"{tool_name} may change cluster-wide objects, which this cluster connection does not allow."
        if self.cluster_read_only:
            return f"{tool_name} changes the cluster, and this cluster is read-only."
        return f"{tool_name} changes the cluster, and the asker may not request changes."

    def check(self, tool_name: str, args: dict) -> tuple[dict, str | None]:
        """(the arguments to send, None), or (the arguments, why the call is refused: a sentence)."""
        if not self.allowed(tool_name):
            return args, self.refusal(tool_name)
        try:
            scoped = scope_arguments(tool_name, args, allowed=self.allowed_namespaces, default=self.default_namespace)
        except OutOfScope as exc:
            return args, str(exc)
        return scoped, None

    @property
    def previews(self) -> bool:
        """Whether a mutating call can be previewed with k8s_diff: our tool server's, offered and read-only."""
        return not self.third_party and self.allowed("k8s_diff") and not self.requires_approval("k8s_diff")

    def allowed_names(self, *, read_only: bool = False) -> list[str]:
        return [
            name for name in self.tools if self.allowed(name) and (not read_only or not self.requires_approval(name))
        ]

    def function_schemas(self, *, read_only: bool = False) -> list[dict]:
        """OpenAI `tools=[{"type": "function", ...}]` specs for the allowed tools only."""
        return [_function_schema(self.tools[name]) for name in self.allowed_names(read_only=read_only)]


def _function_schema(spec: ToolSpec) -> dict:
    parameters = dict(spec.input_schema) or {"type": "object", "properties": {}}
    parameters.setdefault("type", "object")
    return {
        "type": "function",
        "function": {"name": spec.name, "description": spec.description[:1024], "parameters": parameters},
    }
