"""Prometheus metrics of the web and worker processes, and the hooks that feed them.

Most figures come from the run events as they are published (`event_observed`, called by chats.publisher for
every event it sends): runs by final status and duration, tokens, run errors by code, tool calls. The LLM client's
requests are timed where a run uses it (`llm_chat_observed`), approvals where they are decided, sockets where they
open and close. Exposition (`metrics_text`) is token-protected by SKYFLO_METRICS_TOKEN; the worker serves it on
SKYFLO_METRICS_PORT (`metrics_server_start`).

A process holds its own figures (daphne is one process, a worker one process with threads). With
PROMETHEUS_MULTIPROC_DIR set, prometheus-client keeps them in files there and the exposition merges every process
writing to that directory.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client import generate_latest as _generate_latest
from prometheus_client.core import GaugeMetricFamily

disable_created_metrics()  # no `_created` series beside every counter and histogram

DURATION_BUCKETS = (0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600)
FAST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

RUNS_FINISHED = Counter("skyflo_runs_finished", "Runs that ended, by final status.", ["status"])
RUN_DURATION = Histogram(
    "skyflo_run_duration_seconds",
    "From a run's start to its end, by final status.",
    ["status"],
    buckets=DURATION_BUCKETS,
)
RUN_ERRORS = Counter("skyflo_run_errors", "run.error events, by code.", ["code"])
LLM_REQUESTS = Counter("skyflo_llm_requests", "LLM chat completions, by outcome (ok, error, cancelled).", ["outcome"])
LLM_ERRORS = Counter("skyflo_llm_errors", "Runs that failed on the LLM, by run.error code.", ["code"])
LLM_DURATION = Histogram("skyflo_llm_request_duration_seconds", "One LLM chat completion.", buckets=DURATION_BUCKETS)
LLM_TTFT = Histogram("skyflo_llm_time_to_first_token_seconds", "Until the first content token.", buckets=FAST_BUCKETS)
LLM_TOKENS = Counter(
    "skyflo_llm_tokens", "Tokens of finished runs, by direction (in = prompt, out = completion).", ["direction"]
)
TOOL_CALLS = Counter("skyflo_tool_calls", "Tool calls of runs, by tool and outcome (ok, error).", ["tool", "outcome"])
TOOL_DURATION = Histogram(
    "skyflo_tool_call_duration_seconds", "From tool.call to tool.result.", ["tool"], buckets=FAST_BUCKETS
)
APPROVAL_DECISION = Histogram(
    "skyflo_approval_decision_seconds",
    "From an approval's request to its decision, by decision.",
    ["decision"],
    buckets=DURATION_BUCKETS,
)
WEBSOCKETS_OPEN = Gauge(
    "skyflo_websockets_open", "Conversation WebSockets open in this process.", multiprocess_mode="livesum"
)
EVENT_RELAY_LAG = Histogram(
    "skyflo_event_relay_lag_seconds", "From an event's persistence to its relay on a WebSocket.", buckets=FAST_BUCKETS
)

_events_logger = logging.getLogger("skyflo.events")
_CHATTY = {"message.delta", "tool.output"}
_tool_calls_started: dict[str, tuple[str, float]] = {}  # call_id -> (tool, monotonic start)
_lock = threading.Lock()


# --- hooks -------------------------------------------------------------------------------------------------


def event_observed(type: str, data: dict, run_id=None) -> None:  # noqa: A002 - the event's field name
    """Called for every run event a process publishes: a log line (not for token and output chunks) and metrics."""
    if type not in _CHATTY:
        _events_logger.info("%s", type, extra={"event": type, "run": run_id})
    handler = _EVENT_HANDLERS.get(type)
    if handler is not None:
        handler(data)


def _run_finished(data: dict) -> None:
    status, usage = data.get("status", "unknown"), data.get("usage") or {}
    RUNS_FINISHED.labels(status=status).inc()
    if "duration_ms" in usage:
        RUN_DURATION.labels(status=status).observe(usage["duration_ms"] / 1000)
    LLM_TOKENS.labels(direction="in").inc(usage.get("prompt_tokens") or 0)
    LLM_TOKENS.labels(direction="out").inc(usage.get("completion_tokens") or 0)


def _run_error(data: dict) -> None:
    code = str(data.get("code", "internal"))
    RUN_ERRORS.labels(code=code).inc()
    if code.startswith("llm_"):
        LLM_ERRORS.labels(code=code).inc()


def _tool_call(data: dict) -> None:
    with _lock:
        _tool_calls_started[str(data.get("call_id"))] = (str(data.get("tool")), time.monotonic())


def _tool_result(data: dict) -> None:
    with _lock:
        started = _tool_calls_started.pop(str(data.get("call_id")), None)
    if started is None:
        return  # its tool.call was published by another process
    tool, since = started
    TOOL_CALLS.labels(tool=tool, outcome="ok" if data.get("ok") else "error").inc()
    TOOL_DURATION.labels(tool=tool).observe(time.monotonic() - since)


_EVENT_HANDLERS = {
    "run.finished": _run_finished,
    "run.error": _run_error,
    "tool.call": _tool_call,
    "tool.result": _tool_result,
}


async def llm_chat_observed(chat, messages: list[dict], *, on_token=None, **kwargs):
    """`await chat(messages, **kwargs)`, timed: request outcome, duration and time to the first content token."""
    started = time.monotonic()
    first: list[float] = []

    async def timed(text: str) -> None:
        if not first:
            first.append(time.monotonic())
            LLM_TTFT.observe(first[0] - started)
        if on_token is not None:
            await on_token(text)

    outcome = "error"
    try:
        response = await chat(messages, on_token=timed, **kwargs)
        outcome = "ok"
        return response
    except BaseException as exc:
        if type(exc).__name__ in ("RunCancelled", "CancelledError"):
            outcome = "cancelled"
        raise
    finally:
        LLM_REQUESTS.labels(outcome=outcome).inc()
        LLM_DURATION.observe(time.monotonic() - started)


def approval_decided(*, decision: str, requested_at: datetime, decided_at: datetime | None) -> None:
    if decided_at is not None:
        APPROVAL_DECISION.labels(decision=decision).observe((decided_at - requested_at).total_seconds())


def websocket_opened() -> None:
    WEBSOCKETS_OPEN.inc()


def websocket_closed() -> None:
    WEBSOCKETS_OPEN.dec()


def event_relayed(persisted_at: float | None) -> None:
    if persisted_at is not None:
        EVENT_RELAY_LAG.observe(max(time.time() - persisted_at, 0.0))


# --- exposition --------------------------------------------------------------------------------------------


class PendingApprovals:
    """Approvals waiting for a decision, read from the database at scrape time (every web process reports the
    same figure: use max(), not sum())."""

    def describe(self):
        return []

    def collect(self):
        from workflows.models import Approval  # noqa: PLC0415 - the web process's URLconf loads apps first

        family = GaugeMetricFamily("skyflo_approvals_pending", "Approvals waiting for a decision.")
        family.add_metric([], Approval.objects.filter(decision=Approval.Decision.PENDING).count())
        yield family


def _registry(*extra) -> CollectorRegistry:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        base = REGISTRY
    else:
        from prometheus_client import multiprocess

        base = CollectorRegistry()
        multiprocess.MultiProcessCollector(base)
    if not extra:
        return base
    merged = CollectorRegistry(auto_describe=False)
    for collector in (base, *extra):
        merged.register(collector)
    return merged


def metrics_text(*extra) -> bytes:
    """This process's metrics in the Prometheus text format (plus `extra` collectors)."""
    return _generate_latest(_registry(*extra))


def token_matches(authorization: str | None, token: str | None) -> bool:
    """A bearer token check that fails closed when no token is configured."""
    if not token or not authorization:
        return False
    return hmac.compare_digest(authorization.encode(), f"Bearer {token}".encode())


def metrics_server_start(*, port: int, token: str | None, host: str = "0.0.0.0") -> ThreadingHTTPServer:  # noqa: S104
    """A background HTTP server for a process without one (the worker): `/metrics` (token) and `/healthz`."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path == "/healthz":
                self._answer(200, b'{"status": "ok"}', "application/json")
            elif self.path == "/metrics" and token_matches(self.headers.get("Authorization"), token):
                self._answer(200, metrics_text(), CONTENT_TYPE_LATEST)
            elif self.path == "/metrics" and token:
                self._answer(401, b"Unauthorized", "text/plain")
            else:
                self._answer(404, b"Not found", "text/plain")

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args) -> None:  # noqa: A002 - scrapes are not worth a log line
            return

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="skyflo-metrics", daemon=True).start()
    return server
