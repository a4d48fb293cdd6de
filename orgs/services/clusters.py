"""Cluster connections and the per-object grants (use_cluster / operate_cluster) on them."""

from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from guardian.models import GroupObjectPermission, UserObjectPermission
from guardian.shortcuts import assign_perm, remove_perm

from orgs.models import ClusterConnection, Organization, Role, Team, User
from orgs.selectors import (
    CLUSTER_CODENAMES,
    GRANT_GROUP,
    GRANT_USER,
    ClusterGrant,
    cluster_grant_get,
    grant_id_make,
    membership_get,
)
from orgs.services._access import _require
from orgs.services.audit import audit_record
from orgs.services.tool_server_address import tool_server_url_check
from skyflo.api_errors import Conflict

CLUSTER_FIELDS = (
    "name",
    "mcp_server_url",
    "default_namespace",
    "allowed_namespaces",
    "read_only",
    "kind",
    "tool_allow",
    "tool_deny",
    "impersonate",
    "impersonation_user",
    "impersonation_group",
)
SECRET_FIELDS = ("mcp_server_token", "impersonation_key")  # write-only; the audit names them, never their values


@transaction.atomic
def cluster_create(
    *,
    actor: User | None,
    org: Organization,
    name: str,
    mcp_server_url: str,
    mcp_server_token: str = "",
    default_namespace: str = "default",
    allowed_namespaces: list[str] | tuple[str, ...] = (),
    read_only: bool = False,
    is_sandbox: bool = False,
    kind: str = ClusterConnection.Kind.SKYFLO,
    tool_allow: list[str] | tuple[str, ...] = (),
    tool_deny: list[str] | tuple[str, ...] = (),
    impersonate: bool = False,
    impersonation_key: str = "",
    impersonation_user: str = "{email}",
    impersonation_group: str = "skyflo:team:{team}",
    ip: str | None = None,
) -> ClusterConnection:
    """Connect a cluster (admin+). The embedded launcher calls this with actor=None for the first org's cluster."""
    _require(actor, org, Role.ADMIN)
    cluster = ClusterConnection(
        org=org,
        name=name,
        mcp_server_url=mcp_server_url,
        default_namespace=default_namespace,
        allowed_namespaces=list(allowed_namespaces),
        read_only=read_only,
        is_sandbox=is_sandbox,
        kind=kind,
        tool_allow=list(tool_allow),
        tool_deny=list(tool_deny),
        impersonate=impersonate,
        impersonation_user=impersonation_user,
        impersonation_group=impersonation_group,
    )
    cluster.mcp_server_token = mcp_server_token
    cluster.impersonation_key = impersonation_key
    cluster.full_clean()
    tool_server_url_check(cluster.mcp_server_url)
    cluster.save()
    audit_record(actor=actor, org=org, action="cluster.created", target=cluster, data={"name": name}, ip=ip)
    return cluster


@transaction.atomic
def cluster_update(*, actor: User | None, cluster: ClusterConnection, ip: str | None = None, **changes):
    """Change any of CLUSTER_FIELDS and/or SECRET_FIELDS (the audit names changed fields, never values of secrets)."""
    _require(actor, cluster.org, Role.ADMIN)
    unknown = set(changes) - {*CLUSTER_FIELDS, *SECRET_FIELDS}
    if unknown:
        raise TypeError(f"cluster_update: unknown fields {sorted(unknown)}")
    url_changed = "mcp_server_url" in changes and changes["mcp_server_url"] != cluster.mcp_server_url
    if url_changed and "mcp_server_token" not in changes:
        # The stored token must not follow the connection to another host.
        raise ValidationError({"mcp_server_token": "Give the tool server's token again when you change its URL."})
    if url_changed and cluster.impersonation_key and "impersonation_key" not in changes:
        # Nor the key that signs identities: another host must not be able to forge them for the old one.
        raise ValidationError({"impersonation_key": "Give the tool server's key again when you change its URL."})
    for field, value in changes.items():
        setattr(cluster, field, value)
    cluster.full_clean()
    if url_changed:
        tool_server_url_check(cluster.mcp_server_url)
    cluster.save()
    data = {"changed": sorted(changes)}
    audit_record(actor=actor, org=cluster.org, action="cluster.updated", target=cluster, data=data, ip=ip)
    return cluster


