"""What every tool uses to run a command: the configured binaries and environment, the redactor, the
namespace policy, progress streaming and the shaping of results and errors."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from mcp_server.config import ServerConfig
from mcp_server.redaction import Redactor
from mcp_server.runner import CommandResult, CommandTimeout, command_line, run_command

MAX_PROGRESS_LINES = 2000
_SERVER_ONLY_ENV = ("MCP_SERVER_TOKEN", "MCP_ALLOWED_ORIGINS", "MCP_ALLOWED_NAMESPACES", "MCP_READ_ONLY")


class CommandOutput(BaseModel):
    """Structured result of every tool (also rendered as text: `$ <command>` line, then the output)."""

    command: str = Field(description="The exact command that ran, redacted, without the leading '$ '.")
    output: str = Field(description="stdout (redacted, capped at 64 KiB).")
    stderr: str = Field(default="", description="stderr (redacted).")
    truncated: bool = Field(default=False, description="True when output was cut; the text ends with a marker.")
    exit_code: int = Field(description="Process exit code; -1 when the command timed out and was killed.")
    timed_out: bool = Field(default=False, description="True when the per-call timeout killed the command.")


ToolResult = Annotated[CallToolResult, CommandOutput]


class Refused(ToolError):
    """A call the server's policy does not allow; nothing ran."""


class Toolbox:
    """Per-server runtime shared by all tools (yielded as the MCP server's lifespan context)."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.redactor = Redactor()
        self.env = {k: v for k, v in config.env.items() if k not in _SERVER_ONLY_ENV}
        path = self.env.get("PATH", os.defpath)
        self.kubectl_bin = shutil.which("kubectl", path=path) or "kubectl"
        self.helm_bin = shutil.which("helm", path=path) or "helm"
        self._cluster_kinds: set[str] | None = None

    def namespace(self, namespace: str | None) -> str | None:
        """The namespace a call runs in: the given one, or the first allowed one when a list is set."""
        if namespace is None and self.config.allowed_namespaces:
            return self.config.allowed_namespaces[0]
        return namespace

    def check_namespace(self, namespace: str | None) -> None:
        allowed = self.config.allowed_namespaces
        if allowed and namespace is not None and namespace not in allowed:
            raise Refused(f"refused: namespace {namespace!r} is not in this server's allowed namespaces")

    async def check_manifest_namespaces(self, docs: Sequence[dict[str, Any]], namespace: str | None) -> None:
        """Every object of a manifest must land in an allowed namespace (cluster-scoped ones are refused)."""
        if not self.config.allowed_namespaces:
            return
        for doc in docs:
            if await self.is_cluster_scoped(str(doc.get("kind"))):
                raise Refused(
                    f"refused: {doc.get('kind')} is cluster-scoped and this server has a namespace allow-list"
                )
            target = (doc.get("metadata") or {}).get("namespace") or namespace
            if target is None:
                raise Refused("refused: with a namespace allow-list, every object needs an allowed namespace")
            self.check_namespace(target)

    async def is_cluster_scoped(self, kind: str) -> bool:
        """Whether `kind` (any spelling kubectl accepts) names a cluster-scoped resource; discovery is cached."""
        if self._cluster_kinds is None:
            argv = [self.kubectl_bin, "api-resources", "--namespaced=false", "--no-headers", "-o", "wide"]
            result = await self.execute(None, argv, stream=False)
            self._cluster_kinds = _resource_spellings(result.output)
        words = [w.lower() for w in kind.split(",")]
        return any(_spellings_of(w) & self._cluster_kinds for w in words)

    async def kubectl(self, ctx: Context, args: Sequence[str], **kwargs: Any) -> CallToolResult:
        return await self.run(ctx, [self.kubectl_bin, *args], **kwargs)

    async def helm(self, ctx: Context, args: Sequence[str], **kwargs: Any) -> CallToolResult:
        return await self.run(ctx, [self.helm_bin, *args], **kwargs)

    async def run(
        self,
        ctx: Context | None,
        argv: Sequence[str],
        *,
        stdin: str | None = None,
        stream: bool = True,
        ok_codes: Sequence[int] = (0,),
    ) -> CallToolResult:
        """Run a command and shape its result; a non-zero exit becomes an isError result with stderr."""
        try:
            result = await self.execute(ctx, argv, stdin=stdin, stream=stream)
        except CommandTimeout as exc:
            return self.timeout_result(argv, exc)
        return self.shape(result, is_error=result.exit_code not in ok_codes)

    async def execute(
        self, ctx: Context | None, argv: Sequence[str], *, stdin: str | None = None, stream: bool = True
    ) -> CommandResult:
        on_line = _progress_reporter(ctx, self.redactor) if ctx is not None and stream else None
        return await run_command(
            argv,
            env=self.env,
            timeout_s=self.config.tool_timeout_s,
            redactor=self.redactor,
            stdin=stdin,
            on_line=on_line,
        )

    def shape(self, result: CommandResult, *, is_error: bool) -> CallToolResult:
        text = f"$ {result.command}\n{result.output}"
        if is_error:
            text = f"{text}{'' if text.endswith(chr(10)) else chr(10)}{result.stderr}[exit code {result.exit_code}]"
        structured = CommandOutput(
            command=result.command,
            output=result.output,
            stderr=result.stderr,
            truncated=result.truncated,
            exit_code=result.exit_code,
        )
        return CallToolResult(
            content=[TextContent(type="text", text=text)],
            structured_content=structured.model_dump(mode="json"),
            is_error=is_error,
        )

    def timeout_result(self, argv: Sequence[str], exc: CommandTimeout) -> CallToolResult:
        command = command_line(argv, self.redactor)
        structured = CommandOutput(command=command, output="", stderr=str(exc), exit_code=-1, timed_out=True)
        return CallToolResult(
            content=[TextContent(type="text", text=f"$ {command}\nerror: {exc}")],
            structured_content=structured.model_dump(mode="json"),
            is_error=True,
        )


def _progress_reporter(ctx: Context, redactor: Redactor):
    sent = 0

    async def on_line(line: str) -> None:
        nonlocal sent
        if sent < MAX_PROGRESS_LINES and line.strip():
            sent += 1
            await ctx.report_progress(sent, None, redactor.redact_line(line))

    return on_line


def _resource_spellings(table: str) -> set[str]:
    """From `api-resources -o wide` rows (NAME [SHORTNAMES] APIVERSION NAMESPACED KIND VERBS…), every spelling."""
    spellings: set[str] = set()
    for line in table.splitlines():
        cols = line.split()
        if "false" not in cols:
            continue
        at = cols.index("false")
        name, kind, version = cols[0], cols[at + 1], cols[at - 1]
        group = version.split("/")[0] if "/" in version else ""
        shorts = cols[1].split(",") if at == 3 else []
        for word in (name, kind, *shorts):
            spellings |= {word.lower(), f"{word.lower()}.{group}" if group else word.lower()}
    return spellings


def _spellings_of(word: str) -> set[str]:
    base = word.split("/")[0]
    head, _, group = base.partition(".")
    forms = {head, head + "s", head + "es", head[:-1] + "ies" if head.endswith("y") else head}
    return {f"{f}.{group}" if group else f for f in forms} | forms


def toolbox_of(ctx: Context) -> Toolbox:
    return ctx.request_context.lifespan_context
