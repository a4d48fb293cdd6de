"""Reads for organisations, always given the asking user and always permission-filtered."""

import uuid
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, OuterRef, QuerySet, Subquery
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.crypto import salted_hmac
from guardian.models import GroupObjectPermission, UserObjectPermission
from guardian.shortcuts import get_objects_for_user

from orgs.models import (
    ROLE_RANK,
    AuditEvent,
    ClusterConnection,
    Invitation,
    Membership,
    Organization,
    Role,
    Team,
    User,
)

CLUSTER_CODENAMES = ("use_cluster", "operate_cluster")
CLUSTER_PERMS = tuple(f"orgs.{codename}" for codename in CLUSTER_CODENAMES)


def membership_get(*, user: User, org: Organization) -> Membership | None:
    """The user's membership in org, or None (also for anonymous and disabled users)."""
    if not user.is_authenticated or not user.is_active:
        return None
    return Membership.objects.filter(user=user, org=org).first()


def has_role(*, user: User, org: Organization, role: str) -> bool:
    membership = membership_get(user=user, org=org)
    return membership is not None and ROLE_RANK[membership.role] >= ROLE_RANK[role]


def org_list(*, user: User) -> QuerySet[Organization]:
    if not user.is_authenticated or not user.is_active:
        return Organization.objects.none()
    role = Membership.objects.filter(org=OuterRef("pk"), user=user).values("role")[:1]
    return Organization.objects.filter(memberships__user=user).annotate(user_role=Subquery(role)).order_by("name")


def cluster_list(*, user: User, org: Organization) -> QuerySet[ClusterConnection]:
    """Clusters of org the user may see: all for admins and owners, else those granted to them or their teams."""
    membership = membership_get(user=user, org=org)
    if membership is None:
        return ClusterConnection.objects.none()
    clusters = ClusterConnection.objects.filter(org=org)
    if membership.has_role(Role.ADMIN):
        return clusters.order_by("name")
    granted = get_objects_for_user(user, CLUSTER_PERMS, klass=clusters, any_perm=True, accept_global_perms=False)
    return granted.order_by("name")


def cluster_can_use(*, user: User, cluster: ClusterConnection) -> bool:
    """May chat with read-only tools on the cluster: cluster_list's rule for one cluster. Asked on every posted
    message and at every run's start, so it asks for this cluster's grants alone instead of building
    cluster_list's query (~15 ms of CPU)."""
    membership = membership_get(user=user, org=cluster.org)
    return membership is not None and (membership.has_role(Role.ADMIN) or _cluster_granted(user, cluster))


def cluster_can_request_changes(*, user: User, cluster: ClusterConnection) -> bool:
    """May have the agent plan mutating tool calls (each still waits for an approval): an operator or above who may
    use the cluster, on a cluster that is not read-only."""
    if cluster.read_only:
        return False
    membership = membership_get(user=user, org=cluster.org)
    if membership is None or not membership.has_role(Role.OPERATOR):
        return False
    return membership.has_role(Role.ADMIN) or _cluster_granted(user, cluster)


def _cluster_granted(user: User, cluster: ClusterConnection) -> bool:
    """use_cluster or operate_cluster on this cluster, granted to the user or to one of their teams: what
    guardian's ObjectPermissionChecker(user).get_perms(cluster) would list, in one query instead of its two
    querysets of every permission of both kinds."""
    if user.is_superuser:
        return user.is_active  # guardian grants active superusers every permission
    grant = {
        "content_type": ContentType.objects.get_for_model(ClusterConnection),
        "object_pk": str(cluster.pk),
        "permission__codename__in": CLUSTER_CODENAMES,
    }
    direct = UserObjectPermission.objects.filter(user=user, **grant)
    via_team = GroupObjectPermission.objects.filter(group__user=user, **grant)
    return ClusterConnection.objects.filter(pk=cluster.pk).filter(Exists(direct) | Exists(via_team)).exists()


def cluster_can_operate(*, user: User, cluster: ClusterConnection) -> bool:
    """May request and approve changes on the cluster: operator or above, with operate_cluster (admins implicitly)."""
    membership = membership_get(user=user, org=cluster.org)
    if membership is None or not membership.has_role(Role.OPERATOR) or cluster.read_only:
        return False
    if membership.has_role(Role.ADMIN):
        return True
    return user.has_perm("orgs.operate_cluster", cluster)


# --- fetch-or-refuse: 404 for what the user may not see, 403 for what they see but may not change ---------------


def membership_require(*, user: User, org: Organization, role: str = Role.VIEWER) -> Membership:
    """The user's membership in org; Http404 when they are not a member, PermissionDenied when below role."""
    membership = membership_get(user=user, org=org)
    if membership is None:
        raise Http404("No such organisation.")
    if not membership.has_role(role):
        raise PermissionDenied(f"This needs the {role} role in {org.slug}.")
    return membership


def org_get(*, user: User, slug: str) -> Organization:
    return get_object_or_404(org_list(user=user), slug=slug)


