"""The cluster connection's namespace list, enforced on every tool call by our code (never by the model).

A connection with `allowed_namespaces` confines the agent to those namespaces. A call passes only when we can
tell where it lands: its `namespace` (missing = the conversation's namespace, which we then write into the
arguments, so the tool server never falls back to a default of its own), no `all_namespaces`, only kinds we
know to be namespaced (a cluster-scoped kind, an unknown kind or a CRD is refused), and for a manifest every
object kubectl would send, Lists and objects with `items` flattened as kubectl does. Anything else is refused.
An empty list allows every namespace and leaves the arguments alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import yaml

# (API group, lower-case kind) -> every spelling kubectl accepts for it (plural, singular, short names).
NAMESPACED_KINDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "pod"): ("pods", "po"),
    ("", "service"): ("services", "svc"),
    ("", "endpoints"): ("ep",),
    ("", "configmap"): ("configmaps", "cm"),
    ("", "secret"): ("secrets",),
    ("", "serviceaccount"): ("serviceaccounts", "sa"),
    ("", "event"): ("events", "ev"),
    ("", "persistentvolumeclaim"): ("persistentvolumeclaims", "pvc"),
    ("", "replicationcontroller"): ("replicationcontrollers", "rc"),
    ("", "limitrange"): ("limitranges", "limits"),
    ("", "resourcequota"): ("resourcequotas", "quota"),
    ("", "podtemplate"): ("podtemplates",),
    ("apps", "deployment"): ("deployments", "deploy"),
    ("apps", "replicaset"): ("replicasets", "rs"),
    ("apps", "statefulset"): ("statefulsets", "sts"),
    ("apps", "daemonset"): ("daemonsets", "ds"),
    ("apps", "controllerrevision"): ("controllerrevisions",),
    ("batch", "job"): ("jobs",),
    ("batch", "cronjob"): ("cronjobs", "cj"),
    ("networking.k8s.io", "ingress"): ("ingresses", "ing"),
    ("networking.k8s.io", "networkpolicy"): ("networkpolicies", "netpol"),
    ("autoscaling", "horizontalpodautoscaler"): ("horizontalpodautoscalers", "hpa"),
    ("policy", "poddisruptionbudget"): ("poddisruptionbudgets", "pdb"),
    ("rbac.authorization.k8s.io", "role"): ("roles",),
    ("rbac.authorization.k8s.io", "rolebinding"): ("rolebindings",),
    ("coordination.k8s.io", "lease"): ("leases",),
    ("discovery.k8s.io", "endpointslice"): ("endpointslices",),
    ("events.k8s.io", "event"): ("events", "ev"),
}
# kubectl's `all` category lists namespaced workloads only.
CATEGORIES = {"all"}
_SPELLINGS: dict[str, set[str]] = {}
for (_group, _kind), _names in NAMESPACED_KINDS.items():
    for _name in (_kind, *_names):
        _SPELLINGS.setdefault(_name, set()).add(_group)

# Tools whose arguments name no object of the cluster (discovery, local rendering, the server's repo list).
NO_OBJECTS = {"k8s_api_resources", "helm_template", "helm_repo_add"}
# Tools that act on cluster-scoped objects only (nodes), or whose objects we cannot see before they run: a chart
# may hold ClusterRoles and Namespaces, and an install, upgrade or rollback creates whatever it holds.
NOT_CONFINABLE = {"k8s_cordon", "k8s_uncordon", "k8s_drain", "helm_install", "helm_upgrade", "helm_rollback"}
MANIFEST_MAX_CHARS = 1_000_000
MANIFEST_MAX_OBJECTS = 500


class OutOfScope(Exception):
    """The call would reach outside the connection's namespaces; the message is a sentence for the model."""


def kind_is_namespaced(kind: str) -> bool:
    """`kind` as a tool argument: 'deployments', 'deploy', 'Deployment', 'deployments.apps', 'pods,services'."""
    words = [word.strip().lower().split("/")[0] for word in kind.split(",")]
    return bool(words) and all(_spelling_is_namespaced(word) for word in words)


def _spelling_is_namespaced(word: str) -> bool:
    if word in CATEGORIES:
        return True
    name, _, group = word.partition(".")
    groups = _SPELLINGS.get(name, set())
    if not group:
        return bool(groups)
    # 'deployments.apps' or 'deployments.v1.apps'; a suffix naming any other group may be a cluster-scoped CRD.
    return any(group == g or group.endswith(f".{g}") and group.count(".") == g.count(".") + 1 for g in groups if g)


