"""Monthly budgets: what a budget has spent this month, the 80 % notice, and the refusal of new runs at 100 %.

A month's spend is the usage of the runs created in it (UTC) — of the whole organisation, or of the runs whose
requester is in the team. A run still going counts at least settings.BUDGET_RUN_RESERVE_TOKENS /
BUDGET_RUN_RESERVE_USD, so that of two runs starting at the last token only the first gets in: admission locks the
budget rows, and the second admission's spend (read after the first commits) includes the first run's reserve.
Runs already going are never cut; a budget stops only new runs, until the month turns or an admin raises it.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Case, DecimalField, ExpressionWrapper, F, Q, Sum, Value, When
from django.db.models.functions import Coalesce, Greatest
from django.dispatch import Signal

from orgs.models import Budget, Organization, Role, User
from orgs.services.audit import audit_record
from skyflo.api_errors import TooManyRequests
from workflows.models import Run

logger = logging.getLogger(__name__)

WARN_AT = Decimal("0.8")
REFUSED = " New runs are refused until the month turns or an admin raises the budget."
RUNS_GOING = (Run.Status.QUEUED, Run.Status.RUNNING, Run.Status.AWAITING_APPROVAL)

# Sent (after commit) once a month per budget when it passes 80 %: the hook for a chat-tool notification.
# Receivers get budget (orgs.models.Budget), spent (Decimal) and month (date).
budget_threshold_reached = Signal()


class BudgetExceeded(TooManyRequests):
    default_code = "budget_exceeded"

    def __init__(self, sentence: str):
        super().__init__(detail={"detail": sentence, "code": "budget_exceeded"})
        self.sentence = sentence


@dataclass(frozen=True)
class BudgetState:
    budget: Budget
    spent: Decimal

    @property
    def ratio(self) -> Decimal:
        limit = self.budget.monthly_limit
        return self.spent / limit if limit > 0 else Decimal(1)

    @property
    def percent(self) -> int:
        return int(self.ratio * 100)

    @property
    def reached(self) -> bool:
        return self.spent >= self.budget.monthly_limit

    @property
    def warning(self) -> bool:
        return self.ratio >= WARN_AT

    @property
    def scope(self) -> str:
        return f"team {self.budget.team.name}" if self.budget.team_id else "organisation"

    def sentence(self) -> str:
        unit = "tokens" if self.budget.kind == Budget.Kind.TOKENS else "USD"
        spent = f"{self.spent:.0f}" if unit == "tokens" else f"{self.spent:.2f}"
        limit = f"{self.budget.monthly_limit:.0f}" if unit == "tokens" else f"{self.budget.monthly_limit:.2f}"
        return f"The {self.scope}'s monthly budget of {limit} {unit} is {self.percent} % used ({spent} {unit})."


def month_start(now: dt.datetime | None = None) -> dt.date:
    now = now or dt.datetime.now(dt.UTC)
    return now.astimezone(dt.UTC).date().replace(day=1)


def budget_spent(budget: Budget, *, month: dt.date | None = None) -> Decimal:
    """The budget's spend this month (tokens or USD), runs still going counted at least at their reserve."""
    month = month or month_start()
    since = dt.datetime.combine(month, dt.time.min, tzinfo=dt.UTC)
    runs = Run.objects.filter(conversation__org_id=budget.org_id, created_at__gte=since)
    if budget.team_id:
        runs = runs.filter(requested_by__groups__team=budget.team_id)
    money = DecimalField(max_digits=18, decimal_places=6)
    if budget.kind == Budget.Kind.TOKENS:
        used = ExpressionWrapper(F("prompt_tokens") + F("completion_tokens"), output_field=money)
        reserve = Value(Decimal(settings.BUDGET_RUN_RESERVE_TOKENS), output_field=money)
    else:
        used = ExpressionWrapper(F("cost_usd"), output_field=money)
        reserve = Value(settings.BUDGET_RUN_RESERVE_USD, output_field=money)
    charged = Case(When(status__in=RUNS_GOING, then=Greatest(used, reserve)), default=used, output_field=money)
    return runs.aggregate(spent=Coalesce(Sum(charged), Value(Decimal(0), output_field=money)))["spent"]


def _applicable(*, org: Organization, user: User):
    """The organisation's budget and those of the user's teams in it."""
    return Budget.objects.filter(Q(team__isnull=True) | Q(team__group__user=user), org=org).select_related("team")


def budget_admit(*, user: User, org: Organization) -> None:
    """Refuse a new run (BudgetExceeded, 429 `budget_exceeded`) when a budget that applies to it is spent.

    Called inside run creation's transaction; locks the applicable budget rows (in a fixed order) until it commits.
    """
    month = month_start()
    budgets = list(_applicable(org=org, user=user).order_by("pk").select_for_update(of=("self",)))
    for budget in budgets:
        state = BudgetState(budget, budget_spent(budget, month=month))
        if state.reached:
            raise BudgetExceeded(
                f"{state.sentence()} New runs wait until the month turns or an admin raises the budget."
            )
        if state.warning:
            budget_warn(state, month=month)


def budget_warn(state: BudgetState, *, month: dt.date) -> bool:
    """Record the 80 % notice once a month per budget (audited) and send budget_threshold_reached after commit."""
    budget = state.budget
    first = Budget.objects.filter(pk=budget.pk).exclude(warned_month=month).update(warned_month=month)
    if not first:
        return False
    audit_record(
        actor=None,
        org=budget.org,
        action="budget.warning",
        target=budget,
        data={"spent": str(state.spent), "monthly_limit": str(budget.monthly_limit), "kind": budget.kind},
    )
    transaction.on_commit(
        lambda: budget_threshold_reached.send_robust(sender=Budget, budget=budget, spent=state.spent, month=month)
    )
    return True


def budget_states(*, org: Organization) -> list[BudgetState]:
    """Every budget of the organisation with this month's spend (organisation first, then teams by name)."""
    budgets = (
        Budget.objects.filter(org=org).select_related("team", "org").order_by(F("team__name").asc(nulls_first=True))
    )
    month = month_start()
    return [BudgetState(budget, budget_spent(budget, month=month)) for budget in budgets]


def budget_notices(*, user: User) -> list[str]:
    """Sentences for the banner: budgets at 80 % or more in the organisations the user administers."""
    if not user.is_authenticated:
        return []
    orgs = Organization.objects.filter(
        memberships__user=user, memberships__role__in=(Role.ADMIN, Role.OWNER), budgets__isnull=False
    ).distinct()
    notices = []
    for org in orgs:
        for state in budget_states(org=org):
            if state.warning:
                notices.append(f"{org.name}: {state.sentence()}" + (REFUSED if state.reached else ""))
    return notices
