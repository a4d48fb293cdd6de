"""OpenTelemetry traces of the web and worker processes, exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT
(or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set; otherwise nothing is set up and every hook returns at once.

One trace per run: the POST that creates a run stores its span's `traceparent` on the Run row (`traceparent`),
and every worker task that drives the run (the first execution, each resume after an approval, a recovery) opens
its `run` span under that stored context. A run parked for hours at an approval is thus still one trace,
whichever worker, process or Celery task continues it. The spans below the run span come from the
instrumentations (Celery, Django, psycopg, redis, aiohttp, httpx2), from `llm_traced` (one span per model request:
model, tokens, outcome — never the prompt) and from the MCP SDK, which puts the trace context into each request's
`_meta` so the tool server's `tools/call` span is a child of the worker's.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.conf import settings

logger = logging.getLogger(__name__)
T = TypeVar("T")

_tracer = None  # an SDK tracer once `tracing_configure` ran with an endpoint; None = tracing off
NOT_TRACED_URLS = "healthz,readyz,metrics"  # probes and scrapes are not worth a trace each


def tracing_configure(process: str) -> bool:
    """Set up the SDK and the instrumentations for this process (`web`, `worker`, `beat`); once, and only when an
    OTLP endpoint is configured. Returns whether traces are on."""
    global _tracer
    if _tracer is not None or not settings.OTEL_TRACES_ENABLED:
        return _tracer is not None
    from opentelemetry import trace

    trace.set_tracer_provider(_provider(f"skyflo-{process}"))
    _instrument()
    _tracer = trace.get_tracer("skyflo")
    logger.info("traces exported over OTLP/HTTP as service skyflo-%s", process)
    return True


def _provider(service: str):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # OTEL_SERVICE_NAME, when set, wins over the per-process name (Resource.create reads it).
    resource = Resource.create({} if settings.OTEL_SERVICE_NAME else {"service.name": service})
    provider = TracerProvider(resource=resource, sampler=_sampler())
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def _instrument() -> None:
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPX2ClientInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    DjangoInstrumentor().instrument(excluded_urls=NOT_TRACED_URLS, response_hook=_request_route_only)
    CeleryInstrumentor().instrument()
    PsycopgInstrumentor().instrument(enable_commenter=False)
    RedisInstrumentor().instrument()
    AioHttpClientInstrumentor().instrument()  # the openai SDK's transport (agents/llm.py)
    HTTPX2ClientInstrumentor().instrument()  # the MCP client's transport


def _request_route_only(span, request, response) -> None:
    """A request span shows the route, never the raw path or query string: both may hold a token (an invitation's,
    a share link's), as in the request log (skyflo/logs.py)."""
    match = getattr(request, "resolver_match", None)
    route = f"/{match.route}" if match is not None else "(unmatched)"
    recorded = getattr(span, "attributes", None) or {}
    for key in ("http.target", "url.path"):
        if key in recorded:
            span.set_attribute(key, route)
    for key in ("http.url", "url.full"):
        if key in recorded:
            span.set_attribute(key, f"{request.scheme}://{request.get_host()}/{route.lstrip('/')}")
    if "url.query" in recorded:
        span.set_attribute("url.query", "")


def _sampler():
    from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, SamplingResult
    from opentelemetry.trace import SpanKind

    class RootsOfWork(Sampler):
        """A trace starts at work (a request, a task, a run), never at a lone client call: the broker's and the
        channel layer's polling (BRPOP, BZPOPMIN every second) would otherwise each be a trace of one span."""

        def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None):
            if kind == SpanKind.CLIENT:
                return SamplingResult(Decision.DROP)
            return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)

        def get_description(self) -> str:
            return "RootsOfWork"

    return ParentBased(root=RootsOfWork())


def traceparent() -> str:
    """The current span's W3C `traceparent` ("" when traces are off or nothing is traced here)."""
    if _tracer is None:
        return ""
    from opentelemetry.propagate import inject

    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier.get("traceparent", "")


async def run_traced(run, work: Awaitable[T], *, resumed: bool) -> T:
    """`await work` inside the run's span, a child of the context stored on the run (its POST)."""
    if _tracer is None:
        return await work
    from opentelemetry.propagate import extract
    from opentelemetry.trace import Link, SpanKind, get_current_span

    parent = extract({"traceparent": run.traceparent}) if run.traceparent else None
    attributes = {"skyflo.run.id": str(run.id), "skyflo.conversation.id": str(run.conversation_id)}
    attributes["skyflo.run.attempt"] = run.attempt
    # The task that got here (e.g. the approval's decision, a recovery) is another trace: linked, not the parent.
    task = get_current_span().get_span_context()
    links = [Link(task)] if task.is_valid else []
    name = "run resume" if resumed else "run execute"
    with _span(name, kind=SpanKind.INTERNAL, context=parent, attributes=attributes, links=links):
        return await work


async def llm_traced(model: str, request: Awaitable[T]) -> T:
    """`await request` (one chat completion, retries included) in a span with the model, the tokens and the
    outcome; never the messages. Nothing per token: the span is opened and closed once per request."""
    if _tracer is None:
        return await request
    from opentelemetry.trace import SpanKind

    attributes = {"gen_ai.operation.name": "chat", "gen_ai.request.model": model}
    with _span(f"chat {model}", kind=SpanKind.CLIENT, attributes=attributes) as span:
        response = await request
        span.set_attributes(_usage_attributes(response))
        return response


def _usage_attributes(response: Any) -> dict:
    attributes = {
        "gen_ai.response.model": getattr(response, "model", "") or "",
        "gen_ai.usage.input_tokens": int(getattr(response, "prompt_tokens", 0) or 0),
        "gen_ai.usage.output_tokens": int(getattr(response, "completion_tokens", 0) or 0),
        "skyflo.llm.tool_calls": len(getattr(response, "tool_calls", None) or ()),
        "skyflo.outcome": "ok",
    }
    finish = getattr(response, "finish_reason", None)
    if finish:
        attributes["gen_ai.response.finish_reasons"] = [str(finish)]
    return attributes


@contextmanager
def _span(name: str, **kwargs) -> Iterator:
    """A current span whose failure records the exception's class only: messages can quote a provider's answer
    or a command's output, and neither belongs in a span."""
    from opentelemetry.trace import StatusCode

    with _tracer.start_as_current_span(name, record_exception=False, set_status_on_exception=False, **kwargs) as span:
        try:
            yield span
        except BaseException as exc:
            cancelled = type(exc).__name__ in ("RunCancelled", "CancelledError")
            span.set_attributes(
                {"skyflo.outcome": "cancelled" if cancelled else "error", "error.type": type(exc).__name__}
            )
            if not cancelled:
                span.set_status(StatusCode.ERROR, type(exc).__name__)
            raise
