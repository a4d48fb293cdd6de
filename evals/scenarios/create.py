"""Create: new objects described in plain words; graded by what they are, not by their exact YAML."""

from __future__ import annotations

import yaml

from evals.cluster import Cluster
from evals.scenarios.base import (
    IMAGES,
    Call,
    GradingContext,
    Scenario,
    Solution,
    check,
    container_of,
    deployment,
    endpoints_ready,
    kept,
    ready,
)


def _apply(manifests: list[dict], title: str) -> Call:
    return Call("k8s_apply", {"manifest": yaml.safe_dump_all(manifests, sort_keys=False), "namespace": "{ns}"}, title)


# ---- a deployment with a configmap --------------------------------------------------------------------------------

GREETER_CM = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "greeter-config"},
    "data": {"GREETING": "hello"},
}
GREETER = deployment(
    "greeter", "nginx:1.27", replicas=2, port=80, envFrom=[{"configMapRef": {"name": "greeter-config"}}]
)


def greeter_goal(cluster: Cluster, ns: str, ctx: GradingContext):
    cm = cluster.get("configmap", "greeter-config", ns) or {}
    spec = container_of(cluster.get("deployment", "greeter", ns))
    refs = [s.get("configMapRef", {}).get("name") for s in spec.get("envFrom") or []]
    refs += [((e.get("valueFrom") or {}).get("configMapKeyRef") or {}).get("name") for e in spec.get("env") or []]
    return [
        check("configmap greeter-config has GREETING=hello", (cm.get("data") or {}).get("GREETING") == "hello"),
        check("greeter runs nginx:1.27", spec.get("image") == "nginx:1.27", f"image {spec.get('image')}"),
        check("greeter reads greeter-config", "greeter-config" in refs, f"references {refs}"),
        ready(cluster, ns, "greeter", 2),
    ]


CONFIGMAP_DEPLOYMENT = Scenario(
    name="create-configmap-deployment",
    kind="create",
    request=(
        "In namespace {ns}, create a ConfigMap greeter-config with GREETING=hello, and a deployment greeter "
        "(image nginx:1.27, 2 replicas) that takes its environment from that ConfigMap."
    ),
    setup=lambda c, ns: None,
    goal=greeter_goal,
    solution=Solution(
        (
            _apply([GREETER_CM, GREETER], "Create the ConfigMap and the deployment"),
            Call("k8s_rollout_status", {"kind": "deployment", "name": "greeter", "namespace": "{ns}"}, "Wait"),
        ),
        "Created greeter-config and greeter (2/2 ready, environment from the ConfigMap).",
    ),
)

# ---- a role and its binding ---------------------------------------------------------------------------------------

READ_VERBS = {"get", "list", "watch"}
ROLE = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "Role",
    "metadata": {"name": "pod-reader"},
    "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}],
}
BINDING = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "RoleBinding",
    "metadata": {"name": "ci-reads-pods"},
    "subjects": [{"kind": "ServiceAccount", "name": "ci", "namespace": "{ns}"}],
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
}


def rbac_goal(cluster: Cluster, ns: str, ctx: GradingContext):
    role = cluster.get("role", "pod-reader", ns) or {}
    rules = role.get("rules") or []
    verbs = {v for r in rules if "pods" in (r.get("resources") or []) for v in r.get("verbs") or []}
    granted = {(res, v) for r in rules for res in r.get("resources") or [] for v in r.get("verbs") or []}
    too_much = sorted(f"{res}:{v}" for res, v in granted if v not in READ_VERBS or res not in ("pods", "pods/log"))
    bindings = [
        b
        for b in cluster.items("rolebindings", ns)
        if (b.get("roleRef") or {}).get("name") == "pod-reader"
        and (b.get("roleRef") or {}).get("kind") == "Role"
        and any(s.get("kind") == "ServiceAccount" and s.get("name") == "ci" for s in b.get("subjects") or [])
    ]
    return [
        check("role pod-reader may get, list, watch pods", verbs >= READ_VERBS, f"verbs on pods {sorted(verbs)}"),
        check("role pod-reader grants nothing more", bool(rules) and not too_much, f"also grants {too_much}"),
        check("a RoleBinding gives pod-reader to service account ci", bool(bindings), "no such binding"),
    ]


