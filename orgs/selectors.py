"""Reads for organisations, always given the asking user and always permission-filtered."""

from django.db.models import QuerySet
from guardian.shortcuts import get_objects_for_user

from orgs.models import ROLE_RANK, ClusterConnection, Membership, Organization, Role, User

CLUSTER_PERMS = ("orgs.use_cluster", "orgs.operate_cluster")


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
    return Organization.objects.filter(memberships__user=user).order_by("name")


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
    """May chat with read-only tools on the cluster."""
    return cluster_list(user=user, org=cluster.org).filter(pk=cluster.pk).exists()


def cluster_can_operate(*, user: User, cluster: ClusterConnection) -> bool:
    """May request and approve changes on the cluster: operator or above, with operate_cluster (admins implicitly)."""
    membership = membership_get(user=user, org=cluster.org)
    if membership is None or not membership.has_role(Role.OPERATOR) or cluster.read_only:
        return False
    if membership.has_role(Role.ADMIN):
        return True
    return user.has_perm("orgs.operate_cluster", cluster)
