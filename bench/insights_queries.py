"""Insights, budgets and the audit export on a large organisation: queries and time.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/skyflo_insights_bench \
    .venv/bin/python bench/insights_queries.py --runs 10000 --deltas 20 --audit-events 50000

Seeds one organisation (in a database of its own, created and migrated if missing) with `--runs` runs over 30 days
(5 people in 3 teams, 4 clusters, `--deltas` message.delta events per run, tool calls, approvals, failures) and
`--audit-events` audit events, then reports as JSON lines:
- the insights of the 30 days (`insights_get`, all three groupings): query count, per-query and total time
  (cold, then the median of `--repeat` warm calls);
- a budget admission's spend for the organisation and for a team (`budget_spent`);
- the audit export as CSV: rows, time, and the peak of Python memory allocated while streaming it (tracemalloc).
See bench/README.md.
"""

import argparse
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/skyflo_insights_bench"


def _env() -> dict:
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", DEFAULT_DB)
    env.setdefault("DJANGO_DEBUG", "0")
    env.setdefault("DJANGO_SECRET_KEY", "bench-only-" + "x" * 60)
    env.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
    env.setdefault("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")
    env.setdefault("SKYFLO_LOG_LEVEL", "WARNING")
    env["DJANGO_SETTINGS_MODULE"] = "skyflo.settings"
    return env


def _database_ensure(env: dict) -> None:
    import psycopg

    url = env["DATABASE_URL"]
    name, admin = url.rsplit("/", 1)[1], url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)


def _seed(runs: int, deltas: int, audit_events: int):
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group

    from chats.models import Conversation, RunEvent
    from orgs.models import AuditEvent, Budget, ClusterConnection, Membership, Organization, Team, User
    from workflows.models import Approval, Run, ToolCall

    rng, stamp = random.Random(7), time.time_ns()
    org = Organization.objects.create(slug=f"bench{stamp}", name="Bench")
    people = [User.objects.create(email=f"p{i}.{stamp}@example.com", password=make_password(None)) for i in range(5)]
    for i, person in enumerate(people):
        Membership.objects.create(org=org, user=person, role="owner" if i == 0 else "operator")
    for t in range(3):
        group = Group.objects.create(name=f"bench:{stamp}:{t}")
        Team.objects.create(org=org, name=f"team{t}", group=group)
        group.user_set.add(*people[t : t + 2])
    clusters = []
    for c in range(4):
        cluster = ClusterConnection(org=org, name=f"c{c}", mcp_server_url="http://127.0.0.1:9/mcp")
        cluster.mcp_server_token = "unused"  # noqa: S105 - no tool server here
        cluster.save()
        clusters.append(cluster)
    conversations = [
        Conversation.objects.create(org=org, cluster=clusters[i % 4], owner=people[i % 5]) for i in range(100)
    ]
    Budget.objects.create(org=org, kind="tokens", monthly_limit=10**11)
    now = dt.datetime.now(dt.UTC)
    run_rows, seqs = [], {c.pk: 0 for c in conversations}
    events, calls, approvals = [], [], []
    for n in range(runs):
        conversation = conversations[n % 100]
        created = now - dt.timedelta(seconds=rng.randint(0, 29 * 86400))
        status = rng.choices(["succeeded", "failed", "cancelled", "denied"], [80, 10, 5, 5])[0]
        run = Run(
            conversation=conversation,
            requested_by_id=conversation.owner_id,
            status=status,
            prompt_tokens=rng.randint(500, 20000),
            completion_tokens=rng.randint(50, 2000),
            cost_usd=rng.randint(1, 50000) / 1_000_000,
            error_code=rng.choice(["llm_unreachable", "tool_failed", "internal"]) if status == "failed" else "",
            created_at=created,
            started_at=created,
            finished_at=created + dt.timedelta(seconds=rng.randint(2, 300)),
        )
        run_rows.append(run)
        for d in range(deltas):
            seqs[conversation.pk] += 1
            ts = created + dt.timedelta(milliseconds=rng.randint(200, 3000) + 50 * d)
            events.append(
                RunEvent(
                    conversation=conversation, run_id=run.id, seq=seqs[conversation.pk], type="message.delta", ts=ts
                )
            )
        for k in range(rng.randint(1, 3)):
            tool = rng.choice(["k8s_get", "k8s_describe", "k8s_logs", "k8s_scale", "helm_list"])
            calls.append(ToolCall(run=run, call_id=f"{run.id}:{k}", tool=tool, mutating=tool == "k8s_scale"))
        if n % 3 == 0:
            decision = rng.choice(["approved", "denied", "expired"])
            approvals.append(
                Approval(
                    run=run,
                    call_id=f"{run.id}:a",
                    tool="k8s_scale",
                    requested_by_id=run.requested_by_id,
                    decision=decision,
                    expires_at=created + dt.timedelta(minutes=30),
                    created_at=created,
                    decided_at=created + dt.timedelta(seconds=rng.randint(5, 900)),
                )  # fmt: skip
            )
    Run.objects.bulk_create(run_rows, batch_size=2000)
    RunEvent.objects.bulk_create(events, batch_size=5000)
    ToolCall.objects.bulk_create(calls, batch_size=5000)
    Approval.objects.bulk_create(approvals, batch_size=2000)
    trail = []
    for n in range(audit_events):
        run = run_rows[n % len(run_rows)]
        trail.append(
            AuditEvent(
                org=org,
                org_slug=org.slug,
                actor=people[n % 5],
                actor_email=people[n % 5].email,
                action="approval.approved",
                target_type="workflows.approval",
                target_id=str(run.id),
                data={
                    "run": str(run.id),
                    "conversation": str(run.conversation_id),
                    "tool": "k8s_scale",
                    "call_id": f"{run.id}:a",
                    "reason": "ok",
                },
                client_ip="10.0.0.1",
                created_at=now - dt.timedelta(seconds=rng.randint(0, 360 * 86400)),
            )  # fmt: skip
        )
    AuditEvent.objects.bulk_create(trail, batch_size=5000)
    with __import__("django.db", fromlist=["connection"]).connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return org, people[0]


