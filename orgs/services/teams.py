"""Teams (each backed by a Django group that holds its cluster grants) and their members."""

import uuid

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404

from orgs.models import Organization, Role, Team, User
from orgs.services._access import _require
from orgs.services.audit import audit_record
from skyflo.api_errors import Conflict


def _team_name_check(org: Organization, name: str, exclude=None) -> None:
    if not name.strip():
        raise ValidationError({"name": "A team needs a name."})
    if Team.objects.filter(org=org, name=name).exclude(pk=exclude).exists():
        raise ValidationError({"name": "A team with this name exists."})


@transaction.atomic
def team_create(*, actor: User, org: Organization, name: str, ip: str | None = None) -> Team:
    _require(actor, org, Role.ADMIN)
    _team_name_check(org, name)
    team = Team(org=org, name=name)
    team.group = Group.objects.create(name=f"team:{org.pk}:{team.pk}")
    team.save()
    audit_record(actor=actor, org=org, action="team.created", target=team, data={"name": name}, ip=ip)
    return team


@transaction.atomic
def team_update(*, actor: User, team: Team, name: str, ip: str | None = None) -> Team:
    _require(actor, team.org, Role.ADMIN)
    _team_name_check(team.org, name, exclude=team.pk)
    data = {"from": team.name, "to": name}
    team.name = name
    team.save(update_fields=["name"])
    audit_record(actor=actor, org=team.org, action="team.renamed", target=team, data=data, ip=ip)
    return team


@transaction.atomic
def team_delete(*, actor: User, team: Team, ip: str | None = None) -> None:
    """Delete a team; its cluster grants go with its group."""
    _require(actor, team.org, Role.ADMIN)
    audit_record(actor=actor, org=team.org, action="team.deleted", target=team, data={"name": team.name}, ip=ip)
    group = team.group
    team.delete()
    group.delete()


@transaction.atomic
def team_member_add(*, actor: User, team: Team, user: User | uuid.UUID | str, ip: str | None = None) -> User:
    """Put a member of the team's organisation (a User or a user id) into the team."""
    _require(actor, team.org, Role.ADMIN)
    user = User.objects.filter(pk=getattr(user, "pk", user), memberships__org=team.org).first()
    if user is None:
        raise ValidationError({"user": "Not a member of this organisation."})
    if team.group.user_set.filter(pk=user.pk).exists():
        raise Conflict("Already in this team.")
    team.group.user_set.add(user)
    data = {"team": team.name, "user": user.email}
    audit_record(actor=actor, org=team.org, action="team.member_added", target=team, data=data, ip=ip)
    return user


@transaction.atomic
def team_member_remove(*, actor: User, team: Team, user: User, ip: str | None = None) -> None:
    _require(actor, team.org, Role.ADMIN)
    if not team.group.user_set.filter(pk=user.pk).exists():
        raise Http404("Not in this team.")
    team.group.user_set.remove(user)
    data = {"team": team.name, "user": user.email}
    audit_record(actor=actor, org=team.org, action="team.member_removed", target=team, data=data, ip=ip)
