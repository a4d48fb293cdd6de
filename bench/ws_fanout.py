"""WebSocket fan-out benchmark: publisher → PostgreSQL log → Redis channel layer → daphne → N WebSocket clients.

    .venv/bin/python bench/ws_fanout.py --conversations 1 10 50 --tokens 300

For each N it starts daphne on a free port, creates a user and N conversations, connects N clients (bearer
subprotocol), and starts a separate producer process that runs one synthetic run per conversation concurrently:
run.started, a few step/tool events, and `--tokens` token deltas at `--rate` tokens/s through DeltaStream, then
run.finished. It reports delivered and lost events (every seq of the log must reach its client exactly once, in
order) and publish-to-receive latency p50/p99 (receive time minus the frame's `ts`, stamped by the publisher).
See bench/README.md.
"""

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.live import free_port  # noqa: E402

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/skyflo_chats_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/2"


def _env() -> dict:
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", DEFAULT_DB)
    env.setdefault("REDIS_URL", DEFAULT_REDIS)
    # Production settings, as deployed: DEBUG off (no SQL recording, no debug cursor), plain HTTP on 127.0.0.1.
    env.setdefault("DJANGO_DEBUG", "0")
    env.setdefault("DJANGO_SECRET_KEY", "bench-only-" + "x" * 60)
    env.setdefault("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")
    env.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
    env.setdefault("SKYFLO_LOG_LEVEL", "WARNING")
    env["DJANGO_SETTINGS_MODULE"] = "skyflo.settings"
    return env


def _django():
    os.environ.update(_env())
    import django

    django.setup()


def _database_ensure(env: dict) -> None:
    url = env["DATABASE_URL"]
    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)


def _fixtures(n: int) -> tuple[str, list[str]]:
    from django.contrib.auth.hashers import make_password
    from rest_framework_simplejwt.tokens import AccessToken

    from chats.models import Conversation
    from orgs.models import ClusterConnection, Membership, Organization, User

    stamp = f"{time.time_ns()}"
    org = Organization.objects.create(slug=f"bench{stamp}", name="Bench")
    user = User.objects.create(email=f"bench{stamp}@example.com", password=make_password(None))
    Membership.objects.create(org=org, user=user, role="owner")
    cluster = ClusterConnection(org=org, name="bench", mcp_server_url="http://127.0.0.1:9/mcp")
    cluster.mcp_server_token = "unused"  # noqa: S105 - no tool server in this benchmark
    cluster.save()
    conversations = [
        Conversation.objects.create(org=org, cluster=cluster, owner=user, title=f"bench {i}") for i in range(n)
    ]
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=__import__("datetime").timedelta(hours=1))
    return str(token), [str(c.pk) for c in conversations]


def _daphne(env: dict, port: int) -> subprocess.Popen:
    daphne = ROOT / ".venv" / "bin" / "daphne"
    cmd = [str(daphne) if daphne.exists() else "daphne", "-b", "127.0.0.1", "-p", str(port), "skyflo.asgi:application"]
    log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as daphne
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    log.seek(0)
    raise RuntimeError("daphne did not start: " + log.read().decode()[-2000:])


