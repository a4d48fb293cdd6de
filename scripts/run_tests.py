"""Find or start PostgreSQL and Redis for the test suite, then run pytest.

Order for each service: the URL given in the environment (DATABASE_URL / REDIS_URL), else the local default port
when it answers, else a throwaway server started from the installed binaries (removed afterwards), else a clear
message saying what to install.
"""

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    with contextlib.ExitStack() as stack:
        env = dict(os.environ)
        env["DATABASE_URL"] = env.get("DATABASE_URL") or stack.enter_context(_postgres())
        env["REDIS_URL"] = env.get("REDIS_URL") or stack.enter_context(_redis())
        env.setdefault("DJANGO_DEBUG", "1")
        env.setdefault("DJANGO_SECRET_KEY", "test-only-" + "x" * 60)
        env["PATH"] = f"{ROOT / '.bin'}{os.pathsep}{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        for name in ("LLM_BASE_URL", "LLM_API_KEY", "OPENAI_API_KEY", "MCP_SERVER_URL", "MCP_SERVER_TOKEN"):
            env.pop(name, None)  # tests configure these themselves; a developer's real key must not leak in
        print(f"==> PostgreSQL {_safe(env['DATABASE_URL'])}, Redis {_safe(env['REDIS_URL'])}", flush=True)
        cmd = [sys.executable, "-m", "pytest", *argv]
        return subprocess.call(cmd, cwd=ROOT, env=env)


def _safe(url: str) -> str:
    return url.split("@")[-1]


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(port: int, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _port_open(port):
            return
        time.sleep(0.2)
    raise SystemExit(f"{what} did not start on port {port} within {seconds:.0f}s")


@contextlib.contextmanager
def _postgres():
    if _port_open(5432):
        yield "postgres://postgres@127.0.0.1:5432/skyflo"
        return
    bindir = _pg_bindir()
    if bindir is None:
        raise SystemExit(
            "No PostgreSQL found: set DATABASE_URL, start PostgreSQL on 127.0.0.1:5432, "
            "or install the server binaries (Debian: apt-get install postgresql)."
        )
    tmp = Path(tempfile.mkdtemp(prefix="skyflo-pg-"))
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(tmp, "postgres")
    port = _free_port()
    data = tmp / "data"
    subprocess.run(
        [*as_user, f"{bindir}/initdb", "-D", str(data), "-U", "postgres", "-A", "trust"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    opts = f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    subprocess.run(
        [*as_user, f"{bindir}/pg_ctl", "-D", str(data), "-o", opts, "-l", str(tmp / "log"), "-w", "start"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    try:
        _wait_for(port, "PostgreSQL")
        yield f"postgres://postgres@127.0.0.1:{port}/skyflo"
    finally:
        subprocess.run(
            [*as_user, f"{bindir}/pg_ctl", "-D", str(data), "-m", "immediate", "stop"],
            stdout=subprocess.DEVNULL,
            check=False,
        )
        shutil.rmtree(tmp, ignore_errors=True)


def _pg_bindir() -> str | None:
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return str(Path(initdb).resolve().parent)
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return str(Path(candidates[0]).parent) if candidates else None


@contextlib.contextmanager
def _redis():
    if _port_open(6379):
        yield "redis://127.0.0.1:6379/0"
        return
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit(
            "No Redis found: set REDIS_URL, start Redis on 127.0.0.1:6379, "
            "or install it (Debian: apt-get install redis-server)."
        )
    port = _free_port()
    proc = subprocess.Popen(  # noqa: S603 - fixed argv, our own throwaway server
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        _wait_for(port, "Redis")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
