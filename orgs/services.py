"""The only writers of orgs data. Each service checks access first (Http404 / PermissionDenied), validates
(ValidationError → 400, Conflict → 409), writes, and records an audit event in the same transaction.

An `actor` of None means a trusted in-process caller (the embedded launcher, a management command); the HTTP
layer always passes the signed-in user.
"""

import hashlib
import re
import uuid

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import Group, update_last_login
from django.contrib.auth.password_validation import validate_password
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.text import slugify
from guardian.models import GroupObjectPermission, UserObjectPermission
from guardian.shortcuts import assign_perm, remove_perm
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken, UntypedToken

from orgs.models import AuditEvent, ClusterConnection, Invitation, Membership, Organization, Role, Team, User
from orgs.selectors import (
    CLUSTER_CODENAMES,
    GRANT_GROUP,
    GRANT_USER,
    ClusterGrant,
    cluster_grant_get,
    grant_id_make,
    grant_id_parse,
    membership_get,
    membership_require,
)
from skyflo.api_errors import Conflict, TooManyRequests


class LoginFailed(AuthenticationFailed):
    default_detail = "No active account found with the given credentials."
    default_code = "login_failed"


class LoginThrottled(TooManyRequests):
    default_detail = "Too many failed sign-in attempts; try again later."
    default_code = "login_throttled"


# --- audit ----------------------------------------------------------------------------------------------------


def audit_record(
    *,
    actor: User | None,
    org: Organization | None,
    action: str,
    target=None,
    data: dict | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Append one audit event. `action` is "<domain>.<event>"; `target` any model instance (type and id kept)."""
    actor = actor if actor is not None and actor.is_authenticated else None
    return AuditEvent.objects.create(
        org=org,
        org_slug=org.slug if org else "",
        actor=actor,
        actor_email=actor.email if actor else "",
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        data=data or {},
        client_ip=ip or None,
    )


def _require(actor: User | None, org: Organization, role: str) -> Membership | None:
    return None if actor is None else membership_require(user=actor, org=org, role=role)


# --- sign-in, tokens, registration ----------------------------------------------------------------------------


def _failure_keys(email: str, ip: str | None) -> list[str]:
    account = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return [f"login-fail:account:{account}", f"login-fail:ip:{ip or '-'}"]


def _failure_count_add(key: str) -> None:
    cache.add(key, 0, timeout=settings.LOGIN_FAILURE_WINDOW_S)  # the window starts at the first failure
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_S)


def login_attempt(*, email: str, password: str, ip: str | None) -> User:
    """Check a password sign-in, throttled per account and per IP; used by the API and the browser login form.

    Raises LoginThrottled (429) when either counter reached settings.LOGIN_FAILURE_LIMIT within
    settings.LOGIN_FAILURE_WINDOW_S, LoginFailed (401) for a wrong password, unknown or disabled account.
    Every outcome is audited. Not atomic on purpose: the failure's audit row must outlive the refusal.
    """
    keys = _failure_keys(email, ip)
    counts = cache.get_many(keys)
    if any(count >= settings.LOGIN_FAILURE_LIMIT for count in counts.values()):
        audit_record(actor=None, org=None, action="auth.login_throttled", data={"email": email[:254]}, ip=ip)
        raise LoginThrottled()
    user = authenticate(email=email.strip().lower(), password=password)
    if user is None or not user.is_active:
        for key in keys:
            _failure_count_add(key)
        audit_record(actor=None, org=None, action="auth.login_failed", data={"email": email[:254]}, ip=ip)
        raise LoginFailed()
    cache.delete(keys[0])
    update_last_login(None, user)
    audit_record(actor=user, org=None, action="auth.login", target=user, ip=ip)
    return user


def login_failures_reset(*, email: str = "", ip: str | None = None) -> None:
    """Forget failed sign-ins for an account (and an IP, when given), e.g. after an admin unlocked it."""
    account_key, ip_key = _failure_keys(email, ip)
    cache.delete_many([account_key, ip_key] if ip else [account_key])


def token_pair_issue(*, user: User) -> dict[str, str]:
    refresh = RefreshToken.for_user(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def token_refresh(*, refresh: str, ip: str | None) -> dict[str, str]:
    """Rotate a refresh token: the old one is blacklisted and a new pair returned.

    Presenting a token that was already rotated or logged out is treated as theft: it is refused, audited as
    "auth.refresh_reused", and every outstanding refresh token of that user is revoked.
    """
    try:
        return _token_rotate(refresh)
    except TokenError as exc:
        _refresh_reuse_check(refresh, ip)
        raise InvalidToken(str(exc)) from exc


@transaction.atomic
def _token_rotate(raw: str) -> dict[str, str]:
    token = RefreshToken(raw)
    # Lock the row so two concurrent refreshes with the same token cannot both succeed.
    outstanding = OutstandingToken.objects.select_for_update().filter(jti=token["jti"]).first()
    if outstanding is None or BlacklistedToken.objects.filter(token=outstanding).exists():
        raise TokenError("Token is blacklisted")
    user = User.objects.filter(pk=token["user_id"], is_active=True).first()
    if user is None:
        raise TokenError("No active account found for the given token.")
    BlacklistedToken.objects.create(token=outstanding)
    return token_pair_issue(user=user)


@transaction.atomic
def _refresh_reuse_check(raw: str, ip: str | None) -> None:
    try:
        token = UntypedToken(raw)  # signature, expiry, audience and issuer: a real token of ours
    except TokenError:
        return
    if token.get("token_type") != "refresh":
        return
    if not BlacklistedToken.objects.filter(token__jti=token.get("jti")).exists():
        return
    user = User.objects.filter(pk=token.get("user_id")).first()
    revoked = 0
    for outstanding in OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True):
        BlacklistedToken.objects.get_or_create(token=outstanding)
        revoked += 1
    audit_record(
        actor=user, org=None, action="auth.refresh_reused", data={"jti": token.get("jti"), "revoked": revoked}, ip=ip
    )


@transaction.atomic
def logout(*, actor: User, refresh: str, ip: str | None) -> None:
    """Blacklist the caller's refresh token."""
    try:
        token = RefreshToken(refresh)
    except TokenError as exc:
        raise ValidationError({"refresh": "Token is invalid, expired or already revoked."}) from exc
    if str(token.get("user_id")) != str(actor.pk):
        raise PermissionDenied("This refresh token belongs to another user.")
    token.blacklist()
    audit_record(actor=actor, org=None, action="auth.logout", target=actor, ip=ip)


def _email_normalize(email: str) -> str:
    return User.objects.normalize_email(email.strip()).lower()


def _registration_lock() -> None:
    # Serialises "is this the first user?" between concurrent registrations (SQLite's IMMEDIATE mode does it there).
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('skyflo.user_register'))")