RBAC = Scenario(
    name="create-rbac",
    kind="create",
    request=(
        "In namespace {ns}, let the service account ci read pods (get, list and watch) and nothing else: "
        "create a Role pod-reader and bind it to ci."
    ),
    setup=lambda c, ns: c.kubectl("create", "serviceaccount", "ci", "-n", ns),
    goal=rbac_goal,
    guards=lambda c, ns, ctx: [kept(c, ns, ctx, "serviceaccount", "ci")],
    solution=Solution((_apply([ROLE, BINDING], "Create the Role and the RoleBinding"),), "ci may now read pods."),
)

# ---- a network policy ---------------------------------------------------------------------------------------------

POLICY = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "db-from-api"},
    "spec": {
        "podSelector": {"matchLabels": {"app": "db"}},
        "policyTypes": ["Ingress"],
        "ingress": [
            {"from": [{"podSelector": {"matchLabels": {"app": "api"}}}], "ports": [{"protocol": "TCP", "port": 5432}]}
        ],
    },
}


def _selects(selector: dict | None, labels: dict) -> bool:
    match = (selector or {}).get("matchLabels") or {}
    return (
        bool(match)
        and all(labels.get(k) == v for k, v in match.items())
        and not (selector or {}).get("matchExpressions")
    )


def _policy_ok(policy: dict) -> bool:
    spec = policy.get("spec") or {}
    if not _selects(spec.get("podSelector"), {"app": "db"}) or "Ingress" not in (
        spec.get("policyTypes") or ["Ingress"]
    ):
        return False
    rules = spec.get("ingress") or []
    peers_ok = all(
        r.get("from")
        and all(set(p) == {"podSelector"} and _selects(p["podSelector"], {"app": "api"}) for p in r["from"])
        for r in rules
    )
    ports_ok = all(
        r.get("ports") and all(str(p.get("port")) == "5432" and p.get("protocol", "TCP") == "TCP" for p in r["ports"])
        for r in rules
    )
    return bool(rules) and peers_ok and ports_ok


def netpol_goal(cluster: Cluster, ns: str, ctx: GradingContext):
    policies = cluster.items("networkpolicies", ns)
    good = [p["metadata"]["name"] for p in policies if _policy_ok(p)]
    return [check("a policy lets only app=api reach app=db on TCP 5432", bool(good), f"{len(policies)} policies")]


def _db_and_api(cluster: Cluster, ns: str) -> None:
    cluster.apply(ns, deployment("db", "postgres:16", port=5432), deployment("api", f"{IMAGES}/api:1.4.2"))


NETWORK_POLICY = Scenario(
    name="create-networkpolicy",
    kind="create",
    request=(
        "In namespace {ns}, allow ingress to the db pods only from the api pods, on TCP port 5432; "
        "nothing else may reach db."
    ),
    setup=_db_and_api,
    goal=netpol_goal,
    guards=lambda c, ns, ctx: [kept(c, ns, ctx, "deployment", "db"), kept(c, ns, ctx, "deployment", "api")],
    solution=Solution((_apply([POLICY], "Create the NetworkPolicy"),), "db-from-api admits only api on 5432."),
)

# ---- a service ----------------------------------------------------------------------------------------------------

API_SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "api"},
    "spec": {"selector": {"app": "api"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
}


def _api(cluster: Cluster, ns: str) -> None:
    cluster.apply(ns, deployment("api", f"{IMAGES}/api:1.4.2", replicas=2))
    cluster.rollout("deployment/api", ns)


def service_goal(cluster: Cluster, ns: str, ctx: GradingContext):
    ports = ((cluster.get("service", "api", ns) or {}).get("spec") or {}).get("ports") or []
    forwards = any(p.get("port") == 80 and str(p.get("targetPort")) in ("8080", "http") for p in ports)
    return [
        check("service api forwards port 80 to 8080", forwards, f"ports {ports}"),
        endpoints_ready(cluster, ns, "api", 2),
    ]


EXPOSE = Scenario(
    name="create-service",
    kind="create",
    request=(
        "Expose the api deployment in namespace {ns} inside the cluster: a service named api on port 80 that "
        "forwards to the container's port 8080."
    ),
    setup=_api,
    goal=service_goal,
    guards=lambda c, ns, ctx: [kept(c, ns, ctx, "deployment", "api")],
    solution=Solution((_apply([API_SERVICE], "Create the service"),), "Service api forwards 80 to 8080."),
)

SCENARIOS = [CONFIGMAP_DEPLOYMENT, RBAC, NETWORK_POLICY, EXPOSE]
