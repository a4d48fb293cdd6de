"""Outside-in load benchmark: an independent client loads a scaled-mode Skyflo — one daphne, one Celery worker,
beat, the tool server, the sandbox cluster, PostgreSQL, Redis — as its users do. Not part of the test suite.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/skyflo_outside_in REDIS_URL=redis://127.0.0.1:6379/5 \\
        .venv/bin/python bench/outside_in.py --rest-rates 10 25 50 100 300 --runs 10 50 100 --burst 200 --idle 1000

- rest: `GET /api/v1/conversations/` of a user with 50 conversations at a fixed arrival rate for --rest-seconds
  (open loop: request i leaves at t0 + i/rate whatever came back before), 30 s client timeout; p50/p95/p99 and the
  answers by status, timeouts and resets apart.
- runs: N users, each with their own socket and conversation, post at the same moment; the model plans one
  read-only step (k8s_get), the executor runs it, the verifier passes, the responder streams --tokens tokens at
  --rate tokens/s, each stamped with its send time: relay latency per token (p50/p99), POST -> first token,
  tokens lost, tokens relayed per second.
- burst: --burst users post one message each at the same moment: the answers by status, and whether every run
  that was accepted (202) finished.
- idle: --idle authenticated sockets, resumed, then idle for --idle-seconds: daphne's and PostgreSQL's CPU.
- startup: --startup N... concurrent planning runs, --startup-rounds times: each start-up step's [p50, max] in ms
  from the worker's `start-up` log lines (slot wait, claim, context build, MCP session open or reuse, policy, to
  the model: checkpoint read and the planner's prompt, the model's first delta), and POST -> first token from
  outside. --mcp-reuse-s 0 gives the worker a session per run (as before the reuse), for an A/B.

CPU of PostgreSQL is every postgres process of the machine: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/skyflo_outside_in")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/5")

from bench.workflow_stream import (  # noqa: E402
    LLMProcess,
    World,
    cpu_seconds,
    database_ready,
    http_client,
    one_run,
    pct,
    script,
)

CONVERSATIONS_PER_READER = 50


def _postgres_cpu() -> float:
    """CPU seconds of every postgres process, including backends that ended (their time is added to the
    postmaster's children's time when it reaps them)."""
    pids = subprocess.run(["pgrep", "-x", "postgres"], capture_output=True, text=True, check=False).stdout.split()
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue  # a backend that ended meanwhile
        own = int(fields[11]) + int(fields[12])
        reaped = int(fields[13]) + int(fields[14]) if not _is_postgres(fields[1]) else 0
        total += (own + reaped) / os.sysconf("SC_CLK_TCK")
    return total


def _is_postgres(pid: str) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "postgres"
    except FileNotFoundError:
        return False


# --- REST at a fixed arrival rate ------------------------------------------------------------------------------


def rest(stack, token: str, rate: float, seconds: float) -> dict:
    import httpx

    async def load():
        limits = httpx.Limits(max_connections=2000, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=stack.url, timeout=30, limits=limits) as http:
            t0 = time.monotonic()

            async def one(i: int):
                await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
                started = time.monotonic()
                try:
                    answer = await http.get("/api/v1/conversations/", headers={"Authorization": f"Bearer {token}"})
                except httpx.TimeoutException:
                    return "timeout", None, None
                except httpx.TransportError:
                    return "reset", None, None
                return answer.status_code, (time.monotonic() - started) * 1000, answer.headers.get("Retry-After")

            return await asyncio.gather(*(one(i) for i in range(int(rate * seconds))))

    cpu = cpu_seconds(stack.web.pid), _postgres_cpu()
    answers = asyncio.run(load())
    by_status: dict[str, int] = {}
    for status, _, _ in answers:
        by_status[str(status)] = by_status.get(str(status), 0) + 1
    ok = [ms for status, ms, _ in answers if status == 200]
    refused_without_retry_after = sum(1 for s, _, ra in answers if s in (429, 503) and not ra)
    return {
        "rest_rate": rate,
        "requests": len(answers),
        "by_status": by_status,
        "refused_without_retry_after": refused_without_retry_after,
        "ok_ms_p50": round(pct(ok, 0.5), 1),
        "ok_ms_p95": round(pct(ok, 0.95), 1),
        "ok_ms_p99": round(pct(ok, 0.99), 1),
        "cpu_s_daphne": round(cpu_seconds(stack.web.pid) - cpu[0], 2),
        "cpu_s_postgres": round(_postgres_cpu() - cpu[1], 2),
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
    script(llm, turns, rate, False)


def runs(stack, toolserver, llm, n: int, tokens: int, rate: float) -> dict:
    planning_script(llm, n, tokens, rate)
    world = World(toolserver, n)
    results = [{} for _ in range(n)]
    cpu = {"daphne": cpu_seconds(stack.web.pid), "worker": cpu_seconds(stack.worker.pid), "postgres": _postgres_cpu()}

    async def all_runs():
        barrier = asyncio.Barrier(n)
        async with http_client(stack) as http:
            users = zip(world.tokens, world.conversations, results, strict=True)
            await asyncio.gather(*(one_run(stack, http, t, c, r, all_connected=barrier.wait) for t, c, r in users))

    wall = time.monotonic()
    asyncio.run(all_runs())
    wall = time.monotonic() - wall
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
        "cpu_s": {
            "daphne": round(cpu_seconds(stack.web.pid) - cpu["daphne"], 2),
            "worker": round(cpu_seconds(stack.worker.pid) - cpu["worker"], 2),
            "postgres": round(_postgres_cpu() - cpu["postgres"], 2),
        },
    }


# --- what a run does before its first token, per step ----------------------------------------------------------

STARTUP_STEPS = ("slot", "claim", "context", "mcp_session", "policy", "to_model", "model_first_delta")


def startup(stack, toolserver, llm, n: int, rate: float) -> dict:
    """N concurrent planning runs (20 tokens each); the worker's `run ... start-up:` lines (workflows/run_loop.py
    StartupClock, INFO) of their first drive give each step's p50 and max, beside POST -> first token from outside."""
    offset = stack.worker.log_path.stat().st_size
    outside = runs(stack, toolserver, llm, n, 20, rate)
    with stack.worker.log_path.open("rb") as log:
        log.seek(offset)
        lines = [line for line in log.read().decode(errors="replace").splitlines() if " start-up: " in line]
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

    script(llm, [{**plan([]), "repeat": True}, {**say("done", agent="responder"), "repeat": True}], 0, False)
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
                run = answer.json().get("run", {}).get("id") if answer.status_code == 202 else None
                return answer.status_code, (token, run)

            return await asyncio.gather(*(post(t, c) for t, c in zip(world.tokens, world.conversations, strict=True)))

    answers = asyncio.run(post_all())
    by_status: dict[str, int] = {}
    for status, _ in answers:
        by_status[str(status)] = by_status.get(str(status), 0) + 1
    accepted = [run for status, run in answers if status == 202]
    return {"burst": n, "by_status": by_status, "accepted_finished": _finished(stack, accepted)}


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
        before = cpu_seconds(stack.web.pid), _postgres_cpu()
        await asyncio.sleep(seconds)
        after = cpu_seconds(stack.web.pid), _postgres_cpu()
        open_at_end = sum(1 for ws in sockets if ws.state.name == "OPEN")
        for ws in sockets:
            await ws.close()
        return before, after, open_at_end

    before, after, open_at_end = asyncio.run(hold())
    return {
        "idle_sockets": n,
        "open_at_end": open_at_end,
        "daphne_core_pct": round((after[0] - before[0]) / seconds * 100, 1),
        "postgres_core_pct": round((after[1] - before[1]) / seconds * 100, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rest-rates", type=float, nargs="*", default=[10, 25, 50, 100, 300])
    parser.add_argument("--rest-seconds", type=float, default=60)
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
        stack = stack_start(env, beat=True)
        try:
            reader = reader_make(toolserver)
            for rate in args.rest_rates:
                print(json.dumps(rest(stack, reader, rate, args.rest_seconds)), flush=True)
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
