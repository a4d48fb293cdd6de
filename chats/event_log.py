"""The run event log: each event gets its conversation's next seq, in the statement that inserts it.

    event_persist(NewEvent, ts) -> RunEvent                              (sync, the caller's connection/transaction)
    await events_persist([NewEvent, …], ts) -> [(id, seq) or exception, …]  (async, one statement per batch)

The seq counter is bumped on the conversation row, which serialises writers of one conversation until commit,
and the events are inserted in the same statement, so a seq is visible in the log before any frame carrying
it is sent. chats.publisher is the only caller; everything else publishes through it.

Events written outside a caller's transaction commit with `synchronous_commit = off`: a WAL fsync per token
batch is more than the stream can afford (figures: bench/README.md). If PostgreSQL itself crashes, the last
moments of events may be lost with their seq counter while their frames were sent, so each conversation's first
batch after a crash skips SEQ_CRASH_JUMP seqs (gaps are allowed), told by two unlogged tables that crash recovery
empties (migration 0004). Runs, approvals, messages, and the events written in their transactions keep full
durability; the event log is the replay stream.

The async path on PostgreSQL runs on the caller's event loop through one psycopg AsyncConnection per loop
(autocommit), without a thread hop; elsewhere (embedded mode, SQLite) it persists through the ORM in one
thread of its own: SQLite has one writer at a time anyway, and one thread keeps a process's events in order.
"""

import asyncio
import json
import re
import threading
import uuid
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import psycopg
from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from chats.events import STREAM_TYPES
from chats.models import Conversation, RunEvent


@dataclass(frozen=True)
class NewEvent:
    """An event to persist: validated by the publisher, data already JSON-compatible, not yet numbered."""

    conversation_id: uuid.UUID
    run_id: uuid.UUID | None
    type: str
    data: dict

    @property
    def touches_activity(self) -> bool:  # streamed output does not move a conversation up the list
        return self.type not in STREAM_TYPES


# PostgreSQL's text and jsonb hold neither NUL nor lone surrogates (a tool's output may carry both).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(value):
    """`value` (str, or JSON-like lists/dicts of them) with what PostgreSQL cannot store replaced by U+FFFD."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value


# --- sync: one event, the caller's connection ----------------------------------------------------------------


def async_commit_local() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def event_persist(event: NewEvent, ts) -> RunEvent:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(*_pg_batch_sql([event], ts))
            rows = cursor.fetchall()
        if not rows:
            raise _gone(event)
        (event_id, _, seq), *_ = rows
    else:
        seq, event_id = _insert_generic(event, ts)
    row = RunEvent(id=event_id, conversation_id=event.conversation_id, run_id=event.run_id, seq=seq, ts=ts)
    row.type, row.data = event.type, event.data
    return row


def _insert_generic(event: NewEvent, ts) -> tuple[int, int]:
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().only("last_seq").filter(pk=event.conversation_id)
        conversation = conversation.first()
        if conversation is None:
            raise _gone(event)
        seq = conversation.last_seq + 1
        fields = {"last_seq": seq, **({"last_activity_at": ts} if event.touches_activity else {})}
        Conversation.objects.filter(pk=event.conversation_id).update(**fields)
        row = RunEvent.objects.create(
            conversation_id=event.conversation_id,
            run_id=event.run_id,
            seq=seq,
            type=event.type,
            data=event.data,
            ts=ts,
        )
    return seq, row.id


def _gone(event: NewEvent) -> Conversation.DoesNotExist:
    return Conversation.DoesNotExist(f"conversation {event.conversation_id} does not exist")


# --- one statement for a batch --------------------------------------------------------------------------------

_PG_BATCH = """
WITH input AS (  -- one parameter, a JSON array of objects: c conversation, r run, t type, d data, a touches activity
    SELECT (e->>'c')::uuid AS conversation_id, (e->>'r')::uuid AS run_id, e->>'t' AS type, e->'d' AS data,
           (e->>'a')::boolean AS touch, ord
    FROM jsonb_array_elements(%(rows)s::jsonb) WITH ORDINALITY AS t(e, ord)
),
counts AS (SELECT conversation_id, count(*) AS n, bool_or(touch) AS touch FROM input GROUP BY conversation_id),
locked AS (  -- in id order, so that two batches touching the same conversations cannot deadlock
    SELECT id FROM {conv} WHERE id = ANY(%(ids)s::uuid[]) ORDER BY id FOR UPDATE
),
incarnation AS (SELECT started_at FROM chats_seq_incarnation WHERE id = 1),
born AS (  -- the crash recovery emptied the table: this incarnation starts now
    INSERT INTO chats_seq_incarnation (id, started_at) SELECT 1, %(ts)s::timestamptz
    WHERE NOT EXISTS (SELECT 1 FROM incarnation) ON CONFLICT (id) DO NOTHING
),
jumping AS (  -- conversations whose last seqs a crash may have lost, at their first batch since: skip past them
    SELECT c.id FROM {conv} c
    WHERE c.id = ANY(%(ids)s::uuid[])
      AND c.created_at < COALESCE((SELECT started_at FROM incarnation), %(ts)s::timestamptz) + interval '5 minutes'
      AND NOT EXISTS (SELECT 1 FROM chats_seq_live l WHERE l.conversation_id = c.id)
),
marked AS (INSERT INTO chats_seq_live (conversation_id) SELECT id FROM jumping ON CONFLICT DO NOTHING),
bumped AS (
    UPDATE {conv} c
    SET last_seq = c.last_seq + counts.n + CASE WHEN jumping.id IS NULL THEN 0 ELSE {jump} END,
        last_activity_at = CASE WHEN counts.touch THEN %(ts)s::timestamptz ELSE c.last_activity_at END
    FROM counts JOIN locked ON locked.id = counts.conversation_id
         LEFT JOIN jumping ON jumping.id = counts.conversation_id
    WHERE c.id = ANY(%(ids)s::uuid[]) AND c.id = counts.conversation_id
    RETURNING c.id, c.last_seq - counts.n AS base
)
INSERT INTO {event} (conversation_id, run_id, seq, type, data, ts)
SELECT i.conversation_id, i.run_id, b.base + row_number() OVER (PARTITION BY i.conversation_id ORDER BY i.ord),
       i.type, i.data, %(ts)s::timestamptz
