"""Invitations: created and revoked by admins, accepted by a signed-in user or consumed at registration."""

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from orgs.models import Invitation, Membership, Organization, Role, User
from orgs.services._access import _email_normalize, _require
from orgs.services.audit import audit_record
from skyflo.api_errors import Conflict


@transaction.atomic
def invitation_create(
    *, actor: User, org: Organization, email: str, role: str, teams=(), ip: str | None = None
) -> tuple[Invitation, str]:
    """Invite someone by email; returns the invitation and its token, which is shown this once (only a hash is kept)."""
    mine = _require(actor, org, Role.ADMIN)
    if role == Role.OWNER and mine is not None and mine.role != Role.OWNER:
        raise PermissionDenied("Only an owner may invite an owner.")
    email = _email_normalize(email)
    if Membership.objects.filter(org=org, user__email=email).exists():
        raise Conflict("This person is already a member.")
    if any(team.org_id != org.pk for team in teams):
        raise ValidationError({"teams": "Teams must belong to this organisation."})
    token, token_hash = Invitation.new_token()
    invitation = Invitation.objects.create(
        org=org,
        email=email,
        role=role,
        token_hash=token_hash,
        invited_by=actor,
        expires_at=timezone.now() + settings.INVITATION_TTL,
    )
    invitation.teams.set(teams)
    data = {"email": email, "role": role, "teams": [team.name for team in teams]}
    audit_record(actor=actor, org=org, action="invitation.created", target=invitation, data=data, ip=ip)
    return invitation, token


@transaction.atomic
def invitation_revoke(*, actor: User, invitation: Invitation, ip: str | None = None) -> None:
    _require(actor, invitation.org, Role.ADMIN)
    if invitation.accepted_at is not None:
        raise Conflict("This invitation was already accepted.")
    data = {"email": invitation.email}
    audit_record(actor=actor, org=invitation.org, action="invitation.revoked", target=invitation, data=data, ip=ip)
    invitation.delete()


def _invitation_locked(token: str) -> Invitation:
    invitation = Invitation.objects.select_for_update().filter(token_hash=Invitation.hash_token(token)).first()
    if invitation is None:
        raise Http404("No such invitation.")
    if not invitation.is_usable:
        raise Conflict("This invitation was already used or has expired.")
    return invitation


def _invitation_for_registration(token: str, email: str) -> Invitation:
    try:
        invitation = _invitation_locked(token)
    except (Http404, Conflict) as exc:
        raise ValidationError({"invitation": "This invitation is unknown, used or expired."}) from exc
    if invitation.email != email:
        raise ValidationError({"invitation": "This invitation was sent to another email address."})
    return invitation


def _invitation_consume(invitation: Invitation, user: User, ip: str | None) -> Membership:
    if Membership.objects.filter(org=invitation.org, user=user).exists():
        raise Conflict("You are already a member of this organisation.")
    membership = Membership.objects.create(org=invitation.org, user=user, role=invitation.role)
    for team in invitation.teams.select_related("group"):
        team.group.user_set.add(user)
    invitation.accepted_at, invitation.accepted_by = timezone.now(), user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    data = {"email": user.email, "role": invitation.role}
    audit_record(actor=user, org=invitation.org, action="invitation.accepted", target=invitation, data=data, ip=ip)
    return membership


@transaction.atomic
def invitation_accept(*, actor: User, token: str, ip: str | None = None) -> Membership:
    """A signed-in user joins the invitation's organisation with its role and teams (single use, before expiry)."""
    invitation = _invitation_locked(token)
    if invitation.email != actor.email:
        raise PermissionDenied("This invitation was sent to another email address.")
    return _invitation_consume(invitation, actor, ip)
