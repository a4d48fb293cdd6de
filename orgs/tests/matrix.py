"""Permission-matrix helpers (netbox style): every endpoint refuses anonymous (401), outsiders (404) and members
below the needed role (403, or 404 where the object is not visible to them), and a refusal changes nothing."""

from collections.abc import Callable

from rest_framework.test import APIClient

from orgs.models import ROLE_RANK, Role
from tests.accounts import OrgTrio, bearer_client

ROLES = (Role.VIEWER, Role.OPERATOR, Role.ADMIN, Role.OWNER)


def call(client: APIClient, method: str, url: str, data=None):
    return getattr(client, method)(url, data, format="json")


def assert_refused(
    trio: OrgTrio,
    method: str,
    url: str,
    *,
    min_role: str,
    data=None,
    snapshot: Callable[[], object] = lambda: None,
    below: dict[str, int] | None = None,
) -> None:
    """Anonymous 401, the outsider 404, each role below min_role 403 (or `below[role]`); the snapshot stays equal."""
    before = snapshot()
    cases = [("anonymous", APIClient(), 401), ("outsider", bearer_client(trio.outsider), 404)]
    for role in ROLES:
        if ROLE_RANK[role] < ROLE_RANK[min_role]:
            cases.append((role, bearer_client(getattr(trio, role)), (below or {}).get(role, 403)))
    for who, client, expected in cases:
        response = call(client, method, url, data)
        assert response.status_code == expected, f"{who}: {response.status_code} {response.content[:300]!r}"
        assert "detail" in response.json()
        assert snapshot() == before, f"{who} changed something"


def as_role(trio: OrgTrio, role: str) -> APIClient:
    return bearer_client(getattr(trio, role))
