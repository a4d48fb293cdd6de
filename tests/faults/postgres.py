"""A throwaway PostgreSQL server (initdb + pg_ctl on a free port) that a fault test may restart or crash, and the
set-up of a stack's database on it: migrated and seeded by child processes (the test process keeps its own
database), handing back the ids and bearer tokens the test drives the stack with."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.live import REPO_ROOT, free_port


def _bindir() -> str:
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return str(Path(initdb).resolve().parent)
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    if not candidates:
        raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl) on this machine")
    return str(candidates[0].parent)


class ThrowawayPostgres:
    """`restart()` is a clean restart; `crash()` an immediate stop (no checkpoint, unflushed WAL lost) and start."""

    def __init__(self, *, wal_writer_delay_ms: int = 200) -> None:
        self.bindir = _bindir()
        self.dir = Path(tempfile.mkdtemp(prefix="skyflo-fault-pg-"))
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.dir, "postgres")
        self.port = free_port()
        self.data = self.dir / "data"
        self._pg("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust")
        self.options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=100 "
            f"-c wal_writer_delay={wal_writer_delay_ms}ms"
        )
        self.start()

    def _pg(self, tool: str, *args: str) -> None:
        subprocess.run(  # noqa: S603 - fixed binaries of the PostgreSQL install
            [*self.as_user, f"{self.bindir}/{tool}", *args], check=True, stdout=subprocess.DEVNULL
        )

    def start(self) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-o", self.options, "-l", str(self.dir / "log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        self.stop("fast")
        self.start()

    def crash(self) -> None:
        self.stop("immediate")
        self.start()

    def url(self, dbname: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def close(self) -> None:
        subprocess.run(  # noqa: S603
            [*self.as_user, f"{self.bindir}/pg_ctl", "-D", str(self.data), "-m", "immediate", "stop"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        shutil.rmtree(self.dir, ignore_errors=True)


def database_prepare(env: dict[str, str], *, toolserver, namespace: str) -> dict:
    """Create, migrate and seed the stack's database (child processes with the stack's environment)."""
    import psycopg

    dbname = env["DATABASE_URL"].rsplit("/", 1)[1]
    with psycopg.connect(env["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    run = {"env": env, "cwd": REPO_ROOT, "check": True, "capture_output": True, "text": True}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], **run)  # noqa: S603
    argv = [sys.executable, "-m", "tests.faults.seed", toolserver.url, toolserver.token, namespace]
    return json.loads(subprocess.run(argv, **run).stdout.strip().splitlines()[-1])  # noqa: S603