def member_list(*, user: User, org: Organization) -> QuerySet[Membership]:
    membership_require(user=user, org=org)
    return Membership.objects.filter(org=org).select_related("user")


def member_get(*, user: User, org: Organization, membership_id) -> Membership:
    return get_object_or_404(member_list(user=user, org=org), pk=membership_id)


def team_list(*, user: User, org: Organization) -> QuerySet[Team]:
    membership_require(user=user, org=org)
    return Team.objects.filter(org=org).select_related("group").annotate(member_count=Count("group__user"))


def team_get(*, user: User, org: Organization, team_id) -> Team:
    return get_object_or_404(team_list(user=user, org=org), pk=team_id)


def team_member_list(*, user: User, team: Team) -> QuerySet[User]:
    membership_require(user=user, org=team.org)
    return team.group.user_set.all()


def invitation_list(*, user: User, org: Organization) -> QuerySet[Invitation]:
    membership_require(user=user, org=org, role=Role.ADMIN)
    return Invitation.objects.filter(org=org).select_related("invited_by").prefetch_related("teams")


def invitation_get(*, user: User, org: Organization, invitation_id) -> Invitation:
    return get_object_or_404(invitation_list(user=user, org=org), pk=invitation_id)


def cluster_get(*, user: User, org: Organization, cluster_id) -> ClusterConnection:
    return get_object_or_404(cluster_list(user=user, org=org), pk=cluster_id)


def audit_list(*, user: User, org: Organization) -> QuerySet[AuditEvent]:
    membership_require(user=user, org=org, role=Role.ADMIN)
    return AuditEvent.objects.filter(org=org)


# --- cluster grants: read straight from guardian's tables, so grants made in the admin show up too -------------

GRANT_USER, GRANT_GROUP = 1, 2


@dataclass(frozen=True)
class ClusterGrant:
    id: uuid.UUID
    cluster: ClusterConnection
    permission: str
    team: Team | None
    user: User | None


def grant_id_make(kind: int, pk: int) -> uuid.UUID:
    """Guardian rows have sequential integer keys; the API speaks UUIDs. A keyed hash of the kind and row id:
    stable, and neither guessable nor telling how many grants exist."""
    digest = salted_hmac("skyflo.cluster-grant-id", f"{kind}:{pk}").digest()
    return uuid.UUID(bytes=digest[:16], version=4)


def _grant_rows(cluster: ClusterConnection):
    ct = ContentType.objects.get_for_model(ClusterConnection)
    where = {"content_type": ct, "object_pk": str(cluster.pk), "permission__codename__in": CLUSTER_CODENAMES}
    users = UserObjectPermission.objects.filter(**where).select_related("user", "permission")
    groups = GroupObjectPermission.objects.filter(**where, group__team__org=cluster.org)
    return users, groups.select_related("group__team", "permission")


def cluster_grant_list(*, user: User, cluster: ClusterConnection) -> list[ClusterGrant]:
    """Who holds use_cluster / operate_cluster on the cluster (admin+)."""
    membership_require(user=user, org=cluster.org, role=Role.ADMIN)
    users, groups = _grant_rows(cluster)
    grants = [
        ClusterGrant(grant_id_make(GRANT_USER, row.pk), cluster, row.permission.codename, None, row.user)
        for row in users
    ]
    grants += [
        ClusterGrant(grant_id_make(GRANT_GROUP, row.pk), cluster, row.permission.codename, row.group.team, None)
        for row in groups
    ]
    return sorted(grants, key=lambda g: (g.permission, g.team.name if g.team else "", g.user.email if g.user else ""))


def cluster_grant_get(*, user: User, cluster: ClusterConnection, grant_id: uuid.UUID) -> ClusterGrant:
    for grant in cluster_grant_list(user=user, cluster=cluster):
        if grant.id == grant_id:
            return grant
    raise Http404("No such grant.")


def model_connection_get(*, user: User, org: Organization):
    """The org's model connection (admins and owners), or None when the org uses the environment's model."""
    from orgs.models import ModelConnection

    membership_require(user=user, org=org, role=Role.ADMIN)
    return ModelConnection.objects.filter(org=org).first()


def model_endpoint(connection) -> dict:
    """The LLM client's endpoint arguments for an org: its model connection, else the environment's model."""
    from django.conf import settings

    if connection is None:
        return {
            "base_url": settings.LLM_BASE_URL,
            "api_key": settings.LLM_API_KEY,
            "model": settings.LLM_MODEL,
            "api_version": settings.LLM_API_VERSION,
            "extra_headers": settings.LLM_EXTRA_HEADERS,
            "reasoning_effort": settings.LLM_REASONING_EFFORT,
        }
    # A keyless endpoint (a local Ollama or vLLM) takes any bearer token; the SDK wants one.
    return {
        "base_url": connection.base_url,
        "api_key": connection.api_key or "none",
        "model": connection.model,
        "api_version": connection.api_version or None,
    }
