"""One MCP client session per run, over streamable HTTP, to the cluster's tool server.

Used by the workflow driver around the whole graph invocation (enter and exit in the same task)::

    async with ToolSession(url=cluster.mcp_server_url, token=cluster.mcp_server_token) as tools:
        policy = ToolPolicy(tools.tools, can_request_changes=..., cluster_read_only=...)
        ...  # RunContext(tools=tools, policy=policy, ...)

Tools are listed once, on enter. `call` streams the server's progress notifications (one per
output line) to `on_output` and returns a `ToolResult`. Cancelling the task awaiting `call`
cancels the MCP request, and the tool server then kills the command.

Another MCP server's output (a connection of kind "mcp") gets our redaction and size cap with `redacted` and
`line_scrubber` (agents/tool_runs.py applies them) before it reaches the model, the ledger, the log or the browser;
our own tool server redacts and caps its output itself.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass

import httpx2
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp_types import PaginatedRequestParams

from agents.errors import ToolServerError
from agents.tool_policy import ToolSpec, tool_spec
from mcp_server.identity import META_KEY
from mcp_server.redaction import Redactor
from mcp_server.runner import OUTPUT_CAP, cap_output

log = logging.getLogger(__name__)

REDACT_MAX_CHARS = 1024 * 1024

OnOutput = Callable[[str], Awaitable[None]]
# (call id, tool, arguments) -> the signed identity assertion of that call (orgs/impersonation.py).
IdentitySigner = Callable[[str, str, dict], str]

_ssl_context: ssl.SSLContext | None = None
_ssl_lock = threading.Lock()


def _shared_ssl_context() -> ssl.SSLContext:
    """The process's one client SSL context (httpx2's default: system CA store, hostname check).

    A new httpx2 client builds its own context, which loads the whole CA store: ~50 ms of CPU per run on the
    run loop, even for an http:// tool server. An SSLContext is safe to share between clients and threads.
    """
    global _ssl_context
    with _ssl_lock:
        if _ssl_context is None:
            _ssl_context = httpx2.create_ssl_context()
        return _ssl_context


@dataclass
class ToolResult:
    ok: bool
    output: str  # the command's output (stderr appended on failure), capped by the tool server
    truncated: bool  # the tool server cut the output (it then ends with a marker)
    command: str | None = None  # the exact command that ran, e.g. "kubectl scale ..."

    def as_dict(self) -> dict:
        return {"ok": self.ok, "output": self.output, "truncated": self.truncated, "command": self.command}


class ToolSession:
    """An open MCP session with the tools it listed (`tools`: name -> ToolSpec)."""

    def __init__(
        self, *, url: str, token: str | None, timeout_s: float = 330.0, identity: IdentitySigner | None = None
    ):
        self.url = url
        self.token = token
        # Acting as the person: each call's assertion travels in the request's _meta, never in the model's arguments.
        self.identity = identity
        self.timeout_s = timeout_s
        self._owner: asyncio.Task | None = None
        self._closing = asyncio.Event()
        self._session: ClientSession | None = None
        self._tools: dict[str, ToolSpec] = {}
        self._instructions = ""  # the server's, from initialize: says whether it acts as the person

    async def __aenter__(self) -> ToolSession:
        # The SDK's transport lives in anyio task groups that must be exited by the task that entered
        # them; a dedicated task owns them so the session can be opened and closed from any task
        # (pytest fixtures, the workflow driver) and used from every node's task.
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._closing = asyncio.Event()
        self._owner = asyncio.create_task(self._own(ready), name=f"mcp-session {self.url}")
        try:
            await ready
        except BaseException:
            self._owner.cancel()
            raise
        if self.identity is not None and META_KEY not in self._instructions:
            await self.__aexit__(None, None, None)
            raise ToolServerError(
                "the tool server does not act as the person",
                sentence="This cluster connection acts as the person, but its tool server does not take "
                "identities (MCP_IMPERSONATION_KEY is not set there), so nothing was run.",
            )
        return self

    async def __aexit__(self, *exc_info) -> None:
        owner, self._owner = self._owner, None
        if owner is None:
            return
        self._closing.set()
        try:
            await asyncio.wait_for(owner, timeout=10)
        except (TimeoutError, asyncio.CancelledError):
            owner.cancel()
        except Exception:
            log.warning("closing the MCP session with %s failed", self.url, exc_info=True)

    async def _own(self, ready: asyncio.Future[None]) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            async with AsyncExitStack() as stack:
                timeout = httpx2.Timeout(30.0, read=self.timeout_s)
                # What mcp's create_mcp_http_client builds, with the shared SSL context.
                http = httpx2.AsyncClient(headers=headers, timeout=timeout, verify=_shared_ssl_context())
                client = await stack.enter_async_context(http)
                read, write = await stack.enter_async_context(streamable_http_client(self.url, http_client=client))
                self._session = await stack.enter_async_context(ClientSession(read, write))
                initialized = await self._session.initialize()
                self._instructions = initialized.instructions or ""
                await self._list_tools()
                ready.set_result(None)
                await self._closing.wait()
        except Exception as exc:
            if not ready.done():
                ours = isinstance(exc, ToolServerError)
                ready.set_exception(
                    exc if ours else ToolServerError(f"cannot open an MCP session with {self.url}: {exc}")
                )
            else:
                log.warning("the MCP session with %s ended with an error", self.url, exc_info=True)
        finally:
            self._session = None

    async def _list_tools(self) -> None:
        cursor = None
        while True:
            params = PaginatedRequestParams(cursor=cursor) if cursor else None
            page = await self._session.list_tools(params=params)
            for tool in page.tools:
                spec = tool_spec(tool)
                self._tools[spec.name] = spec
            cursor = page.next_cursor
            if not cursor:
                return

    @property
    def tools(self) -> list[ToolSpec]:
        """The tools as listed once at session start (name, description, input_schema, annotations)."""
        return list(self._tools.values())

    async def call(self, name: str, args: dict, *, call_id: str, on_output: OnOutput | None = None) -> ToolResult:
        """Run one tool; `on_output(line)` receives live output lines from progress notifications."""
        if self._session is None:
            raise ToolServerError("the MCP session is not open")

        async def progress(_progress: float, _total: float | None, message: str | None) -> None:
            if message and on_output is not None:
                await on_output(message if message.endswith("\n") else message + "\n")

        log.debug("tool call %s %s", call_id, name)
        meta = {META_KEY: self.identity(call_id, name, args)} if self.identity is not None else None
        result = await self._session.call_tool(
            name, args, read_timeout_seconds=self.timeout_s, progress_callback=progress, meta=meta
        )
        return _tool_result(result)


def line_scrubber(redactor: Redactor) -> Callable[[str], str | None]:
    """Redaction of consecutive live output lines ("...\n" in, "...\n" out; None: the line is withheld)."""
    scrub = redactor.stream()

    def line(text: str) -> str | None:
        kept = scrub(text.rstrip("\n"))
        return None if kept is None else kept + "\n"

    return line


def redacted(result: ToolResult, redactor: Redactor) -> ToolResult:
    """Our redaction and size cap over a result of a server that does neither for us (CPU: ~25 ms per 64 KiB)."""
    output, dropped = result.output, 0
    if len(output) > REDACT_MAX_CHARS:  # redaction reads all it is given: bound its work before it starts
        output, dropped = output[:REDACT_MAX_CHARS], len(output[REDACT_MAX_CHARS:].encode())
    output = redactor.redact(output, complete=not (result.truncated or dropped))
    # Our tool server's output is capped already and ends with its marker: room for it, so it is not cut twice.
    limit = OUTPUT_CAP + 256 if result.truncated else OUTPUT_CAP
    output, cut = cap_output(output, limit, extra_omitted=dropped)
    command = redactor.redact_line(result.command) if result.command else result.command
    return ToolResult(ok=result.ok, output=output, truncated=result.truncated or cut, command=command)


def _tool_result(result) -> ToolResult:
    text = "\n".join(getattr(block, "text", "") for block in result.content or () if block.type == "text")
    structured = result.structured_content or {}
    if not isinstance(structured, dict) or "output" not in structured:
        return ToolResult(ok=not result.is_error, output=text, truncated=False)
    output = structured.get("output") or ""
    if result.is_error:
        stderr = structured.get("stderr") or ""
        output = "\n".join(part for part in (output.rstrip("\n"), stderr.rstrip("\n")) if part) or text
    return ToolResult(
        ok=not result.is_error,
        output=output,
        truncated=bool(structured.get("truncated")),
        command=structured.get("command"),
    )