def _cluster_perms_delete(cluster_pks: list) -> None:
    ct = ContentType.objects.get_for_model(ClusterConnection)
    object_pks = [str(pk) for pk in cluster_pks]
    UserObjectPermission.objects.filter(content_type=ct, object_pk__in=object_pks).delete()
    GroupObjectPermission.objects.filter(content_type=ct, object_pk__in=object_pks).delete()


@transaction.atomic
def cluster_delete(*, actor: User | None, cluster: ClusterConnection, ip: str | None = None) -> None:
    _require(actor, cluster.org, Role.ADMIN)
    data = {"name": cluster.name}
    audit_record(actor=actor, org=cluster.org, action="cluster.deleted", target=cluster, data=data, ip=ip)
    _cluster_perms_delete([cluster.pk])
    cluster.delete()


@transaction.atomic
def cluster_grant_create(
    *,
    actor: User | None,
    cluster: ClusterConnection,
    permission: str,
    team: Team | None = None,
    user: User | None = None,
    ip: str | None = None,
) -> ClusterGrant:
    """Grant use_cluster or operate_cluster on a cluster to a team of its org or to one of its members."""
    _require(actor, cluster.org, Role.ADMIN)
    if permission not in CLUSTER_CODENAMES:
        raise ValidationError({"permission": f"One of {', '.join(CLUSTER_CODENAMES)}."})
    if (team is None) == (user is None):
        raise ValidationError({"detail": "Grant to exactly one of team or user."})
    if team is not None and team.org_id != cluster.org_id:
        raise ValidationError({"team": "Not a team of this organisation."})
    if user is not None and membership_get(user=user, org=cluster.org) is None:
        raise ValidationError({"user": "Not a member of this organisation."})
    holder = team.group if team is not None else user
    if f"orgs.{permission}" in _perms_held(holder, cluster):
        raise Conflict("This grant exists.")
    row = assign_perm(f"orgs.{permission}", holder, cluster)
    grant = ClusterGrant(
        id=_grant_uuid(row, team is not None), cluster=cluster, permission=permission, team=team, user=user
    )
    data = {"permission": permission, "team": team.name if team else None, "user": user.email if user else None}
    audit_record(actor=actor, org=cluster.org, action="cluster.grant_created", target=cluster, data=data, ip=ip)
    return grant


def _perms_held(holder, cluster: ClusterConnection) -> set[str]:
    model = GroupObjectPermission if isinstance(holder, Group) else UserObjectPermission
    ct = ContentType.objects.get_for_model(ClusterConnection)
    holder_field = "group" if isinstance(holder, Group) else "user"
    rows = model.objects.filter(**{holder_field: holder}, content_type=ct, object_pk=str(cluster.pk))
    return {f"orgs.{codename}" for codename in rows.values_list("permission__codename", flat=True)}


def _grant_uuid(row, is_group: bool):
    return grant_id_make(GRANT_GROUP if is_group else GRANT_USER, row.pk)


@transaction.atomic
def cluster_grant_delete(*, actor: User, cluster: ClusterConnection, grant_id, ip: str | None = None) -> None:
    grant = cluster_grant_get(user=actor, cluster=cluster, grant_id=grant_id)  # admin+ and visible, else 403/404
    holder = grant.team.group if grant.team is not None else grant.user
    remove_perm(f"orgs.{grant.permission}", holder, cluster)
    data = {
        "permission": grant.permission,
        "team": grant.team.name if grant.team else None,
        "user": grant.user.email if grant.user else None,
    }
    audit_record(actor=actor, org=cluster.org, action="cluster.grant_deleted", target=cluster, data=data, ip=ip)
