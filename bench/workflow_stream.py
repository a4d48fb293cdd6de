"""Workflow streaming benchmark: scripted LLM -> Celery worker (engine, DeltaStream) -> PostgreSQL -> Redis ->
daphne -> WebSocket clients, with real processes. Not part of the test suite.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/skyflo_wf_bench REDIS_URL=redis://127.0.0.1:6379/4 \\
        .venv/bin/python bench/workflow_stream.py --runs 1 10 50 --tokens 200 --rate 100

For each N: N users' conversations, one WebSocket each, N messages posted at once. The scripted LLM answers the
planner with "no tool needed" and streams the responder's answer: `--tokens` tokens at `--rate` tokens/s per run,
every token stamped with its send time ("w7@<epoch s>"). Per token: receive time at the WebSocket client minus the
LLM's send time (p50/p99/max), tokens lost (expected minus received), POST -> first token, CPU seconds per process.
Then: engine overhead per step (runs of K one-call read-only steps with an instant LLM, minus a no-step run) and
per tool call (tool.call -> tool.result), and cancel latency (POST cancel mid-stream -> run.finished received).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skyflo.settings")
os.environ.setdefault("DJANGO_DEBUG", "1")  # this process only (fixtures); the stack runs with DEBUG off
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-" + "x" * 60)
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/skyflo_wf_bench")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/4")


class LLMProcess:
    """The scripted LLM in a process of its own, as a real LLM endpoint is: in the bench process it would share
    a GIL with the WebSocket clients, and each side's work would show up in the other's timestamps."""

    def __init__(self):
        import subprocess

        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.scripted_llm", "--port", "0"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline()  # "listening on http://host:port"
        if not line.startswith("listening on "):
            self.process.kill()
            raise RuntimeError(f"scripted LLM did not start: {line!r}")
        self.url = line.split()[-1]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def database_ready() -> None:
    """The benchmark's database created and migrated, and Django set up in this process (for set-up rows)."""
    import psycopg

    url = os.environ["DATABASE_URL"]
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # set-up speed only
    call_command("migrate", verbosity=0)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ts_epoch(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


class World:
    """Users, org, cluster and conversations for the runs (set-up rows written directly)."""

    def __init__(self, toolserver, n: int):
        from guardian.shortcuts import assign_perm

        from chats.models import Conversation
        from orgs.models import Role
        from tests.accounts import make_cluster, make_member, make_org

        tag = uuid.uuid4().hex[:10]
        org = make_org(f"bench-{tag}")
        self.cluster = make_cluster(org, url=toolserver.url, token=toolserver.token, default_namespace="default")
        from tests.live import access_token

        self.users, self.conversations, self.tokens = [], [], []
        for i in range(n):
            user = make_member(org, Role.OPERATOR, email=f"bench-{tag}-{i}@example.com")
            assign_perm("orgs.use_cluster", user, self.cluster)
            conversation = Conversation.objects.create(org=org, cluster=self.cluster, owner=user)
            self.users.append(user)
            self.conversations.append(str(conversation.id))
            self.tokens.append(access_token(user))


def http_client(stack):
    """One HTTP client for all simulated users (per-request tokens): an httpx client per user would build an SSL
    context each (~15 ms of CPU), 0.75 s for 50 users, spent on the bench's side of the machine's 2 cores at the
    moment the runs start."""
    import httpx

    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    return httpx.AsyncClient(base_url=f"{stack.url}/api/v1", timeout=60, limits=limits)


def run_alone(stack, token: str, conversation_id: str, out: dict, **kwargs) -> None:
    async def alone():
        async with http_client(stack) as http:
            await one_run(stack, http, token, conversation_id, out, **kwargs)

    asyncio.run(alone())


async def one_run(
    stack, http, token: str, conversation_id: str, out: dict, *, cancel_after_first=False, all_connected=None
) -> None:
    import websockets

    auth = {"Authorization": f"Bearer {token}"}
    uri = f"{stack.ws_url}/ws/conversations/{conversation_id}/"
    async with websockets.connect(
        uri, subprotocols=["skyflo.v1", f"bearer.{token}"], additional_headers={"Origin": stack.url}
    ) as ws:
        await ws.send(json.dumps({"type": "resume", "after": 0}))  # as the chat UI does when its socket opens
        if all_connected is not None:
            await all_connected()
        posted_at = time.time()
        response = await http.post(
            f"/conversations/{conversation_id}/messages/", json={"content": "tell me"}, headers=auth
        )
        response.raise_for_status()
        run_id = response.json()["run"]["id"]
        out.update(run=run_id, posted=posted_at, latencies=[], tokens=set(), events=[], arrivals=[])
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), timeout=120))
            received = time.time()
            out["events"].append((frame["type"], frame["ts"], received, frame["data"]))
            if frame["type"] == "message.delta" and frame["data"]["agent"] == "responder":
                out.setdefault("first_token", received)
                frame_ts = ts_epoch(frame["ts"])
                for piece in frame["data"]["text"].split():
                    word, _, sent = piece.partition("@")
                    if sent:
                        out["tokens"].add(word)
                        out["latencies"].append((received - float(sent)) * 1000)
                        out["arrivals"].append((received, out["latencies"][-1], frame_ts))
                if cancel_after_first and "cancel_at" not in out:
                    out["cancel_at"] = time.time()
                    (await http.post(f"/runs/{run_id}/cancel/", headers=auth)).raise_for_status()
            if frame["type"] == "run.finished":
                out["finished"] = received
                out["status"] = frame["data"]["status"]
                return


