"""The one publisher of run events: persist with the conversation's next seq, then send to its group.

    event_publish(*, conversation_id, run_id, type, data) -> RunEvent          (sync, in the caller's transaction)
    await aevent_publish(*, conversation_id, run_id, type, data) -> RunEvent   (async)
    chats.deltas.DeltaStream                                                   (token streams, through this module)

Both persist first: the sync path in the caller's transaction (so a run's status and its run.* event commit
together), the async path in the next batch of the loop's batcher (one statement for every event pending).
Every frame of a process then leaves through one sender, the batcher of the process's publisher loop: a
worker's run loop, the web server's loop in embedded mode, else a loop thread of the publisher's own. A frame
the channel layer loses is still in the log and reaches the client on resume or by the consumer's gap fill.
"""

import asyncio
import contextlib
import contextvars
import json
import logging
import threading
import uuid
import weakref

from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from chats.event_log import (
    NewEvent,
    async_commit_local,
    event_log_warm,
    event_persist,
    events_persist,
    storable,
)
from chats.events import event_data_validate, event_frame
from chats.models import RunEvent
from skyflo.metrics import event_observed

logger = logging.getLogger(__name__)

FRAME_MESSAGE_TYPE = "run.event"  # the channel-layer message type; ChatConsumer.run_event relays it
DELTA_MAX_DELAY_S = 0.04
COALESCE_TICK_S = 0.01  # streams falling due within this of each other share a batch


def conversation_group(conversation_id) -> str:
    return f"conversation.{conversation_id}"


def user_group(user_id) -> str:
    return f"user.{user_id}"


def _new_event(*, conversation_id, run_id, type: str, data: dict) -> NewEvent:  # noqa: A002
    event_data_validate(type=type, data=data)
    data = json.loads(json.dumps(data, cls=DjangoJSONEncoder))  # as the log will hold it (UUIDs, times as text)
    data = storable(data)  # a NUL in a tool's output must not fail the event (nor its batch)
    run = uuid.UUID(str(run_id)) if run_id else None
    return NewEvent(conversation_id=uuid.UUID(str(conversation_id)), run_id=run, type=type, data=data)


def _frame_message(*, type: str, seq: int, run_id, ts, data: dict) -> dict:  # noqa: A002
    frame = event_frame(type=type, seq=seq, run_id=run_id, ts=ts, data=data)
    event_observed(type, data, run_id)
    # Serialised once here instead of once per connected socket; `ts` (epoch seconds) for the relay-lag metric.
    text = json.dumps(frame, separators=(",", ":"))
    return {"type": FRAME_MESSAGE_TYPE, "seq": seq, "text": text, "ts": ts.timestamp()}


# --- the process's publisher loop -----------------------------------------------------------------------------

SYNC_SEND_TIMEOUT_S = 5.0

_publisher_loop: asyncio.AbstractEventLoop | None = None
_publisher_loop_lock = threading.Lock()


def publisher_loop_set(loop: asyncio.AbstractEventLoop) -> None:
    """Make `loop` the one this process sends every event from (its run loop, or the web server's own loop)."""
    global _publisher_loop
    with _publisher_loop_lock:
        _publisher_loop = loop


def publisher_loop() -> asyncio.AbstractEventLoop:
    """The process's publisher loop; a loop thread of its own where nobody set one (a web process, beat)."""
    global _publisher_loop
    with _publisher_loop_lock:
        if _publisher_loop is None or _publisher_loop.is_closed():
            _publisher_loop = asyncio.new_event_loop()
            threading.Thread(target=_publisher_loop.run_forever, name="skyflo-event-sender", daemon=True).start()
        return _publisher_loop


def _on_publisher_loop(coro) -> None:
    loop = publisher_loop()
    with contextlib.suppress(RuntimeError):
        if asyncio.get_running_loop() is loop:  # called on the loop itself, which cannot wait for itself
            loop.create_task(coro)
            return
    asyncio.run_coroutine_threadsafe(coro, loop).result(SYNC_SEND_TIMEOUT_S)


def group_send_sync(group: str, message: dict) -> None:
    """Send to a channel-layer group from sync code (raises on failure)."""
    _on_publisher_loop(get_channel_layer().group_send(group, message))


