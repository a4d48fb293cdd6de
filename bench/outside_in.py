"""Outside-in load benchmark: an independent client loads a scaled-mode Skyflo — --web daphnes on one listening
socket, --workers Celery workers (thread pool of 50), beat, the tool server, the sandbox cluster, PostgreSQL,
Redis — as its users do. Not part of the test suite.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/skyflo_outside_in REDIS_URL=redis://127.0.0.1:6379/5 \\
        .venv/bin/python bench/outside_in.py --rest-rates 10 25 50 100 300 --runs 10 50 100 --burst 200 --idle 1000

- rest: `GET /api/v1/conversations/` of a user with 50 conversations at a fixed arrival rate for --rest-seconds
  (open loop: request i leaves at t0 + i/rate whatever came back before), 30 s client timeout; p50/p95/p99 and the
  answers by status, timeouts and resets apart; CPU per request. The client is `RawHTTP` (--rest-client httpx for
  httpx's, to compare).
- runs: N users, each with their own socket and conversation, post at the same moment; the model plans one
  read-only step (k8s_get), the executor runs it, the verifier passes, the responder streams --tokens tokens at
  --rate tokens/s, each stamped with its send time: relay latency per token (p50/p99), POST -> first token,
  tokens lost, tokens relayed per second, CPU per token relayed of each process.
- burst: --burst users post one message each at the same moment: the answers by status (refusals without
  Retry-After counted), and whether every run that was accepted (202) finished.
- idle: --idle authenticated sockets, resumed, then idle for --idle-seconds: daphne's and PostgreSQL's CPU.
- startup: --startup N... concurrent planning runs, --startup-rounds times: each start-up step's [p50, max] in ms
  from the worker's `start-up` log lines (slot wait, claim, context build, MCP session open or reuse, policy, to
  the model: checkpoint read and the planner's prompt, the model's first delta), and POST -> first token from
  outside. --mcp-reuse-s 0 gives the worker a session per run (as before the reuse), for an A/B.

Defaults: the README's scaled mode for a 2-core machine (2 web processes, 1 worker, pool 16). Every result line has
`cpu_s`: the CPU seconds of every process of the machine by role (`machine_cpu`: daphne, worker, beat, the tool
server with its kubectl runs, the sandbox, the model stand-in, PostgreSQL, Redis, and "bench", the client), so it
says which process was the limit. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/skyflo_outside_in")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/5")

from bench.workflow_stream import (  # noqa: E402
    LLMProcess,
    World,
    database_ready,
    http_client,
    one_run,
    pct,
)

CONVERSATIONS_PER_READER = 50


# Every process of the machine by role (a child that is not ours, kubectl or helm, counts for its parent): who
# is the limit when the two cores are full.
ROLES = (
    ("daphne", "daphne"), ("worker", "celery"), ("beat", "tests.live beat"), ("toolserver", "mcp_server"),
    ("sandbox", "sandbox"), ("llm", "tests.scripted_llm"), ("postgres", "postgres"), ("redis", "redis-server"),
)  # fmt: skip


def machine_cpu() -> dict[str, float]:
    """CPU seconds by role. Each process counts its own time and its reaped children's (postgres backends that
    ended, kubectl runs): every CPU second is counted once, by the process or by its parent once it ended."""
    tick = os.sysconf("SC_CLK_TCK")
    rows = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (FileNotFoundError, ProcessLookupError):
            continue
        role = "bench" if int(entry.name) == os.getpid() else next((r for r, mark in ROLES if mark in argv), None)
        rows[entry.name] = (fields[1], role, sum(int(f) for f in fields[11:15]) / tick)
    totals: dict[str, float] = {}
    for parent, role, cpu in rows.values():
        while role is None and parent in rows:  # kubectl, helm: the role of the process that started it
            parent, role = rows[parent][0], rows[parent][1]
        if role is not None:
            totals[role] = totals.get(role, 0.0) + cpu
    return totals


def cpu_since(before: dict[str, float]) -> dict[str, float]:
    """CPU seconds of each role since `before` (a machine_cpu()): a client ("bench") near a core's worth means the
    client, not the server, was the limit."""
    now = machine_cpu()
    return {role: round(now[role] - before.get(role, 0.0), 2) for role in sorted(now)}


# --- REST at a fixed arrival rate ------------------------------------------------------------------------------


class RawHTTP:
    """A minimal HTTP/1.1 client on asyncio streams, for GETs at a fixed arrival rate: keep-alive connections in a
    pool, a new one when none is free. httpx's AsyncClient costs several times its CPU per request (bench/README.md):
    on two cores the client, not the server, became the limit."""

    def __init__(self, url: str, timeout_s: float = 30):
        parts = urlsplit(url)
        self.host, self.port, self.timeout_s = parts.hostname, parts.port, timeout_s
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def get(self, path: str, headers: dict[str, str]) -> tuple[int | str, str | None]:
        """(status, Retry-After), or ("timeout" | "reset", None)."""
        lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{lines}\r\n".encode()
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self._exchange(request)
        except TimeoutError:
            return "timeout", None
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, IndexError):
            return "reset", None  # refused, closed mid-answer, or not HTTP

    async def _exchange(self, request: bytes) -> tuple[int, str | None]:
        reader, writer = await self._connection()
        try:
            writer.write(request)
            status, headers = await _response_head(reader)
            await _response_body(reader, headers)
        except BaseException:
            writer.close()  # a cancelled (timed out) or broken exchange leaves the connection unusable
            raise
        if headers.get("connection", "").lower() == "close":
            writer.close()
        else:
            self._idle.append((reader, writer))
        return status, headers.get("retry-after")

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        while self._idle:
            reader, writer = self._idle.pop()
            if not reader.at_eof():  # the server may have closed an idle connection
                return reader, writer
            writer.close()
        return await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()


async def _response_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    status = int((await reader.readuntil(b"\r\n")).split(b" ", 2)[1])
    headers = {}
    while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


async def _response_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> None:
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            await reader.readexactly(size + 2)
        await reader.readuntil(b"\r\n")  # no trailers from our server: the empty line after the last chunk
    else:
        raise ValueError("a response without a length")  # our server always sends one; counted as a reset


async def _httpx_gets(stack, path: str, headers: dict[str, str], rate: float, count: int) -> list[tuple]:
    """The same open loop on httpx's AsyncClient (--rest-client httpx), to compare the client's own CPU."""
    import httpx

    limits = httpx.Limits(max_connections=2000, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=stack.url, timeout=30, limits=limits) as http:

        async def one():
            try:
                answer = await http.get(path, headers=headers)
            except httpx.TimeoutException:
                return "timeout", None
            except httpx.TransportError:
                return "reset", None
            return answer.status_code, answer.headers.get("Retry-After")

        return await _open_loop(one, rate, count)


async def _raw_gets(stack, path: str, headers: dict[str, str], rate: float, count: int) -> list[tuple]:
    client = RawHTTP(stack.url)
    try:
        return await _open_loop(lambda: client.get(path, headers), rate, count)
    finally:
        client.close()


async def _open_loop(get, rate: float, count: int) -> list[tuple]:
    """Request i leaves at t0 + i/rate whatever came back before; (status, ms or None, Retry-After) each."""
    t0 = time.monotonic()

    async def one(i: int):
        await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
        started = time.monotonic()
        status, retry_after = await get()
        ms = (time.monotonic() - started) * 1000 if isinstance(status, int) else None
        return status, ms, retry_after

    return await asyncio.gather(*(one(i) for i in range(count)))


def rest(stack, token: str, rate: float, seconds: float, client: str = "raw") -> dict:
    gets = _raw_gets if client == "raw" else _httpx_gets
    headers = {"Authorization": f"Bearer {token}"}
    before = machine_cpu()
    answers = asyncio.run(gets(stack, "/api/v1/conversations/", headers, rate, int(rate * seconds)))
    cpu = cpu_since(before)
    by_status: dict[str, int] = {}
    for status, _, _ in answers:
        by_status[str(status)] = by_status.get(str(status), 0) + 1
    ok = [ms for status, ms, _ in answers if status == 200]
    refused_without_retry_after = sum(1 for s, _, ra in answers if s in (429, 503) and not ra)
    return {
        "rest_rate": rate,
        "client": client,
        "requests": len(answers),
        "by_status": by_status,
        "refused_without_retry_after": refused_without_retry_after,
        "ok_ms_p50": round(pct(ok, 0.5), 1),
        "ok_ms_p95": round(pct(ok, 0.95), 1),
        "ok_ms_p99": round(pct(ok, 0.99), 1),
        "cpu_s": cpu,
        "cpu_ms_per_request": {name: round(v * 1000 / max(1, len(answers)), 2) for name, v in cpu.items()},
    }


def reader_make(toolserver) -> str:
    from chats.models import Conversation

    world = World(toolserver, 1)
    for i in range(CONVERSATIONS_PER_READER - 1):
        Conversation.objects.create(org=world.cluster.org, cluster=world.cluster, owner=world.users[0], title=f"c{i}")
    return world.tokens[0]


# --- concurrent planning runs ------------------------------------------------------------------------------------


def planning_script(llm, n: int, tokens: int, rate: float) -> None:
    from tests.scripted_llm import call, plan, say, verdict

    text = " ".join(f"w{i}" for i in range(tokens))
    turns = (
        [plan([("List the pods in default", "k8s_get")])] * n
        + [call("k8s_get", {"kind": "pods", "namespace": "default"})] * n
        + [verdict(True, "listed")] * n
        + [{**say(text, agent="responder"), "stamp": True}] * n
    )
    llm.set_script(turns, tokens_per_second=rate)


def runs(stack, toolserver, llm, n: int, tokens: int, rate: float) -> dict:
    planning_script(llm, n, tokens, rate)
    world = World(toolserver, n)
    results = [{} for _ in range(n)]
    before = machine_cpu()

    async def all_runs():
        barrier = asyncio.Barrier(n)
        async with http_client(stack) as http:
            users = zip(world.tokens, world.conversations, results, strict=True)
            await asyncio.gather(*(one_run(stack, http, t, c, r, all_connected=barrier.wait) for t, c, r in users))

    wall = time.monotonic()
    asyncio.run(all_runs())
    wall = time.monotonic() - wall
    cpu = cpu_since(before)
    latencies = [ms for r in results for ms in r["latencies"]]
    first = [(r["first_token"] - r["posted"]) * 1000 for r in results if "first_token" in r]
    streaming_s = max(r["finished"] for r in results) - min(r.get("first_token", r["finished"]) for r in results)
    return {
        "runs": n,
        "statuses": sorted({r["status"] for r in results}),
        "tokens_lost": sum(tokens - len(r["tokens"]) for r in results),
        "relay_ms_p50": round(pct(latencies, 0.5), 1),
        "relay_ms_p99": round(pct(latencies, 0.99), 1),
        "first_token_ms_p50": round(pct(first, 0.5), 1),
        "first_token_ms_max": round(max(first), 1) if first else None,
        "tokens_per_s_relayed": round(len(latencies) / streaming_s, 1) if streaming_s > 0 else None,
        "wall_s": round(wall, 2),
        "cpu_s": cpu,
        # All the runs' CPU (planning, tool call, POSTs, sockets) over the tokens relayed: what a token costs here.
        "cpu_ms_per_token": {name: round(v * 1000 / len(latencies), 3) for name, v in cpu.items() if latencies},
    }


# --- what a run does before its first token, per step ----------------------------------------------------------

STARTUP_STEPS = ("slot", "claim", "context", "mcp_session", "policy", "to_model", "model_first_delta")


def startup(stack, toolserver, llm, n: int, rate: float) -> dict:
    """N concurrent planning runs (20 tokens each); the worker's `run ... start-up:` lines (workflows/run_loop.py
    StartupClock, INFO) of their first drive give each step's p50 and max, beside POST -> first token from outside."""
    offsets = [proc.log_path.stat().st_size for proc in stack.workers]
    outside = runs(stack, toolserver, llm, n, 20, rate)
    lines = []
    for proc, offset in zip(stack.workers, offsets, strict=True):
        with proc.log_path.open("rb") as log:
            log.seek(offset)
            lines += [line for line in log.read().decode(errors="replace").splitlines() if " start-up: " in line]
    steps: dict[str, list[float]] = {step: [] for step in STARTUP_STEPS}
    reused = 0
    for line in lines:
        if "resumed=True" in line:
            continue
        reused += "mcp_reused=True" in line
        for part in line.split(" start-up: ", 1)[1].split():
            name, _, value = part.partition("=")
            if name in steps and value.endswith("ms"):
                steps[name].append(float(value[:-2]))
    return {
        "startup_runs": n,
        "lines": len(lines),
        "mcp_reused": reused,
        **{f"{step}_ms": [round(pct(v, 0.5), 1), round(max(v), 1)] if v else None for step, v in steps.items()},
        "first_token_ms_p50": outside["first_token_ms_p50"],
        "first_token_ms_max": outside["first_token_ms_max"],
        "cpu_s": outside["cpu_s"],
    }


