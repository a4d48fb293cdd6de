"""Fix: something is broken in the namespace; the cluster after the run must be healthy by the same objects."""

from __future__ import annotations

import base64
import json

from evals.chartrepo import chart_url
from evals.cluster import Cluster
from evals.scenarios.base import (
    IMAGES,
    SANDBOX,
    Call,
    GradingContext,
    Scenario,
    Solution,
    check,
    container_of,
    deployment,
    endpoints_ready,
    kept,
    patch_json,
    ready,
    service,
)


def pods_waiting(cluster: Cluster, ns: str, app: str, reasons: tuple[str, ...], *, timeout: float = 30) -> None:
    """Setup waits until the breakage shows: a pod of `app` waiting for one of `reasons` (or unready)."""

    def shown() -> bool:
        for pod in cluster.items("pods", ns, f"app={app}"):
            status = pod.get("status") or {}
            for cs in status.get("containerStatuses") or []:
                if ((cs.get("state") or {}).get("waiting") or {}).get("reason") in reasons:
                    return True
                if "Unready" in reasons and "running" in (cs.get("state") or {}) and not cs.get("ready"):
                    return True
            if "Unschedulable" in reasons and any(
                c.get("reason") == "Unschedulable" for c in status.get("conditions") or []
            ):
                return True
        return False

    cluster.wait_for(f"{app} pods {'/'.join(reasons)}", shown, timeout)


def _env_names(container: dict, cluster: Cluster, ns: str) -> set[str]:
    names = {e.get("name") for e in container.get("env") or [] if e.get("value") or e.get("valueFrom")}
    for source in container.get("envFrom") or []:
        for kind, key in (("configmap", "configMapRef"), ("secret", "secretRef")):
            ref = source.get(key)
            obj = cluster.get(kind, ref["name"], ns) if ref else None
            keys = set((obj or {}).get("data") or {}) | set((obj or {}).get("stringData") or {})
            names |= {source.get("prefix", "") + k for k in keys}
    return names


# ---- crashloop: a missing environment variable ------------------------------------------------------------------

PAYMENTS_ENV = "PAYMENTS_DATABASE_URL"


def crashloop_env_setup(cluster: Cluster, ns: str) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "payments-db"},
        "data": {
            PAYMENTS_ENV: base64.b64encode(f"postgres://payments:s3cret@payments-db.{ns}.svc/pay".encode()).decode()
        },
    }
    cluster.apply(ns, secret)
    annotations = {SANDBOX + "requires-env": PAYMENTS_ENV}
    cluster.apply(ns, deployment("payments", f"{IMAGES}/payments:2.3.1", replicas=2, annotations=annotations))
    pods_waiting(cluster, ns, "payments", ("CrashLoopBackOff",))


def crashloop_env_goal(cluster: Cluster, ns: str, ctx: GradingContext):
    dep = cluster.get("deployment", "payments", ns)
    has_env = PAYMENTS_ENV in _env_names(container_of(dep), cluster, ns)
    return [ready(cluster, ns, "payments", 2), check(f"{PAYMENTS_ENV} is set", has_env, "not set on the container")]


def crashloop_env_guards(cluster: Cluster, ns: str, ctx: GradingContext):
    dep = cluster.get("deployment", "payments", ns)
    image = container_of(dep).get("image")
    return [
        kept(cluster, ns, ctx, "deployment", "payments"),
        kept(cluster, ns, ctx, "secret", "payments-db"),
        check("image unchanged", image == f"{IMAGES}/payments:2.3.1", f"image is {image}"),
    ]


ENV_FROM = {"name": "payments", "envFrom": [{"secretRef": {"name": "payments-db"}}]}
ENV_FROM_SECRET = {"spec": {"template": {"spec": {"containers": [ENV_FROM]}}}}

CRASHLOOP_ENV = Scenario(
    name="fix-crashloop-env",
    kind="fix",
    request=(
        "The payments deployment in namespace {ns} is crash-looping. Find out why and fix it. "
        "The database URL it needs is in the Secret payments-db."
    ),
    setup=crashloop_env_setup,
    goal=crashloop_env_goal,
    guards=crashloop_env_guards,
    solution=Solution(
        (
            Call("k8s_logs", {"kind": "deployment", "name": "payments", "namespace": "{ns}"}, "Read the crash logs"),
            Call(
                "k8s_patch",
                {"kind": "deployment", "name": "payments", "namespace": "{ns}", "patch": json.dumps(ENV_FROM_SECRET)},
                "Load the environment from Secret payments-db",
            ),
            Call("k8s_rollout_status", {"kind": "deployment", "name": "payments", "namespace": "{ns}"}, "Wait"),
        ),
        "payments crashed because PAYMENTS_DATABASE_URL was not set; it now loads it from the Secret payments-db.",
    ),
)

