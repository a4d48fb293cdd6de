from django.utils.functional import SimpleLazyObject

from insights import budgets


def budget_notices(request) -> dict:
    """The 80 % / 100 % budget notices for the admins, on every page (read only when a template shows them)."""
    user = getattr(request, "user", None)
    return {"budget_notices": SimpleLazyObject(lambda: budgets.budget_notices(user=user) if user else [])}