def _measure(fn, repeat: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as cold:
        started = time.perf_counter()
        fn()
        cold_ms = (time.perf_counter() - started) * 1000
    warm = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        warm.append((time.perf_counter() - started) * 1000)
    slowest = sorted(cold.captured_queries, key=lambda q: -float(q["time"]))[:3]
    return {
        "queries": len(cold.captured_queries),
        "cold_ms": round(cold_ms, 1),
        "warm_median_ms": round(statistics.median(warm), 1),
        "sql_ms": round(sum(float(q["time"]) for q in cold.captured_queries) * 1000, 1),
        "slowest_sql_ms": [round(float(q["time"]) * 1000, 1) for q in slowest],
        "slowest_sql": [q["sql"][:160] for q in slowest],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10000)
    parser.add_argument("--deltas", type=int, default=20)
    parser.add_argument("--audit-events", type=int, default=50000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    env = _env()
    _database_ensure(env)
    os.environ.update(env)
    import django

    django.setup()
    from insights import audit_export, budgets, selectors
    from orgs.models import Budget, Team

    started = time.perf_counter()
    org, owner = _seed(args.runs, args.deltas, args.audit_events)
    print(json.dumps({"seeded": args.runs, "deltas": args.deltas, "seed_s": round(time.perf_counter() - started, 1)}))
    period = selectors.period_parse(None, None)
    figures = {}

    def insights():
        figures.update(selectors.insights_get(user=owner, org=org, period=period))

    print(json.dumps({"what": "insights_get, 30 days", **_measure(insights, args.repeat)}))
    print(json.dumps({"what": "runs counted", "runs": figures["totals"]["runs"]}))
    org_budget = Budget.objects.get(org=org)
    team_budget = Budget.objects.create(
        org=org, team=Team.objects.filter(org=org).first(), kind="cost", monthly_limit=1
    )
    for name, budget in (("org", org_budget), ("team", team_budget)):
        result = _measure(lambda budget=budget: budgets.budget_spent(budget), args.repeat)
        print(json.dumps({"what": f"budget_spent ({name})", **result}))
    year = selectors.period_parse((dt.datetime.now(dt.UTC).date() - dt.timedelta(days=364)).isoformat(), None)
    tracemalloc.start()
    started, lines = time.perf_counter(), 0
    for _ in audit_export.csv_lines(audit_export.audit_export_rows(user=owner, org=org, period=year)):
        lines += 1
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    export = {"rows": lines - 1, "s": round(time.perf_counter() - started, 2), "peak_python_mb": round(peak / 2**20, 1)}
    print(json.dumps({"what": "audit export, CSV, a year", **export}))


if __name__ == "__main__":
    main()
