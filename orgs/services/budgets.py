"""Writers for what the insights need from admins: monthly budgets, the organisation's token prices, and who
below admin may see the insights. Admin+ only; every change audited."""

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404
from guardian.shortcuts import assign_perm, remove_perm

from orgs.models import Budget, ModelPrice, Organization, Role, Team, User
from orgs.services._access import _require
from orgs.services.audit import audit_record


def _amount(value, field: str, *, tokens: bool = False) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationError({field: "A number."}) from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal(10) ** 12:
        raise ValidationError({field: "A number from 0 to 10¹²."})
    if tokens and amount != amount.to_integral_value():
        raise ValidationError({field: "A whole number of tokens."})
    return amount


@transaction.atomic
def budget_set(
    *, actor: User | None, org: Organization, team: Team | None, kind: str, monthly_limit, ip: str | None = None
) -> Budget:
    """Set (create or change) the monthly budget of the organisation (team None) or of one of its teams.
    Raising a reached budget lets new runs start again at once."""
    _require(actor, org, Role.ADMIN)
    if team is not None and team.org_id != org.pk:
        raise ValidationError({"team": "Not a team of this organisation."})
    if kind not in Budget.Kind.values:
        raise ValidationError({"kind": f"One of {', '.join(Budget.Kind.values)}."})
    limit = _amount(monthly_limit, "monthly_limit", tokens=kind == Budget.Kind.TOKENS)
    budget, _ = Budget.objects.select_for_update().update_or_create(
        org=org, team=team, defaults={"kind": kind, "monthly_limit": limit}
    )
    facts = {"team": team.name if team else None, "kind": kind, "monthly_limit": str(limit)}
    audit_record(actor=actor, org=org, action="budget.set", target=budget, data=facts, ip=ip)
    return budget


@transaction.atomic
def budget_delete(*, actor: User | None, org: Organization, budget_id, ip: str | None = None) -> None:
    _require(actor, org, Role.ADMIN)
    budget = get_object_or_404(Budget, org=org, pk=budget_id)
    audit_record(actor=actor, org=org, action="budget.deleted", target=budget, ip=ip)
    budget.delete()


@transaction.atomic
def model_price_set(
    *,
    actor: User | None,
    org: Organization,
    model: str,
    input_per_mtok,
    output_per_mtok,
    cached_input_per_mtok=None,
    ip: str | None = None,
) -> ModelPrice:
    """The organisation's own prices for `model` (USD per 1M tokens); they replace the defaults for its runs."""
    _require(actor, org, Role.ADMIN)
    model = (model or "").strip()
    if not model or len(model) > 200:
        raise ValidationError({"model": "The model's name as the provider reports it (at most 200 characters)."})
    prices = {
        "input_per_mtok": _amount(input_per_mtok, "input_per_mtok"),
        "output_per_mtok": _amount(output_per_mtok, "output_per_mtok"),
        "cached_input_per_mtok": None
        if cached_input_per_mtok in (None, "")
        else _amount(cached_input_per_mtok, "cached_input_per_mtok"),
    }
    price, _ = ModelPrice.objects.update_or_create(org=org, model=model, defaults=prices)
    facts = {"model": model, **{k: None if v is None else str(v) for k, v in prices.items()}}
    audit_record(actor=actor, org=org, action="model_price.set", target=price, data=facts, ip=ip)
    return price


@transaction.atomic
def model_price_delete(*, actor: User | None, org: Organization, model: str, ip: str | None = None) -> None:
    """Back to the default price (or unpriced) for `model`."""
    _require(actor, org, Role.ADMIN)
    price = get_object_or_404(ModelPrice, org=org, model=model)
    audit_record(actor=actor, org=org, action="model_price.deleted", target=price, data={"model": model}, ip=ip)
    price.delete()


@transaction.atomic
def insights_share(*, actor: User | None, org: Organization, team: Team, shared: bool, ip: str | None = None) -> None:
    """Let a team's members (e.g. its manager, whatever their role) see the organisation's insights, or stop."""
    _require(actor, org, Role.ADMIN)
    if team.org_id != org.pk:
        raise ValidationError({"team": "Not a team of this organisation."})
    (assign_perm if shared else remove_perm)("orgs.view_insights", team.group, org)
    action = "insights.shared" if shared else "insights.unshared"
    audit_record(actor=actor, org=org, action=action, target=team, data={"team": team.name}, ip=ip)