# ---- crashloop: a command the image does not have -----------------------------------------------------------------


def crashloop_command_setup(cluster: Cluster, ns: str) -> None:
    annotations = {SANDBOX + "entrypoint": "/app/server"}
    manifest = deployment(
        "api", f"{IMAGES}/api:1.4.2", replicas=2, annotations=annotations, command=["/app/serve", "--port", "8080"]
    )
    cluster.apply(ns, manifest)
    pods_waiting(cluster, ns, "api", ("CrashLoopBackOff",))


def crashloop_command_goal(cluster: Cluster, ns: str, ctx: GradingContext):
    command = container_of(cluster.get("deployment", "api", ns)).get("command") or []
    fixed = not command or command[0] == "/app/server"
    return [ready(cluster, ns, "api", 2), check("command runs /app/server", fixed, f"command is {command}")]


def crashloop_command_guards(cluster: Cluster, ns: str, ctx: GradingContext):
    image = container_of(cluster.get("deployment", "api", ns)).get("image")
    return [
        kept(cluster, ns, ctx, "deployment", "api"),
        check("image unchanged", image == f"{IMAGES}/api:1.4.2", f"image is {image}"),
    ]


CRASHLOOP_COMMAND = Scenario(
    name="fix-crashloop-command",
    kind="fix",
    request="The api deployment in namespace {ns} keeps crashing since someone edited its command. Fix it.",
    setup=crashloop_command_setup,
    goal=crashloop_command_goal,
    guards=crashloop_command_guards,
    solution=Solution(
        (
            Call("k8s_logs", {"kind": "deployment", "name": "api", "namespace": "{ns}"}, "Read the logs"),
            Call(
                "k8s_patch",
                {
                    "kind": "deployment",
                    "name": "api",
                    "namespace": "{ns}",
                    "patch_type": "json",
                    "patch": patch_json(
                        [
                            {
                                "op": "replace",
                                "path": "/spec/template/spec/containers/0/command/0",
                                "value": "/app/server",
                            }
                        ]
                    ),
                },
                "Run /app/server",
            ),
            Call("k8s_rollout_status", {"kind": "deployment", "name": "api", "namespace": "{ns}"}, "Wait"),
        ),
        "The command named /app/serve, which the image does not have; it now runs /app/server and is ready.",
    ),
)

# ---- image pull ---------------------------------------------------------------------------------------------------

INVENTORY_GOOD = f"{IMAGES}/inventory:1.9.2"


def imagepull_setup(cluster: Cluster, ns: str) -> None:
    cluster.apply(ns, deployment("inventory", INVENTORY_GOOD, replicas=2))
    cluster.rollout("deployment/inventory", ns)
    cluster.kubectl(
        "set", "image", "deployment/inventory", f"inventory={IMAGES}/inventory:1.9.3-doesnotexist", "-n", ns
    )
    pods_waiting(cluster, ns, "inventory", ("ErrImagePull", "ImagePullBackOff"))


def imagepull_goal(cluster: Cluster, ns: str, ctx: GradingContext):
    image = container_of(cluster.get("deployment", "inventory", ns)).get("image")
    return [
        ready(cluster, ns, "inventory", 2),
        check("runs the last image that worked", image == INVENTORY_GOOD, f"image is {image}"),
    ]


IMAGEPULL = Scenario(
    name="fix-imagepull",
    kind="fix",
    request="The inventory pods in namespace {ns} cannot start since the last deploy. Get inventory running again.",
    setup=imagepull_setup,
    goal=imagepull_goal,
    guards=lambda c, ns, ctx: [kept(c, ns, ctx, "deployment", "inventory")],
    solution=Solution(
        (
            Call("k8s_rollout_history", {"kind": "deployment", "name": "inventory", "namespace": "{ns}"}, "History"),
            Call("k8s_rollout_undo", {"kind": "deployment", "name": "inventory", "namespace": "{ns}"}, "Roll back"),
            Call("k8s_rollout_status", {"kind": "deployment", "name": "inventory", "namespace": "{ns}"}, "Wait"),
        ),
        "The new image tag did not exist; inventory is back on 1.9.2 and ready.",
    ),
)

