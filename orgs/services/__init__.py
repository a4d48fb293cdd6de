"""The only writers of orgs data. Each service checks access first (Http404 / PermissionDenied), validates
(ValidationError → 400, Conflict → 409), writes, and records an audit event in the same transaction.

An `actor` of None means a trusted in-process caller (the embedded launcher, a management command); the HTTP
layer always passes the signed-in user.

One module per domain; this package re-exports the public services so callers keep `from orgs import services`.
"""

from orgs.services.accounts import (
    LoginFailed,
    LoginSlowed,
    LoginThrottled,
    login_attempt,
    login_failures_reset,
    logout,
    me_update,
    password_change,
    refresh_tokens_revoke,
    token_pair_issue,
    token_refresh,
    user_register,
)
from orgs.services.audit import audit_record
from orgs.services.clusters import (
    CLUSTER_FIELDS,
    cluster_create,
    cluster_delete,
    cluster_grant_create,
    cluster_grant_delete,
    cluster_update,
)
from orgs.services.invitations import invitation_accept, invitation_create, invitation_revoke
from orgs.services.model_connection import model_connection_delete, model_connection_set
from orgs.services.organizations import (
    OWNER_RULE,
    member_remove,
    member_role_change,
    membership_delete_with_access,
    org_create,
    org_delete,
    org_update,
    ownership_transfer,
)
from orgs.services.teams import team_create, team_delete, team_member_add, team_member_remove, team_update

__all__ = [
    "CLUSTER_FIELDS",
    "OWNER_RULE",
    "LoginFailed",
    "LoginSlowed",
    "LoginThrottled",
    "audit_record",
    "cluster_create",
    "model_connection_delete",
    "model_connection_set",
    "cluster_delete",
    "cluster_grant_create",
    "cluster_grant_delete",
    "cluster_update",
    "invitation_accept",
    "invitation_create",
    "invitation_revoke",
    "login_attempt",
    "login_failures_reset",
    "logout",
    "me_update",
    "member_remove",
    "member_role_change",
    "membership_delete_with_access",
    "org_create",
    "org_delete",
    "org_update",
    "ownership_transfer",
    "password_change",
    "refresh_tokens_revoke",
    "team_create",
    "team_delete",
    "team_member_add",
    "team_member_remove",
    "team_update",
    "token_pair_issue",
    "token_refresh",
    "user_register",
]