FROM input i JOIN bumped b ON b.id = i.conversation_id
RETURNING id, conversation_id, seq
"""

# More seqs than one conversation can publish in the commits a crash may lose (wal_writer_delay x 3, at most 30 s).
SEQ_CRASH_JUMP = 1_000_000
_PG_BATCH_SQL = _PG_BATCH.format(conv=Conversation._meta.db_table, event=RunEvent._meta.db_table, jump=SEQ_CRASH_JUMP)


def _pg_batch_sql(events: list[NewEvent], ts) -> tuple[str, dict]:
    rows = [
        {
            "c": str(e.conversation_id),
            "r": e.run_id and str(e.run_id),
            "t": e.type,
            "d": e.data,
            "a": e.touches_activity,
        }
        for e in events
    ]
    ids = sorted({e.conversation_id for e in events})  # the index finds the rows (the JSON hides them)
    return _PG_BATCH_SQL, {"rows": json.dumps(rows), "ids": ids, "ts": ts}


def _results_assign(events: list[NewEvent], rows) -> list:
    """Map the returned (id, conversation, seq) rows onto the batch: a conversation's seqs follow batch order."""
    by_conversation: dict = {}
    for event_id, conversation_id, seq in sorted(rows, key=lambda row: row[2], reverse=True):
        by_conversation.setdefault(conversation_id, []).append((event_id, seq))
    return [
        by_conversation[e.conversation_id].pop() if by_conversation.get(e.conversation_id) else _gone(e) for e in events
    ]


async def events_persist(events: list[NewEvent], ts) -> list:
    """Persist a batch (committed on return). Per event in order: (id, seq), Conversation.DoesNotExist if its
    conversation is gone, or the database's error for that event alone: an event the database refuses is tried
    on its own, so it never fails the other events of its batch (other runs', other orgs'). A lost connection
    fails the whole batch (raised)."""
    if not settings.IS_POSTGRES:
        return await asyncio.get_running_loop().run_in_executor(_persist_thread, _events_persist_generic, events, ts)
    try:
        return await _pg_persist(events, ts)
    except (psycopg.OperationalError, psycopg.InterfaceError):
        raise
    except psycopg.Error as exc:
        if len(events) == 1:
            return [exc]
    return [result for event in events for result in await events_persist([event], ts)]


async def _pg_persist(events: list[NewEvent], ts) -> list:
    conn = await _loop_connection()
    cursor = await conn.execute(*_pg_batch_sql(events, ts))
    return _results_assign(events, await cursor.fetchall())


def _events_persist_generic(events: list[NewEvent], ts) -> list:
    results = []
    for event in events:
        try:
            row = event_persist(event, ts)  # its own transaction (_insert_generic)
            results.append((row.id, row.seq))
        except Conversation.DoesNotExist as exc:
            results.append(exc)
    return results


# --- connections ------------------------------------------------------------------------------------------------

_persist_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="skyflo-event-persist")
_loop_connections: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, psycopg.AsyncConnection]" = (
    weakref.WeakKeyDictionary()
)
_connecting: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]" = weakref.WeakKeyDictionary()


async def _loop_connection() -> psycopg.AsyncConnection:
    loop = asyncio.get_running_loop()
    conn = _loop_connections.get(loop)
    if conn is not None and not conn.closed and not conn.broken:
        return conn
    async with _connecting.setdefault(loop, asyncio.Lock()):  # one connect, even if many events wait for it
        conn = _loop_connections.get(loop)
        if conn is None or conn.closed or conn.broken:
            conn = await psycopg.AsyncConnection.connect(**_connect_kwargs(), autocommit=True, prepare_threshold=0)
            # Prepared once, planned once: the batch statement's plan does not depend on its parameters.
            await conn.execute("SET synchronous_commit TO OFF")
            await conn.execute("SET plan_cache_mode TO force_generic_plan")
            _loop_connections[loop] = conn
    return conn


def _connect_kwargs() -> dict:
    db = connections["default"].settings_dict
    kwargs = {"dbname": db["NAME"], "user": db.get("USER"), "password": db.get("PASSWORD")}
    kwargs |= {"host": db.get("HOST"), "port": db.get("PORT")}
    django_only = {"pool", "isolation_level", "server_side_binding", "assume_role", "cursor_factory"}
    kwargs |= {k: v for k, v in db.get("OPTIONS", {}).items() if k not in django_only}
    return {k: v for k, v in kwargs.items() if v not in (None, "")}


async def event_log_warm() -> None:
    """Open this loop's connection and run the batch statement once for a conversation that does not exist
    (it writes nothing), so that it is prepared and planned before the first events of the first run."""
    if settings.IS_POSTGRES:
        probe = NewEvent(conversation_id=uuid.uuid4(), run_id=None, type="run.started", data={})
        await events_persist([probe], timezone.now())


def event_log_connections_close() -> None:
    """Close the persist thread's database connection (tests call it before the test database is dropped)."""
    barrier = threading.Barrier(_persist_thread._max_workers)

    def close():
        connection.close()
        barrier.wait(timeout=5)

    for future in [_persist_thread.submit(close) for _ in range(_persist_thread._max_workers)]:
        future.result()