def streaming(stack, toolserver, llm, n: int, tokens: int, rate: float, llm_pid: int) -> dict:
    from tests.scripted_llm import plan, say

    text = " ".join(f"w{i}" for i in range(tokens))
    answer = {**say(text, agent="responder"), "repeat": True, "stamp": True}  # the planner's JSON stays unstamped
    llm.set_script([{**plan([]), "repeat": True}, answer], tokens_per_second=rate)
    world = World(toolserver, n)
    pids = {"daphne": stack.web.pid, "toolserver": toolserver.process.pid, "llm": llm_pid, "clients": os.getpid()}
    pids |= {f"worker{i}": proc.pid for i, proc in enumerate(stack.workers)}
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    wall = time.monotonic()
    results = [{} for _ in range(n)]

    async def all_runs():
        # The users have their conversations open (the chat page opens its socket on load) and send their
        # messages at the same moment: the sockets connect first, then all N messages are posted at once.
        barrier = asyncio.Barrier(n)
        async with http_client(stack) as http:
            users = zip(world.tokens, world.conversations, results, strict=True)
            await asyncio.gather(*(one_run(stack, http, t, c, r, all_connected=barrier.wait) for t, c, r in users))

    asyncio.run(all_runs())
    wall = time.monotonic() - wall
    if os.environ.get("BENCH_TRACE"):
        for kind, ts, _received, _ in results[0]["events"][:8]:
            print(f"  {kind:20} sent +{(ts_epoch(ts) - results[0]['posted']) * 1000:8.1f} ms", flush=True)
    if os.environ.get("BENCH_DUMP"):  # per run: (receive time, latency ms) of every token, for a timeline
        rows = [[(r["posted"], r.get("first_token"))] + r["arrivals"] for r in results]
        Path(f"{os.environ['BENCH_DUMP']}-{n}.json").write_text(json.dumps(rows))
        events = [
            {
                "posted": r["posted"],
                "events": [(t, ts_epoch(ts), got) for t, ts, got, _ in r["events"] if t != "message.delta"],
            }
            for r in results
        ]
        Path(f"{os.environ['BENCH_DUMP']}-{n}-events.json").write_text(json.dumps(events))
    cpu = {name: round(cpu_seconds(pid) - cpu_before[name], 2) for name, pid in pids.items()}
    latencies = [ms for r in results for ms in r["latencies"]]
    lost = sum(tokens - len(r["tokens"]) for r in results)
    first = [(r["first_token"] - r["posted"]) * 1000 for r in results if "first_token" in r]
    together = all_streaming(results)
    return {
        "runs": n,
        "statuses": sorted({r["status"] for r in results}),
        "tokens_expected": tokens * n,
        "tokens_lost": lost,
        "latency_ms_p50": round(pct(latencies, 0.5), 1),
        "latency_ms_p99": round(pct(latencies, 0.99), 1),
        "latency_ms_max": round(max(latencies), 1) if latencies else None,
        "all_streaming_s": round(together["seconds"], 2),
        "all_streaming_tokens": len(together["latencies"]),
        "all_streaming_latency_ms_p50": round(pct(together["latencies"], 0.5), 1),
        "all_streaming_latency_ms_p99": round(pct(together["latencies"], 0.99), 1),
        "post_to_first_token_ms_p50": round(pct(first, 0.5), 1),
        "post_to_first_token_ms_max": round(max(first), 1) if first else None,
        "wall_s": round(wall, 2),
        "cpu_s": cpu,
    }


def all_streaming(results: list[dict]) -> dict:
    """The tokens the LLM sent while every run was streaming (from the last run's first token to the first run's
    last): the relay at exactly N concurrent streams, without the runs' starts and ends around it."""
    sends = [[received - ms / 1000 for received, ms, _ in r["arrivals"]] for r in results if r["arrivals"]]
    if len(sends) < len(results):
        return {"seconds": 0.0, "latencies": []}
    start, end = max(min(s) for s in sends), min(max(s) for s in sends)
    latencies = [ms for r in results for received, ms, _ in r["arrivals"] if start <= received - ms / 1000 <= end]
    return {"seconds": max(0.0, end - start), "latencies": latencies}


