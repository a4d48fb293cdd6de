"""Account fixtures shared by every app's tests: users, organisations with roles, teams, clusters, API clients.

Rows are created directly here (test set-up); behaviour under test always goes through the HTTP API, the
WebSocket or the services.
"""

import functools
import itertools
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from orgs.models import ClusterConnection, Membership, Organization, Role, Team, User

PASSWORD = "correct horse battery staple"
_counter = itertools.count(1)


def make_user(email: str | None = None, *, full_name: str = "", password: str = PASSWORD, **fields) -> User:
    email = email or f"user{next(_counter)}@example.com"
    if password != PASSWORD:
        return User.objects.create_user(email=email, password=password, full_name=full_name or email, **fields)
    user = User.objects.create_user(email=email, password=None, full_name=full_name or email, **fields)
    user.password = _password_hash(tuple(settings.PASSWORD_HASHERS))
    user.save(update_fields=["password"])
    return user


@functools.cache
def _password_hash(hashers: tuple[str, ...]) -> str:
    """PASSWORD hashed once per hasher set: the production hasher costs a second per user on these machines, and the
    fixtures make hundreds of users who all sign in with the same password."""
    return make_password(PASSWORD)


def make_org(slug: str | None = None, *, name: str | None = None, **fields) -> Organization:
    slug = slug or f"org{next(_counter)}"
    return Organization.objects.create(slug=slug, name=name or slug.title(), **fields)


def make_member(org: Organization, role: str = Role.VIEWER, email: str | None = None) -> User:
    user = make_user(email)
    Membership.objects.create(org=org, user=user, role=role)
    return user


def make_team(org: Organization, name: str, members: tuple[User, ...] = ()) -> Team:
    group = Group.objects.create(name=f"team:{org.slug}:{name}:{next(_counter)}")
    team = Team.objects.create(org=org, name=name, group=group)
    group.user_set.add(*members)
    return team


def make_cluster(
    org: Organization, name: str = "staging", *, url: str = "http://127.0.0.1:9/mcp", token: str = "t0k3n", **fields
) -> ClusterConnection:
    cluster = ClusterConnection(org=org, name=name, mcp_server_url=url, **fields)
    cluster.mcp_server_token = token
    cluster.save()
    return cluster


def bearer_client(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@dataclass
class OrgTrio:
    """An organisation with one member per role, and an outsider who belongs to another organisation."""

    org: Organization
    owner: User
    admin: User
    operator: User
    viewer: User
    outsider: User


@pytest.fixture
def trio(db) -> OrgTrio:
    org = make_org()
    other = make_org()
    return OrgTrio(
        org=org,
        owner=make_member(org, Role.OWNER),
        admin=make_member(org, Role.ADMIN),
        operator=make_member(org, Role.OPERATOR),
        viewer=make_member(org, Role.VIEWER),
        outsider=make_member(other, Role.OWNER),
    )


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()
