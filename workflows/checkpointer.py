"""LangGraph checkpoints: PostgreSQL (AsyncPostgresSaver over a pool) or SQLite in embedded mode.

One saver per process, created on the run loop and set up (its tables migrated) once. Thread = conversation.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import quote

from django.conf import settings

CHECKPOINT_RECONNECT_S = 300.0  # the pool keeps trying to reconnect this long (a PostgreSQL restart, a failover)

_saver = None
_lock: asyncio.Lock | None = None


def postgres_conninfo() -> str:
    db = settings.DATABASES["default"]
    auth = quote(db.get("USER") or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db.get("HOST") or "localhost"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgresql://{auth}{'@' if auth else ''}{host}{port}/{quote(str(db['NAME']), safe='')}"


def sqlite_path() -> str:
    return str(Path(settings.VAR_DIR) / "checkpoints.sqlite3")


async def checkpointer_get():
    """The process's saver (call on the run loop)."""
    global _saver, _lock
    if _saver is not None:
        return _saver
    if _lock is None:
        _lock = asyncio.Lock()
    async with _lock:
        if _saver is None:
            _saver = await (_postgres_saver() if settings.IS_POSTGRES else _sqlite_saver())
    return _saver


async def _postgres_saver():
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    # `check`: a connection is tested before it is handed out, so one left dead by a PostgreSQL restart or
    # failover is replaced instead of failing the run that draws it.
    pool = AsyncConnectionPool(
        postgres_conninfo(),
        min_size=1,
        max_size=10,
        open=False,
        check=AsyncConnectionPool.check_connection,
        reconnect_timeout=CHECKPOINT_RECONNECT_S,
        kwargs={"autocommit": True, "prepare_threshold": None, "row_factory": dict_row},
    )
    await pool.open()
    saver = AsyncPostgresSaver(pool)
    await saver.setup()
    return saver


async def _sqlite_saver():
    import aiosqlite
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    Path(settings.VAR_DIR).mkdir(parents=True, exist_ok=True)
    conn = aiosqlite.connect(sqlite_path())
    # aiosqlite's worker thread is not a daemon: once daphne stops, it would keep the web process alive forever.
    # SQLite's commits survive the process ending mid-write, and recovery re-runs what was in flight.
    conn._thread.daemon = True  # noqa: SLF001
    await conn
    saver = AsyncSqliteSaver(conn)
    await saver.setup()
    return saver


def checkpoint_thread_delete(thread_id: str) -> None:
    """Delete a conversation's checkpoints (sync; from the web process after the conversation is gone)."""
    if settings.IS_POSTGRES:
        from langgraph.checkpoint.postgres import PostgresSaver

        with PostgresSaver.from_conn_string(postgres_conninfo()) as saver:
            saver.setup()
            saver.delete_thread(str(thread_id))
        return
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    if not Path(sqlite_path()).exists():
        return
    with sqlite3.connect(sqlite_path()) as conn:
        saver = SqliteSaver(conn)
        saver.setup()
        saver.delete_thread(str(thread_id))
