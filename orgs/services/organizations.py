"""Organisations, their members and their ownership."""

import re
import uuid

from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.text import slugify
from guardian.models import UserObjectPermission

from orgs.models import ClusterConnection, Membership, Organization, Role, Team, User
from orgs.selectors import (
    membership_require,
)
from orgs.services._access import _require
from orgs.services.audit import audit_record
from orgs.services.clusters import _cluster_perms_delete
from skyflo.api_errors import Conflict


def _slug_free(name: str) -> str:
    base = slugify(re.sub(r"[._]", "-", name))[:55].strip("-") or "org"
    slug, n = base, 1
    while Organization.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def org_create(*, actor: User, name: str, slug: str | None = None, ip: str | None = None) -> Organization:
    """Create an organisation owned by actor. Any active user may."""
    org = Organization(name=name[:100], slug=slug or _slug_free(name))
    org.full_clean()
    org.save()
    Membership.objects.create(org=org, user=actor, role=Role.OWNER)
    audit_record(actor=actor, org=org, action="org.created", target=org, data={"slug": org.slug}, ip=ip)
    return org


@transaction.atomic
def org_update(
    *, actor: User, org: Organization, name: str | None = None, four_eyes: bool | None = None, ip: str | None = None
) -> Organization:
    _require(actor, org, Role.OWNER)
    changes = {k: v for k, v in {"name": name, "four_eyes": four_eyes}.items() if v is not None}
    for field, value in changes.items():
        setattr(org, field, value)
    org.full_clean()
    org.save()
    audit_record(actor=actor, org=org, action="org.updated", target=org, data=changes, ip=ip)
    return org


@transaction.atomic
def org_delete(*, actor: User, org: Organization, ip: str | None = None) -> None:
    """Delete the organisation with its teams, clusters, grants and invitations (owner only)."""
    _require(actor, org, Role.OWNER)
    audit_record(actor=actor, org=org, action="org.deleted", target=org, data={"slug": org.slug}, ip=ip)
    group_ids = list(Team.objects.filter(org=org).values_list("group_id", flat=True))
    _cluster_perms_delete(list(org.clusters.values_list("pk", flat=True)))
    org.delete()
    Group.objects.filter(pk__in=group_ids).delete()


OWNER_RULE = "An organisation always keeps at least one owner."


def _owner_count(org: Organization) -> int:
    return Membership.objects.select_for_update().filter(org=org, role=Role.OWNER).count()


@transaction.atomic
def member_role_change(*, actor: User, membership: Membership, role: str, ip: str | None = None) -> Membership:
    """Change a member's role. Admins manage non-owners; only owners grant or take the owner role."""
    mine = _require(actor, membership.org, Role.ADMIN)
    if Role.OWNER in (role, membership.role) and mine is not None and mine.role != Role.OWNER:
        raise PermissionDenied("Only an owner may grant or take the owner role.")
    if membership.role == Role.OWNER and role != Role.OWNER and _owner_count(membership.org) <= 1:
        raise Conflict(OWNER_RULE)
    before, membership.role = membership.role, role
    membership.save(update_fields=["role"])
    data = {"user": membership.user.email, "from": before, "to": role}
    audit_record(actor=actor, org=membership.org, action="member.role_changed", target=membership, data=data, ip=ip)
    return membership


@transaction.atomic
def member_remove(*, actor: User, membership: Membership, ip: str | None = None) -> None:
    """Remove a member (or leave, when actor is the member) with their team places and direct cluster grants."""
    org = membership.org
    if actor is not None and actor.pk == membership.user_id:
        membership_require(user=actor, org=org)
    else:
        mine = _require(actor, org, Role.ADMIN)
        if membership.role == Role.OWNER and mine is not None and mine.role != Role.OWNER:
            raise PermissionDenied("Only an owner may remove an owner.")
    if membership.role == Role.OWNER and _owner_count(org) <= 1:
        raise Conflict(OWNER_RULE)
    audit_record(
        actor=actor, org=org, action="member.removed", target=membership, data={"user": membership.user.email}, ip=ip
    )
    membership_delete_with_access(membership)


def membership_delete_with_access(membership: Membership) -> None:
    """Delete a membership with what it gave: the member's team places and direct grants on the org's clusters.
    No checks and no audit (member_remove and the Django admin do those)."""
    org, user = membership.org, membership.user
    for team in Team.objects.filter(org=org).select_related("group"):
        team.group.user_set.remove(user)
    ct = ContentType.objects.get_for_model(ClusterConnection)
    cluster_pks = [str(pk) for pk in org.clusters.values_list("pk", flat=True)]
    UserObjectPermission.objects.filter(user=user, content_type=ct, object_pk__in=cluster_pks).delete()
    membership.delete()


@transaction.atomic
def ownership_transfer(
    *, actor: User, org: Organization, to_user: User | uuid.UUID | str, ip: str | None = None
) -> Membership:
    """Make another member (a User or a user id) the owner; the actor stays on as admin."""
    mine = membership_require(user=actor, org=org, role=Role.OWNER)
    theirs = Membership.objects.filter(org=org, user_id=getattr(to_user, "pk", to_user)).select_related("user").first()
    if theirs is None:
        raise ValidationError({"user": "Not a member of this organisation."})
    if theirs.pk == mine.pk:
        raise Conflict("You already own this organisation.")
    Membership.objects.filter(pk=theirs.pk).update(role=Role.OWNER)
    Membership.objects.filter(pk=mine.pk).update(role=Role.ADMIN)
    data = {"from": actor.email, "to": theirs.user.email}
    audit_record(actor=actor, org=org, action="org.ownership_transferred", target=org, data=data, ip=ip)
    theirs.refresh_from_db()
    return theirs