@transaction.atomic
def user_register(
    *,
    email: str,
    password: str,
    full_name: str = "",
    invitation: str | None = None,
    org_name: str | None = None,
    ip: str | None = None,
) -> User:
    """Create an account. The first user of an empty install owns a new organisation (and the Django admin);
    later users need a valid invitation (they join its org with its role and teams) unless SIGNUP_ENABLED."""
    _registration_lock()
    email = _email_normalize(email)
    first = not User.objects.exists()
    pending = _invitation_for_registration(invitation, email) if invitation else None
    if pending is None and not first and not settings.SIGNUP_ENABLED:
        raise PermissionDenied("Registration needs an invitation.")
    # Only after the gate, so closed installs do not tell strangers which addresses have accounts.
    if User.objects.filter(email=email).exists():
        raise ValidationError({"email": "An account with this email exists."})
    user = User(email=email, full_name=full_name, is_staff=first, is_superuser=first)
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    user.set_password(password)
    user.save()
    audit_record(actor=user, org=None, action="user.registered", target=user, ip=ip)
    if pending is not None:
        _invitation_consume(pending, user, ip)
    elif first:
        org = org_create(actor=user, name=org_name or email.rsplit("@", 1)[1], ip=ip)
        _first_cluster_connect(actor=user, org=org, ip=ip)
    return user


