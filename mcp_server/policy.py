"""Server-side enforcement of the tool annotations at `tools/call`: read-only mode refuses every tool that
is not read-only, and a namespace allow-list refuses other namespaces and cluster-scoped mutations. With
MCP_IMPERSONATION_KEY set, a call runs only with a valid identity assertion in its `_meta`, as that person
(mcp_server/identity.py).

It runs as SDK middleware, before argument validation and before the tool body, so a refused call runs
nothing, whatever the client saw in `tools/list`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp_types import CallToolResult, TextContent

from mcp_server.config import ServerConfig
from mcp_server.identity import META_KEY, AssertionRefused
from mcp_server.safety import UnsafeArgument, refuse_flags_in_all
from mcp_server.toolbox import Refused, Toolbox
from mcp_server.tools import ToolSpec
from mcp_server.tools.helm import chart_refusal

# Bodies that travel on stdin or as one `--patch=` element: data, never parsed as flags (a container's
# `args: ["--token-file=…"]` in a manifest is legitimate).
STDIN_BODIES = ("manifest", "patch", "values_yaml")


class ToolPolicy:
    """`ServerMiddleware` that refuses tool calls this server's configuration does not allow."""

    def __init__(self, config: ServerConfig, specs: Mapping[str, ToolSpec], toolbox: Toolbox) -> None:
        self.config = config
        self.specs = specs
        self.toolbox = toolbox

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method == "tools/call" and ctx.params:
            with self.toolbox.call_scope():
                return await self._call(ctx, call_next)
        return await call_next(ctx)

    async def _call(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        spec = self.specs.get(str(ctx.params.get("name"))) if ctx.params else None
        arguments = (ctx.params or {}).get("arguments") or {}
        try:
            refusal = spec and isinstance(arguments, Mapping) and await self.refusal(spec, arguments)
        except Refused as exc:
            refusal = str(exc).removeprefix("refused: ")
        identity = None
        if not refusal and spec and self.toolbox.verifier is not None:
            try:
                identity = self.toolbox.verifier.verify(
                    _assertion(ctx), tool=spec.name, args=arguments, mutating=not spec.read_only
                )
            except AssertionRefused as exc:
                refusal = f"this server acts as the person asking, and the call's identity assertion is refused: {exc}"
        if refusal:
            text = f"refused by the tool server's policy: {refusal}. Nothing ran."
            return self._redacted(CallToolResult(content=[TextContent(type="text", text=text)], is_error=True))
        if identity is None:
            return self._redacted(await call_next(ctx))
        with self.toolbox.acting_as(identity):
            return self._redacted(await call_next(ctx))

    def _redacted(self, result: HandlerResult) -> HandlerResult:
        """Last line of defence: SDK-made messages (argument validation errors) are scrubbed too."""
        redact = self.toolbox.redactor.redact_line
        if isinstance(result, CallToolResult):
            for block in result.content:
                if isinstance(block, TextContent):
                    block.text = redact(block.text)
        elif isinstance(result, dict):
            for block in result.get("content") or ():
                if isinstance(block, dict) and isinstance(block.get("text"), str):
                    block["text"] = redact(block["text"])
        return result

    async def refusal(self, spec: ToolSpec, arguments: Mapping[str, Any]) -> str | None:
        """Why this call is not allowed, or None."""
        try:
            refuse_flags_in_all(arguments, skip=STDIN_BODIES)
        except UnsafeArgument as exc:
            return str(exc)
        if self.config.read_only and not spec.read_only:
            return f"{spec.name} changes the cluster and this server is read-only"
        chart_refused = await chart_refusal(self.toolbox, spec.name, arguments)
        if chart_refused:
            return chart_refused
        allowed = self.config.allowed_namespaces
        if not allowed or spec.scope == "local":
            return None
        namespace = arguments.get("namespace")
        if arguments.get("all_namespaces"):
            return "all_namespaces is not available with a namespace allow-list"
        if namespace is not None and namespace not in allowed:
            return f"namespace {namespace!r} is not in the allowed namespaces ({', '.join(allowed)})"
        if not spec.read_only and spec.scope == "cluster":
            return f"{spec.name} acts on cluster-scoped objects, which a namespace allow-list forbids"
        if not spec.read_only and spec.scope == "namespaced" and namespace is None:
            return f"{spec.name} needs an explicit namespace (one of {', '.join(allowed)})"
        kind = arguments.get("kind")
        if not spec.read_only and isinstance(kind, str) and await self.toolbox.is_cluster_scoped(kind):
            return (
                f"{kind} is cluster-scoped (or unknown to the cluster), which a namespace allow-list forbids changing"
            )
        return None


def _assertion(ctx: ServerRequestContext[Any, Any]) -> object:
    """The identity assertion from the request's `_meta` (set by the engine, out of the model's reach)."""
    meta = ctx.meta if ctx.meta is not None else (ctx.params or {}).get("_meta")
    if isinstance(meta, Mapping):
        return meta.get(META_KEY)
    return getattr(meta, META_KEY, None) or (getattr(meta, "model_extra", None) or {}).get(META_KEY)
