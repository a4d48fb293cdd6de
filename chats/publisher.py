"""The one publisher of run events: persist with the conversation's next seq, then send to its group.

    event_publish(*, conversation_id, run_id, type, data) -> RunEvent          (sync)
    await aevent_publish(*, conversation_id, run_id, type, data) -> RunEvent   (async)
    DeltaStream(conversation_id=…, run_id=…, message_id=…, agent=…)            (token coalescer)

Persisting is one short statement on PostgreSQL (the seq counter is bumped on the conversation row, which
serialises writers of one conversation until commit, and the event is inserted in the same statement), so a
seq is visible in the log before any frame carrying it is sent. The frame goes to the group after commit; if
that send fails the event stays in the log and reaches the client on resume (or on the consumer's gap fill).

Events are committed with `synchronous_commit = off` (never inside a caller's transaction): a commit then
costs ~0.3 ms instead of a WAL fsync (4–20 ms on a busy disk), which the token stream cannot afford. The
price: if PostgreSQL itself crashes, the last few hundred milliseconds of events may be lost together with
their seq numbers (the counter rolls back with them, the log stays consistent). Runs, approvals and
messages, written by their own transactions, keep full durability; the event log is the replay stream.

`aevent_publish` on PostgreSQL runs that statement on the caller's event loop through psycopg
AsyncConnections of its own (a few per loop, one per conversation, autocommit), without a thread hop;
`event_publish` uses the caller's Django connection and transaction.
"""

import asyncio
import json
import logging
import threading
import uuid
import weakref
from concurrent.futures import ThreadPoolExecutor

import psycopg
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, connections, transaction
from django.utils import timezone

from chats.events import STREAM_TYPES, event_data_validate, event_frame
from chats.models import Conversation, RunEvent

logger = logging.getLogger(__name__)

FRAME_MESSAGE_TYPE = "run.event"  # the channel-layer message type; ChatConsumer.run_event relays it
DELTA_MAX_DELAY_S = 0.05


def conversation_group(conversation_id) -> str:
    return f"conversation.{conversation_id}"


def user_group(user_id) -> str:
    return f"user.{user_id}"


# --- persistence -------------------------------------------------------------------------------------------


def _async_commit_local() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _event_persist(*, conversation_id, run_id, type: str, data: dict) -> RunEvent:  # noqa: A002
    event_data_validate(type=type, data=data)
    text = json.dumps(data, cls=DjangoJSONEncoder)
    ts = timezone.now()
    touch = type not in STREAM_TYPES
    if connection.vendor == "postgresql":
        seq, event_id = _insert_postgres(conversation_id, run_id, type, text, ts, touch)
    else:
        seq, event_id = _insert_generic(conversation_id, run_id, type, text, ts, touch)
    event = RunEvent(id=event_id, conversation_id=conversation_id, run_id=run_id, seq=seq, type=type, ts=ts)
    event.data = json.loads(text)
    return event


_PG_INSERT = """
WITH s AS (
    UPDATE {conv} SET last_seq = last_seq + 1{touch} WHERE id = %s RETURNING last_seq
)
INSERT INTO {event} (conversation_id, run_id, seq, type, data, ts)
SELECT %s, %s, s.last_seq, %s, %s::jsonb, %s FROM s
RETURNING seq, id
"""


def _pg_insert_sql(conversation_id, run_id, type, text, ts, touch) -> tuple[str, list]:  # noqa: A002
    sql = _PG_INSERT.format(
        conv=Conversation._meta.db_table,
        event=RunEvent._meta.db_table,
        touch=", last_activity_at = %s" if touch else "",
    )
    params = [ts] if touch else []
    return sql, [*params, conversation_id, conversation_id, run_id, type, text, ts]


def _insert_postgres(conversation_id, run_id, type, text, ts, touch):  # noqa: A002
    sql, params = _pg_insert_sql(conversation_id, run_id, type, text, ts, touch)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        raise Conversation.DoesNotExist(f"conversation {conversation_id} does not exist")
    return row


def _insert_generic(conversation_id, run_id, type, text, ts, touch):  # noqa: A002
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().only("last_seq").get(pk=conversation_id)
        seq = conversation.last_seq + 1
        fields = {"last_seq": seq, **({"last_activity_at": ts} if touch else {})}
        Conversation.objects.filter(pk=conversation_id).update(**fields)
        event = RunEvent.objects.create(
            conversation_id=conversation_id, run_id=run_id, seq=seq, type=type, data=json.loads(text), ts=ts
        )
    return seq, event.id


def _layer_message(event: RunEvent) -> dict:
    frame = event_frame(type=event.type, seq=event.seq, run_id=event.run_id, ts=event.ts, data=event.data)
    # Serialised once here instead of once per connected socket.
    return {"type": FRAME_MESSAGE_TYPE, "seq": event.seq, "text": json.dumps(frame, separators=(",", ":"))}


# --- sync --------------------------------------------------------------------------------------------------


