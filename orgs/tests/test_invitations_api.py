"""/orgs/{slug}/invitations/ (admin+) and POST /invitations/{token}/accept/ (the invited, signed-in user)."""

from datetime import timedelta

from django.utils import timezone

from orgs import services
from orgs.models import AuditEvent, Invitation, Membership, Role
from orgs.tests.matrix import as_role, assert_refused
from tests.accounts import bearer_client, make_team, make_user


def _base(trio):
    return f"/api/v1/orgs/{trio.org.slug}/invitations/"


def _invitations(trio):
    return sorted(Invitation.objects.filter(org=trio.org).values_list("email", flat=True))


def test_it_creates_invitations_for_admins_and_shows_the_token_once(trio):
    team = make_team(trio.org, "payments")
    body = {"email": "Bob@Example.com", "role": "operator", "teams": [str(team.pk)]}
    assert_refused(trio, "post", _base(trio), min_role=Role.ADMIN, data=body, snapshot=lambda: _invitations(trio))
    response = as_role(trio, "admin").post(_base(trio), body, format="json")
    assert response.status_code == 201
    token = response.json()["token"]
    invitation = Invitation.objects.get(org=trio.org)
    assert (invitation.email, invitation.role, list(invitation.teams.all())) == ("bob@example.com", "operator", [team])
    assert invitation.token_hash == Invitation.hash_token(token)
    assert token not in as_role(trio, "admin").get(_base(trio)).content.decode()
    assert AuditEvent.objects.filter(action="invitation.created", org=trio.org).exists()


def test_it_lets_only_owners_invite_owners(trio):
    body = {"email": "boss@example.com", "role": "owner"}
    assert as_role(trio, "admin").post(_base(trio), body, format="json").status_code == 403
    assert as_role(trio, "owner").post(_base(trio), body, format="json").status_code == 201


def test_it_refuses_inviting_a_member(trio):
    body = {"email": trio.viewer.email, "role": "viewer"}
    assert as_role(trio, "admin").post(_base(trio), body, format="json").status_code == 409
    assert _invitations(trio) == []


def test_it_lists_and_revokes_invitations_for_admins(trio):
    invitation, _ = services.invitation_create(actor=trio.owner, org=trio.org, email="x@example.com", role="viewer")
    assert_refused(trio, "get", _base(trio), min_role=Role.ADMIN)
    assert [i["email"] for i in as_role(trio, "admin").get(_base(trio)).json()["results"]] == ["x@example.com"]
    url = f"{_base(trio)}{invitation.pk}/"
    assert_refused(trio, "delete", url, min_role=Role.ADMIN, snapshot=lambda: _invitations(trio))
    assert as_role(trio, "admin").delete(url).status_code == 204
    assert _invitations(trio) == []
    assert AuditEvent.objects.filter(action="invitation.revoked").exists()


def test_it_accepts_an_invitation_for_the_invited_user(trio, anon_client):
    team = make_team(trio.org, "payments")
    bob = make_user("bob@example.com")
    _, token = services.invitation_create(
        actor=trio.admin, org=trio.org, email=bob.email, role="operator", teams=[team]
    )
    url = f"/api/v1/invitations/{token}/accept/"
    assert anon_client.post(url).status_code == 401
    assert bearer_client(make_user("eve@example.com")).post(url).status_code == 403
    assert bearer_client(bob).post("/api/v1/invitations/not-a-token/accept/").status_code == 404
    assert not Membership.objects.filter(user=bob).exists()
    response = bearer_client(bob).post(url)
    assert response.status_code == 200
    assert response.json() == {"org": trio.org.slug, "role": "operator"}
    assert Membership.objects.get(user=bob).role == Role.OPERATOR
    assert list(team.members) == [bob]
    assert AuditEvent.objects.filter(action="invitation.accepted", actor=bob).exists()
    assert bearer_client(bob).post(url).status_code == 409


def test_it_refuses_an_expired_invitation(trio):
    bob = make_user("bob@example.com")
    invitation, token = services.invitation_create(actor=trio.admin, org=trio.org, email=bob.email, role="viewer")
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert bearer_client(bob).post(f"/api/v1/invitations/{token}/accept/").status_code == 409
    assert not Membership.objects.filter(user=bob).exists()
