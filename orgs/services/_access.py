"""Private helpers shared by the service modules: the role check every writer starts with, email normalisation."""

from orgs.models import Membership, Organization, User
from orgs.selectors import (
    membership_require,
)


def _require(actor: User | None, org: Organization, role: str) -> Membership | None:
    return None if actor is None else membership_require(user=actor, org=org, role=role)


def _email_normalize(email: str) -> str:
    return User.objects.normalize_email(email.strip()).lower()
