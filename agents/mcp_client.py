"""MCP client sessions over streamable HTTP to a cluster's tool server, one per run or shared by the runs of a
process for a few seconds (`reuse_s`, SKYFLO_MCP_SESSION_REUSE_S in workers).

Used by the workflow driver around the whole graph invocation (enter and exit in the same task)::

    async with ToolSession(url=cluster.mcp_server_url, token=cluster.mcp_server_token, reuse_s=30) as tools:
        policy = ToolPolicy(tools.tools, can_request_changes=..., cluster_read_only=...)
        ...  # RunContext(tools=tools, policy=policy, ...)

Tools are listed once per session, when it opens. `call` streams the server's progress notifications (one per
output line) to `on_output` and returns a `CallResult` (agents/state.py). Cancelling the task awaiting `call`
cancels the MCP request, and the tool server then kills the command.

Another MCP server's output (a connection of kind "mcp") gets our redaction and size cap with `redacted` and
`line_scrubber` (agents/tool_runs.py applies them) before it reaches the model, the ledger, the log or the browser;
our own tool server redacts and caps its output itself.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import ssl
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

import httpx2
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp_types import PaginatedRequestParams

from agents.errors import ToolServerError
from agents.state import CallResult
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

    A new httpx2 client builds its own context and loads the whole CA store, on the run loop, even for an http://
    tool server (bench/README.md has the cost). An SSLContext is safe to share between clients and threads.
    """
    global _ssl_context
    with _ssl_lock:
        if _ssl_context is None:
            _ssl_context = httpx2.create_ssl_context()
        return _ssl_context


class _Connection:
    """One open MCP session with a tool server and the tools it listed; a task of its own owns the transport.

    Shared by the runs of a process that use the same connection (`_pool`) for `reuse_s` after it opened, unless
    it breaks; identity never lives here: each call brings its own assertion (ToolSession.call)."""

    def __init__(self, *, url: str, token: str | None, timeout_s: float):
        self.url = url
        self.token = token
        self.timeout_s = timeout_s
        self.loop = asyncio.get_running_loop()
        self.opened_at = time.monotonic()
        self.users = 0  # ToolSessions using it now
        self.broken = False  # an error on the session: never handed out again, closed once its users are done
        self.tools: dict[str, ToolSpec] = {}
        self.instructions = ""  # the server's, from initialize: says whether it acts as the person
        self.session: ClientSession | None = None
        self._owner: asyncio.Task | None = None
        self._closing = asyncio.Event()

    async def open(self) -> None:
        # The SDK's transport lives in anyio task groups that must be exited by the task that entered
        # them; a dedicated task owns them so the session can be opened and closed from any task
        # (pytest fixtures, the workflow driver) and used from every node's task of every run.
        ready: asyncio.Future[None] = self.loop.create_future()
        # A fresh context: the session outlives the run (trace, log context) that happened to open it.
        self._owner = self.loop.create_task(
            self._own(ready), name=f"mcp-session {self.url}", context=contextvars.Context()
        )
        try:
            await ready
        except BaseException:
            self._owner.cancel()
            raise
        self.opened_at = time.monotonic()

    async def close(self) -> None:
        owner, self._owner = self._owner, None
        self.broken = True
        if owner is None:
            return
        self._closing.set()
        try:
            await asyncio.wait_for(owner, timeout=10)
        except (TimeoutError, asyncio.CancelledError):
            owner.cancel()
        except Exception:
            log.warning("closing the MCP session with %s failed", self.url, exc_info=True)

    def fresh(self, reuse_s: float) -> bool:
        """Whether a new run may use it: open, unbroken, younger than reuse_s, on this loop."""
        return (
            not self.broken
            and self.session is not None
            and time.monotonic() - self.opened_at < reuse_s
            and self.loop is asyncio.get_running_loop()
        )

    async def _own(self, ready: asyncio.Future[None]) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            async with AsyncExitStack() as stack:
                timeout = httpx2.Timeout(30.0, read=self.timeout_s)
                # What mcp's create_mcp_http_client builds, with the shared SSL context.
                http = httpx2.AsyncClient(headers=headers, timeout=timeout, verify=_shared_ssl_context())
                client = await stack.enter_async_context(http)
                read, write = await stack.enter_async_context(streamable_http_client(self.url, http_client=client))
                self.session = await stack.enter_async_context(ClientSession(read, write))
                initialized = await self.session.initialize()
                self.instructions = initialized.instructions or ""
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
            self.broken = True
            self.session = None

    async def _list_tools(self) -> None:
        cursor = None
        while True:
            params = PaginatedRequestParams(cursor=cursor) if cursor else None
            page = await self.session.list_tools(params=params)
            for tool in page.tools:
                spec = tool_spec(tool)
                self.tools[spec.name] = spec
            cursor = page.next_cursor
            if not cursor:
                return