class _SenderLoop:
    """One long-lived event loop for sync publishers, so the Redis connection is reused between sends."""

    def __init__(self):
        self._loop = None
        self._lock = threading.Lock()

    def run(self, coro, timeout: float = 5.0):
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(target=self._loop.run_forever, name="skyflo-event-sender", daemon=True).start()
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)


_sender = _SenderLoop()


def group_send_sync(group: str, message: dict) -> None:
    """Send to a channel-layer group from sync code (raises on failure)."""
    layer = get_channel_layer()
    if settings.REDIS_URL:
        _sender.run(layer.group_send(group, message))
    else:  # the in-memory layer's queues belong to the web process's own loop
        async_to_sync(layer.group_send)(group, message)


def _event_send_sync(event: RunEvent) -> None:
    try:
        group_send_sync(conversation_group(event.conversation_id), _layer_message(event))
    except Exception:
        logger.exception("event %s seq %s persisted but not sent; clients get it on resume", event.type, event.seq)


def event_publish(*, conversation_id, run_id, type: str, data: dict) -> RunEvent:  # noqa: A002
    """Persist a run event with the conversation's next seq and send its frame to the group after commit.

    Raises EventInvalid for an unknown type or a malformed payload (nothing is written) and
    Conversation.DoesNotExist when the conversation is gone. Inside an outer transaction the frame is sent
    when that transaction commits, and not at all if it rolls back.
    """
    own_transaction = not connection.in_atomic_block
    with transaction.atomic():
        if own_transaction:  # never relax the durability of a caller's transaction
            _async_commit_local()
        event = _event_persist(conversation_id=conversation_id, run_id=run_id, type=type, data=data)
        transaction.on_commit(lambda: _event_send_sync(event))
    return event


# --- async -------------------------------------------------------------------------------------------------

# Without PostgreSQL (embedded mode, SQLite) the async path persists through the ORM in a thread of its own:
# SQLite has one writer at a time anyway, and one thread keeps a process's events in call order.
_persist_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="skyflo-event-persist")


def _event_persist_in_thread(**kwargs) -> RunEvent:
    return _event_persist(**kwargs)


def publisher_connections_close() -> None:
    """Close the persist threads' database connections (tests call it before the test database is dropped)."""
    workers = _persist_pool._max_workers
    barrier = threading.Barrier(workers)

    def close():
        connection.close()
        barrier.wait(timeout=5)

    for future in [_persist_pool.submit(close) for _ in range(workers)]:
        future.result()


class _AsyncPostgres:
    """A few psycopg AsyncConnections per event loop for the async hot path, one chosen per conversation.

    Token streams publish hundreds of events per second per process; a thread hop per event (and the GIL
    hand-over that comes with it) dominated the tail latency, so on PostgreSQL the one-statement insert
    runs on the caller's loop. psycopg serialises statements on a connection; with one connection per loop
    every run of a worker queued behind every other run's round trip (at 50 concurrent streams the
    connection was busy all the time), so each loop has CONNECTIONS_PER_LOOP of them and a conversation
    always uses the same one: one conversation's events stay in call order, others' round trips overlap.
    """

    CONNECTIONS_PER_LOOP = 4

    def __init__(self):
        self._connections = weakref.WeakKeyDictionary()  # loop -> CONNECTIONS_PER_LOOP slots (or None)
        self._connecting = weakref.WeakKeyDictionary()  # loop -> [asyncio.Lock] * CONNECTIONS_PER_LOOP

    async def fetchone(self, sql: str, params: list, *, key):
        conn = await self._connection(hash(key) % self.CONNECTIONS_PER_LOOP)
        cursor = await conn.execute(sql, params)
        return await cursor.fetchone()

    async def open_all(self) -> None:
        await asyncio.gather(*(self._connection(index) for index in range(self.CONNECTIONS_PER_LOOP)))

    async def _connection(self, index: int) -> psycopg.AsyncConnection:
        loop = asyncio.get_running_loop()
        slots = self._connections.get(loop)
        if slots is None:
            slots = self._connections[loop] = [None] * self.CONNECTIONS_PER_LOOP
            self._connecting[loop] = [asyncio.Lock() for _ in range(self.CONNECTIONS_PER_LOOP)]
        conn = slots[index]
        if conn is None or conn.closed or conn.broken:
            async with self._connecting[loop][index]:  # one connect per slot, even if many events wait for it
                conn = slots[index]
                if conn is None or conn.closed or conn.broken:
                    conn = await psycopg.AsyncConnection.connect(**_connect_kwargs(), autocommit=True)
                    await conn.execute("SET synchronous_commit TO OFF")
                    slots[index] = conn
        return conn


def _connect_kwargs() -> dict:
    db = connections["default"].settings_dict
    kwargs = {"dbname": db["NAME"], "user": db.get("USER"), "password": db.get("PASSWORD")}
    kwargs |= {"host": db.get("HOST"), "port": db.get("PORT")}
    django_only = {"pool", "isolation_level", "server_side_binding", "assume_role", "cursor_factory"}
    kwargs |= {k: v for k, v in db.get("OPTIONS", {}).items() if k not in django_only}
    return {k: v for k, v in kwargs.items() if v not in (None, "")}


