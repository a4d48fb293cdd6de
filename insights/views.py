"""The insights page: the API's figures as tables (readable without JavaScript) and charts drawn from the same JSON."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from guardian.shortcuts import get_groups_with_perms

from insights import budgets, selectors
from orgs import pricing
from orgs.models import Budget, Role, Team
from orgs.selectors import has_role, membership_require, org_get
from orgs.services import budgets as budget_services
from orgs.views import nav_context
from skyflo.client_ip import client_ip

USAGE_LABELS = (("team", "Team"), ("user", "Person"), ("cluster", "Cluster"))


@login_required
def insights_view(request: HttpRequest, slug: str) -> HttpResponse:
    org = org_get(user=request.user, slug=slug)
    selectors.insights_require(user=request.user, org=org)
    error = ""
    try:
        period = selectors.period_parse(request.GET.get("from"), request.GET.get("to"))
    except ValidationError as exc:
        error = " ".join(exc.messages)
        period = selectors.period_parse(None, None)
    figures = selectors.insights_get(user=request.user, org=org, period=period)
    is_admin = has_role(user=request.user, org=org, role=Role.ADMIN)
    context = {
        **nav_context(request, org),
        "nav": "insights",
        "org": org,
        "figures": figures,
        "period": period,
        "period_error": error,
        **(_admin_context(org) if is_admin else {}),
        "usage_tables": [(group, label, figures["usage"][group]) for group, label in USAGE_LABELS],
    }
    return render(request, "insights/insights.html", context, status=400 if error else 200)


def _admin_context(org) -> dict:
    teams = list(Team.objects.filter(org=org).order_by("name"))
    shared = {
        group.pk for group, perms in get_groups_with_perms(org, attach_perms=True).items() if "view_insights" in perms
    }
    return {
        "is_admin": True,
        "budgets": budgets.budget_states(org=org),
        "budget_kinds": Budget.Kind.choices,
        "prices": pricing.price_table(org=org),
        "teams": [(team, team.group_id in shared) for team in teams],
    }


ACTIONS = {
    "budget_set": lambda request, org, ip: budget_services.budget_set(
        actor=request.user,
        org=org,
        team=_team(org, request.POST.get("team")),
        kind=request.POST.get("kind", ""),
        monthly_limit=request.POST.get("monthly_limit", ""),
        ip=ip,
    ),
    "budget_delete": lambda request, org, ip: budget_services.budget_delete(
        actor=request.user, org=org, budget_id=_uuid(request.POST.get("budget")), ip=ip
    ),
    "price_set": lambda request, org, ip: budget_services.model_price_set(
        actor=request.user,
        org=org,
        model=request.POST.get("model", ""),
        input_per_mtok=request.POST.get("input_per_mtok", ""),
        cached_input_per_mtok=request.POST.get("cached_input_per_mtok") or None,
        output_per_mtok=request.POST.get("output_per_mtok", ""),
        ip=ip,
    ),
    "price_delete": lambda request, org, ip: budget_services.model_price_delete(
        actor=request.user, org=org, model=request.POST.get("model", ""), ip=ip
    ),
    "share": lambda request, org, ip: budget_services.insights_share(
        actor=request.user, org=org, team=_team(org, request.POST.get("team")), shared=True, ip=ip
    ),
    "unshare": lambda request, org, ip: budget_services.insights_share(
        actor=request.user, org=org, team=_team(org, request.POST.get("team")), shared=False, ip=ip
    ),
}


@login_required
@require_POST
def insights_settings_view(request: HttpRequest, slug: str) -> HttpResponse:
    """The admins' forms of the insights page: budgets, token prices, sharing with teams. Back to the page."""
    org = org_get(user=request.user, slug=slug)
    membership_require(user=request.user, org=org, role=Role.ADMIN)
    action = ACTIONS.get(request.POST.get("action", ""))
    if action is None:
        messages.error(request, "Unknown action.")
    else:
        try:
            action(request, org, client_ip(request))
        except (ValidationError, PermissionDenied, Http404) as exc:
            messages.error(request, _sentence(exc))
        else:
            messages.success(request, "Saved.")
    return redirect(reverse("insights-page", args=[org.slug]) + "#admin")


def _team(org, team_id) -> Team | None:
    return get_object_or_404(Team, org=org, pk=_uuid(team_id)) if team_id else None


def _uuid(value) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise Http404("No such object.") from None


def _sentence(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    if isinstance(exc, Http404):
        return "No such budget, price or team."
    return str(exc) or "Not allowed."
