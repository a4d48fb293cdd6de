"""The resource types the sandbox serves: names, kinds, verbs and subresources as discovery reports them."""

from __future__ import annotations

from dataclasses import dataclass, field

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    has_status: bool = True
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def qualified(self) -> str:
        """`deployments.apps` in error messages, plain `pods` for the core group."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, self.plural)


def _rt(group, version, plural, kind, **kw) -> ResourceType:
    return ResourceType(group, version, plural, kind, **kw)


ALL = ("all",)
RESOURCE_TYPES: list[ResourceType] = [
    _rt("", "v1", "namespaces", "Namespace", namespaced=False, short_names=("ns",), subresources=("status",)),
    _rt("", "v1", "nodes", "Node", namespaced=False, short_names=("no",), subresources=("status",)),
    _rt("", "v1", "pods", "Pod", short_names=("po",), categories=ALL, subresources=("log", "status")),
    _rt("", "v1", "services", "Service", short_names=("svc",), categories=ALL, subresources=("status",)),
    _rt("", "v1", "endpoints", "Endpoints", short_names=("ep",), has_status=False),
    _rt("", "v1", "configmaps", "ConfigMap", short_names=("cm",), has_status=False),
    _rt("", "v1", "secrets", "Secret", has_status=False),
    _rt("", "v1", "serviceaccounts", "ServiceAccount", short_names=("sa",), has_status=False),
    _rt("", "v1", "events", "Event", short_names=("ev",), has_status=False),
    _rt("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", short_names=("pvc",), subresources=("status",)),
    _rt(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        short_names=("deploy",),
        categories=ALL,
        subresources=("scale", "status"),
    ),
    _rt(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        short_names=("rs",),
        categories=ALL,
        subresources=("scale", "status"),
    ),
    _rt(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        short_names=("sts",),
        categories=ALL,
        subresources=("scale", "status"),
    ),
    _rt("apps", "v1", "daemonsets", "DaemonSet", short_names=("ds",), categories=ALL, subresources=("status",)),
    _rt("batch", "v1", "jobs", "Job", categories=ALL, subresources=("status",)),
    _rt("networking.k8s.io", "v1", "ingresses", "Ingress", short_names=("ing",), subresources=("status",)),
    _rt("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", short_names=("netpol",), has_status=False),
    _rt(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        short_names=("hpa",),
        categories=ALL,
        subresources=("status",),
    ),
    _rt("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", short_names=("pdb",), subresources=("status",)),
    _rt("rbac.authorization.k8s.io", "v1", "roles", "Role", has_status=False),
    _rt("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", has_status=False),
    _rt("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False, has_status=False),
    _rt(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        namespaced=False,
        has_status=False,
    ),
]

# Reviews are answered, never stored: the sandbox allows every request (`kubectl auth can-i` says yes).
REVIEWS: dict[str, str] = {
    "selfsubjectaccessreviews": "SelfSubjectAccessReview",
    "selfsubjectrulesreviews": "SelfSubjectRulesReview",
}
REVIEW_GROUP, REVIEW_VERSION = "authorization.k8s.io", "v1"

BY_PATH: dict[tuple[str, str, str], ResourceType] = {(r.group, r.version, r.plural): r for r in RESOURCE_TYPES}
BY_KEY: dict[tuple[str, str], ResourceType] = {r.key: r for r in RESOURCE_TYPES}
BY_KIND: dict[str, ResourceType] = {r.kind: r for r in RESOURCE_TYPES}


def group_versions() -> dict[str, list[str]]:
    """Group name -> served versions (core group is "")."""
    out: dict[str, list[str]] = {}
    for r in RESOURCE_TYPES:
        versions = out.setdefault(r.group, [])
        if r.version not in versions:
            versions.append(r.version)
    out[REVIEW_GROUP] = [REVIEW_VERSION]
    return out


def _subresource_entry(r: ResourceType, sub: str) -> dict:
    entry = {"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced, "kind": r.kind}
    if sub == "scale":
        entry.update(kind="Scale", group="autoscaling", version="v1", verbs=["get", "patch", "update"])
    elif sub == "log":
        entry.update(kind="Pod", verbs=["get"])
    else:
        entry["verbs"] = ["get", "patch", "update"]
    return entry


def api_resource_list(group: str, version: str) -> dict | None:
    resources = []
    for r in RESOURCE_TYPES:
        if r.group != group or r.version != version:
            continue
        verbs = list(ALL_VERBS)
        if r.plural == "namespaces":
            verbs.remove("deletecollection")
        entry = {
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": verbs,
        }
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        resources.append(entry)
        resources.extend(_subresource_entry(r, sub) for sub in r.subresources)
    if (group, version) == (REVIEW_GROUP, REVIEW_VERSION):
        resources = [
            {"name": plural, "singularName": kind.lower(), "namespaced": False, "kind": kind, "verbs": ["create"]}
            for plural, kind in REVIEWS.items()
        ]
    if not resources:
        return None
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}


def api_group_list() -> dict:
    groups = []
    for group, versions in group_versions().items():
        if not group:
            continue
        gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        groups.append({"name": group, "versions": gvs, "preferredVersion": gvs[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