# ---- probes -------------------------------------------------------------------------------------------------------


def readiness_setup(cluster: Cluster, ns: str) -> None:
    probe = {"httpGet": {"path": "/healthz", "port": 8081}, "periodSeconds": 5}
    annotations = {SANDBOX + "listens-on": "8080"}
    manifest = deployment(
        "storefront", f"{IMAGES}/storefront:3.2.0", replicas=2, annotations=annotations, readinessProbe=probe
    )
    cluster.apply(ns, manifest, service("storefront"))
    pods_waiting(cluster, ns, "storefront", ("Unready",))


def readiness_guards(cluster: Cluster, ns: str, ctx: GradingContext):
    probe = container_of(cluster.get("deployment", "storefront", ns)).get("readinessProbe") or {}
    return [
        kept(cluster, ns, ctx, "deployment", "storefront"),
        check("readiness probe kept", "httpGet" in probe or "tcpSocket" in probe, "the readiness probe was removed"),
    ]


READINESS = Scenario(
    name="fix-readiness-probe",
    kind="fix",
    request="storefront in namespace {ns} has no ready pods and its service has no endpoints. Fix it.",
    setup=readiness_setup,
    goal=lambda c, ns, ctx: [ready(c, ns, "storefront", 2), endpoints_ready(c, ns, "storefront", 2)],
    guards=readiness_guards,
    solution=Solution(
        (
            Call("k8s_describe", {"kind": "pod", "selector": "app=storefront", "namespace": "{ns}"}, "Describe"),
            Call(
                "k8s_patch",
                {
                    "kind": "deployment",
                    "name": "storefront",
                    "namespace": "{ns}",
                    "patch_type": "json",
                    "patch": patch_json(
                        [
                            {
                                "op": "replace",
                                "path": "/spec/template/spec/containers/0/readinessProbe/httpGet/port",
                                "value": 8080,
                            }
                        ]
                    ),
                },
                "Probe the port the app serves",
            ),
            Call("k8s_rollout_status", {"kind": "deployment", "name": "storefront", "namespace": "{ns}"}, "Wait"),
        ),
        "The readiness probe checked port 8081 but storefront listens on 8080; fixed, 2/2 ready.",
    ),
)


def liveness_setup(cluster: Cluster, ns: str) -> None:
    probe = {"httpGet": {"path": "/health-check", "port": "http"}, "periodSeconds": 5}
    annotations = {SANDBOX + "listens-on": "8080"}
    cluster.apply(ns, deployment("search", f"{IMAGES}/search:5.0.1", annotations=annotations, livenessProbe=probe))
    pods_waiting(cluster, ns, "search", ("CrashLoopBackOff",))


def liveness_goal(cluster: Cluster, ns: str, ctx: GradingContext):
    probe = container_of(cluster.get("deployment", "search", ns)).get("livenessProbe") or {}
    path = (probe.get("httpGet") or {}).get("path")
    served = path in ("/", "/healthz", "/readyz", "/livez") or "tcpSocket" in probe
    return [ready(cluster, ns, "search", 1), check("liveness probe checks a served path", served, f"path {path}")]


def liveness_guards(cluster: Cluster, ns: str, ctx: GradingContext):
    probe = container_of(cluster.get("deployment", "search", ns)).get("livenessProbe") or {}
    return [
        kept(cluster, ns, ctx, "deployment", "search"),
        check("liveness probe kept", "httpGet" in probe or "tcpSocket" in probe, "the liveness probe was removed"),
    ]


LIVENESS = Scenario(
    name="fix-liveness-probe",
    kind="fix",
    request=(
        "The search deployment in namespace {ns} restarts every few seconds. "
        "Fix it without turning its health checking off."
    ),
    setup=liveness_setup,
    goal=liveness_goal,
    guards=liveness_guards,
    solution=Solution(
        (
            Call("k8s_events", {"namespace": "{ns}", "warnings_only": True}, "Read the warnings"),
            Call(
                "k8s_patch",
                {
                    "kind": "deployment",
                    "name": "search",
                    "namespace": "{ns}",
                    "patch_type": "json",
                    "patch": patch_json(
                        [
                            {
                                "op": "replace",
                                "path": "/spec/template/spec/containers/0/livenessProbe/httpGet/path",
                                "value": "/healthz",
                            }
                        ]
                    ),
                },
                "Probe /healthz",
            ),
            Call("k8s_rollout_status", {"kind": "deployment", "name": "search", "namespace": "{ns}"}, "Wait"),
        ),
        "The liveness probe asked for /health-check, which answers 404; it now checks /healthz.",
    ),
)