def overhead(stack, toolserver, llm, steps: int = 5, repeats: int = 3) -> dict:
    from tests.scripted_llm import call, plan, say, verdict

    def run_once(with_steps: int) -> tuple[float, list[float]]:
        turns = [plan([(f"look {i}", "k8s_get") for i in range(with_steps)])]
        turns += [call("k8s_get", {"kind": "namespace", "name": "default"}) for _ in range(with_steps)]
        if with_steps:
            turns.append(verdict(True, "ok"))
        turns.append(say("done", agent="responder"))
        llm.set_script(turns)
        world = World(toolserver, 1)
        out: dict = {}
        run_alone(stack, world.tokens[0], world.conversations[0], out)
        events = out["events"]
        started = next(ts_epoch(ts) for t, ts, _, _ in events if t == "run.started")
        finished = next(ts_epoch(ts) for t, ts, _, _ in events if t == "run.finished")
        calls = {d["call_id"]: ts_epoch(ts) for t, ts, _, d in events if t == "tool.call"}
        tool_ms = [(ts_epoch(ts) - calls[d["call_id"]]) * 1000 for t, ts, _, d in events if t == "tool.result"]
        return (finished - started) * 1000, tool_ms

    base = statistics.median(run_once(0)[0] for _ in range(repeats))
    with_steps, tool_ms = [], []
    for _ in range(repeats):
        total, tools = run_once(steps)
        with_steps.append(total)
        tool_ms += tools
    # A step here = one executor LLM turn (instant) + one k8s_get through MCP + the step's events; the verifier
    # turn (instant) is spread over the steps.
    return {
        "run_without_steps_ms": round(base, 1),
        "per_step_ms": round((statistics.median(with_steps) - base) / steps, 1),
        "tool_call_to_result_ms_p50": round(pct(tool_ms, 0.5), 1),
        "tool_call_to_result_ms_p99": round(pct(tool_ms, 0.99), 1),
    }


def cancel_latency(stack, toolserver, llm, repeats: int = 5) -> dict:
    from tests.scripted_llm import plan, say

    text = " ".join(f"w{i}" for i in range(2000))
    answer = {**say(text, agent="responder"), "repeat": True, "stamp": True}
    llm.set_script([{**plan([]), "repeat": True}, answer], tokens_per_second=100)
    world = World(toolserver, repeats)
    latencies = []
    for token, conversation in zip(world.tokens, world.conversations, strict=True):
        out: dict = {}
        run_alone(stack, token, conversation, out, cancel_after_first=True)
        assert out["status"] == "cancelled", out["status"]
        latencies.append((out["finished"] - out["cancel_at"]) * 1000)
    return {"cancel_to_finished_ms_p50": round(pct(latencies, 0.5), 1), "max_ms": round(max(latencies), 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument("--workers", type=int, default=1, help="Celery worker processes (threads pool each)")
    args = parser.parse_args()

    database_ready()
    from mcp_server.testing import run_toolserver
    from sandbox.testing import run_sandbox
    from tests.live import _stack_env, stack_start
    from tests.llm import ScriptedLLMHandle

    llm_server = LLMProcess()
    llm = ScriptedLLMHandle(llm_server.url, "bench")
    redis_db = int(os.environ["REDIS_URL"].rsplit("/", 1)[1] or 0)
    env = _stack_env(
        llm.base_url,
        redis_db,
        {
            "SKYFLO_MAX_CONCURRENT_RUNS_PER_USER": "100",
            "SKYFLO_LOG_LEVEL": "WARNING",
            "SKYFLO_WORKER_CONCURRENCY": str(max(args.runs) + 10),
            # Production settings, as deployed (the test stacks run with DEBUG on).
            "DJANGO_DEBUG": "0",
            "DJANGO_SECURE_SSL_REDIRECT": "0",
        },
    )
    report: dict = {"streaming": []}
    with run_sandbox() as sandbox, run_toolserver(sandbox.env) as toolserver:
        stack = stack_start(env, beat=False)
        for _ in range(args.workers - 1):
            stack.worker_start()
        try:
            streaming(
                stack, toolserver, llm, 1, 20, args.rate, llm_server.process.pid
            )  # warm-up: the first run of a process is cold
            for n in args.runs:
                result = streaming(stack, toolserver, llm, n, args.tokens, args.rate, llm_server.process.pid)
                report["streaming"].append(result)
                print(json.dumps(result), flush=True)
            if not args.skip_overhead:
                report["overhead"] = overhead(stack, toolserver, llm)
                print(json.dumps(report["overhead"]), flush=True)
                report["cancel"] = cancel_latency(stack, toolserver, llm)
                print(json.dumps(report["cancel"]), flush=True)
        finally:
            stack.stop()
            llm_server.stop()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