def _parse_ts(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


async def _client(url, token, ready, ready_count, n, results, cid, connecting, all_done):
    from websockets.asyncio.client import connect

    frames = []
    async with connecting:
        ws = await connect(
            url, subprotocols=["skyflo.v1", f"bearer.{token}"], origin="http://127.0.0.1", compression=None
        )
    async with ws:
        await ws.send(json.dumps({"type": "resume", "after": 0}))  # as the chat UI does when its socket opens
        ready_count.append(cid)
        if len(ready_count) == n:
            ready.set()
        async for raw in ws:
            now = time.time()
            frame = json.loads(raw)
            frames.append((frame["seq"], frame["type"], now - _parse_ts(frame["ts"]), now))
            if frame["type"] == "run.finished":
                break
        results[cid] = frames
        # Stay connected until every client has its run.finished, as a browser tab does after an answer: the
        # teardown of the first sockets would otherwise compete with the last frames of the others.
        if len(results) == n:
            all_done.set()
        await all_done.wait()


async def _measure(port, token, conversations, env, tokens, rate, per_producer, ramp_s, dump=None) -> dict:
    ready, ready_count, results, all_done = asyncio.Event(), [], {}, asyncio.Event()
    connecting = asyncio.Semaphore(8)  # a browser fleet does not open 50 sockets in the same millisecond
    clients = [
        asyncio.create_task(
            _client(f"ws://127.0.0.1:{port}/ws/conversations/{cid}/", token, ready, ready_count, len(conversations),
                    results, cid, connecting, all_done)
        )
        for cid in conversations
    ]  # fmt: skip
    await asyncio.wait_for(ready.wait(), 60)
    # Like M workers: each producer process carries `per_producer` concurrent runs.
    shares = [conversations[i : i + per_producer] for i in range(0, len(conversations), per_producer)]
    producers = [
        await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--produce", "--tokens", str(tokens), "--rate", str(rate),
            "--ramp-s", str(ramp_s), *share,
            cwd=ROOT, env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        for share in shares
    ]  # fmt: skip
    # Warm workers, like a deployment's: every producer imports Django and its publisher first, then all
    # start at once (otherwise the first producers stream while the last ones still spend seconds of CPU on
    # their imports, and that start-up, not the relay, sets the tail).
    for producer in producers:
        line = await asyncio.wait_for(producer.stdout.readline(), 120)
        assert line.strip() == b"ready", line
    last_seqs = {}
    for producer in producers:
        producer.stdin.write(b"go\n")
        await producer.stdin.drain()
    for producer in producers:
        print("  producer:", (await producer.stdout.readline()).decode().strip(), file=sys.stderr)
        last_seqs.update(json.loads(await producer.stdout.readline()))
    _, pending = await asyncio.wait(clients, timeout=30)
    for task in pending:
        task.cancel()
    # Like workers, producers stay up after their runs: a process exiting (~0.1 s of CPU each) while the last
    # frames are on their way would compete with them.
    for producer in producers:
        producer.stdin.write(b"exit\n")
        await producer.stdin.drain()
        await producer.wait()
    if dump:
        Path(dump).write_text(json.dumps(results))
    return _report(results, last_seqs)


def _report(results: dict, last_seqs: dict) -> dict:
    delivered = lost = disordered = 0
    latencies = []
    for cid, last in last_seqs.items():
        frames = results.get(cid, [])
        seqs = [seq for seq, *_ in frames]
        delivered += len(frames)
        lost += len(set(range(1, last + 1)) - set(seqs))
        disordered += sum(1 for a, b in zip(seqs, seqs[1:], strict=False) if b <= a)
        latencies += [lat * 1000 for _, _, lat, _ in frames]
    latencies.sort()

    def pct(p):
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] if latencies else float("nan")

    return {
        "delivered": delivered,
        "expected": sum(last_seqs.values()),
        "lost": lost,
        "out_of_order": disordered,
        "p50_ms": round(pct(50), 2),
        "p99_ms": round(pct(99), 2),
        "max_ms": round(latencies[-1], 2) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies), 2) if latencies else None,
    }


# --- producer process ----------------------------------------------------------------------------------------