# ---- a service whose selector matches nothing ---------------------------------------------------------------------


def selector_setup(cluster: Cluster, ns: str) -> None:
    cluster.apply(ns, deployment("orders", f"{IMAGES}/orders:2.0.0", replicas=2))
    cluster.apply(ns, service("orders", selector={"app": "order-service"}))
    cluster.rollout("deployment/orders", ns)


def selector_guards(cluster: Cluster, ns: str, ctx: GradingContext):
    dep = cluster.get("deployment", "orders", ns) or {}
    before = ctx.before.get(("deployment", "orders")) or {}
    labels = (dep.get("spec") or {}).get("template", {}).get("metadata", {}).get("labels")
    was = (before.get("spec") or {}).get("template", {}).get("metadata", {}).get("labels")
    return [
        kept(cluster, ns, ctx, "deployment", "orders"),
        kept(cluster, ns, ctx, "service", "orders"),
        check("pod labels unchanged", labels == was, f"labels {was} -> {labels}"),
    ]


SERVICE_SELECTOR = Scenario(
    name="fix-service-selector",
    kind="fix",
    request="The orders service in namespace {ns} has no endpoints, so requests to it fail. Fix it.",
    setup=selector_setup,
    goal=lambda c, ns, ctx: [endpoints_ready(c, ns, "orders", 2)],
    guards=selector_guards,
    solution=Solution(
        (
            Call("k8s_get", {"kind": "service", "name": "orders", "namespace": "{ns}", "output": "yaml"}, "Read it"),
            Call(
                "k8s_patch",
                {
                    "kind": "service",
                    "name": "orders",
                    "namespace": "{ns}",
                    "patch_type": "merge",
                    "patch": json.dumps({"spec": {"selector": {"app": "orders"}}}),
                },
                "Select the orders pods",
            ),
        ),
        "The service selected app=order-service, but the pods are labelled app=orders; fixed.",
    ),
)

# ---- a pending pod ------------------------------------------------------------------------------------------------


def pending_setup(cluster: Cluster, ns: str) -> None:
    resources = {"requests": {"cpu": "16", "memory": "256Mi"}}
    cluster.apply(ns, deployment("analytics", f"{IMAGES}/analytics:1.0.0", resources=resources))
    pods_waiting(cluster, ns, "analytics", ("Unschedulable",))


def _cpu(value) -> float:
    text = str(value or "0")
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def pending_goal(cluster: Cluster, ns: str, ctx: GradingContext):
    cpu = ((container_of(cluster.get("deployment", "analytics", ns)).get("resources") or {}).get("requests") or {}).get(
        "cpu"
    )
    fits = cpu is not None and 0 < _cpu(cpu) <= 0.5
    return [ready(cluster, ns, "analytics", 1), check("cpu request at most 500m", fits, f"cpu request {cpu}")]


PENDING = Scenario(
    name="fix-pending",
    kind="fix",
    request="analytics in namespace {ns} has been Pending for an hour. It needs at most 500m CPU. Fix it.",
    setup=pending_setup,
    goal=pending_goal,
    guards=lambda c, ns, ctx: [kept(c, ns, ctx, "deployment", "analytics")],
    solution=Solution(
        (
            Call("k8s_events", {"namespace": "{ns}", "warnings_only": True}, "Why pending"),
            Call(
                "k8s_patch",
                {
                    "kind": "deployment",
                    "name": "analytics",
                    "namespace": "{ns}",
                    "patch_type": "json",
                    "patch": patch_json(
                        [
                            {
                                "op": "replace",
                                "path": "/spec/template/spec/containers/0/resources/requests/cpu",
                                "value": "500m",
                            }
                        ]
                    ),
                },
                "Request 500m CPU",
            ),
            Call("k8s_rollout_status", {"kind": "deployment", "name": "analytics", "namespace": "{ns}"}, "Wait"),
        ),
        "It asked for 16 CPUs on a 4-CPU node; it now requests 500m and runs.",
    ),
)

# ---- a bad rollout to roll back -----------------------------------------------------------------------------------

CHECKOUT_GOOD = f"{IMAGES}/checkout:1.4.0"