def scope_arguments(tool: str, args: dict, *, allowed: Sequence[str], default: str | None) -> dict:
    """The arguments to send (namespace filled in), or OutOfScope. No list: every call passes unchanged."""
    if not allowed:
        return args
    if tool in NOT_CONFINABLE:
        raise OutOfScope(f"{tool} may change cluster-wide objects, which this cluster connection does not allow.")
    if tool in NO_OBJECTS:
        return args
    if args.get("all_namespaces"):
        raise OutOfScope(f"This cluster connection is limited to the namespaces {_listed(allowed)}; not all of them.")
    scoped = dict(args)
    if not scoped.get("namespace") and _needs_namespace(tool, scoped):
        scoped["namespace"] = default
    namespace = scoped.get("namespace")
    if namespace is not None and namespace not in allowed:
        raise OutOfScope(f"Namespace {namespace!r} is outside this cluster connection's namespaces {_listed(allowed)}.")
    _kinds_check(scoped)
    if "manifest" in scoped and scoped.get("manifest"):
        _manifest_check(str(scoped["manifest"]), namespace, allowed)
    return scoped


def _needs_namespace(tool: str, args: dict) -> bool:
    """Every call of a confined connection runs in a namespace we chose, except a manifest whose objects all
    name their own (kubectl refuses a `-n` that differs from an object's namespace)."""
    if tool in ("k8s_apply", "k8s_diff") and args.get("manifest"):
        objects = _manifest_objects(str(args["manifest"]))
        return not objects or any(not (o.get("metadata") or {}).get("namespace") for o in objects)
    return True


def _kinds_check(args: dict) -> None:
    kind = args.get("kind")
    if kind is not None and not (isinstance(kind, str) and kind_is_namespaced(kind)):
        raise OutOfScope(f"{kind!r} is not a namespaced kind this cluster connection can confine to its namespaces.")
    target = args.get("for_object")
    if target and not kind_is_namespaced(str(target).partition("/")[0]):
        raise OutOfScope(f"{target!r} is not a namespaced object this cluster connection can confine.")


def _manifest_check(manifest: str, namespace: str | None, allowed: Sequence[str]) -> None:
    for obj in _manifest_objects(manifest):
        api_version, kind = str(obj.get("apiVersion") or ""), str(obj.get("kind") or "").lower()
        group = api_version.rpartition("/")[0] if "/" in api_version else ""
        if (group, kind) not in NAMESPACED_KINDS:
            raise OutOfScope(
                f"The manifest holds a {obj.get('kind')!r} ({api_version or 'no apiVersion'}), which is not a "
                "namespaced kind this cluster connection can confine to its namespaces."
            )
        target = (obj.get("metadata") or {}).get("namespace") or namespace
        if target not in allowed:
            raise OutOfScope(
                f"The manifest's {obj.get('kind')} would land in namespace {target!r}, outside "
                f"this cluster connection's namespaces {_listed(allowed)}."
            )


def _manifest_objects(manifest: str) -> list[dict]:
    """What kubectl sends for a manifest: every document, Lists (anything with `items`) flattened, recursively."""
    if len(manifest) > MANIFEST_MAX_CHARS:
        raise OutOfScope("The manifest is too large to check against this cluster connection's namespaces.")
    try:
        documents = [doc for doc in yaml.safe_load_all(manifest) if doc is not None]
    except yaml.YAMLError:
        raise OutOfScope("The manifest is not valid YAML, so its namespaces cannot be checked.") from None
    objects: list[dict] = []
    pending = list(reversed(documents))
    while pending:
        item = pending.pop()
        if not isinstance(item, dict):
            raise OutOfScope("Every document and list item of the manifest must be a Kubernetes object.")
        if "items" in item:
            if not isinstance(item["items"], list):
                raise OutOfScope("The manifest's `items` must be a list of Kubernetes objects.")
            pending.extend(reversed(item["items"]))
        else:
            objects.append(item)
        if len(objects) + len(pending) > MANIFEST_MAX_OBJECTS:
            raise OutOfScope("The manifest holds too many objects to check against this connection's namespaces.")
    return objects


def _listed(allowed: Sequence[str]) -> str:
    return "[" + ", ".join(allowed) + "]"
