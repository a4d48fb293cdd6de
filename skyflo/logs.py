"""Log lines: one JSON object per line (SKYFLO_LOG_FORMAT=json) or plain text, both with secrets removed.

Every line carries what is known of its context — `run`, `conversation`, `org`, `user` — bound with
`log_context_bind(...)` (a contextvar: a run's task and the tasks it starts inherit it). Secrets never reach a
line: the configured secret values (settings) and anything shaped like a credential (bearer tokens, JWTs,
passwords in URLs, API keys) are replaced before the line is written.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime

_context: contextvars.ContextVar[dict | None] = contextvars.ContextVar("skyflo_log_context", default=None)

CONTEXT_FIELDS = ("run", "conversation", "org", "user")
REDACTED = "[REDACTED]"
_CREDENTIAL_PATTERNS = [
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {REDACTED}"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), REDACTED),  # JWT
    (re.compile(r"(\w+://[^/\s:@]*:)[^@\s/]+@"), rf"\1{REDACTED}@"),  # user:password@ in URLs
    (re.compile(r"\b(sk|rk|pk)-[A-Za-z0-9_-]{16,}"), REDACTED),  # API keys
    (
        re.compile(r"""(?i)(["']?(?:password|passwd|secret|token|api_key|apikey)["']?\s*[:=]\s*["']?)[^"',\s}]+"""),
        rf"\1{REDACTED}",
    ),
]


def log_context_bind(**fields) -> None:
    """Add fields (run, conversation, org, user) to every line logged from here on in this context."""
    known = {k: str(v) for k, v in fields.items() if v is not None and k in CONTEXT_FIELDS}
    _context.set({**(_context.get() or {}), **known})


def log_context() -> dict:
    return dict(_context.get() or {})


class Redactor:
    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        # Longest first, so a secret containing another is replaced whole; short values would match by chance.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 8}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        for pattern, replacement in _CREDENTIAL_PATTERNS:
            text = pattern.sub(replacement, text)
        return text


class PlainFormatter(logging.Formatter):
    """`%(asctime)s %(levelname)s %(name)s %(message)s [run=… conversation=…]`, redacted."""

    def __init__(self, *, secrets: Iterable[str | None] = (), **kwargs) -> None:
        super().__init__(kwargs.pop("fmt", "%(asctime)s %(levelname)s %(name)s %(message)s"), **kwargs)
        self.redact = Redactor(secrets)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = log_context() | _record_context(record)
        if context:
            line += " [" + " ".join(f"{k}={v}" for k, v in context.items()) + "]"
        return self.redact(line)


def _record_context(record: logging.LogRecord) -> dict:
    """Context fields a line names itself (`extra={"run": ...}`): they win over the bound context."""
    return {k: str(v) for k in CONTEXT_FIELDS if (v := record.__dict__.get(k)) is not None}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, the context fields, and exc (a traceback)."""

    def __init__(self, *, secrets: Iterable[str | None] = (), process: str | None = None, **kwargs) -> None:
        super().__init__()
        self.redact = Redactor(secrets)
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": self.redact(record.getMessage()),
            **log_context(),
        }
        if self.process:
            entry["process"] = self.process
        for key in ("status", "duration_ms", "tool", "outcome"):
            if key in record.__dict__:
                entry[key] = record.__dict__[key]
        for key in ("event", *CONTEXT_FIELDS):
            value = record.__dict__.get(key)
            if value is not None:
                entry[key] = self.redact(str(value))
        if record.exc_info:
            entry["exc"] = self.redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


_request_logger = logging.getLogger("skyflo.requests")


class RequestLog:
    """Middleware: one line per request with its route (never the raw path, which may hold a token), status,
    duration and the user once authentication has run."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        started = time.monotonic()
        response = self.get_response(request)
        user = getattr(request, "user", None)
        match = getattr(request, "resolver_match", None)
        route = f"/{match.route}" if match is not None else "(unmatched)"
        _request_logger.info(
            "%s %s %s",
            request.method,
            route,
            response.status_code,
            extra={
                "event": "http.request",
                "user": user.pk if user is not None and user.is_authenticated else None,
                "status": response.status_code,
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )
        return response
