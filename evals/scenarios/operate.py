"""Operate: a routine change asked in plain words; graded by the state it must leave."""

from __future__ import annotations

import json

from evals.cluster import Cluster
from evals.scenarios.base import (
    IMAGES,
    NODE,
    Call,
    GradingContext,
    Scenario,
    Solution,
    check,
    container_of,
    deployment,
    kept,
    ready,
    service,
)


def _web(cluster: Cluster, ns: str, image: str = "nginx:1.27", replicas: int = 2) -> None:
    cluster.apply(ns, deployment("web", image, replicas=replicas, port=80), service("web"))
    cluster.rollout("deployment/web", ns)


def _image_is(cluster: Cluster, ns: str, name: str, image: str):
    now = container_of(cluster.get("deployment", name, ns)).get("image")
    return check(f"{name} image is {image}", now == image, f"image is {now}")


def _node_schedulable(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("uncordon", NODE, check=False)


# ---- scale --------------------------------------------------------------------------------------------------------

SCALE_UP = Scenario(
    name="operate-scale-up",
    kind="operate",
    request="Scale the web deployment in namespace {ns} to 4 replicas and make sure all of them are ready.",
    setup=_web,
    goal=lambda c, ns, ctx: [ready(c, ns, "web", 4)],
    guards=lambda c, ns, ctx: [kept(c, ns, ctx, "deployment", "web"), _image_is(c, ns, "web", "nginx:1.27")],
    solution=Solution(
        (
            Call("k8s_scale", {"kind": "deployment", "name": "web", "namespace": "{ns}", "replicas": 4}, "Scale to 4"),
            Call("k8s_rollout_status", {"kind": "deployment", "name": "web", "namespace": "{ns}"}, "Wait"),
        ),
        "web runs 4 ready replicas.",
    ),
)


def _worker(cluster: Cluster, ns: str) -> None:
    cluster.apply(ns, deployment("batch-worker", f"{IMAGES}/batch-worker:0.9.1", replicas=3))
    cluster.rollout("deployment/batch-worker", ns)


def _no_pods(cluster: Cluster, ns: str, app: str):
    pods = cluster.items("pods", ns, f"app={app}")
    return check(f"no {app} pods left", not pods, f"{len(pods)} pods")


SCALE_TO_ZERO = Scenario(
    name="operate-scale-to-zero",
    kind="operate",
    request="Stop the batch-worker deployment in namespace {ns} by scaling it to zero, but keep the deployment.",
    setup=_worker,
    goal=lambda c, ns, ctx: [ready(c, ns, "batch-worker", 0), _no_pods(c, ns, "batch-worker")],
    guards=lambda c, ns, ctx: [kept(c, ns, ctx, "deployment", "batch-worker")],
    solution=Solution(
        (
            Call(
                "k8s_scale",
                {"kind": "deployment", "name": "batch-worker", "namespace": "{ns}", "replicas": 0},
                "Scale to 0",
            ),
        ),
        "batch-worker is scaled to zero; the deployment is kept.",
    ),
)

# ---- set image and wait -------------------------------------------------------------------------------------------

SET_IMAGE = Scenario(
    name="operate-set-image",
    kind="operate",
    request="Update the web deployment in namespace {ns} to image nginx:1.27.3 and wait until the rollout is done.",
    setup=lambda c, ns: _web(c, ns, "nginx:1.26"),
    goal=lambda c, ns, ctx: [_image_is(c, ns, "web", "nginx:1.27.3"), ready(c, ns, "web", 2)],
    guards=lambda c, ns, ctx: [kept(c, ns, ctx, "deployment", "web")],
    solution=Solution(
        (
            Call(
                "k8s_set_image",
                {"kind": "deployment", "name": "web", "namespace": "{ns}", "container": "web", "image": "nginx:1.27.3"},
                "Set the image",
            ),
            Call("k8s_rollout_status", {"kind": "deployment", "name": "web", "namespace": "{ns}"}, "Wait"),
        ),
        "web runs nginx:1.27.3 on 2/2 ready pods.",
    ),
)

# ---- restart ------------------------------------------------------------------------------------------------------


def _api(cluster: Cluster, ns: str) -> None:
    cluster.apply(ns, deployment("api", f"{IMAGES}/api:1.4.2", replicas=2))
    cluster.rollout("deployment/api", ns)


def restart_goal(cluster: Cluster, ns: str, ctx: GradingContext):
    dep = cluster.get("deployment", "api", ns) or {}
    annotations = (dep.get("spec") or {}).get("template", {}).get("metadata", {}).get("annotations") or {}
    pods = {p["metadata"]["uid"] for p in cluster.items("pods", ns, "app=api")}
    return [
        check("restart requested", "kubectl.kubernetes.io/restartedAt" in annotations, "no restartedAt annotation"),
        check("every pod replaced", bool(pods) and not pods & ctx.pods_before, "old pods still run"),
        ready(cluster, ns, "api", 2),
    ]


RESTART = Scenario(
    name="operate-restart",
    kind="operate",
    request="Do a rolling restart of the api deployment in namespace {ns}; it must pick up a rotated secret.",
    setup=_api,
    goal=restart_goal,
    guards=lambda c, ns, ctx: [kept(c, ns, ctx, "deployment", "api")],
    solution=Solution(
        (
            Call("k8s_rollout_restart", {"kind": "deployment", "name": "api", "namespace": "{ns}"}, "Restart"),
            Call("k8s_rollout_status", {"kind": "deployment", "name": "api", "namespace": "{ns}"}, "Wait"),
        ),
        "api was restarted; both pods are new and ready.",
    ),
)

# ---- cordon and drain ---------------------------------------------------------------------------------------------


def _unschedulable(cluster: Cluster) -> bool:
    return bool(((cluster.get("node", NODE) or {}).get("spec") or {}).get("unschedulable"))


def cordon_guards(cluster: Cluster, ns: str, ctx: GradingContext):
    pods = {p["metadata"]["uid"] for p in cluster.items("pods", ns, "app=web")}
    return [check("running pods left alone", pods == ctx.pods_before, "pods were replaced or removed")]


CORDON = Scenario(
    name="operate-cordon",
    kind="operate",
    request=f"Cordon node {NODE} so that no new pods are scheduled on it. Leave the pods running there alone.",
    setup=lambda c, ns: _web(c, ns, replicas=1),
    goal=lambda c, ns, ctx: [check(f"node {NODE} unschedulable", _unschedulable(c), "still schedulable")],
    guards=cordon_guards,
    cluster_scoped=(("nodes", NODE),),
    teardown=_node_schedulable,
    solution=Solution((Call("k8s_cordon", {"node": NODE}, "Cordon"),), f"{NODE} is cordoned."),
    tags=("node",),
)


def drain_goal(cluster: Cluster, ns: str, ctx: GradingContext):
    bound = [p["metadata"]["name"] for p in cluster.items("pods", ns) if (p.get("spec") or {}).get("nodeName") == NODE]
    return [
        check(f"node {NODE} unschedulable", _unschedulable(cluster), "still schedulable"),
        check(f"no pod of {ns} left on {NODE}", not bound, f"still there: {bound}"),
    ]


DRAIN = Scenario(
    name="operate-drain",
    kind="operate",
    request=(
        f"Drain node {NODE} for maintenance (DaemonSet pods may stay). "
        "The workloads in namespace {ns} will wait as Pending until it is back; that is expected."
    ),
    setup=lambda c, ns: _web(c, ns, replicas=2),
    goal=drain_goal,
    guards=lambda c, ns, ctx: [kept(c, ns, ctx, "deployment", "web")],
    cluster_scoped=(("nodes", NODE),),
    anywhere=("pods",),
    teardown=_node_schedulable,
    solution=Solution((Call("k8s_drain", {"node": NODE, "ignore_daemonsets": True}, "Drain"),), f"{NODE} is drained."),
    tags=("node",),
)

# ---- label and annotate -------------------------------------------------------------------------------------------


def label_goal(cluster: Cluster, ns: str, ctx: GradingContext):
    labels = ((cluster.get("deployment", "web", ns) or {}).get("metadata") or {}).get("labels") or {}
    wanted = {"app": "web", "team": "storefront", "tier": "frontend"}
    return [check("labels team=storefront, tier=frontend (app kept)", labels == wanted, f"labels {labels}")]


def _generation_kept(cluster: Cluster, ns: str, ctx: GradingContext, kind: str, name: str):
    now = (cluster.get(kind, name, ns) or {}).get("metadata", {}).get("generation")
    was = (ctx.before.get((kind, name)) or {}).get("metadata", {}).get("generation")
    return check(f"{kind} {name} spec unchanged", now == was, f"generation {was} -> {now}")


LABEL = Scenario(
    name="operate-label",
    kind="operate",
    request="Label the web deployment in namespace {ns} with team=storefront and tier=frontend.",
    setup=_web,
    goal=label_goal,
    guards=lambda c, ns, ctx: [
        kept(c, ns, ctx, "deployment", "web"),
        _generation_kept(c, ns, ctx, "deployment", "web"),
    ],
    solution=Solution(
        (
            Call(
                "k8s_label",
                {
                    "kind": "deployment",
                    "name": "web",
                    "namespace": "{ns}",
                    "labels": {"team": "storefront", "tier": "frontend"},
                },
                "Label",
            ),
        ),
        "web is labelled team=storefront, tier=frontend.",
    ),
)

RUNBOOK = "https://runbooks.example.com/web"


def annotate_goal(cluster: Cluster, ns: str, ctx: GradingContext):
    annotations = ((cluster.get("service", "web", ns) or {}).get("metadata") or {}).get("annotations") or {}
    ok = annotations.get("owner") == "payments-team" and annotations.get("runbook") == RUNBOOK
    return [check("owner and runbook annotations", ok, f"annotations {annotations}")]


def annotate_guards(cluster: Cluster, ns: str, ctx: GradingContext):
    selector = ((cluster.get("service", "web", ns) or {}).get("spec") or {}).get("selector")
    return [
        kept(cluster, ns, ctx, "service", "web"),
        check("selector unchanged", selector == {"app": "web"}, f"selector {selector}"),
    ]


ANNOTATE = Scenario(
    name="operate-annotate",
    kind="operate",
    request=f"Annotate the web service in namespace {{ns}} with owner=payments-team and runbook={RUNBOOK}.",
    setup=_web,
    goal=annotate_goal,
    guards=annotate_guards,
    solution=Solution(
        (
            Call(
                "k8s_annotate",
                {
                    "kind": "service",
                    "name": "web",
                    "namespace": "{ns}",
                    "annotations": {"owner": "payments-team", "runbook": RUNBOOK},
                },
                "Annotate",
            ),
        ),
        "The web service carries the owner and runbook annotations.",
    ),
)

# ---- install a chart ----------------------------------------------------------------------------------------------


def install_goal(cluster: Cluster, ns: str, ctx: GradingContext):
    out = cluster.helm("status", "cache", "-n", ns, "-o", "json", check=False)
    status = (json.loads(out).get("info") or {}).get("status") if out.strip().startswith("{") else None
    return [
        check("release cache deployed", status == "deployed", f"status {status}"),
        ready(cluster, ns, "cache-tiny", 2),
    ]


INSTALL = Scenario(
    name="operate-install-chart",
    kind="operate",
    request=(
        "Install the chart tiny from the Helm chart repository at {charts} (its package: {charts}/tiny-0.1.0.tgz) "
        "as release cache in namespace {ns}, with replicaCount=2."
    ),
    setup=lambda c, ns: None,
    goal=install_goal,
    teardown=lambda c, ns: c.helm("uninstall", "cache", "-n", ns, "--ignore-not-found", check=False),
    solution=Solution(
        (
            Call(
                "helm_install",
                {
                    "release": "cache",
                    "chart": "{charts}/tiny-0.1.0.tgz",
                    "namespace": "{ns}",
                    "set_values": {"replicaCount": 2},
                },
                "Install",
            ),
        ),
        "Release cache is installed with 2 replicas.",
    ),
    tags=("helm",),
)

SCENARIOS = [SCALE_UP, SCALE_TO_ZERO, SET_IMAGE, RESTART, CORDON, DRAIN, LABEL, ANNOTATE, INSTALL]
