"""What operators use around the MCP app: `GET /readyz` (open, like /healthz), `GET /metrics` (Prometheus text,
bearer SKYFLO_METRICS_TOKEN; 404 when unset) and the tool-call metrics middleware."""

from __future__ import annotations

import functools
import hmac
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Mapping, MutableMapping
from datetime import UTC, datetime
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

TOOL_CALLS = Counter("skyflo_toolserver_tool_calls", "tools/call requests, by tool and outcome.", ["tool", "outcome"])
SESSIONS = Counter(
    "skyflo_toolserver_sessions",
    "MCP sessions clients opened (initialize requests); tools/list requests apart.",
    ["request"],
)
TOOL_DURATION = Histogram(
    "skyflo_toolserver_tool_call_duration_seconds",
    "tools/call requests, by tool.",
    ["tool"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)


disable_created_metrics()  # no `_created` series beside every counter and histogram
logger = logging.getLogger("mcp_server.calls")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}")


class JsonLines(logging.Formatter):
    """One JSON object per line (SKYFLO_LOG_FORMAT=json), the server's own tokens removed. The web and worker
    processes have theirs in skyflo/logs.py; the tool server imports nothing of the product."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 8]

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "process": "toolserver",
        }
        for key in ("event", "tool", "outcome", "duration_ms"):
            if key in record.__dict__:
                entry[key] = record.__dict__[key]
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        line = json.dumps(entry, ensure_ascii=False, default=str)
        for secret in self.secrets:
            line = line.replace(secret, "[REDACTED]")
        return _BEARER.sub(r"\1 [REDACTED]", line)


def logging_configure(environ: MutableMapping[str, str]) -> bool:
    """JSON lines on stderr when SKYFLO_LOG_FORMAT=json; returns whether it did (uvicorn then logs through it)."""
    if environ.get("SKYFLO_LOG_FORMAT") != "json":
        return False
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines([environ.get("MCP_SERVER_TOKEN", ""), environ.get("SKYFLO_METRICS_TOKEN", "")]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(environ.get("SKYFLO_LOG_LEVEL", "INFO").upper())
    return True


class ToolMetrics:
    """`ServerMiddleware` that counts and times every tools/call (refused ones included: outcome `error`), and counts
    initialize and tools/list requests."""

    def __init__(self, tool_names: set[str]) -> None:
        self.tool_names = tool_names  # anything else is counted as `unknown`: clients do not pick label values

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method in ("initialize", "tools/list"):
            SESSIONS.labels(request=ctx.method).inc()  # how often clients open sessions and list tools
        if ctx.method != "tools/call" or not ctx.params:
            return await call_next(ctx)
        name = str(ctx.params.get("name"))
        tool = name if name in self.tool_names else "unknown"
        started, outcome = time.monotonic(), "error"
        try:
            result = await call_next(ctx)
            outcome = "error" if _is_error(result) else "ok"
            return result
        finally:
            elapsed = time.monotonic() - started
            TOOL_CALLS.labels(tool=tool, outcome=outcome).inc()
            TOOL_DURATION.labels(tool=tool).observe(elapsed)
            extra = {"event": "tool.call", "tool": tool, "outcome": outcome, "duration_ms": round(elapsed * 1000, 1)}
            logger.info("tools/call %s %s", tool, outcome, extra=extra)


def _is_error(result: HandlerResult) -> bool:
    if isinstance(result, dict):
        return bool(result.get("isError") or result.get("is_error"))
    return bool(getattr(result, "is_error", False))


def _binaries_found(environ: Mapping[str, str]) -> dict[str, bool]:
    path = environ.get("PATH", os.defpath)
    return {tool: shutil.which(tool, path=path) is not None for tool in ("kubectl", "helm")}


class OperatorRoutes:
    """Serves /readyz (and /metrics unless it has a port of its own) and hands every other request to `app`."""

    def __init__(self, app: ASGIApp, *, environ: Mapping[str, str], metrics: bool = True) -> None:
        self.app = app
        self.environ = environ
        self.metrics_token = environ.get("SKYFLO_METRICS_TOKEN") or None
        self.paths = ("/readyz", "/metrics") if metrics else ("/readyz",)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] in self.paths:
            response = self.readyz() if scope["path"] == "/readyz" else self.metrics(scope)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def readyz(self) -> Response:
        checks = _binaries_found(self.environ)
        ready = all(checks.values())
        body = {"status": "ok" if ready else "unavailable", "checks": checks}
        return JSONResponse(body, status_code=200 if ready else 503)

    def metrics(self, scope: Scope) -> Response:
        if not self.metrics_token:
            return PlainTextResponse("Not found", status_code=404)
        given = dict(scope["headers"]).get(b"authorization", b"")
        if not hmac.compare_digest(given, f"Bearer {self.metrics_token}".encode()):
            return PlainTextResponse("Unauthorized", status_code=401, headers={"WWW-Authenticate": "Bearer"})
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def metrics_app(environ: Mapping[str, str]) -> ASGIApp:
    """The app of `--metrics-port`: /metrics, /readyz and /healthz, nothing of MCP (so a NetworkPolicy can open
    this port to Prometheus and keep the MCP port to Skyflo's own pods)."""

    async def rest(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/healthz":
            await JSONResponse({"status": "ok"})(scope, receive, send)
        elif scope["type"] == "http":
            await PlainTextResponse("Not found", status_code=404)(scope, receive, send)

    return OperatorRoutes(rest, environ=environ)


# --- traces ------------------------------------------------------------------------------------------------

_tracer = None  # set when OTEL_EXPORTER_OTLP_ENDPOINT is; None = traces off and `command_traced` a plain call


def tracing_configure(environ: Mapping[str, str]) -> bool:
    """Export traces over OTLP/HTTP when an endpoint is configured (the web and worker have theirs in
    skyflo/tracing.py). The MCP SDK's own middleware makes each tools/call a span, a child of the caller's span
    through the trace context in the request's `_meta`; `command_traced` adds the kubectl/helm process under it."""
    global _tracer
    endpoint = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if _tracer is not None or not endpoint or environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return _tracer is not None
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({} if environ.get("OTEL_SERVICE_NAME") else {"service.name": "skyflo-toolserver"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _tracer = trace.get_tracer("skyflo.toolserver")
    return True


def command_traced(run):
    """Decorates `run_command(argv, ...)`: a span per kubectl/helm process with its program, subcommand and exit
    code. Never the other arguments (names, manifests, values) nor the output."""

    @functools.wraps(run)
    async def traced(argv, *args, **kwargs):
        if _tracer is None:
            return await run(argv, *args, **kwargs)
        program = os.path.basename(argv[0])
        subcommand = argv[1] if len(argv) > 1 and not argv[1].startswith("-") else ""  # the tools put it first
        name = f"{program} {subcommand}".strip()
        attributes = {"process.executable.name": program, "skyflo.command": name}
        # Failures record the exception's class only: a message may quote the command's output.
        with _tracer.start_as_current_span(
            name, attributes=attributes, record_exception=False, set_status_on_exception=False
        ) as span:
            try:
                result = await run(argv, *args, **kwargs)
            except BaseException as exc:
                span.set_attribute("error.type", type(exc).__name__)
                raise
            span.set_attribute("process.exit.code", int(result.exit_code))
            return result

    return traced
