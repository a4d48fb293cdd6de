"""HTTP admission control: a web process serves at most HTTP_CONCURRENCY requests at once and lets at most
HTTP_QUEUE more wait (each for at most HTTP_QUEUE_WAIT_S); past that a request is answered 503 with Retry-After
at once. Without it, overload became one thread per request, each waiting on the database pool: 500s and timeouts.

`/healthz` is never held back: a liveness probe that fails under load gets a busy process restarted.
"""

import asyncio
import json

BUSY_DETAIL = "Skyflo is busy right now. Please try again in a moment."
RETRY_AFTER_S = 1
EXEMPT_PATHS = frozenset({"/healthz"})


class HttpAdmission:
    def __init__(self, app, *, concurrency: int, queue: int, queue_wait_s: float):
        self.app = app
        self.queue = queue
        self.queue_wait_s = queue_wait_s
        self._slots = asyncio.Semaphore(concurrency)
        self._waiting = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            return await self.app(scope, receive, send)
        if not await self._admit():
            return await _busy(scope, send)
        try:
            return await self.app(scope, receive, send)
        finally:
            self._slots.release()

    async def _admit(self) -> bool:
        if not self._slots.locked():
            await self._slots.acquire()
            return True
        if self._waiting >= self.queue:
            return False
        self._waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), self.queue_wait_s)
        except TimeoutError:
            return False
        finally:
            self._waiting -= 1
        return True


async def _busy(scope, send) -> None:
    accept = dict(scope.get("headers") or []).get(b"accept", b"")
    if b"text/html" in accept:
        body, content_type = f"<!doctype html><title>Busy</title><p>{BUSY_DETAIL}</p>".encode(), b"text/html"
    else:
        body, content_type = json.dumps({"detail": BUSY_DETAIL}).encode(), b"application/json"
    headers = [
        (b"content-type", content_type + b"; charset=utf-8"),
        (b"retry-after", str(RETRY_AFTER_S).encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})
