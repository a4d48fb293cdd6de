"""What every tool uses to run a command: the configured binaries and environment, the redactor, the
namespace policy, progress streaming and the shaping of results and errors."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from mcp_server.config import ServerConfig
from mcp_server.identity import AssertionVerifier, Identity, impersonation_flags
from mcp_server.redaction import Redactor
from mcp_server.runner import CommandResult, CommandTimeout, command_line, run_command

MAX_PROGRESS_LINES = 2000
# Kinds served by the cluster change with CRDs: discovery is trusted this long, then asked again.
DISCOVERY_TTL_S = 300.0
MAX_LIST_DEPTH = 8
_INCOMPLETE_DISCOVERY = "unable to retrieve the complete list of server APIs"
_CALL_REDACTOR: ContextVar[Redactor | None] = ContextVar("call_redactor", default=None)
_CALL_IDENTITY: ContextVar[Identity | None] = ContextVar("call_identity", default=None)
_SERVER_ONLY_ENV = (
    "MCP_IMPERSONATION_KEY",
    "MCP_SERVER_TOKEN",
    "MCP_ALLOWED_ORIGINS",
    "MCP_ALLOWED_NAMESPACES",
    "MCP_READ_ONLY",
    "MCP_HELM_REPOSITORIES",
)


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
        self.env = {k: v for k, v in config.env.items() if k not in _SERVER_ONLY_ENV}
        if self.env.get("KUBECONFIG"):  # commands run elsewhere (see _workdir)
            self.env["KUBECONFIG"] = os.pathsep.join(
                os.path.abspath(p) if p else p for p in self.env["KUBECONFIG"].split(os.pathsep)
            )
        path = self.env.get("PATH", os.defpath)
        self.kubectl_bin = shutil.which("kubectl", path=path) or "kubectl"
        self.helm_bin = shutil.which("helm", path=path) or "helm"
        # commands run in an empty directory: a relative name never finds a file of the tool server's
        self._workdir = tempfile.TemporaryDirectory(prefix="mcp-server-cwd-")
        self._kinds: tuple[float, set[str], set[str]] | None = None  # (when, namespaced, cluster-scoped)
        self._discovery_lock = asyncio.Lock()
        key = config.impersonation_key
        self.verifier = AssertionVerifier(key) if key else None

    @property
    def redactor(self) -> Redactor:
        """The redactor of the tool call in progress (see `call_scope`): what it learns dies with the call."""
        current = _CALL_REDACTOR.get()
        if current is None:
            current = Redactor()
            _CALL_REDACTOR.set(current)
        return current

    @contextlib.contextmanager
    def call_scope(self) -> Iterator[Redactor]:
        """One tool call: a fresh redactor that remembers only the Secret values this call sees."""
        token = _CALL_REDACTOR.set(Redactor())
        try:
            yield self.redactor
        finally:
            _CALL_REDACTOR.reset(token)

    @contextlib.contextmanager
    def acting_as(self, identity: Identity) -> Iterator[None]:
        """The tool call in progress runs its commands as `identity` (the person), not as this server."""
        token = _CALL_IDENTITY.set(identity)
        try:
            yield
        finally:
            _CALL_IDENTITY.reset(token)

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
        """Every object kubectl will send must land in an allowed namespace; cluster-scoped ones are refused.

        kubectl sends the items of any object carrying `items` (whatever its kind), nested lists included, and
        puts an object without a namespace into the call's namespace.
        """
        if not self.config.allowed_namespaces:
            return
        for obj in sent_objects(docs):
            kind = obj.get("kind")
            if not isinstance(kind, str) or not kind:
                raise Refused("refused: every object of the manifest needs a kind")
            if await self.is_cluster_scoped(kind):
                raise Refused(
                    f"refused: {kind} is cluster-scoped (or unknown to the cluster) and this server has a "
                    "namespace allow-list"
                )
            metadata = obj.get("metadata") or {}
            target = metadata.get("namespace") if isinstance(metadata, dict) else None
            target = target or namespace
            if target is None:
                raise Refused("refused: with a namespace allow-list, every object needs an allowed namespace")
            self.check_namespace(target)

    async def is_cluster_scoped(self, kind: str) -> bool:
        """Whether `kind` (any spelling kubectl accepts) may name a cluster-scoped resource.

        Fails closed: a failed discovery raises `Refused`; a kind discovery does not know counts as
        cluster-scoped once discovery has been asked again.
        """
        words = [w.lower() for w in kind.split(",")]
        namespaced, cluster = await self._discovered_kinds()
        if any(not (_spellings_of(w) & (namespaced | cluster)) for w in words):
            namespaced, cluster = await self._discovered_kinds(refresh=True)
        return any(_spellings_of(w) & cluster or not _spellings_of(w) & namespaced for w in words)

    async def _discovered_kinds(self, *, refresh: bool = False) -> tuple[set[str], set[str]]:
        async with self._discovery_lock:
            fresh = self._kinds is not None and time.monotonic() - self._kinds[0] < DISCOVERY_TTL_S
            if self._kinds is None or not fresh or (refresh and time.monotonic() - self._kinds[0] > 5):
                self._kinds = (time.monotonic(), *await self._discover())
            return self._kinds[1], self._kinds[2]

    async def _discover(self) -> tuple[set[str], set[str]]:
        argv = [self.kubectl_bin, "api-resources", "--no-headers", "-o", "wide"]
        try:
            # The server's own view of the API, cached for every caller: never asked as one person.
            result = await self.execute(None, argv, stream=False, as_server=True)
        except CommandTimeout:
            result = None
        # one unavailable API group still lists the others; kinds it leaves out count as cluster-scoped
        partial = result is not None and result.output.strip() and _INCOMPLETE_DISCOVERY in result.stderr
        if result is None or result.truncated or (result.exit_code != 0 and not partial):
            reason = (result.stderr.strip().splitlines() or ["no answer"])[0] if result else "timed out"
            raise Refused(
                "refused: could not tell which kinds are cluster-scoped, so the namespace allow-list cannot be "
                f"enforced (kubectl api-resources: {reason[:200]}); try again when the cluster answers"
            )
        return _resource_spellings(result.output, namespaced=True), _resource_spellings(result.output, namespaced=False)

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
        self,
        ctx: Context | None,
        argv: Sequence[str],
        *,
        stdin: str | None = None,
        stream: bool = True,
        shown: bool = True,
        as_server: bool = False,
    ) -> CommandResult:
        identity = None if as_server else _CALL_IDENTITY.get()
        if identity is not None:
            program = "helm" if argv[0] == self.helm_bin else "kubectl"
            argv = [argv[0], *impersonation_flags(program, identity), *argv[1:]]
        on_line = _progress_reporter(ctx, self.redactor.stream()) if ctx is not None and stream else None
        return await run_command(
            argv,
            env=self.env,
            timeout_s=self.config.tool_timeout_s,
            redactor=self.redactor,
            stdin=stdin,
            on_line=on_line,
            cwd=self._workdir.name,
            shown=shown,
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


def _progress_reporter(ctx: Context, scrub: Callable[[str], str | None]):
    sent = 0

    async def on_line(line: str) -> None:
        nonlocal sent
        shown = scrub(line)  # every line goes through, so what spans lines (a key block) is seen whole
        if sent < MAX_PROGRESS_LINES and shown is not None and shown.strip():
            sent += 1
            await ctx.report_progress(sent, None, shown)

    return on_line


def sent_objects(docs: Sequence[Any], depth: int = 0) -> Iterator[dict[str, Any]]:
    """The objects kubectl sends for these documents: it decodes any object with an `items` key as a list
    (its kind is ignored) and sends the items, flattening nested lists."""
    for doc in docs:
        if not isinstance(doc, dict):
            raise Refused("refused: every item of a list in the manifest must be an object")
        keys = [key for key in doc if isinstance(key, str) and key.lower() == "items"]
        if not keys:
            yield doc
            continue
        if keys != ["items"] or depth >= MAX_LIST_DEPTH:
            raise Refused("refused: the manifest holds a list kubectl would read differently (nested or `Items`)")
        items = doc["items"]
        if items is not None and not isinstance(items, list):
            raise Refused("refused: `items` in the manifest must be a list of objects")
        yield from sent_objects(items or [], depth + 1)


def _resource_spellings(table: str, *, namespaced: bool) -> set[str]:
    """From `api-resources -o wide` rows (NAME [SHORTNAMES] APIVERSION NAMESPACED KIND VERBS…), every spelling
    of the namespaced (or cluster-scoped) kinds."""
    wanted = "true" if namespaced else "false"
    spellings: set[str] = set()
    for line in table.splitlines():
        cols = line.split()
        flags = [i for i, col in enumerate(cols[:4]) if col in ("true", "false")]
        if not flags or cols[flags[-1]] != wanted or flags[-1] + 1 >= len(cols):
            continue
        at = flags[-1]
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