def _first_cluster_connect(*, actor: User, org: Organization, ip: str | None) -> None:
    """Give the first organisation the tool server this install was started with (MCP_SERVER_URL), so a newcomer
    can chat with a cluster right after signing up."""
    if not settings.MCP_SERVER_URL:
        return
    cluster_create(
        actor=actor,
        org=org,
        name="sandbox" if settings.SANDBOX_CLUSTER else "default",
        mcp_server_url=settings.MCP_SERVER_URL,
        mcp_server_token=settings.MCP_SERVER_TOKEN or "",
        default_namespace="shop" if settings.SANDBOX_CLUSTER else "default",
        is_sandbox=settings.SANDBOX_CLUSTER,
        ip=ip,
    )


@transaction.atomic
def me_update(*, actor: User, full_name: str | None = None, email: str | None = None) -> User:
    """Change one's own profile. Roles and flags are not settable here by design."""
    if email is not None:
        email = _email_normalize(email)
        if User.objects.filter(email=email).exclude(pk=actor.pk).exists():
            raise ValidationError({"email": "An account with this email exists."})
        actor.email = email
    if full_name is not None:
        actor.full_name = full_name
    actor.save(update_fields=["email", "full_name"])
    audit_record(actor=actor, org=None, action="user.updated", target=actor)
    return actor


# --- organisations and members ----------------------------------------------------------------------------------


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


def _owner_count(org: Organization) -> int:
    return Membership.objects.select_for_update().filter(org=org, role=Role.OWNER).count()


@transaction.atomic
def member_role_change(*, actor: User, membership: Membership, role: str, ip: str | None = None) -> Membership:
    """Change a member's role. Admins manage non-owners; only owners grant or take the owner role."""
    mine = _require(actor, membership.org, Role.ADMIN)
    if Role.OWNER in (role, membership.role) and mine is not None and mine.role != Role.OWNER:
        raise PermissionDenied("Only an owner may grant or take the owner role.")
    if membership.role == Role.OWNER and role != Role.OWNER and _owner_count(membership.org) <= 1:
        raise Conflict("An organisation always keeps at least one owner.")
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
        raise Conflict("An organisation always keeps at least one owner.")
    user = membership.user
    for team in Team.objects.filter(org=org).select_related("group"):
        team.group.user_set.remove(user)
    ct = ContentType.objects.get_for_model(ClusterConnection)
    cluster_pks = [str(pk) for pk in org.clusters.values_list("pk", flat=True)]
    UserObjectPermission.objects.filter(user=user, content_type=ct, object_pk__in=cluster_pks).delete()
    audit_record(actor=actor, org=org, action="member.removed", target=membership, data={"user": user.email}, ip=ip)
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


# --- teams ------------------------------------------------------------------------------------------------------


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


# --- invitations ------------------------------------------------------------------------------------------------


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


# --- clusters and grants ----------------------------------------------------------------------------------------

CLUSTER_FIELDS = ("name", "mcp_server_url", "default_namespace", "allowed_namespaces", "read_only")


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
    )
    cluster.mcp_server_token = mcp_server_token
    cluster.full_clean()
    cluster.save()
    audit_record(actor=actor, org=org, action="cluster.created", target=cluster, data={"name": name}, ip=ip)
    return cluster


@transaction.atomic
def cluster_update(*, actor: User | None, cluster: ClusterConnection, ip: str | None = None, **changes):
    """Change any of CLUSTER_FIELDS and/or `mcp_server_token` (the audit names changed fields, never values of it)."""
    _require(actor, cluster.org, Role.ADMIN)
    unknown = set(changes) - {*CLUSTER_FIELDS, "mcp_server_token"}
    if unknown:
        raise TypeError(f"cluster_update: unknown fields {sorted(unknown)}")
    for field, value in changes.items():
        setattr(cluster, field, value)
    cluster.full_clean()
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
    kind, _ = grant_id_parse(grant.id)
    holder = grant.team.group if kind == GRANT_GROUP else grant.user
    remove_perm(f"orgs.{grant.permission}", holder, cluster)
    data = {
        "permission": grant.permission,
        "team": grant.team.name if grant.team else None,
        "user": grant.user.email if grant.user else None,
    }
    audit_record(actor=actor, org=cluster.org, action="cluster.grant_deleted", target=cluster, data=data, ip=ip)
