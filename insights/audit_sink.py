"""The optional push of every audit event, as one JSON line, to the operator's sink (settings.AUDIT_SINK_URL):
`http(s)://…` gets a POST per event (application/x-ndjson), `syslog://host:port` an RFC 5424 datagram over UDP.

Pushed after the event's transaction commits, from one background thread per process, so that a slow or broken
sink never slows or fails the action that was audited: failures are logged and the event is dropped (the audit
log in the database stays complete and can be exported).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import socket
import threading
import urllib.request
from urllib.parse import urlparse

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save

from orgs.models import AuditEvent

logger = logging.getLogger(__name__)

QUEUE_SIZE = 10_000
_queue: queue.Queue[str] = queue.Queue(QUEUE_SIZE)
_thread: threading.Thread | None = None
_lock = threading.Lock()


def audit_event_line(event: AuditEvent) -> str:
    """The event as one JSON object (the audit export's JSON-lines shape, without the run facts)."""
    return json.dumps(
        {
            "id": str(event.id),
            "time": event.created_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "org": event.org_slug,
            "action": event.action,
            "actor": event.actor_email or None,
            "target_type": event.target_type or None,
            "target_id": event.target_id or None,
            "client_ip": event.client_ip,
            "data": event.data,
        },
        sort_keys=True,
    )


def connect() -> None:
    post_save.connect(_audit_event_saved, sender=AuditEvent, dispatch_uid="insights.audit_sink")


def _audit_event_saved(sender, instance: AuditEvent, created: bool, **kwargs) -> None:
    if created and settings.AUDIT_SINK_URL:
        line = audit_event_line(instance)
        transaction.on_commit(lambda: _enqueue(line))


def _enqueue(line: str) -> None:
    try:
        _queue.put_nowait(line)
    except queue.Full:
        logger.error("audit sink: %d events waiting; dropping this one (the database keeps it)", QUEUE_SIZE)
        return
    _sender_start()


def _sender_start() -> None:
    global _thread
    with _lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_send_forever, name="audit-sink", daemon=True)
            _thread.start()


def _send_forever() -> None:
    while True:
        line = _queue.get()
        try:
            audit_line_send(line, url=settings.AUDIT_SINK_URL)
        except Exception as exc:  # the sink is the operator's; nothing of it may stop this thread
            logger.warning("audit sink %s refused or unreachable: %s", _sink_name(), exc)


def audit_line_send(line: str, *, url: str) -> None:
    """Deliver one line; raises OSError (or urllib's errors) when the sink does not take it."""
    target = urlparse(url)
    if target.scheme == "syslog":
        _syslog_send(line, host=target.hostname or "127.0.0.1", port=target.port or 514)
        return
    headers = {"Content-Type": "application/x-ndjson"}
    if settings.AUDIT_SINK_TOKEN:
        headers["Authorization"] = f"Bearer {settings.AUDIT_SINK_TOKEN}"
    request = urllib.request.Request(url, data=(line + "\n").encode(), headers=headers, method="POST")  # noqa: S310 - http(s) only (settings)
    with urllib.request.urlopen(request, timeout=settings.AUDIT_SINK_TIMEOUT_S) as response:  # noqa: S310
        if response.status >= 300:
            raise OSError(f"HTTP {response.status}")


def _syslog_send(line: str, *, host: str, port: int) -> None:
    # <110> = facility 13 (log audit) * 8 + severity 6 (informational); RFC 5424 header, the JSON as the message.
    stamp = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
    message = f"<110>1 {stamp} {socket.gethostname()} skyflo - audit - {line}"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(message.encode(), (host, port))


def _sink_name() -> str:
    target = urlparse(settings.AUDIT_SINK_URL or "")
    return f"{target.scheme}://{target.hostname}:{target.port or ''}"  # never the path or a token