# --- a burst of messages -----------------------------------------------------------------------------------------


def burst(stack, toolserver, llm, n: int) -> dict:
    from tests.scripted_llm import plan, say

    llm.set_script([{**plan([]), "repeat": True}, {**say("done", agent="responder"), "repeat": True}])
    world = World(toolserver, n)

    async def post_all():
        async with http_client(stack) as http:

            async def post(token, conversation_id):
                try:
                    answer = await http.post(
                        f"/conversations/{conversation_id}/messages/",
                        json={"content": "hello"},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                except Exception as error:  # noqa: BLE001 - a benchmark counts every kind of failure
                    return type(error).__name__, None
                if answer.status_code == 202:
                    return 202, (token, answer.json()["run"]["id"])
                return answer.status_code, answer.headers.get("Retry-After")

            return await asyncio.gather(*(post(t, c) for t, c in zip(world.tokens, world.conversations, strict=True)))

    before = machine_cpu()
    answers = asyncio.run(post_all())
    cpu = cpu_since(before)
    by_status: dict[str, int] = {}
    for status, _ in answers:
        by_status[str(status)] = by_status.get(str(status), 0) + 1
    accepted = [run for status, run in answers if status == 202]
    refused_without_retry_after = sum(1 for status, ra in answers if status in (429, 503) and not ra)
    return {
        "burst": n,
        "by_status": by_status,
        "refused_without_retry_after": refused_without_retry_after,
        "accepted_finished": _finished(stack, accepted),
        "cpu_s": cpu,
    }


def _finished(stack, accepted: list[tuple[str, str]], timeout_s: float = 120) -> str:
    import httpx

    pending = dict(accepted)
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=f"{stack.url}/api/v1", timeout=30) as http:
        while pending and time.monotonic() < deadline:
            for token, run_id in list(pending.items()):
                answer = http.get(f"/runs/{run_id}/", headers={"Authorization": f"Bearer {token}"})
                if answer.status_code == 200 and answer.json()["status"] in {"succeeded", "failed", "cancelled"}:
                    del pending[token]
            time.sleep(1)
    return f"{len(accepted) - len(pending)} of {len(accepted)}"


