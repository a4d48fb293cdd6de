"""Embedded mode: one web process runs the runs, publishes their events and, with no beat, the periodic jobs,
all on the web server's loop."""

from __future__ import annotations

import asyncio
import contextvars
import logging

from chats.publisher import publisher_loop_set
from workflows.expiry import approvals_expire
from workflows.recovery import runs_recover
from workflows.run_loop import db

logger = logging.getLogger(__name__)

HOUSEKEEPING_S = 30.0

_task: asyncio.Task | None = None


def housekeeping_start() -> None:
    """Start the periodic jobs on the running loop, once per process."""
    global _task
    if _task is None:
        # A fresh context: the jobs serve the process, not the request that happened to start them.
        _task = asyncio.get_running_loop().create_task(
            _housekeeping(), name="skyflo-housekeeping", context=contextvars.Context()
        )


async def _housekeeping() -> None:
    while True:
        await asyncio.sleep(HOUSEKEEPING_S)
        for job in (approvals_expire, runs_recover):
            try:
                await db(job)
            except Exception:
                logger.exception("embedded housekeeping: %s failed", job.__name__)


class EmbeddedLoop:
    """ASGI wrapper of the embedded web process: at the first connection, the server's loop becomes the process's
    publisher loop (the in-memory channel layer belongs to it) and starts the housekeeping."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if _task is None:
            publisher_loop_set(asyncio.get_running_loop())
            housekeeping_start()
        return await self.app(scope, receive, send)
