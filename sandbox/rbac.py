"""Who is asking, and may they: bearer-token authentication, impersonation and RBAC, as the Kubernetes API server
does them (`k8s.io/apiserver` filters WithAuthentication → WithImpersonation → WithAuthorization, and the RBAC
authorizer), so a client's `Forbidden` here reads exactly as a real cluster's.

- A request's `Authorization: Bearer <token>` names a user and groups (`Tokens`; `POST /sandbox/users` mints
  more); an unknown token is 401. The kubeconfig's admin token is in `system:masters`, whom authorization never
  limits, as on a real cluster. kubectl and client-go send credentials only over TLS, so on plain HTTP a request
  without any is the admin (as on Kubernetes' old insecure port: every existing client keeps working) and a
  `/identity/<token>` server-URL prefix stands in for the bearer token; over TLS no token means system:anonymous.
- `Impersonate-User` / `Impersonate-Group` (kubectl `--as` / `--as-group`) switch the identity only when the caller
  may `impersonate` those `users` / `groups` (or `serviceaccounts` for `system:serviceaccount:NS:NAME`).
- Every other request is allowed only by a rule of a Role/ClusterRole bound to the user or one of its groups
  (RoleBinding: its namespace only; ClusterRoleBinding: everywhere), plus the built-in grants every cluster has
  (discovery and self reviews for authenticated users, health and version for everyone).

The middleware leaves the acting identity in `scope["sandbox.user"]` for the request log (sandbox/audit.py) and the
review endpoints. `/sandbox/*` (the test control surface) is not a Kubernetes path and is not checked here.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.resources import BY_KEY
from sandbox.store import ApiError, Store

MASTERS = "system:masters"
AUTHENTICATED, UNAUTHENTICATED, ANONYMOUS = "system:authenticated", "system:unauthenticated", "system:anonymous"
ADMIN_USER = "sandbox-admin"
SA_PREFIX = "system:serviceaccount:"
METHOD_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}
NAMESPACE_SUBRESOURCES = {"status", "finalize"}
SCOPE_KEY = "sandbox.user"
IDENTITY_PREFIX = "/identity/"

# The bootstrap ClusterRoles a fresh cluster binds to these groups (system:discovery, system:basic-user,
# system:public-info-viewer), reduced to what the sandbox serves.
_PUBLIC = {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"]}
_DISCOVERY = {"verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*"]}
_SELF_REVIEWS = {
    "verbs": ["create"],
    "apiGroups": ["authorization.k8s.io"],
    "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
}
BUILTIN_RULES = {AUTHENTICATED: [_PUBLIC, _DISCOVERY, _SELF_REVIEWS], UNAUTHENTICATED: [_PUBLIC]}


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = ()
    impersonated_by: str = ""

    def record(self) -> dict:
        return {"user": self.name, "groups": list(self.groups), "impersonated_by": self.impersonated_by}


ANONYMOUS_USER = User(ANONYMOUS, (UNAUTHENTICATED,))


@dataclass
class Attributes:
    """What a request asks to do (k8s.io/apiserver's RequestInfo + user)."""

    user: User
    verb: str
    resource_request: bool = True
    group: str = ""
    version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""


class Tokens:
    """Bearer tokens and the identities they name; the admin token is in system:masters."""

    def __init__(self, admin_token: str) -> None:
        self.admin_token = admin_token
        self._users: dict[str, User] = {admin_token: User(ADMIN_USER, (MASTERS, AUTHENTICATED))}

    def add(self, name: str, groups: list[str] | tuple[str, ...] = ()) -> str:
        token = secrets.token_urlsafe(24)
        groups = tuple(g for g in groups if g != AUTHENTICATED) + (AUTHENTICATED,)
        self._users[token] = User(name, groups)
        return token

    def lookup(self, token: str) -> User | None:
        return self._users.get(token)

    def authenticate(self, scope: Scope) -> User | None:
        """The caller of a request: its bearer token's user (None for an unknown token); without a token, the admin
        on plain HTTP (kubectl sends no credentials over it, like Kubernetes' old insecure port) and
        system:anonymous over TLS. The token may also come as a `/identity/<token>` path prefix, which is stripped:
        the plain-HTTP stand-in for a bearer token that kubectl would not send."""
        headers = scope.get("headers") or []
        authorization = next((v.decode("latin-1") for k, v in headers if k.lower() == b"authorization"), "")
        path_token = _strip_identity_prefix(scope)
        if authorization:
            scheme, _, token = authorization.partition(" ")
            return self.lookup(token.strip()) if scheme.lower() == "bearer" else None
        if path_token is not None:
            return self.lookup(path_token)
        return ANONYMOUS_USER if scope.get("scheme") == "https" else self._users[self.admin_token]


def _strip_identity_prefix(scope: Scope) -> str | None:
    if not scope["path"].startswith(IDENTITY_PREFIX):
        return None
    token, _, rest = scope["path"][len(IDENTITY_PREFIX) :].partition("/")
    scope["path"] = "/" + rest
    scope["raw_path"] = scope["path"].encode()
    return token


# ---- request attributes -------------------------------------------------------------------------------------
def request_attributes(user: User, method: str, path: str, query: str) -> Attributes:
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 3:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return Attributes(user, method.lower(), resource_request=False, path=path)
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    name = rest[1] if len(rest) > 1 else ""
    watch = any(p in ("watch=true", "watch=1") for p in query.split("&"))
    if method == "GET":
        verb = "watch" if watch else ("get" if name else "list")
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        verb = METHOD_VERBS.get(method, method.lower())
    subresource = "/".join(rest[2:])
    return Attributes(user, verb, True, group, version, rest[0], subresource, namespace, name, path)


# ---- the RBAC authorizer ------------------------------------------------------------------------------------
def _has(values: list, wanted: str) -> bool:
    return "*" in values or wanted in values


def _resource_matches(rule_resources: list, resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    return any(r in ("*", combined) or (subresource and r == f"*/{subresource}") for r in rule_resources)


def _non_resource_matches(urls: list, path: str) -> bool:
    return any(u == "*" or u == path or (u.endswith("*") and path.startswith(u[:-1])) for u in urls)


def rule_allows(rule: dict, a: Attributes) -> bool:
    verbs = rule.get("verbs") or []
    if not _has(verbs, a.verb):
        return False
    if not a.resource_request:
        return _non_resource_matches(rule.get("nonResourceURLs") or [], a.path)
    names = rule.get("resourceNames") or []
    return (
        _has(rule.get("apiGroups") or [], a.group)
        and _resource_matches(rule.get("resources") or [], a.resource, a.subresource)
        and (not names or a.name in names)
    )


def _subject_matches(subject: dict, user: User, binding_namespace: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return name == user.name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return bool(namespace) and user.name == f"{SA_PREFIX}{namespace}:{name}"
    return False


@dataclass
class Grant:
    """The rules a binding gives, and where from (for review reasons and errors)."""

    rules: list[dict]
    source: str
    errors: list[str] = field(default_factory=list)


class Authorizer:
    def __init__(self, store: Store) -> None:
        self.store = store

    def grants(self, user: User, namespace: str) -> list[Grant]:
        """Every grant that applies to `user` in `namespace` ("" = cluster scope only)."""
        out = [
            Grant(rules, f"the built-in grants to {group}")
            for group, rules in BUILTIN_RULES.items()
            if group in user.groups
        ]
        rbac = "rbac.authorization.k8s.io"
        for binding in self.store.items(BY_KEY[(rbac, "clusterrolebindings")]):
            out += self._bound(binding, user, "")
        if namespace:
            for binding in self.store.items(BY_KEY[(rbac, "rolebindings")], namespace):
                out += self._bound(binding, user, namespace)
        return out

    def _bound(self, binding: dict, user: User, namespace: str) -> list[Grant]:
        if not any(_subject_matches(s, user, namespace) for s in binding.get("subjects") or []):
            return []
        ref = binding.get("roleRef") or {}
        kind, name = ref.get("kind", ""), ref.get("name", "")
        plural = "roles" if kind == "Role" else "clusterroles"
        role = self.store.find(BY_KEY[("rbac.authorization.k8s.io", plural)], namespace if kind == "Role" else "", name)
        binding_kind = "RoleBinding" if namespace else "ClusterRoleBinding"
        where = f' in namespace "{namespace}"' if namespace else ""
        source = f'{binding_kind} "{binding["metadata"]["name"]}"{where} of {kind} "{name}"'
        if role is None:
            return [Grant([], source, [f'{plural[:-1]}.rbac.authorization.k8s.io "{name}" not found'])]
        return [Grant(role.get("rules") or [], source)]

    def authorize(self, a: Attributes) -> tuple[bool, str]:
        """(allowed, reason) as the RBAC authorizer answers: the reason names the granting binding, or, on a
        denial, the bindings whose role is missing."""
        if MASTERS in a.user.groups:
            return True, ""
        errors: list[str] = []
        for grant in self.grants(a.user, a.namespace):
            if any(rule_allows(rule, a) for rule in grant.rules):
                return True, f'RBAC: allowed by {grant.source} to User "{a.user.name}"'
            errors += grant.errors
        if not errors:
            return False, ""
        # utilerrors.NewAggregate prints one error bare and several in brackets.
        return False, f"RBAC: {errors[0]}" if len(errors) == 1 else f"RBAC: [{', '.join(errors)}]"


def forbidden(a: Attributes, reason: str = "") -> ApiError:
    """responsewriters.Forbidden: the same message, reason and details a real API server sends."""
    user = a.user.name
    if not a.resource_request:
        message = f'forbidden: User "{user}" cannot {a.verb} path "{a.path}"'
        return ApiError(403, "Forbidden", message + (f": {reason}" if reason else ""))
    resource = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
    where = f'in the namespace "{a.namespace}"' if a.namespace else "at the cluster scope"
    why = f'User "{user}" cannot {a.verb} resource "{resource}" in API group "{a.group}" {where}'
    qualified = f"{a.resource}.{a.group}" if a.group else a.resource
    subject = f'{qualified} "{a.name}"' if a.name else qualified
    details = {k: v for k, v in (("name", a.name), ("group", a.group), ("kind", a.resource)) if v}
    return ApiError(403, "Forbidden", f"{subject} is forbidden: {why}" + (f": {reason}" if reason else ""), details)


# ---- impersonation ------------------------------------------------------------------------------------------
def impersonate(authorizer: Authorizer, requester: User, headers: list[tuple[bytes, bytes]]) -> User:
    """The user a request acts as after its Impersonate-* headers, or ApiError when it may not."""
    wanted_user = next((v.decode() for k, v in headers if k.lower() == b"impersonate-user"), "")
    wanted_groups = [v.decode() for k, v in headers if k.lower() == b"impersonate-group"]
    if not wanted_user:
        if wanted_groups:
            raise ApiError(500, "InternalError", f"requested groups {wanted_groups} without impersonating a user")
        return requester
    checks = []
    groups: list[str] = []
    if wanted_user.startswith(SA_PREFIX) and wanted_user.count(":") == 3:
        _, _, sa_namespace, sa_name = wanted_user.split(":")
        checks.append(
            Attributes(requester, "impersonate", resource="serviceaccounts", namespace=sa_namespace, name=sa_name)
        )
        if not wanted_groups:
            groups = ["system:serviceaccounts", f"system:serviceaccounts:{sa_namespace}"]
    else:
        checks.append(Attributes(requester, "impersonate", resource="users", name=wanted_user))
    for group in wanted_groups:
        checks.append(Attributes(requester, "impersonate", resource="groups", name=group))
        groups.append(group)
    for check in checks:
        allowed, reason = authorizer.authorize(check)
        if not allowed:
            raise forbidden(check, reason)
    if wanted_user == ANONYMOUS:
        groups += [] if UNAUTHENTICATED in groups else [UNAUTHENTICATED]
    elif AUTHENTICATED not in groups and UNAUTHENTICATED not in groups:
        groups.append(AUTHENTICATED)
    return User(wanted_user, tuple(groups), impersonated_by=requester.name)


# ---- reviews ------------------------------------------------------------------------------------------------
def access_review(authorizer: Authorizer, user: User, spec: dict) -> dict:
    """SelfSubjectAccessReview status for `spec` (resourceAttributes or nonResourceAttributes)."""
    resource = spec.get("resourceAttributes")
    if resource:
        a = Attributes(
            user,
            resource.get("verb", ""),
            group=resource.get("group", ""),
            version=resource.get("version", ""),
            resource=resource.get("resource", ""),
            subresource=resource.get("subresource", ""),
            namespace=resource.get("namespace", ""),
            name=resource.get("name", ""),
        )
    else:
        other = spec.get("nonResourceAttributes") or {}
        a = Attributes(user, other.get("verb", ""), resource_request=False, path=other.get("path", ""))
    allowed, reason = authorizer.authorize(a)
    return {"allowed": allowed, "reason": reason} if reason else {"allowed": allowed}


def rules_review(authorizer: Authorizer, user: User, namespace: str) -> dict:
    """SelfSubjectRulesReview status: the rules that apply to `user` in `namespace`."""
    if MASTERS in user.groups:
        resource_rules = [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]
        non_resource_rules = [{"verbs": ["*"], "nonResourceURLs": ["*"]}]
        return {"resourceRules": resource_rules, "nonResourceRules": non_resource_rules, "incomplete": False}
    resource_rules, non_resource_rules, errors = [], [], []
    for grant in authorizer.grants(user, namespace):
        errors += grant.errors
        for rule in grant.rules:
            if rule.get("nonResourceURLs"):
                non_resource_rules.append({"verbs": rule["verbs"], "nonResourceURLs": rule["nonResourceURLs"]})
            else:
                keys = ("verbs", "apiGroups", "resources", "resourceNames")
                resource_rules.append({k: rule[k] for k in keys if rule.get(k) is not None})
    status = {"resourceRules": resource_rules, "nonResourceRules": non_resource_rules, "incomplete": bool(errors)}
    if errors:
        status["evaluationError"] = ", ".join(errors)
    return status


# ---- the filter in the request path ------------------------------------------------------------------------
class AuthMiddleware:
    """Authenticates, impersonates and authorises every Kubernetes API request before it reaches a handler."""

    def __init__(self, app: ASGIApp, tokens: Tokens, authorizer: Authorizer) -> None:
        self.app, self.tokens, self.authorizer = app, tokens, authorizer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/sandbox/"):
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers") or []
        requester = self.tokens.authenticate(scope)
        if requester is None:
            await _send_status(send, ApiError(401, "Unauthorized", "Unauthorized"))
            return
        scope[SCOPE_KEY] = requester
        try:
            user = impersonate(self.authorizer, requester, headers)
            scope[SCOPE_KEY] = user
            query = scope.get("query_string", b"").decode("latin-1")
            a = request_attributes(user, scope["method"], scope["path"], query)
            allowed, reason = self.authorizer.authorize(a)
            if not allowed:
                raise forbidden(a, reason)
        except ApiError as exc:
            await _send_status(send, exc)
            return
        await self.app(scope, receive, send)


async def _send_status(send: Send, exc: ApiError) -> None:
    status = exc.status()
    if exc.code == 401:
        status.pop("details")
    body = json.dumps(status).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": exc.code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
