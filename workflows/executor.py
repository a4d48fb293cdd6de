"""The process's run loop: one asyncio event loop in a daemon thread that carries every run of the process.

A Celery worker (thread pool) submits each task's coroutine here and waits for it, so one process carries
dozens of I/O-bound runs; the web process in embedded mode submits without waiting. One watcher per process
heart-beats every run it holds and turns a cancel request (the Run row's flag, polled every CANCEL_POLL_S)
into the cancellation of that run's graph task, which stops the LLM stream and the MCP call.

Setting a run up (claim, context, tool session and its tool list, policy, graph state) is the CPU-heaviest
thing it does before it waits for the model. When 50 runs arrive at once, setting them all up interleaved keeps
the loop busy for seconds and the answers already streaming wait behind it (tokens ~300 ms late at p99 in
bench/workflow_stream.py). So a process sets up at most SETUP_SLOTS runs at a time, in arrival order; a run
gives its slot back when its first request to the model goes out (waiting for the model costs no CPU), when it
ends, or after SETUP_SLOT_MAX_S in any case, so that a slow tool server never holds other runs back for longer.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import socket
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

logger = logging.getLogger(__name__)

CANCEL_POLL_S = 0.3
HOUSEKEEPING_S = 30.0
DB_THREADS = 16
CONNECTION_CHECK_S = 5.0
SETUP_SLOTS = 2
SETUP_SLOT_MAX_S = 0.5

WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"

_db_pool = ThreadPoolExecutor(max_workers=DB_THREADS, thread_name_prefix="skyflo-run-db")


_db_thread = threading.local()


def _db_call(fn, args, kwargs):
    # close_old_connections() drops a connection past CONN_MAX_AGE or left unusable by an error, and makes the
    # next query health-check it with a round trip of its own. Once per CONNECTION_CHECK_S per thread (and after
    # any error) is enough; before every call it doubled the round trips of every run's database work.
    now = time.monotonic()
    if now - getattr(_db_thread, "checked_at", float("-inf")) >= CONNECTION_CHECK_S:
        close_old_connections()
        _db_thread.checked_at = now
    try:
        return fn(*args, **kwargs)
    except Exception:
        _db_thread.checked_at = float("-inf")
        raise


async def db(fn, *args, **kwargs):
    """Run a sync ORM function on the run-loop's DB threads (each holds its own connection)."""
    # In the caller's contextvars (the run's log context, skyflo/logs.py), as asyncio.to_thread would.
    call = contextvars.copy_context().run
    return await asyncio.get_running_loop().run_in_executor(_db_pool, call, _db_call, fn, args, kwargs)


class SetupSlot:
    """One of the process's SETUP_SLOTS; given back by `release()` (idempotent) or after SETUP_SLOT_MAX_S."""

    def __init__(self, slots: asyncio.Semaphore, loop: asyncio.AbstractEventLoop, max_s: float):
        self._slots: asyncio.Semaphore | None = slots
        self._timer = loop.call_later(max_s, self.release)

    def release(self) -> None:
        if self._slots is not None:
            self._timer.cancel()
            self._slots.release()
            self._slots = None


@dataclass
class RunHandle:
    """A run held by this process: its graph task (while one runs), whether cancel was requested, and its set-up
    slot until the run is set up."""

    run_id: str
    cancel_requested: bool = False
    task: asyncio.Task | None = None
    setup_slot: SetupSlot | None = None

    def set_up(self) -> None:
        """The run is set up (it waits for the model now): let the next run's set-up start."""
        if self.setup_slot is not None:
            self.setup_slot.release()

    def cancel(self) -> None:
        if self.cancel_requested:
            return
        self.cancel_requested = True
        if self.task is not None and not self.task.done():
            self.task.cancel()


class RunLoop:
    """Runs of this process. With `loop` given (embedded mode: the web server's own loop, so that the in-memory
    channel layer is only touched from its loop) no thread is started."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None, *, setup_slot_max_s: float = SETUP_SLOT_MAX_S):
        self.handles: dict[str, RunHandle] = {}
        self._watcher: asyncio.Task | None = None
        self._setup_slots: asyncio.Semaphore | None = None
        self._setup_slot_max_s = setup_slot_max_s
        if loop is not None:
            self.loop = loop
            return
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="skyflo-run-loop", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine) -> Future:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    # --- called on the loop ---

    async def setup_slot(self) -> SetupSlot:
        """Wait for one of the SETUP_SLOTS (first come, first served)."""
        if self._setup_slots is None:
            self._setup_slots = asyncio.Semaphore(SETUP_SLOTS)
        await self._setup_slots.acquire()
        return SetupSlot(self._setup_slots, self.loop, self._setup_slot_max_s)

    def hold(self, run_id: str) -> RunHandle:
        handle = self.handles.setdefault(run_id, RunHandle(run_id))
        if self._watcher is None or self._watcher.done():
            # A fresh context: the watcher serves every run, not the one (trace, log context) that started it.
            self._watcher = self.loop.create_task(
                self._watch(), name="skyflo-run-watcher", context=contextvars.Context()
            )
        return handle

    def release(self, run_id: str) -> None:
        self.handles.pop(run_id, None)

    async def _watch(self) -> None:
        beat_every = max(1.0, settings.RUN_HEARTBEAT_TIMEOUT_S / 4)
        last_beat = 0.0
        while self.handles:
            await asyncio.sleep(CANCEL_POLL_S)
            ids = list(self.handles)
            if not ids:
                break
            try:
                now = self.loop.time()
                beat = now - last_beat >= beat_every
                cancelled = await db(_watch_once, ids, beat)
                if beat:
                    last_beat = now
            except Exception:
                logger.exception("run watcher: database check failed; retrying")
                continue
            for run_id in cancelled:
                handle = self.handles.get(run_id)
                if handle is not None:
                    handle.cancel()


def _watch_once(ids: list[str], beat: bool) -> list[str]:
    from workflows.models import Run

    if beat:
        Run.objects.filter(pk__in=ids, status=Run.Status.RUNNING).update(heartbeat_at=timezone.now())
    return [str(pk) for pk in Run.objects.filter(pk__in=ids, cancel_requested=True).values_list("pk", flat=True)]


_run_loop: RunLoop | None = None
_lock = threading.Lock()


def run_loop() -> RunLoop:
    global _run_loop
    with _lock:
        if _run_loop is None:
            _run_loop = RunLoop(_web_server_loop() if settings.RUNS_IN_PROCESS else None)
            if settings.RUNS_IN_PROCESS:
                _run_loop.submit(_housekeeping())
        return _run_loop


def _web_server_loop() -> asyncio.AbstractEventLoop | None:
    """The ASGI server's loop when called from a sync view under it (asgiref records it per thread)."""
    from asgiref.sync import SyncToAsync

    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    same_process = getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) == os.getpid()
    return loop if loop is not None and same_process and loop.is_running() else None


async def _housekeeping() -> None:
    """Embedded mode has no beat: expire approvals and recover stalled runs from here."""
    from workflows import services

    while True:
        await asyncio.sleep(HOUSEKEEPING_S)
        for job in (services.approvals_expire, services.runs_recover):
            try:
                await db(job)
            except Exception:
                logger.exception("embedded housekeeping: %s failed", job.__name__)
