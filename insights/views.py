"""The insights page: the API's figures as tables (readable without JavaScript) and charts drawn from the same JSON."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from insights import budgets, selectors
from orgs.models import Role
from orgs.selectors import has_role, org_get
from orgs.views import nav_context

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
        "budgets": budgets.budget_states(org=org) if is_admin else [],
        "usage_tables": [(group, label, figures["usage"][group]) for group, label in USAGE_LABELS],
    }
    return render(request, "insights/insights.html", context, status=400 if error else 200)