async def _persisted_send(group: str, message: dict) -> None:
    batcher = _batchers.get(asyncio.get_running_loop())
    if batcher is None:  # nothing else is published from this loop (a web process): no order to keep with
        await get_channel_layer().group_send(group, message)
    else:
        await batcher.persisted(group, message)


def _event_send_sync(event: RunEvent) -> None:
    message = _frame_message(type=event.type, seq=event.seq, run_id=event.run_id, ts=event.ts, data=event.data)
    try:
        _on_publisher_loop(_persisted_send(conversation_group(event.conversation_id), message))
    except Exception:
        logger.exception("event %s seq %s persisted but not sent; clients get it on resume", event.type, event.seq)


def event_publish(*, conversation_id, run_id, type: str, data: dict) -> RunEvent:  # noqa: A002
    """Persist a run event with the conversation's next seq and send its frame to the group after commit.

    Raises EventInvalid for an unknown type or a malformed payload (nothing is written) and
    Conversation.DoesNotExist when the conversation is gone. Inside an outer transaction the frame is sent
    when that transaction commits, and not at all if it rolls back.
    """
    new = _new_event(conversation_id=conversation_id, run_id=run_id, type=type, data=data)
    own_transaction = not connection.in_atomic_block
    with transaction.atomic():
        if own_transaction:  # never relax the durability of a caller's transaction
            async_commit_local()
        event = event_persist(new, timezone.now())
        transaction.on_commit(lambda: _event_send_sync(event))
    return event


# --- async -------------------------------------------------------------------------------------------------


async def aevent_publish(*, conversation_id, run_id, type: str, data: dict) -> RunEvent:  # noqa: A002
    """Async event_publish: persisted (committed) with the loop's next batch, then sent to the group.

    Raises EventInvalid at once (nothing queued) and Conversation.DoesNotExist when the conversation is gone.
    Once queued, the event is published even if the caller is cancelled meanwhile.
    """
    new = _new_event(conversation_id=conversation_id, run_id=run_id, type=type, data=data)
    result = loop_batcher().event(new)
    event_id, seq, ts = await asyncio.shield(result)
    event = RunEvent(id=event_id, conversation_id=new.conversation_id, run_id=new.run_id, seq=seq, ts=ts)
    event.type, event.data = new.type, new.data
    return event


async def publisher_warm() -> None:
    """Open this loop's event-log connection (and plan its statement) and the channel layer's Redis connection
    now, so the first frames of a process's first run do not wait for them. Workers call it when they start."""
    await event_log_warm()
    await get_channel_layer().group_send("skyflo.warm-up", {"type": "warm.up"})


async def group_send_many(messages: list[tuple[str, dict]]) -> None:
    """Send (group, message) pairs in order: one Redis round trip with skyflo's layer, else one by one."""
    layer = get_channel_layer()
    if hasattr(layer, "group_send_many"):
        await layer.group_send_many(messages)
        return
    for group, message in messages:
        await layer.group_send(group, message)


async def _batch_publish(events: list[NewEvent], ahead: list[tuple[str, dict]]) -> tuple[list, object]:
    """Persist a batch, then send the frames `ahead` (already persisted) and those of what was persisted, in
    order. Returns (results, ts)."""
    ts = timezone.now()
    try:
        results = await events_persist(events, ts) if events else []
    except Exception:
        await _group_send_logged(ahead)
        raise
    messages = [
        (
            conversation_group(event.conversation_id),
            _frame_message(type=event.type, seq=result[1], run_id=event.run_id, ts=ts, data=event.data),
        )
        for event, result in zip(events, results, strict=True)
        if not isinstance(result, Exception)
    ]
    await _group_send_logged(ahead + messages)
    return results, ts


async def _group_send_logged(messages: list[tuple[str, dict]]) -> None:
    if not messages:
        return
    try:
        await group_send_many(messages)
    except Exception:
        logger.exception("%d events persisted but not sent; clients get them on resume", len(messages))


