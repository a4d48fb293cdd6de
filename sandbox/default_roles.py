"""The user-facing ClusterRoles every cluster starts with (`cluster-admin`, `admin`, `edit`, `view`), and
`cluster-admin` bound to `system:masters`, as Kubernetes bootstraps them, reduced to the resources the sandbox
serves. As on a real cluster, `view` cannot read Secrets and only `admin` manages Roles and RoleBindings."""

from __future__ import annotations

import copy

from sandbox.resources import BY_KEY
from sandbox.store import Store

READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]
LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
RBAC = "rbac.authorization.k8s.io"

_CORE_READ = [
    "pods",
    "pods/log",
    "pods/status",
    "services",
    "services/status",
    "endpoints",
    "configmaps",
    "events",
    "persistentvolumeclaims",
    "persistentvolumeclaims/status",
    "serviceaccounts",
    "namespaces",
    "namespaces/status",
]
_APPS = ["deployments", "deployments/scale", "replicasets", "replicasets/scale", "statefulsets"]
_APPS += ["statefulsets/scale", "daemonsets", "deployments/status", "replicasets/status", "statefulsets/status"]
_APPS += ["daemonsets/status"]
_GROUPED = {
    "apps": _APPS,
    "batch": ["jobs", "jobs/status"],
    "autoscaling": ["horizontalpodautoscalers", "horizontalpodautoscalers/status"],
    "networking.k8s.io": ["ingresses", "ingresses/status", "networkpolicies"],
}
_CORE_WRITE = ["pods", "services", "endpoints", "configmaps", "secrets", "persistentvolumeclaims", "serviceaccounts"]


def _view() -> list[dict]:
    rules = [{"apiGroups": [""], "resources": _CORE_READ, "verbs": READ}]
    return rules + [{"apiGroups": [g], "resources": r, "verbs": READ} for g, r in _GROUPED.items()]


def _edit() -> list[dict]:
    writable = [{"apiGroups": [""], "resources": _CORE_WRITE, "verbs": WRITE}]
    writable += [
        {"apiGroups": [g], "resources": [x for x in r if not x.endswith("/status")], "verbs": WRITE}
        for g, r in _GROUPED.items()
    ]
    return [*_view(), {"apiGroups": [""], "resources": ["secrets"], "verbs": READ}, *writable]


def _admin() -> list[dict]:
    rbac = {"apiGroups": [RBAC], "resources": ["roles", "rolebindings"], "verbs": READ + WRITE}
    return [*_edit(), rbac]


ROLES = {
    "cluster-admin": [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
        {"nonResourceURLs": ["*"], "verbs": ["*"]},
    ],
    "admin": _admin(),
    "edit": _edit(),
    "view": _view(),
}


def seed_default_roles(store: Store) -> None:
    roles, bindings = BY_KEY[(RBAC, "clusterroles")], BY_KEY[(RBAC, "clusterrolebindings")]
    for name, rules in ROLES.items():
        store.insert(roles, {"metadata": {"name": name, "labels": dict(LABELS)}, "rules": copy.deepcopy(rules)})
    store.insert(
        bindings,
        {
            "metadata": {"name": "cluster-admin", "labels": dict(LABELS)},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"apiGroup": RBAC, "kind": "Group", "name": "system:masters"}],
        },
    )
