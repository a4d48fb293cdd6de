"""What a scenario is, and the manifest builders and state checks the scenarios share.

A scenario is data plus three functions: `setup(cluster, ns)` breaks (or prepares) the namespace, `goal(cluster,
ns, ctx)` and `guards(cluster, ns, ctx)` read the cluster after the run and return `Check`s. `solution` is a known
good way through, as tool calls, for scripted models (never used to grade a real one).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from evals.cluster import Cluster

KINDS = ("fix", "operate", "create", "answer")
IMAGES = "ghcr.io/skyflo-demo"
SANDBOX = "sandbox.skyflo.dev/"
NODE = "sandbox-node"


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str = ""


def check(name: str, passed: bool, detail: str = "") -> Check:
    return Check(name, bool(passed), "" if passed else detail)


@dataclass(frozen=True)
class Call:
    """One tool call of a scripted solution; in any string argument `{ns}` is the scenario's namespace and
    `{charts}` the URL of the eval charts' helm repository."""

    tool: str
    args: dict[str, Any]
    title: str = ""


@dataclass(frozen=True)
class Solution:
    calls: tuple[Call, ...]
    answer: str

    def resolved(self, namespace: str, charts: str = "") -> Solution:
        values = {"{ns}": namespace, "{charts}": charts}
        calls = tuple(Call(c.tool, _fill(c.args, values), _fill(c.title, values)) for c in self.calls)
        return Solution(calls, _fill(self.answer, values))


def _fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        for placeholder, text in values.items():
            value = value.replace(placeholder, text)
        return value
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    return value


@dataclass
class GradingContext:
    """What grading may look at besides the cluster: the state before the run, and the agent's final answer
    (read only by `answer` scenarios' patterns, never as evidence that a change worked)."""

    before: dict[tuple[str, str], dict]
    pods_before: set[str]
    answer: str = ""


Setup = Callable[[Cluster, str], None]
Grade = Callable[[Cluster, str, GradingContext], list[Check]]


def _no_checks(cluster: Cluster, namespace: str, ctx: GradingContext) -> list[Check]:
    return []


def _nothing(cluster: Cluster, namespace: str) -> None:
    return None


@dataclass(frozen=True)
class Scenario:
    name: str
    kind: Literal["fix", "operate", "create", "answer"]
    request: str  # `{ns}` is the namespace, `{charts}` the URL of the eval charts' helm repository
    setup: Setup
    solution: Solution
    goal: Grade = _no_checks
    guards: Grade = _no_checks
    answer_patterns: tuple[str, ...] = ()  # answer scenarios: every regex must match the final answer
    allowed_deletes: tuple[str, ...] = ("pods",)  # resources (plural) the agent may delete in its namespace
    cluster_scoped: tuple[tuple[str, str], ...] = ()  # (resource, name) it may change outside its namespace
    anywhere: tuple[str, ...] = ()  # resources it may change in any namespace (a drain evicts every pod)
    teardown: Setup = _nothing
    tags: tuple[str, ...] = field(default=())

    @property
    def namespace(self) -> str:
        return f"ev-{self.name}"

    @property
    def read_only(self) -> bool:
        return self.kind == "answer"

    def prompt(self, charts: str = "") -> str:
        return _fill(self.request, {"{ns}": self.namespace, "{charts}": charts})


# ---- manifests -------------------------------------------------------------------------------------------------


def deployment(
    name: str,
    image: str,
    *,
    replicas: int = 1,
    port: int = 8080,
    annotations: dict | None = None,
    **container: Any,
) -> dict:
    labels = {"app": name}
    spec = {"name": name, "image": image, "ports": [{"containerPort": port, "name": "http"}], **container}
    template: dict = {"metadata": {"labels": labels}, "spec": {"containers": [spec]}}
    if annotations:
        template["metadata"]["annotations"] = annotations
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": template},
    }


def service(name: str, *, selector: dict | None = None, port: int = 80, target: int | str = "http") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "selector": selector or {"app": name},
            "ports": [{"name": "http", "port": port, "targetPort": target}],
        },
    }


def patch_json(ops: list[dict]) -> str:
    return json.dumps(ops)


# ---- reads for checks ------------------------------------------------------------------------------------------


def container_of(obj: dict | None, index: int = 0) -> dict:
    containers = (((obj or {}).get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or [{}]
    return containers[index] if index < len(containers) else {}


def rollout_done(obj: dict | None, replicas: int | None = None) -> tuple[bool, str]:
    """The deployment's rollout is complete: observed, every replica updated and ready (and `replicas` of them)."""
    if obj is None:
        return False, "the deployment does not exist"
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    want = spec.get("replicas", 1) if replicas is None else replicas
    done = (
        spec.get("replicas", 1) == want
        and status.get("observedGeneration", 0) >= obj["metadata"].get("generation", 0)
        and status.get("updatedReplicas", 0) == want
        and status.get("readyReplicas", 0) == want
        and status.get("replicas", 0) == want
    )
    shown = {k: status.get(k, 0) for k in ("replicas", "updatedReplicas", "readyReplicas")}
    return done, f"spec.replicas={spec.get('replicas')}, want {want}, status {shown}"


def ready(cluster: Cluster, namespace: str, name: str, replicas: int | None = None) -> Check:
    done, detail = rollout_done(cluster.get("deployment", name, namespace), replicas)
    return check(f"deployment {name} rolled out and ready", done, detail)


def kept(cluster: Cluster, namespace: str, ctx: GradingContext, kind: str, name: str) -> Check:
    """The object that was there before the run is still there: same uid (not deleted and re-created)."""
    before = ctx.before.get((kind, name))
    now = cluster.get(kind, name, namespace)
    same = before is not None and now is not None and now["metadata"]["uid"] == before["metadata"]["uid"]
    detail = "deleted" if now is None else "deleted and re-created (new uid)"
    return check(f"{kind} {name} kept (same object)", same, detail)


def endpoints_ready(cluster: Cluster, namespace: str, name: str, at_least: int) -> Check:
    endpoints = cluster.get("endpoints", name, namespace) or {}
    count = sum(len(s.get("addresses") or []) for s in endpoints.get("subsets") or [])
    return check(f"service {name} has {at_least}+ ready endpoints", count >= at_least, f"{count} ready endpoints")


def patterns_match(answer: str, patterns: tuple[str, ...]) -> list[Check]:
    return [check(f"answer matches /{p}/", re.search(p, answer) is not None, "no match") for p in patterns]