class _Batcher:
    """The loop's one sender of event batches; one batch is in flight at a time, so call order is kept.

    Events and the frames of sync-published events leave with the next batch. Token streams (DeltaStream): while
    one stream alone is active (it pushed in this DELTA_MAX_DELAY_S window or the previous one), its tokens leave
    with the next batch; with several, a stream's tokens leave once its oldest is DELTA_MAX_DELAY_S old, with
    every other stream falling due within COALESCE_TICK_S: one frame per stream per window, streams keeping their
    own phases. A closing stream (`hurry`) does not wait.
    """

    def __init__(self, *, max_delay: float = DELTA_MAX_DELAY_S):
        self.max_delay = max_delay
        self._events: list[tuple[NewEvent, asyncio.Future]] = []
        self._persisted: list[tuple[tuple[str, dict], asyncio.Future]] = []  # frames of sync-published events
        self._streams: dict = {}  # DeltaStreams with pending tokens -> when the first of them came (loop time)
        self._wake = asyncio.Event()
        self._urgent = asyncio.Event()  # an event or a closing stream: cut a wait short
        self._hurry = False
        self._task: asyncio.Task | None = None
        self._window_start = float("-inf")
        self._active_now: set = set()  # streams that pushed in this window
        self._active_before: set = set()  # … and in the previous one

    def event(self, event: NewEvent) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self._events.append((event, future))
        self._start()
        self._urgent.set()
        return future

    def persisted(self, group: str, message: dict) -> asyncio.Future:
        """The frame of an event persisted elsewhere (event_publish): sent first in the next batch."""
        future = asyncio.get_running_loop().create_future()
        self._persisted.append(((group, message), future))
        self._start()
        self._urgent.set()
        return future

    def stream_pending(self, stream) -> None:
        self._streams[stream] = asyncio.get_running_loop().time()
        self._start()

    def hurry(self) -> None:
        self._hurry = True
        self._urgent.set()

    def _start(self) -> None:
        if self._task is None or self._task.done():
            # A fresh context: the batcher serves every run, not the one (trace, log context) that started it.
            self._task = asyncio.create_task(self._run(), name="event-batcher", context=contextvars.Context())
        self._wake.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._events or self._persisted or self._streams:
                now = loop.time()
                if now - self._window_start >= self.max_delay:
                    previous_was_last = now - self._window_start < 2 * self.max_delay  # else windows went by idle
                    self._active_before = self._active_now if previous_was_last else set()
                    self._active_now, self._window_start = set(), now
                self._active_now.update(self._streams)
                if self._hurry or len(self._active_now | self._active_before) < 2:
                    due = list(self._streams)
                else:
                    cutoff = now - (self.max_delay - COALESCE_TICK_S)
                    due = [stream for stream, since in self._streams.items() if since <= cutoff]
                if not self._events and not self._persisted and not due:
                    self._urgent.clear()
                    wait = min(self._streams.values()) + self.max_delay - COALESCE_TICK_S - now
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._urgent.wait(), wait + 0.0005)
                    continue
                self._hurry = False
                await self._send(due)

    async def _send(self, streams: list) -> None:
        events, self._events = self._events, []
        persisted, self._persisted = self._persisted, []
        for stream in streams:
            del self._streams[stream]
        taken = [stream.take() for stream in streams]
        batch = [event for event, _ in events] + [delta for delta, _ in taken]
        try:
            results, ts = await _batch_publish(batch, [frame for frame, _ in persisted])
        except Exception as exc:  # noqa: BLE001 - every caller of the batch gets it
            results, ts = [exc] * len(batch), None
        for _, sent in persisted:
            if not sent.done():
                sent.set_result(None)
        for (_, future), result in zip(events, results[: len(events)], strict=True):
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result((*result, ts))
        for stream, (_, sent), result in zip(streams, taken, results[len(events) :], strict=True):
            stream.done(result)
            if not sent.done():
                sent.set_result(None)


_batchers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Batcher]" = weakref.WeakKeyDictionary()


def loop_batcher() -> _Batcher:
    loop = asyncio.get_running_loop()
    batcher = _batchers.get(loop)
    if batcher is None:
        batcher = _batchers[loop] = _Batcher()
    return batcher
