"""Builds the MCP server (tools + policy) and the HTTP app around it (bearer auth, Origin check, /healthz)."""

from __future__ import annotations

import hmac
import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_server.config import ServerConfig
from mcp_server.identity import META_KEY
from mcp_server.observability import ToolMetrics
from mcp_server.policy import ToolPolicy
from mcp_server.stdio_servers import stdio_servers_mount
from mcp_server.toolbox import Toolbox
from mcp_server.tools import all_tools, spec_of

INSTRUCTIONS = (
    "Kubernetes and Helm tools. Every result starts with the exact command that ran ('$ kubectl …'); "
    "structuredContent holds {command, output, stderr, truncated, exit_code, timed_out}. "
    "Preview changes with k8s_diff or helm_template before applying them."
)


def build_server(config: ServerConfig) -> MCPServer[Toolbox]:
    """The MCP server with every tool registered and the policy middleware installed."""
    toolbox = Toolbox(config)

    @asynccontextmanager
    async def lifespan(_: MCPServer[Toolbox]) -> AsyncIterator[Toolbox]:
        yield toolbox

    instructions = INSTRUCTIONS
    if config.impersonation_key:  # how the engine knows this server acts as the person (agents/mcp_client.py)
        instructions += f" Every call runs as the person named by the signed assertion in its _meta {META_KEY!r}."
    server: MCPServer[Toolbox] = MCPServer(
        "skyflo-k8s", title="Skyflo Kubernetes tools", instructions=instructions, version="0.1.0", lifespan=lifespan
    )
    specs = {}
    for fn in all_tools():
        spec = spec_of(fn)
        specs[spec.name] = spec
        if config.read_only and not spec.read_only:
            continue  # hidden from tools/list; a direct call is still refused by ToolPolicy
        server.add_tool(
            fn,
            name=spec.name,
            title=spec.title,
            description=inspect.cleandoc(fn.__doc__ or ""),
            annotations=spec.annotations,
        )
    server.middleware.append(ToolMetrics(set(specs)))  # outermost: refused calls are counted too
    server.middleware.append(ToolPolicy(config, specs, toolbox))
    return server


def build_http_app(config: ServerConfig) -> ASGIApp:
    """Streamable HTTP at /mcp (and the operator's stdio servers at /servers/<name>/mcp) plus GET /healthz, behind
    bearer-token and Origin checks."""
    if not config.token:
        raise ValueError("MCP_SERVER_TOKEN must be set to serve over HTTP")
    server = build_server(config)

    @server.custom_route("/healthz", methods=["GET"])
    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    app: Starlette = server.streamable_http_app(
        streamable_http_path="/mcp",
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    stdio_servers_mount(app, config.stdio_servers, config.env)
    return GuardMiddleware(app, token=config.token, allowed_origins=config.allowed_origins)


class GuardMiddleware:
    """Refuses foreign Origins (403) and requests without the bearer token (401); /healthz stays open."""

    def __init__(self, app: ASGIApp, *, token: str, allowed_origins: tuple[str, ...]) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()
        self.allowed_origins = allowed_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v for k, v in scope["headers"]}
        origin = headers.get("origin")
        if origin is not None and origin.decode("latin-1") not in self.allowed_origins:
            await PlainTextResponse("Forbidden: origin not allowed", status_code=403)(scope, receive, send)
            return
        if scope["path"] == "/healthz":
            await self.app(scope, receive, send)
            return
        if not hmac.compare_digest(headers.get("authorization", b""), self.expected):
            response = PlainTextResponse(
                "Unauthorized", status_code=401, headers={"WWW-Authenticate": 'Bearer realm="skyflo-mcp"'}
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