# (url, token, acts as the person) -> the connection new runs of this process get while it is fresh. The token is
# part of the key, so two cluster connections share a session only when they are the same server with the same
# credentials; nothing of a run (who asks, which policy) is in the session.
_pool: dict[tuple[str, str | None, bool], _Connection] = {}
_pool_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)
_closing: set[asyncio.Task] = set()


async def _borrow(key: tuple[str, str | None, bool], timeout_s: float, reuse_s: float) -> tuple[_Connection, bool]:
    """A fresh pooled connection (checked with a ping: a restarted tool server forgot its sessions), else a new
    one, opened once for every run that waits for it. Returns (connection, reused)."""
    locks = _pool_locks.setdefault(asyncio.get_running_loop(), {})
    async with locks.setdefault(key, asyncio.Lock()):
        conn = _pool.get(key)
        if conn is not None and conn.fresh(reuse_s):
            try:
                await asyncio.wait_for(conn.session.send_ping(), timeout=min(5.0, timeout_s))
                conn.users += 1
                return conn, True
            except Exception as exc:
                log.info("the pooled MCP session with %s is gone (%s); opening a new one", conn.url, exc)
                conn.broken = True
        if conn is not None:
            _pool.pop(key, None)
            _close_when_idle(conn)
        conn = _Connection(url=key[0], token=key[1], timeout_s=timeout_s)
        await conn.open()
        conn.users += 1
        _pool[key] = conn
        return conn, False


def _close_when_idle(conn: _Connection) -> None:
    if conn.users == 0 and conn._owner is not None and conn.loop is asyncio.get_running_loop():  # noqa: SLF001
        task = conn.loop.create_task(conn.close())
        _closing.add(task)
        task.add_done_callback(_closing.discard)


def _release(key: tuple[str, str | None, bool], conn: _Connection, reuse_s: float) -> None:
    conn.users -= 1
    if _pool.get(key) is not conn or not conn.fresh(reuse_s):
        if _pool.get(key) is conn:
            _pool.pop(key, None)
        _close_when_idle(conn)
    elif conn.users == 0:
        # Nobody may come back for it: closed once it is no longer fresh, unless a run holds it then.
        left = max(0.0, reuse_s - (time.monotonic() - conn.opened_at))
        conn.loop.call_later(left + 0.01, _expire, key, conn, reuse_s)


def _expire(key: tuple[str, str | None, bool], conn: _Connection, reuse_s: float) -> None:
    if conn.users == 0 and not conn.fresh(reuse_s):
        if _pool.get(key) is conn:
            _pool.pop(key, None)
        _close_when_idle(conn)