# --- idle sockets ------------------------------------------------------------------------------------------------


def idle(stack, toolserver, n: int, seconds: float) -> dict:
    import websockets

    world = World(toolserver, n)

    async def hold():
        sockets = []
        for token, conversation_id in zip(world.tokens, world.conversations, strict=True):
            ws = await websockets.connect(
                f"{stack.ws_url}/ws/conversations/{conversation_id}/",
                subprotocols=["skyflo.v1", f"bearer.{token}"],
                additional_headers={"Origin": stack.url},
            )
            await ws.send(json.dumps({"type": "resume", "after": 0}))
            sockets.append(ws)
        await asyncio.sleep(2)  # the last resumes answered
        before = machine_cpu()
        await asyncio.sleep(seconds)
        cpu = cpu_since(before)
        open_at_end = sum(1 for ws in sockets if ws.state.name == "OPEN")
        for ws in sockets:
            await ws.close()
        return cpu, open_at_end

    cpu, open_at_end = asyncio.run(hold())
    return {
        "idle_sockets": n,
        "open_at_end": open_at_end,
        **{f"{name}_core_pct": round(cpu[name] / seconds * 100, 1) for name in cpu},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rest-rates", type=float, nargs="*", default=[10, 25, 50, 100, 300])
    parser.add_argument("--rest-seconds", type=float, default=60)
    parser.add_argument("--rest-client", choices=["raw", "httpx"], default="raw", help="httpx: to compare its CPU")
    # The README's scaled mode for a 2-core machine (chosen with this benchmark; bench/README.md).
    parser.add_argument("--web", type=int, default=2, help="daphne processes (on one listening socket)")
    parser.add_argument("--workers", type=int, default=1, help="Celery worker processes")
    parser.add_argument("--pool", type=int, default=16, help="SKYFLO_DB_POOL_SIZE of every process")
    parser.add_argument("--runs", type=int, nargs="*", default=[10, 50, 100])
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--idle-seconds", type=float, default=60)
    parser.add_argument("--startup", type=int, nargs="*", default=[], help="per-step start-up at these N (INFO logs)")
    parser.add_argument("--startup-rounds", type=int, default=3)
    parser.add_argument("--mcp-reuse-s", help="SKYFLO_MCP_SESSION_REUSE_S of the worker (0: a session per run)")
    args = parser.parse_args()

    database_ready()
    from mcp_server.testing import run_toolserver
    from sandbox.testing import run_sandbox
    from tests.live import _stack_env, stack_start
    from tests.llm import ScriptedLLMHandle

    llm_server = LLMProcess()
    llm = ScriptedLLMHandle(llm_server.url, "bench")
    redis_db = int(os.environ["REDIS_URL"].rsplit("/", 1)[1] or 0)
    overrides = {
        "SKYFLO_MAX_CONCURRENT_RUNS_PER_USER": "100",
        "SKYFLO_LOG_LEVEL": "WARNING",
        "SKYFLO_WORKER_CONCURRENCY": "50",  # the README's scaled-mode command line
        "SKYFLO_DB_POOL_SIZE": str(args.pool),
        "SKYFLO_MESSAGE_RATE": "100000/min",
        "SKYFLO_USER_RATE": "1000000/min",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
    }
    if args.startup:
        overrides["SKYFLO_LOG_LEVEL"] = "INFO"  # the start-up lines; every event is logged too (~CPU)
    if args.mcp_reuse_s is not None:
        overrides["SKYFLO_MCP_SESSION_REUSE_S"] = args.mcp_reuse_s
    env = _stack_env(llm.base_url, redis_db, overrides)
    with run_sandbox() as sandbox, run_toolserver(sandbox.env) as toolserver:
        stack = stack_start(env, beat=True, web=args.web, workers=args.workers)
        try:
            reader = reader_make(toolserver)
            for rate in args.rest_rates:
                print(json.dumps(rest(stack, reader, rate, args.rest_seconds, args.rest_client)), flush=True)
            runs(stack, toolserver, llm, 1, 20, args.rate)  # warm-up: the first run of a process is cold
            for _ in range(args.startup_rounds if args.startup else 0):
                for n in args.startup:
                    print(json.dumps(startup(stack, toolserver, llm, n, args.rate)), flush=True)
            for n in args.runs:
                print(json.dumps(runs(stack, toolserver, llm, n, args.tokens, args.rate)), flush=True)
            if args.burst:
                print(json.dumps(burst(stack, toolserver, llm, args.burst)), flush=True)
            if args.idle:
                print(json.dumps(idle(stack, toolserver, args.idle, args.idle_seconds)), flush=True)
        finally:
            stack.stop()
            llm_server.stop()


if __name__ == "__main__":
    main()
