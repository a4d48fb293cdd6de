"""Accounts: registration, password sign-in with its throttle, token rotation, logout, one's own profile."""

import hashlib

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import update_last_login
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken, UntypedToken
from rest_framework_simplejwt.utils import get_md5_hash_password

from orgs.models import Organization, User
from orgs.services._access import _email_normalize
from orgs.services.audit import audit_record
from orgs.services.clusters import cluster_create
from orgs.services.invitations import _invitation_consume, _invitation_for_registration
from orgs.services.organizations import org_create
from skyflo.api_errors import TooManyRequests


class LoginFailed(AuthenticationFailed):
    default_detail = "No active account found with the given credentials."
    default_code = "login_failed"


class LoginThrottled(TooManyRequests):
    default_detail = "Too many failed sign-in attempts from this address; try again later."
    default_code = "login_throttled"


class LoginSlowed(TooManyRequests):
    default_detail = "Too many failed sign-ins for this account; wait a moment and try again."
    default_code = "login_slowed"


def _failure_keys(email: str, ip: str | None) -> list[str]:
    account = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return [f"login-fail:account:{account}", f"login-fail:ip:{ip or '-'}"]


def _failure_count_add(key: str) -> None:
    cache.add(key, 0, timeout=settings.LOGIN_FAILURE_WINDOW_S)  # the window starts at the first failure
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_S)


def _login_gate(account_key: str, ip_key: str, ip: str | None) -> TooManyRequests | None:
    """The address that failed too often is locked out; an account that failed too often (from anywhere) is
    slowed: each address may try it once per LOGIN_ACCOUNT_SLOWDOWN_S. So a stranger cannot lock the owner out,
    and the owner's first try from a new address is always checked."""
    counts = cache.get_many([account_key, ip_key])
    if counts.get(ip_key, 0) >= settings.LOGIN_FAILURE_LIMIT:
        return LoginThrottled()
    if counts.get(account_key, 0) >= settings.LOGIN_FAILURE_LIMIT:
        slot = f"login-slow:{account_key}:{ip or '-'}"
        if not cache.add(slot, 1, timeout=settings.LOGIN_ACCOUNT_SLOWDOWN_S):
            return LoginSlowed()
    return None


def login_attempt(*, email: str, password: str, ip: str | None, via: str = "api") -> User:
    """Check a password sign-in; used by the API, the browser login form and the admin's (`via` is audited).

    Raises LoginThrottled (429) for an address with settings.LOGIN_FAILURE_LIMIT failures within
    settings.LOGIN_FAILURE_WINDOW_S, LoginSlowed (429) for a repeat try on an account with that many failures
    (see _login_gate), LoginFailed (401) for a wrong password, unknown or disabled account.
    Every outcome is audited. Not atomic on purpose: the failure's audit row must outlive the refusal.
    """
    keys = _failure_keys(email, ip)
    data = {"email": email[:254], "via": via}
    refusal = _login_gate(*keys, ip)
    if refusal is not None:
        audit_record(
            actor=None, org=None, action="auth.login_throttled", data={**data, "why": refusal.default_code}, ip=ip
        )
        raise refusal
    user = authenticate(email=email.strip().lower(), password=password)
    if user is None or not user.is_active:
        for key in keys:
            _failure_count_add(key)
        audit_record(actor=None, org=None, action="auth.login_failed", data=data, ip=ip)
        raise LoginFailed()
    cache.delete(keys[0])
    update_last_login(None, user)
    audit_record(actor=user, org=None, action="auth.login", target=user, data={"via": via}, ip=ip)
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
    if token.get(jwt_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(user.password):
        raise TokenError("The password changed since this token was issued.")
    BlacklistedToken.objects.create(token=outstanding)
    return token_pair_issue(user=user)


def refresh_tokens_revoke(*, user: User) -> int:
    """Blacklist every outstanding refresh token of the user (after a password change, or a reused token)."""
    revoked = 0
    for outstanding in OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True):
        BlacklistedToken.objects.get_or_create(token=outstanding)
        revoked += 1
    return revoked


@transaction.atomic
def password_change(*, actor: User, current_password: str, new_password: str, ip: str | None) -> User:
    """Change one's own password, given the current one. Saving it ends everything the old one opened (see
    orgs.signals.user_password_changed): refresh tokens, access tokens, other sessions, open WebSockets."""
    if not actor.check_password(current_password):
        audit_record(actor=actor, org=None, action="auth.password_change_refused", target=actor, ip=ip)
        raise ValidationError({"current_password": "This is not your current password."})
    try:
        validate_password(new_password, user=actor)
    except ValidationError as exc:
        raise ValidationError({"new_password": exc.messages}) from exc
    actor.set_password(new_password)
    actor.save(update_fields=["password"])
    audit_record(actor=actor, org=None, action="auth.password_changed", target=actor, ip=ip)
    return actor


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
    if user is not None and token.get(jwt_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(user.password):
        return  # revoked by a password change, not rotated: another device of the owner, no theft to answer
    revoked = refresh_tokens_revoke(user=user) if user is not None else 0
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
def me_update(
    *,
    actor: User,
    full_name: str | None = None,
    email: str | None = None,
    current_password: str | None = None,
    ip: str | None = None,
) -> User:
    """Change one's own profile. Roles and flags are not settable here by design. The email is what one signs in
    with, so changing it needs the current password (no mail is sent: Skyflo has no mail setup); both addresses
    are audited."""
    data = {}
    if email is not None and _email_normalize(email) != actor.email:
        email = _email_normalize(email)
        if not current_password or not actor.check_password(current_password):
            raise ValidationError({"current_password": "Give your current password to change your email."})
        if User.objects.filter(email=email).exclude(pk=actor.pk).exists():
            raise ValidationError({"email": "An account with this email exists."})
        data = {"email_before": actor.email, "email_after": email}
        actor.email = email
    if full_name is not None:
        actor.full_name = full_name
    actor.save(update_fields=["email", "full_name"])
    audit_record(actor=actor, org=None, action="user.updated", target=actor, data=data, ip=ip)
    return actor
