"""Other MCP servers that speak only stdio, launched by this tool server and served over HTTP.

The operator lists them in `MCP_STDIO_SERVERS` (a JSON object: name → argv), never an organisation's admin nor the
model: only this host's operator decides what runs here. Each is served at `/servers/<name>/mcp` behind the tool
server's own bearer token, so a cluster connection of kind "other MCP server" points at that URL. Tools, their
annotations (which decide approval in the engine) and results pass through unchanged; the engine redacts and caps
another server's output as it does for any other MCP server.

One child process per name, started at the first request, shared by every session (an MCP client session is
concurrent by request id), and started again at the next request after it exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from mcp import types
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.server.lowlevel.server import Server
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette

log = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0
# What a launched server inherits from this process: enough to run, none of this server's own secrets.
PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "KUBECONFIG")


class StdioBackend:
    """One launched server: its child process and the client session to it, held open by one task."""

    def __init__(self, name: str, argv: tuple[str, ...], environ: Mapping[str, str]) -> None:
        self.name, self.argv = name, argv
        self.env = {k: environ[k] for k in PASSED_ENV if k in environ}
        self._session: ClientSession | None = None
        self._holder: asyncio.Task | None = None
        self._stop = asyncio.Event()
        self._lock = asyncio.Lock()

    async def session(self) -> ClientSession:
        async with self._lock:
            if self._session is None or self._holder is None or self._holder.done():
                await self._start()
            assert self._session is not None
            return self._session

    async def _start(self) -> None:
        ready: asyncio.Future[ClientSession] = asyncio.get_running_loop().create_future()
        self._stop = asyncio.Event()
        self._holder = asyncio.create_task(self._hold(ready), name=f"stdio-server-{self.name}")
        try:
            self._session = await asyncio.wait_for(asyncio.shield(ready), START_TIMEOUT_S)
        except Exception as exc:
            self._holder.cancel()
            self._session = None
            log.warning("stdio server %s did not start: %s", self.name, exc)
            raise RuntimeError(f"The MCP server {self.name!r} could not be started on the tool server.") from exc
        log.info("stdio server %s started", self.name)

    async def _hold(self, ready: asyncio.Future) -> None:
        params = StdioServerParameters(command=self.argv[0], args=list(self.argv[1:]), env=self.env)
        try:
            async with stdio_client(params, errlog=sys.stderr) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                ready.set_result(session)
                await self._stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc if isinstance(exc, Exception) else RuntimeError(str(exc)))
            if not isinstance(exc, asyncio.CancelledError):
                log.warning("stdio server %s stopped: %s", self.name, exc)
            raise
        finally:
            self._session = None

    async def close(self) -> None:
        self._stop.set()
        if self._holder is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):  # stopping: nothing to tell anyone
                await asyncio.wait_for(self._holder, 10)


def _proxy(backend: StdioBackend) -> Server[Any]:
    async def list_tools(_ctx, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return await (await backend.session()).list_tools(params=params)

    async def call_tool(_ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        session = await backend.session()
        result = await session.call_tool(params.name, params.arguments or {})
        if not isinstance(result, types.CallToolResult):  # an input request: nothing here can answer it
            text = f"{params.name} asked for input, which Skyflo cannot give it."
            return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=True)
        return result

    return Server(f"skyflo-stdio-{backend.name}", on_list_tools=list_tools, on_call_tool=call_tool)


def stdio_servers_mount(app: Starlette, servers: Mapping[str, tuple[str, ...]], environ: Mapping[str, str]) -> None:
    """Serve each launched server at /servers/<name>/mcp of `app`, and stop them when `app` stops."""
    if not servers:
        return
    backends = [StdioBackend(name, argv, environ) for name, argv in servers.items()]
    security = TransportSecuritySettings(enable_dns_rebinding_protection=False)  # the guard checks Origin
    subapps = [
        _proxy(b).streamable_http_app(streamable_http_path=f"/servers/{b.name}/mcp", transport_security=security)
        for b in backends
    ]
    for sub in subapps:
        app.router.routes.extend(sub.router.routes)
    own_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Starlette) -> AsyncIterator[Any]:
        async with AsyncExitStack() as stack:
            state = await stack.enter_async_context(own_lifespan(application))
            for sub in subapps:
                await stack.enter_async_context(sub.router.lifespan_context(sub))
            stack.push_async_callback(_close_all, backends)
            yield state

    app.router.lifespan_context = lifespan


async def _close_all(backends: list[StdioBackend]) -> None:
    await asyncio.gather(*(b.close() for b in backends))
