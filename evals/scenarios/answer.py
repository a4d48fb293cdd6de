"""Answer: a question about the cluster; graded by regular expressions on the final answer, and nothing may change."""

from __future__ import annotations

from evals.cluster import Cluster
from evals.scenarios import fix
from evals.scenarios.base import IMAGES, Call, Scenario, Solution, deployment


def _images(cluster: Cluster, ns: str) -> None:
    api = deployment("api", f"{IMAGES}/api:1.4.2")
    api["spec"]["template"]["spec"]["containers"].append({"name": "proxy", "image": "envoyproxy/envoy:v1.31.2"})
    cluster.apply(ns, deployment("web", "nginx:1.27.3", port=80), api, deployment("worker", f"{IMAGES}/worker:0.9.1"))
    cluster.rollout("deployment/web", ns)


def _two_rollouts(cluster: Cluster, ns: str) -> None:
    cluster.apply(ns, deployment("checkout", f"{IMAGES}/checkout:1.4.0", replicas=2))
    cluster.rollout("deployment/checkout", ns)
    cluster.kubectl("set", "image", "deployment/checkout", f"checkout={IMAGES}/checkout:1.5.0", "-n", ns)
    cluster.rollout("deployment/checkout", ns)


def _imagepull(cluster: Cluster, ns: str) -> None:
    cluster.apply(ns, deployment("inventory", f"{IMAGES}/inventory:1.9.3-doesnotexist"))
    fix.pods_waiting(cluster, ns, "inventory", ("ErrImagePull", "ImagePullBackOff"))


def _logs(name: str) -> Call:
    return Call("k8s_logs", {"kind": "deployment", "name": name, "namespace": "{ns}"}, f"Read the logs of {name}")


def _crashloop_no_secret(cluster: Cluster, ns: str) -> None:
    fix.crashloop_env_setup(cluster, ns)
    cluster.kubectl("delete", "secret", "payments-db", "-n", ns)


WHY_CRASH = Scenario(
    name="answer-why-crashloop",
    kind="answer",
    request="Why is the payments pod in namespace {ns} failing? Only look, do not change anything.",
    setup=_crashloop_no_secret,
    answer_patterns=(r"PAYMENTS_DATABASE_URL", r"(?i)not set|missing|KeyError|undefined|absent"),
    solution=Solution(
        (_logs("payments"),),
        "payments exits at start: the environment variable PAYMENTS_DATABASE_URL is not set (KeyError).",
    ),
)

IMAGES_IN_NAMESPACE = Scenario(
    name="answer-images",
    kind="answer",
    request="Which container images run in namespace {ns}? List each image once.",
    setup=_images,
    answer_patterns=(
        r"nginx:1\.27\.3",
        r"ghcr\.io/skyflo-demo/api:1\.4\.2",
        r"envoyproxy/envoy:v1\.31\.2",
        r"ghcr\.io/skyflo-demo/worker:0\.9\.1",
    ),
    solution=Solution(
        (Call("k8s_get", {"kind": "pods", "namespace": "{ns}", "output": "wide"}, "List the pods"),),
        "nginx:1.27.3, ghcr.io/skyflo-demo/api:1.4.2, envoyproxy/envoy:v1.31.2, ghcr.io/skyflo-demo/worker:0.9.1",
    ),
)

LAST_ROLLOUT = Scenario(
    name="answer-last-rollout",
    kind="answer",
    request="What changed in the last rollout of the checkout deployment in namespace {ns}?",
    setup=_two_rollouts,
    answer_patterns=(r"1\.4\.0", r"1\.5\.0", r"(?i)image"),
    solution=Solution(
        (
            Call(
                "k8s_rollout_history",
                {"kind": "deployment", "name": "checkout", "namespace": "{ns}", "revision": 2},
                "Read revision 2",
            ),
        ),
        "The last rollout (revision 2) changed the image from checkout:1.4.0 to checkout:1.5.0.",
    ),
)

WHY_PENDING = Scenario(
    name="answer-why-pending",
    kind="answer",
    request="Why is the analytics deployment in namespace {ns} not running?",
    setup=fix.pending_setup,
    answer_patterns=(r"(?i)cpu", r"(?i)insufficient|not enough|too (much|many|large)|exceed|only 4|16"),
    solution=Solution(
        (Call("k8s_events", {"namespace": "{ns}", "warnings_only": True}, "Read the warnings"),),
        "Its pod is Pending: it requests 16 CPUs and the only node has 4 (Insufficient cpu).",
    ),
)

WHY_IMAGEPULL = Scenario(
    name="answer-why-imagepull",
    kind="answer",
    request="Why won't the inventory pods in namespace {ns} start?",
    setup=_imagepull,
    answer_patterns=(r"(?i)pull|not found|does not exist", r"1\.9\.3-doesnotexist"),
    solution=Solution(
        (Call("k8s_describe", {"kind": "pod", "selector": "app=inventory", "namespace": "{ns}"}, "Describe"),),
        "The image ghcr.io/skyflo-demo/inventory:1.9.3-doesnotexist cannot be pulled (not found): ImagePullBackOff.",
    ),
)

SCENARIOS = [WHY_CRASH, IMAGES_IN_NAMESPACE, LAST_ROLLOUT, WHY_PENDING, WHY_IMAGEPULL]
