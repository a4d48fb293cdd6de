"""POST /auth/register/: the first user owns a new org; afterwards only by invitation unless signup is enabled."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from orgs import services
from orgs.models import AuditEvent, Invitation, Membership, Organization, Role, User
from tests.accounts import PASSWORD, make_member, make_org, make_team

URL = "/api/v1/auth/register/"


def _register(**body):
    return APIClient().post(URL, {"password": PASSWORD, **body}, format="json")


def test_it_makes_the_first_user_owner_of_an_org_named_after_the_email_domain(db):
    response = _register(email="Alice@Acme.IO", full_name="Alice")
    assert response.status_code == 201, response.content
    assert response.json()["email"] == "alice@acme.io"
    org = Organization.objects.get()
    assert org.slug == "acme-io"
    user = User.objects.get()
    assert Membership.objects.get(org=org).role == Role.OWNER
    assert user.is_staff
    assert user.is_superuser
    assert "password" not in response.json()
    assert AuditEvent.objects.filter(action="org.created", actor=user).exists()


def test_it_names_the_first_org_as_asked(db):
    response = _register(email="alice@acme.io", org_name="Acme Platform")
    assert response.status_code == 201
    assert Organization.objects.get().slug == "acme-platform"


def test_it_refuses_later_users_without_invitation(db):
    make_member(make_org(), Role.OWNER)
    response = _register(email="mallory@example.com")
    assert response.status_code == 403
    assert not User.objects.filter(email="mallory@example.com").exists()


def test_it_lets_anyone_register_when_signup_is_enabled(db, settings):
    settings.SIGNUP_ENABLED = True
    make_member(make_org(), Role.OWNER)
    assert _register(email="newbie@example.com").status_code == 201
    newbie = User.objects.get(email="newbie@example.com")
    assert not newbie.memberships.exists()
    assert not newbie.is_staff


def test_it_joins_the_invited_org_with_its_role_and_teams(db):
    org = make_org()
    owner = make_member(org, Role.OWNER)
    team = make_team(org, "payments")
    invitation, token = services.invitation_create(
        actor=owner, org=org, email="bob@example.com", role=Role.OPERATOR, teams=[team]
    )
    response = _register(email="bob@example.com", invitation=token)
    assert response.status_code == 201, response.content
    bob = User.objects.get(email="bob@example.com")
    assert Membership.objects.get(user=bob).role == Role.OPERATOR
    assert list(team.members) == [bob]
    invitation.refresh_from_db()
    assert (invitation.accepted_by, invitation.is_usable) == (bob, False)
    assert Organization.objects.count() == 1  # no new org for invitees
    assert _register(email="eve@example.com", invitation=token).status_code == 400  # single use


@pytest.mark.parametrize("problem", ["other_email", "expired", "unknown"])
def test_it_refuses_an_unusable_invitation(db, problem):
    org = make_org()
    owner = make_member(org, Role.OWNER)
    invitation, token = services.invitation_create(actor=owner, org=org, email="bob@example.com", role=Role.VIEWER)
    email = "carol@example.com" if problem == "other_email" else "bob@example.com"
    if problem == "expired":
        Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = _register(email=email, invitation="nope" if problem == "unknown" else token)
    assert response.status_code == 400
    assert "invitation" in response.json()
    assert not User.objects.filter(email=email).exists()


def test_it_refuses_a_weak_password_and_a_taken_email(db, settings):
    assert _register(email="alice@acme.io", password="password").status_code == 400
    assert not User.objects.exists()
    assert _register(email="alice@acme.io").status_code == 201
    assert _register(email="ALICE@acme.io").status_code == 403  # a closed install does not say who has an account
    settings.SIGNUP_ENABLED = True
    response = _register(email="ALICE@acme.io")
    assert response.status_code == 400
    assert "email" in response.json()


def test_it_connects_the_first_org_to_the_tool_server_the_install_started_with(db, settings):
    settings.MCP_SERVER_URL = "http://127.0.0.1:8081/mcp"
    settings.MCP_SERVER_TOKEN = "local-token"
    settings.SANDBOX_CLUSTER = True
    assert _register(email="alice@acme.io").status_code == 201
    cluster = Organization.objects.get().clusters.get()
    assert (cluster.name, cluster.mcp_server_url, cluster.default_namespace) == (
        "sandbox",
        settings.MCP_SERVER_URL,
        "shop",
    )
    assert cluster.is_sandbox
    assert cluster.mcp_server_token == "local-token"


def test_it_gives_the_first_org_no_cluster_when_no_tool_server_is_configured(db, settings):
    settings.MCP_SERVER_URL = None
    assert _register(email="alice@acme.io").status_code == 201
    assert not Organization.objects.get().clusters.exists()
