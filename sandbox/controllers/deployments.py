"""Deployments -> ReplicaSets -> Pods: rollouts, revision history, deployment and replicaset status."""

from __future__ import annotations

import copy
import time

from sandbox.controllers.base import ControllerBase
from sandbox.controllers.objects import (
    DEPLOY,
    PODS,
    RS,
    _condition,
    owned_by,
    owner_ref,
    pod_ready,
    scaled_value,
    template_hash,
)
from sandbox.store import random_suffix

REVISION = "deployment.kubernetes.io/revision"


class DeploymentController(ControllerBase):
    """Deployments and the ReplicaSets they own."""

    def sync_deployments(self) -> None:
        for dep in self.store.items(DEPLOY):
            self._sync_deployment(dep)

    def _sync_deployment(self, dep: dict) -> None:
        ns = dep["metadata"]["namespace"]
        spec = dep.get("spec") or {}
        desired = int(spec.get("replicas", 1))
        owned = [rs for rs in self.store.items(RS, ns) if owned_by(rs, dep)]
        thash = template_hash(spec.get("template") or {})
        new_rs = next((rs for rs in owned if rs["metadata"].get("labels", {}).get("pod-template-hash") == thash), None)
        max_rev = max((int(rs["metadata"].get("annotations", {}).get(REVISION, "0")) for rs in owned), default=0)
        if new_rs is None and not spec.get("paused"):
            new_rs = self._create_replicaset(dep, thash, max_rev + 1)
            owned.append(new_rs)
        elif new_rs is not None and int(new_rs["metadata"].get("annotations", {}).get(REVISION, "0")) < max_rev:
            new_rs = self._set_meta(
                RS, new_rs, lambda o: o["metadata"]["annotations"].update({REVISION: str(max_rev + 1)})
            )
        if new_rs is None:
            return
        revision = new_rs["metadata"]["annotations"][REVISION]
        if dep["metadata"].get("annotations", {}).get(REVISION) != revision:
            dep = self._set_meta(
                DEPLOY, dep, lambda o: o["metadata"].setdefault("annotations", {}).update({REVISION: revision})
            )
        self._scale_rs(dep, new_rs, desired)
        new_ready = (new_rs.get("status") or {}).get("availableReplicas", 0) >= desired
        recreate = (spec.get("strategy") or {}).get("type") == "Recreate"
        for rs in owned:
            if rs["metadata"]["uid"] != new_rs["metadata"]["uid"] and (new_ready or recreate):
                self._scale_rs(dep, rs, 0)
        self._prune_history(dep, owned, new_rs)
        self._deployment_status(dep, new_rs, [rs for rs in owned if self.store.find(RS, ns, rs["metadata"]["name"])])

    def _create_replicaset(self, dep: dict, thash: str, revision: int) -> dict:
        template = copy.deepcopy(dep["spec"].get("template") or {})
        template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = thash
        selector = copy.deepcopy(dep["spec"].get("selector") or {})
        selector.setdefault("matchLabels", {})["pod-template-hash"] = thash
        skip = ("kubectl.kubernetes.io/last-applied-configuration", REVISION)
        annotations = {k: v for k, v in (dep["metadata"].get("annotations") or {}).items() if k not in skip}
        annotations.update(
            {
                REVISION: str(revision),
                "deployment.kubernetes.io/desired-replicas": str(dep["spec"].get("replicas", 1)),
                "deployment.kubernetes.io/max-replicas": str(dep["spec"].get("replicas", 1) + 1),
            }
        )
        rs = {
            "metadata": {
                "name": f"{dep['metadata']['name']}-{thash}",
                "namespace": dep["metadata"]["namespace"],
                "labels": dict(template["metadata"]["labels"]),
                "annotations": annotations,
                "ownerReferences": [owner_ref(dep)],
                "generation": 1,
            },
            "spec": {"replicas": 0, "selector": selector, "template": template},
            "status": {"replicas": 0},
        }
        return self.store.insert(RS, rs)

    def _scale_rs(self, dep: dict, rs: dict, replicas: int) -> None:
        current = self.store.find(RS, rs["metadata"]["namespace"], rs["metadata"]["name"])
        if current is None or current["spec"].get("replicas", 0) == replicas:
            return
        before = current["spec"].get("replicas", 0)
        new = copy.deepcopy(current)
        new["spec"]["replicas"] = replicas
        new["metadata"]["generation"] = new["metadata"].get("generation", 1) + 1
        new["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] = str(
            dep["spec"].get("replicas", 1)
        )
        self.store.replace(RS, new, current)
        verb = "up" if replicas > before else "down"
        message = f"Scaled {verb} replica set {rs['metadata']['name']} from {before} to {replicas}"
        self._event(dep, "ScalingReplicaSet", message, "deployment-controller")

    def _prune_history(self, dep: dict, owned: list[dict], new_rs: dict) -> None:
        limit = int(dep["spec"].get("revisionHistoryLimit", 10))
        old = [
            rs
            for rs in owned
            if rs["metadata"]["uid"] != new_rs["metadata"]["uid"]
            and self.store.find(RS, rs["metadata"]["namespace"], rs["metadata"]["name"])
            and rs["spec"].get("replicas", 0) == 0
            and not (rs.get("status") or {}).get("replicas")
        ]
        old.sort(key=lambda rs: int(rs["metadata"]["annotations"].get(REVISION, "0")))
        for rs in old[: max(0, len(old) - limit)]:
            self.store.remove(RS, self.store.find(RS, rs["metadata"]["namespace"], rs["metadata"]["name"]))

    def _deployment_status(self, dep: dict, new_rs: dict, owned: list[dict]) -> None:
        dep = self.store.find(DEPLOY, dep["metadata"]["namespace"], dep["metadata"]["name"])
        spec = dep["spec"]
        desired = int(spec.get("replicas", 1))
        fresh = [self.store.find(RS, rs["metadata"]["namespace"], rs["metadata"]["name"]) for rs in owned]
        statuses = [rs.get("status") or {} for rs in fresh if rs]
        new_status = (self.store.find(RS, new_rs["metadata"]["namespace"], new_rs["metadata"]["name"]) or new_rs).get(
            "status"
        ) or {}
        total = sum(s.get("replicas", 0) for s in statuses)
        available = sum(s.get("availableReplicas", 0) for s in statuses)
        max_unavailable = scaled_value(
            ((spec.get("strategy") or {}).get("rollingUpdate") or {}).get("maxUnavailable", "25%"), desired, False
        )
        previous = (dep.get("status") or {}).get("conditions") or []
        complete = new_status.get("availableReplicas", 0) >= desired and total == new_status.get("replicas", 0)
        rs_name = new_rs["metadata"]["name"]
        if available >= desired - max_unavailable:
            avail = _condition(
                "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", previous
            )
        else:
            message = "Deployment does not have minimum availability."
            avail = _condition("Available", "False", "MinimumReplicasUnavailable", message, previous)
        progressing_since = self.rollout_started.setdefault(new_rs["metadata"]["uid"], time.monotonic())
        deadline = float(spec.get("progressDeadlineSeconds", 600))
        if complete:
            message = f'ReplicaSet "{rs_name}" has successfully progressed.'
            progressing = _condition("Progressing", "True", "NewReplicaSetAvailable", message, previous)
        elif time.monotonic() - progressing_since > deadline:
            message = f'ReplicaSet "{rs_name}" has timed out progressing.'
            progressing = _condition("Progressing", "False", "ProgressDeadlineExceeded", message, previous)
        else:
            progressing = _condition(
                "Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.', previous
            )
        status = {
            "observedGeneration": dep["metadata"].get("generation", 1),
            "replicas": total,
            "updatedReplicas": new_status.get("replicas", 0),
            "readyReplicas": sum(s.get("readyReplicas", 0) for s in statuses),
            "availableReplicas": available,
            "conditions": [avail, progressing],
        }
        if total - available > 0:
            status["unavailableReplicas"] = total - available
        status = {k: v for k, v in status.items() if v != 0 or k in ("observedGeneration", "replicas")}
        self.store.set_status(DEPLOY, dep, status)

    def sync_replicasets(self) -> None:
        for rs in self.store.items(RS):
            pods = self._pods_of(rs)
            desired = int(rs["spec"].get("replicas", 1))
            for _ in range(desired - len(pods)):
                name = f"{rs['metadata']['name']}-{random_suffix()}"
                pods.append(self._create_pod(rs, rs["spec"].get("template"), name, {}))
                self._event(rs, "SuccessfulCreate", f"Created pod: {name}", "replicaset-controller")
            if len(pods) > desired:
                pods.sort(key=lambda p: (pod_ready(p), p["metadata"]["creationTimestamp"]))
                for pod in pods[: len(pods) - desired]:
                    self.store.remove(PODS, pod)
                    self._event(
                        rs, "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}", "replicaset-controller"
                    )
                pods = pods[len(pods) - desired :]
            ready = sum(1 for p in pods if pod_ready(p))
            status = {
                "replicas": len(pods),
                "fullyLabeledReplicas": len(pods),
                "readyReplicas": ready,
                "availableReplicas": ready,
                "observedGeneration": rs["metadata"].get("generation", 1),
            }
            status = {k: v for k, v in status.items() if v or k == "replicas"}
            self.store.set_status(RS, rs, status)
