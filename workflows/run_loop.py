"""The process's run loop: one asyncio event loop that carries every run of the process (a daemon thread in a
worker, whose thread-pool tasks submit and wait; the web server's own loop in embedded mode), its DB threads, and
one watcher that heart-beats the runs it holds and turns a Run's cancel flag into the cancellation of its graph
task (which stops the LLM stream and the MCP call).

At most SETUP_SLOTS runs are set up at a time, in arrival order: set-up is the CPU-heaviest part of a run, and
many at once delay the tokens already streaming (figures in bench/README.md). A run gives its slot back when its
first request goes to the model, when it ends, or after SETUP_SLOT_MAX_S, so a slow tool server holds no one back.
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

from asgiref.sync import SyncToAsync
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from chats.publisher import publisher_loop_set
from workflows.models import Run

logger = logging.getLogger(__name__)

CANCEL_POLL_S = 0.3
# Each DB thread keeps a connection of the process's pool checked out; four stay free for the worker's task
# threads (dispatch, resume, beat's jobs), which give theirs back after each task.
DB_THREADS = max(1, min(16, settings.DB_POOL_SIZE - 4))
CONNECTION_CHECK_S = 5.0
SETUP_SLOTS = 2
SETUP_SLOT_MAX_S = 0.5

WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"

_db_pool = ThreadPoolExecutor(max_workers=DB_THREADS, thread_name_prefix="skyflo-run-db")


_db_thread = threading.local()


def _db_call(fn, args, kwargs):
    # close_old_connections() costs a health-check round trip; once per CONNECTION_CHECK_S per thread (and after
    # an error) is enough.
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


class StartupClock:
    """What one drive of a run did before its first model request and first token, step by step: logged once, at
    the first token (`run start-up`, figures in bench/README.md; bench/outside_in.py --startup reads them)."""

    def __init__(self) -> None:
        self._last = time.monotonic()
        self.steps: dict[str, float] = {}
        self.notes: dict[str, object] = {}
        self.logged = False

    def mark(self, step: str) -> None:
        now = time.monotonic()
        self.steps[step] = round((now - self._last) * 1000, 1)
        self._last = now

    def log(self, run_id: str) -> None:
        if self.logged:
            return
        self.logged = True
        steps = " ".join(f"{step}={ms}ms" for step, ms in self.steps.items())
        notes = "".join(f" {key}={value}" for key, value in self.notes.items())
        logger.info("run %s start-up: %s%s", run_id, steps, notes, extra={"startup_ms": self.steps, **self.notes})


@dataclass
class RunHandle:
    """A run held by this process: its graph task (while one runs), whether cancel was requested, and its set-up
    slot until the run is set up."""

    run_id: str
    cancel_requested: bool = False
    task: asyncio.Task | None = None
    setup_slot: SetupSlot | None = None
    clock: StartupClock | None = None
    drive: asyncio.Task | None = None  # the task driving the run in this process (set-up included)
    parking: bool = False  # the process is stopping: the run is handed back, not cancelled

    def set_up(self) -> None:
        """The run is set up (it waits for the model now): let the next run's set-up start."""
        if self.setup_slot is not None:
            self.setup_slot.release()

    def park(self) -> None:
        """Stop driving the run here, leaving it as it is for another worker (workflows/engine.py hands it back)."""
        if self.parking or self.cancel_requested:
            return
        self.parking = True
        if self.drive is not None and not self.drive.done():
            self.drive.cancel()

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
        self.stopping = False
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

    def stop_threadsafe(self) -> None:
        """The process is stopping (a worker's SIGTERM): every run it holds, and every run it claims from now on,
        is handed back to the queue at once, so the process ends in seconds and another worker continues them."""
        self.loop.call_soon_threadsafe(self._stop)

    def _stop(self) -> None:
        self.stopping = True
        for handle in list(self.handles.values()):
            handle.park()

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
            publisher_loop_set(_run_loop.loop)  # the runs' events and those of the process's sync code leave here
        return _run_loop


def _web_server_loop() -> asyncio.AbstractEventLoop | None:
    """The ASGI server's loop when called from a sync view under it (asgiref records it per thread)."""
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    same_process = getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) == os.getpid()
    return loop if loop is not None and same_process and loop.is_running() else None
