"""The figures of the insights page and API, for one organisation over a period, read in a fixed number of queries.

A run belongs to the organisation of its conversation and to the teams its requester is in (a person in two teams
counts in both; the per-team rows may add up to more than the total). Days are UTC days of the run's creation.
Durations: time to first token = posting the message -> the first streamed token (the first `message.delta`
event); run duration = posting -> the final status (approval waits included).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, F, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, TruncDate
from guardian.shortcuts import get_perms

from chats.models import RunEvent
from orgs.models import Organization, Role, User
from orgs.selectors import membership_get
from workflows.models import Approval, Run, ToolCall

GROUPS = ("team", "user", "cluster")
MAX_DAYS = 366
TOP = 10
IN_PROGRESS = "in_progress"


@dataclass(frozen=True)
class Period:
    start: dt.date  # first day, included
    end: dt.date  # last day, included

    @property
    def start_at(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time.min, tzinfo=dt.UTC)

    @property
    def end_at(self) -> dt.datetime:
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)

    def days(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=n) for n in range((self.end - self.start).days + 1)]


def period_parse(start: str | None, end: str | None, *, today: dt.date | None = None) -> Period:
    """`from`/`to` as YYYY-MM-DD (both included); default the last 30 days. ValidationError names the field."""
    today = today or dt.datetime.now(dt.UTC).date()
    last = _date(end, "to") if end else today
    first = _date(start, "from") if start else last - dt.timedelta(days=29)
    if first > last:
        raise ValidationError({"from": "The period starts after it ends."})
    if (last - first).days >= MAX_DAYS:
        raise ValidationError({"from": f"A period is at most {MAX_DAYS} days."})
    return Period(first, last)


def _date(value: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError({field: "A date as YYYY-MM-DD."}) from None


def insights_can_view(*, user: User, org: Organization) -> bool:
    """Admins and owners; below that, people given `view_insights` on the organisation (directly or via a team)."""
    membership = membership_get(user=user, org=org)
    if membership is None:
        return False
    return membership.has_role(Role.ADMIN) or "view_insights" in get_perms(user, org)


def insights_require(*, user: User, org: Organization) -> None:
    if not insights_can_view(user=user, org=org):
        raise PermissionDenied("Insights are for the organisation's admins and the teams they are shared with.")


def org_runs(*, org: Organization, period: Period) -> QuerySet[Run]:
    return Run.objects.filter(conversation__org=org, created_at__gte=period.start_at, created_at__lt=period.end_at)


def insights_get(*, user: User, org: Organization, period: Period, group_by: tuple[str, ...] = GROUPS) -> dict:
    """Every figure of the period (PermissionDenied unless insights_can_view)."""
    insights_require(user=user, org=org)
    runs = org_runs(org=org, period=period)
    return {
        "org": org.slug,
        "from": period.start.isoformat(),
        "to": period.end.isoformat(),
        "totals": _totals(runs),
        "runs_per_day": _runs_per_day(runs, period),
        **_latencies(runs),
        "approvals": _approvals(org, period),
        "usage": {group: _usage_by(runs, group, org) for group in group_by},
        "tools": _tools(runs),
        "errors": _errors(runs),
    }


def _totals(runs: QuerySet[Run]) -> dict:
    row = runs.aggregate(
        runs=Count("id"),
        prompt_tokens=Coalesce(Sum("prompt_tokens"), 0),
        completion_tokens=Coalesce(Sum("completion_tokens"), 0),
        cost_usd=Coalesce(Sum("cost_usd"), Decimal(0)),
    )
    return _usage_row(row)


def _usage_row(row: dict) -> dict:
    prompt, completion = int(row["prompt_tokens"] or 0), int(row["completion_tokens"] or 0)
    return {
        "runs": row["runs"],
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "tokens": prompt + completion,
        "cost_usd": f"{Decimal(row['cost_usd'] or 0):.6f}",
    }


def _runs_per_day(runs: QuerySet[Run], period: Period) -> list[dict]:
    counts = (
        runs.annotate(day=TruncDate("created_at", tzinfo=dt.UTC))
        .values("day", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    days = {day: {status: 0 for status in (*Run.FINISHED, IN_PROGRESS)} for day in period.days()}
    for row in counts:
        status = row["status"] if row["status"] in Run.FINISHED else IN_PROGRESS
        days[row["day"]][status] += row["n"]
    return [{"day": day.isoformat(), **by_status} for day, by_status in days.items()]


def _latencies(runs: QuerySet[Run]) -> dict:
    first_token = RunEvent.objects.filter(run_id=OuterRef("pk"), type="message.delta").order_by("ts").values("ts")[:1]
    rows = runs.annotate(first_token_at=Subquery(first_token)).values_list(
        "created_at", "first_token_at", "finished_at"
    )
    ttft, duration = [], []
    for created, first, finished in rows:
        if first is not None:
            ttft.append((first - created).total_seconds() * 1000)
        if finished is not None:
            duration.append((finished - created).total_seconds() * 1000)
    return {"time_to_first_token_ms": _percentiles(ttft), "duration_ms": _percentiles(duration)}


def _percentiles(values: list[float]) -> dict:
    """p50/p95 by the nearest-rank method (a value that occurred), None without values."""
    if not values:
        return {"count": 0, "p50": None, "p95": None}
    ordered = sorted(values)
    rank = lambda q: ordered[max(0, -(-len(ordered) * q // 100) - 1)]  # noqa: E731 - ceil(n*q/100)-th value
    return {"count": len(ordered), "p50": round(rank(50)), "p95": round(rank(95))}


def _approvals(org: Organization, period: Period) -> dict:
    approvals = Approval.objects.filter(
        run__conversation__org=org, created_at__gte=period.start_at, created_at__lt=period.end_at
    )
    counts = {decision: 0 for decision in Approval.Decision.values}
    for row in approvals.values("decision").annotate(n=Count("id")).order_by():
        counts[row["decision"]] = row["n"]
    decided = approvals.filter(
        decision__in=(Approval.Decision.APPROVED, Approval.Decision.DENIED), decided_at__isnull=False
    ).values_list("created_at", "decided_at")
    waits = [(decided_at - created).total_seconds() * 1000 for created, decided_at in decided]
    return {"by_decision": counts, "time_to_decision_ms": _percentiles(waits)}


USAGE_SUMS = {
    "runs": Count("id"),
    "prompt_tokens": Sum("prompt_tokens"),
    "completion_tokens": Sum("completion_tokens"),
    "cost_usd": Sum("cost_usd"),
}


def _usage_by(runs: QuerySet[Run], group: str, org: Organization) -> list[dict]:
    if group == "team":
        # One row per (run, team of its requester in this org): the values() below reuse this filter's join.
        runs = runs.filter(requested_by__groups__team__org=org)
        keyed = runs.values(key=F("requested_by__groups__team__id"), label=F("requested_by__groups__team__name"))
    elif group == "user":
        keyed = runs.values(key=F("requested_by_id"), label=F("requested_by__email"))
    else:
        keyed = runs.values(key=F("conversation__cluster_id"), label=F("conversation__cluster__name"))
    rows = keyed.annotate(**USAGE_SUMS).order_by("-cost_usd", "-runs", "label")
    return [
        {"key": str(row["key"]) if row["key"] else None, "label": row["label"] or "—", **_usage_row(row)}
        for row in rows
    ]


def _tools(runs: QuerySet[Run]) -> list[dict]:
    calls = ToolCall.objects.filter(run__in=runs.values("pk"))
    rows = calls.values("tool").annotate(calls=Count("id")).order_by("-calls", "tool")[:TOP]
    return [{"tool": row["tool"], "calls": row["calls"]} for row in rows]


def _errors(runs: QuerySet[Run]) -> list[dict]:
    rows = runs.exclude(error_code="").values("error_code").annotate(runs=Count("id")).order_by("-runs", "error_code")
    return [{"code": row["error_code"], "runs": row["runs"]} for row in rows[:TOP]]