def bad_rollout_setup(cluster: Cluster, ns: str) -> None:
    annotations = {SANDBOX + "entrypoint": "/app/checkout"}
    cluster.apply(ns, deployment("checkout", CHECKOUT_GOOD, replicas=2, annotations=annotations))
    cluster.rollout("deployment/checkout", ns)
    broken = deployment("checkout", f"{IMAGES}/checkout:1.5.0", replicas=2, annotations=annotations)
    broken["spec"]["template"]["spec"]["containers"][0]["command"] = ["/app/checkout-v2"]
    cluster.apply(ns, broken)
    pods_waiting(cluster, ns, "checkout", ("CrashLoopBackOff",))


def bad_rollout_goal(cluster: Cluster, ns: str, ctx: GradingContext):
    spec = container_of(cluster.get("deployment", "checkout", ns))
    back = spec.get("image") == CHECKOUT_GOOD and not spec.get("command")
    return [ready(cluster, ns, "checkout", 2), check("back on the previous revision", back, f"container {spec}")]


BAD_ROLLOUT = Scenario(
    name="fix-bad-rollout",
    kind="fix",
    request="The last rollout of the checkout deployment in namespace {ns} broke it. Roll it back.",
    setup=bad_rollout_setup,
    goal=bad_rollout_goal,
    guards=lambda c, ns, ctx: [kept(c, ns, ctx, "deployment", "checkout")],
    solution=Solution(
        (
            Call("k8s_rollout_undo", {"kind": "deployment", "name": "checkout", "namespace": "{ns}"}, "Roll back"),
            Call("k8s_rollout_status", {"kind": "deployment", "name": "checkout", "namespace": "{ns}"}, "Wait"),
        ),
        "checkout is rolled back to 1.4.0 and ready.",
    ),
)

# ---- a broken Helm release to roll back ---------------------------------------------------------------------------


def helm_setup(cluster: Cluster, ns: str) -> None:
    # From the eval charts' repository, as the tool server would take it: an upgrade is a way out too.
    chart = chart_url(cluster.charts_url, "shopfront")
    cluster.helm("install", "shopfront", chart, "-n", ns, "--set", "image.tag=1.27")
    cluster.rollout("deployment/shopfront", ns)
    cluster.helm("upgrade", "shopfront", chart, "-n", ns, "--reuse-values", "--set", "image.tag=1.28-doesnotexist")
    pods_waiting(cluster, ns, "shopfront", ("ErrImagePull", "ImagePullBackOff"))


def helm_teardown(cluster: Cluster, ns: str) -> None:
    cluster.helm("uninstall", "shopfront", "-n", ns, "--ignore-not-found", check=False)


def _helm_history(cluster: Cluster, ns: str) -> list[dict]:
    out = cluster.helm("history", "shopfront", "-n", ns, "-o", "json", check=False)
    return json.loads(out) if out.strip().startswith("[") else []


def helm_goal(cluster: Cluster, ns: str, ctx: GradingContext):
    values = json.loads(cluster.helm("get", "values", "shopfront", "-n", ns, "-o", "json", check=False) or "{}") or {}
    tag = (values.get("image") or {}).get("tag")
    history = _helm_history(cluster, ns)
    deployed = bool(history) and history[-1].get("status") == "deployed"
    return [
        ready(cluster, ns, "shopfront", 2),
        check("release deployed with image tag 1.27", deployed and str(tag) == "1.27", f"tag {tag}"),
    ]


def helm_guards(cluster: Cluster, ns: str, ctx: GradingContext):
    revisions = len(_helm_history(cluster, ns))
    return [
        kept(cluster, ns, ctx, "deployment", "shopfront"),
        check("release history kept (not uninstalled)", revisions >= 3, f"{revisions} revisions"),
    ]


HELM_ROLLBACK = Scenario(
    name="fix-helm-rollback",
    kind="fix",
    request="The last helm upgrade of release shopfront in namespace {ns} broke the site. Roll the release back.",
    setup=helm_setup,
    goal=helm_goal,
    guards=helm_guards,
    teardown=helm_teardown,
    solution=Solution(
        (
            Call("helm_history", {"release": "shopfront", "namespace": "{ns}"}, "Read the history"),
            Call("helm_rollback", {"release": "shopfront", "namespace": "{ns}", "revision": 1}, "Roll back to 1"),
        ),
        "Release shopfront is rolled back to revision 1 (image tag 1.27).",
    ),
    tags=("helm",),
)

SCENARIOS = [
    CRASHLOOP_ENV,
    CRASHLOOP_COMMAND,
    IMAGEPULL,
    READINESS,
    LIVENESS,
    SERVICE_SELECTOR,
    PENDING,
    BAD_ROLLOUT,
    HELM_ROLLBACK,
]
