"""skyflo/logs.py: what a log line may never show, and the context it carries."""

import contextvars
import json
import logging
import sys

from skyflo.logs import JsonFormatter, PlainFormatter, log_context_bind

CONFIGURED = "s3cr3t-configured-value-0123456789"


def record(message: str, *args, **extra) -> logging.LogRecord:
    made = logging.LogRecord("skyflo.test", logging.INFO, __file__, 1, message, args, None)
    made.__dict__.update(extra)
    return made


def test_it_removes_configured_secrets_and_credential_shapes():
    formatter = JsonFormatter(secrets=[CONFIGURED, None, "short"])
    message = (
        "key %s; Authorization: Bearer abc.def.ghi-0123456789; jwt eyJhbGciOi.eyJzdWIiOiIx.c2lnbmF0dXJl; "
        "postgres://skyflo:pg-password@db:5432/skyflo; sk-proj0123456789abcdefghij; {'password': 'hunter2hunter2'}"
    )

    line = json.loads(formatter.format(record(message, CONFIGURED)))["message"]

    for leaked in (CONFIGURED, "abc.def.ghi-0123456789", "eyJhbGciOi", "pg-password", "sk-proj0123", "hunter2"):
        assert leaked not in line
    assert "postgres://skyflo:[REDACTED]@db:5432/skyflo" in line
    assert "Bearer [REDACTED]" in line


def _format_in_a_run(formatter: JsonFormatter) -> str:
    log_context_bind(run="r-1", conversation="c-1", org="acme", user=7, unknown="dropped")
    try:
        raise ValueError(f"bad value {CONFIGURED}")
    except ValueError:
        failed = record("it failed", event="run.error")
        failed.exc_info = sys.exc_info()
    return formatter.format(failed)


def test_it_carries_the_bound_context_and_redacts_tracebacks():
    line = json.loads(contextvars.copy_context().run(_format_in_a_run, JsonFormatter(secrets=[CONFIGURED])))

    assert (line["run"], line["conversation"], line["org"], line["user"]) == ("r-1", "c-1", "acme", "7")
    assert "unknown" not in line
    assert line["event"] == "run.error"
    assert "ValueError" in line["exc"]
    assert CONFIGURED not in line["exc"]


def test_plain_lines_are_redacted_too():
    line = PlainFormatter(secrets=[CONFIGURED]).format(record("token is %s", CONFIGURED))

    assert CONFIGURED not in line


def _plain_event_line_in_another_run() -> str:
    log_context_bind(run="r-old", conversation="c-old")
    return PlainFormatter().format(record("run.started", event="run.started", run="r-new"))


def test_a_plain_line_names_the_run_it_was_logged_for():
    line = contextvars.copy_context().run(_plain_event_line_in_another_run)

    assert "run=r-new" in line
    assert "r-old" not in line