class ToolSession:
    """One run's use of an MCP session with the tools it listed (`tools`: name -> ToolSpec).

    With `reuse_s` > 0 the session (and its tool list) is shared with the process's other runs on the same
    connection — same URL, token and identity mode — for reuse_s after it opened, and dropped at the first error;
    what differs per run stays here: the identity signer of each call, and the policy the driver applies on top.
    """

    def __init__(
        self,
        *,
        url: str,
        token: str | None,
        timeout_s: float = 330.0,
        identity: IdentitySigner | None = None,
        reuse_s: float = 0.0,
    ):
        self.url = url
        self.token = token
        # Acting as the person: each call's assertion travels in the request's _meta, never in the model's arguments.
        self.identity = identity
        self.timeout_s = timeout_s
        self.reuse_s = reuse_s
        self.reused = False  # whether entering found a pooled session (for the start-up timings)
        self._conn: _Connection | None = None
        self._key = (url, token, identity is not None)

    async def __aenter__(self) -> ToolSession:
        if self.reuse_s > 0:
            self._conn, self.reused = await _borrow(self._key, self.timeout_s, self.reuse_s)
        else:
            conn = _Connection(url=self.url, token=self.token, timeout_s=self.timeout_s)
            await conn.open()
            conn.users += 1
            self._conn = conn
        if self.identity is not None and META_KEY not in self._conn.instructions:
            await self.__aexit__(None, None, None)
            raise ToolServerError(
                "the tool server does not act as the person",
                sentence="This cluster connection acts as the person, but its tool server does not take "
                "identities (MCP_IMPERSONATION_KEY is not set there), so nothing was run.",
            )
        return self

    async def __aexit__(self, *exc_info) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self.reuse_s > 0:
            _release(self._key, conn, self.reuse_s)
        else:
            conn.users -= 1
            await conn.close()

    @property
    def tools(self) -> list[ToolSpec]:
        """The tools as listed at session start (name, description, input_schema, annotations)."""
        return list(self._conn.tools.values()) if self._conn is not None else []

    async def call(self, name: str, args: dict, *, call_id: str, on_output: OnOutput | None = None) -> CallResult:
        """Run one tool; `on_output(line)` receives live output lines from progress notifications."""
        conn = self._conn
        if conn is None or conn.session is None:
            raise ToolServerError("the MCP session is not open")

        async def progress(_progress: float, _total: float | None, message: str | None) -> None:
            if message and on_output is not None:
                await on_output(message if message.endswith("\n") else message + "\n")

        log.debug("tool call %s %s", call_id, name)
        meta = {META_KEY: self.identity(call_id, name, args)} if self.identity is not None else None
        try:
            result = await conn.session.call_tool(
                name, args, read_timeout_seconds=self.timeout_s, progress_callback=progress, meta=meta
            )
        except Exception:
            conn.broken = True  # a changed or restarted tool server: the next run opens a new session
            raise
        return _tool_result(result)


def line_scrubber(redactor: Redactor) -> Callable[[str], str | None]:
    """Redaction of consecutive live output lines ("...\n" in, "...\n" out; None: the line is withheld)."""
    scrub = redactor.stream()

    def line(text: str) -> str | None:
        kept = scrub(text.rstrip("\n"))
        return None if kept is None else kept + "\n"

    return line


def redacted(result: CallResult, redactor: Redactor) -> CallResult:
    """Our redaction and size cap over a result of a server that does neither for us (CPU-bound: run it off the
    loop)."""
    output, dropped = result["output"], 0
    if len(output) > REDACT_MAX_CHARS:  # redaction reads all it is given: bound its work before it starts
        output, dropped = output[:REDACT_MAX_CHARS], len(output[REDACT_MAX_CHARS:].encode())
    output = redactor.redact(output, complete=not (result["truncated"] or dropped))
    # Our tool server's output is capped already and ends with its marker: room for it, so it is not cut twice.
    limit = OUTPUT_CAP + 256 if result["truncated"] else OUTPUT_CAP
    output, cut = cap_output(output, limit, extra_omitted=dropped)
    command = redactor.redact_line(result["command"]) if result["command"] else result["command"]
    return {"ok": result["ok"], "output": output, "truncated": result["truncated"] or cut, "command": command}


def _tool_result(result) -> CallResult:
    text = "\n".join(getattr(block, "text", "") for block in result.content or () if block.type == "text")
    structured = result.structured_content or {}
    if not isinstance(structured, dict) or "output" not in structured:
        return {"ok": not result.is_error, "output": text, "truncated": False, "command": None}
    output = structured.get("output") or ""
    if result.is_error:
        stderr = structured.get("stderr") or ""
        output = "\n".join(part for part in (output.rstrip("\n"), stderr.rstrip("\n")) if part) or text
    return {
        "ok": not result.is_error,
        "output": output,
        "truncated": bool(structured.get("truncated")),
        "command": structured.get("command"),
    }