async def _run_one(cid: str, tokens: int, rate: float, delay: float = 0.0) -> None:
    import uuid

    await asyncio.sleep(delay)
    from chats import publisher
    from chats.deltas import DeltaStream

    aevent_publish = publisher.aevent_publish

    run = str(uuid.uuid4())
    await aevent_publish(conversation_id=cid, run_id=run, type="run.started", data={"cluster": "bench"})
    await aevent_publish(conversation_id=cid, run_id=run, type="step.started", data={"step_id": "s1"})
    call = {"call_id": "c1", "tool": "k8s_get", "args": {"resource_type": "pods"}, "mutating": False}
    await aevent_publish(conversation_id=cid, run_id=run, type="tool.call", data=call)
    result = {"call_id": "c1", "ok": True, "output": "NAME READY\nweb 1/1", "truncated": False}
    await aevent_publish(conversation_id=cid, run_id=run, type="tool.result", data=result)
    stream = DeltaStream(conversation_id=cid, run_id=run, message_id=str(uuid.uuid4()), agent="responder")
    start = time.monotonic()
    for i in range(tokens):
        # Paced against the start time so that a slow push does not lower the token rate.
        await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
        await stream.push(f"tok{i} ")
    await stream.close()
    await aevent_publish(conversation_id=cid, run_id=run, type="run.finished", data={"status": "succeeded"})


async def _produce(conversations: list[str], tokens: int, rate: float, ramp_s: float = 0.0) -> dict:
    from asgiref.sync import sync_to_async

    from chats import publisher
    from chats.models import Conversation

    # Measure persist + channel-layer send as the producer sees it (ts is stamped before the INSERT).
    publish, sent = publisher.aevent_publish, []

    async def timed_publish(**kwargs):
        event = await publish(**kwargs)
        sent.append((time.time() - event.ts.timestamp()) * 1000)
        return event

    publisher.aevent_publish = timed_publish
    await publisher.publisher_warm()  # as a worker does when it starts (workflows.engine.warm_up)
    # Open the Django connection the final last_seq query uses now: connecting (a PostgreSQL backend fork) in
    # every producer at the moment the runs end would compete with their last frames.
    await sync_to_async(Conversation.objects.filter(pk__in=conversations).count)()
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # "go"
    # --ramp-s spreads the runs' starts evenly (conversations do not all start in the same millisecond);
    # 0 starts them together, the worst case.
    step = ramp_s / max(1, len(conversations))
    await asyncio.gather(*(_run_one(cid, tokens, rate, n * step) for n, cid in enumerate(conversations)))
    rows = await sync_to_async(list)(Conversation.objects.filter(pk__in=conversations).values_list("pk", "last_seq"))
    sent.sort()
    print(
        json.dumps({"publish_p50_ms": sent[len(sent) // 2], "publish_p99_ms": sent[int(len(sent) * 0.99)]}),
        flush=True,
    )
    return {str(pk): last for pk, last in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--tokens", type=int, default=300, help="token deltas per conversation")
    parser.add_argument("--rate", type=float, default=100.0, help="tokens per second per conversation")
    parser.add_argument("--runs-per-producer", type=int, default=10, help="concurrent runs per producer process")
    parser.add_argument("--ramp-s", type=float, default=0.0, help="spread the runs' starts over this many seconds")
    parser.add_argument(
        "--dump", help="write every received frame (seq, type, latency s, receive time) to this JSON file"
    )
    parser.add_argument("--produce", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("ids", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.produce:
        _django()
        print(json.dumps(asyncio.run(_produce(args.ids, args.tokens, args.rate, args.ramp_s))), flush=True)
        sys.stdin.readline()  # "exit", once every client has its run.finished
        return
    env = _env()
    _database_ensure(env)
    _django()
    for n in args.conversations:
        token, conversations = _fixtures(n)
        port = free_port()
        daphne = _daphne(env, port)
        try:
            figures = asyncio.run(
                _measure(
                    port,
                    token,
                    conversations,
                    env,
                    args.tokens,
                    args.rate,
                    args.runs_per_producer,
                    args.ramp_s,
                    args.dump,
                )
            )
        finally:
            daphne.terminate()
            daphne.wait(10)
        print(
            json.dumps(
                {
                    "N": n,
                    "tokens": args.tokens,
                    "rate": args.rate,
                    "producers": -(-n // args.runs_per_producer),
                    "ramp_s": args.ramp_s,
                    **figures,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