_async_pg = _AsyncPostgres()


async def _event_persist_async(*, conversation_id, run_id, type: str, data: dict) -> RunEvent:  # noqa: A002
    event_data_validate(type=type, data=data)
    text = json.dumps(data, cls=DjangoJSONEncoder)
    ts = timezone.now()
    touch = type not in STREAM_TYPES
    conversation_uuid = uuid.UUID(str(conversation_id))
    run_uuid = uuid.UUID(str(run_id)) if run_id else None
    sql, params = _pg_insert_sql(conversation_uuid, run_uuid, type, text, ts, touch)
    row = await _async_pg.fetchone(sql, params, key=conversation_uuid)
    if row is None:
        raise Conversation.DoesNotExist(f"conversation {conversation_id} does not exist")
    seq, event_id = row
    event = RunEvent(id=event_id, conversation_id=conversation_uuid, run_id=run_uuid, seq=seq, type=type, ts=ts)
    event.data = json.loads(text)
    return event


async def publisher_warm() -> None:
    """Open this loop's event-log connections and the channel layer's Redis connection now, so the first frames
    of a process's first run do not wait for them (~150 ms measured). Workers call it when they start."""
    if settings.IS_POSTGRES:
        await _async_pg.open_all()
    await get_channel_layer().group_send("skyflo.warm-up", {"type": "warm.up"})


async def aevent_publish(*, conversation_id, run_id, type: str, data: dict) -> RunEvent:  # noqa: A002
    """Async event_publish: persisted (committed) first, then sent to the conversation's group."""
    kwargs = {"conversation_id": conversation_id, "run_id": run_id, "type": type, "data": data}
    if settings.IS_POSTGRES:
        event = await _event_persist_async(**kwargs)
    else:
        loop = asyncio.get_running_loop()
        event = await loop.run_in_executor(_persist_pool, lambda: _event_persist_in_thread(**kwargs))
    try:
        await get_channel_layer().group_send(conversation_group(conversation_id), _layer_message(event))
    except Exception:
        logger.exception("event %s seq %s persisted but not sent; clients get it on resume", event.type, event.seq)
    return event


# --- token coalescing --------------------------------------------------------------------------------------

_deltas_in_flight = 0  # delta frames of this process being persisted/sent right now: our measure of load


class DeltaStream:
    """Streams one message's tokens as `message.delta` frames.

    A token goes out at once when nothing is in flight; under load (this stream or the process's publisher is
    busy) tokens are coalesced into one frame for at most DELTA_MAX_DELAY_S. Frames of one stream are
    published one after another, so their seqs follow the token order. Call `close()` (or `flush()`) before
    publishing the message's next event so that it gets a higher seq than every delta.
    """

    def __init__(self, *, conversation_id, run_id, message_id, agent: str, max_delay: float = DELTA_MAX_DELAY_S):
        self.conversation_id = conversation_id
        self.run_id = run_id
        self.message_id = str(message_id)
        self.agent = agent
        self.max_delay = max_delay
        self.frames = 0
        self._pending: list[str] = []
        self._pending_since = 0.0
        self._wake = asyncio.Event()
        self._worker: asyncio.Task | None = None
        self._closed = False
        self._sending = False
        self._flush_now = False
        self._error: BaseException | None = None

    async def push(self, text: str) -> None:
        if self._closed:
            raise RuntimeError("DeltaStream is closed")
        if self._error is not None:
            raise self._error
        if not text:
            return
        if not self._pending:
            self._pending_since = asyncio.get_running_loop().time()
        self._pending.append(text)
        if self._worker is None:
            self._worker = asyncio.create_task(self._run(), name=f"delta-stream-{self.message_id}")
        self._wake.set()

    async def flush(self) -> None:
        """Publish whatever is pending now and wait until every frame of this stream is persisted and sent."""
        if self._worker is None:
            return
        self._flush_now = True
        self._wake.set()
        while (self._pending or self._sending) and not self._worker.done():
            await asyncio.sleep(0.001)
        if self._error is not None:
            raise self._error

    async def close(self) -> None:
        await self.flush()
        self._closed = True
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._pending:
                    wait = self._pending_since + self.max_delay - loop.time()
                    if _deltas_in_flight and wait > 0 and not self._flush_now:
                        await asyncio.sleep(wait)
                    await self._send_pending()
                self._flush_now = False
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # surfaced to the producer on its next push/flush
            self._error = exc

    async def _send_pending(self) -> None:
        global _deltas_in_flight
        text = "".join(self._pending)
        self._pending.clear()
        self._sending = True
        _deltas_in_flight += 1
        try:
            await aevent_publish(
                conversation_id=self.conversation_id,
                run_id=self.run_id,
                type="message.delta",
                data={"message_id": self.message_id, "agent": self.agent, "text": text},
            )
            self.frames += 1
        finally:
            _deltas_in_flight -= 1
            self._sending = False
