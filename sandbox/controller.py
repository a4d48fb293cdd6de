"""The control loop: deployments -> replicasets -> pods, statefulsets, daemonsets, jobs, a kubelet, endpoints,
PVC binding and garbage collection. One `tick()` runs every ~150 ms on the server's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import json
import logging
import math
import time

from sandbox.logs import BEHAVIOR_ANNOTATION
from sandbox.resources import BY_KEY
from sandbox.selectors import map_selector_matches
from sandbox.store import Store, now_iso, random_suffix

log = logging.getLogger("sandbox.controller")

NODE_NAME = "sandbox-node"
NODE_CPU = 4.0
TICK_SECONDS = 0.1
MAX_SETTLE_TICKS = 5  # ticks run back to back while they keep changing state
START_DELAY = 0.15  # scheduled -> running
JOB_RUN_SECONDS = 0.6
CRASH_RESTART_SECONDS = 5.0
REVISION = "deployment.kubernetes.io/revision"

PODS, RS, DEPLOY = BY_KEY[("", "pods")], BY_KEY[("apps", "replicasets")], BY_KEY[("apps", "deployments")]
STS, DS, JOBS = BY_KEY[("apps", "statefulsets")], BY_KEY[("apps", "daemonsets")], BY_KEY[("batch", "jobs")]
SERVICES, ENDPOINTS = BY_KEY[("", "services")], BY_KEY[("", "endpoints")]
PVCS, NODES = BY_KEY[("", "persistentvolumeclaims")], BY_KEY[("", "nodes")]


def _pruned(value):
    """Drop nulls and empty maps/lists: typed clients (rollout undo) send `creationTimestamp: null`, `resources: {}`."""
    if isinstance(value, dict):
        value = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in value.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def template_hash(template: dict) -> str:
    template = _pruned(template)
    (template.get("metadata") or {}).get("labels", {}).pop("pod-template-hash", None)
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(alphabet[b % len(alphabet)] for b in digest[:10])


def owner_ref(owner: dict) -> dict:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def owned_by(obj: dict, owner: dict) -> bool:
    uid = owner["metadata"]["uid"]
    return any(r.get("uid") == uid for r in obj["metadata"].get("ownerReferences") or [])


def parse_cpu(value) -> float:
    text = str(value or "0")
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def pod_ready(pod: dict) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def scaled_value(value, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        raw = total * int(value[:-1]) / 100
        return math.ceil(raw) if round_up else math.floor(raw)
    return int(value or 0)


def _condition(type_: str, status: str, reason: str = "", message: str = "", previous: list | None = None) -> dict:
    for old in previous or []:
        if old.get("type") == type_ and old.get("status") == status and old.get("reason", "") == reason:
            kept = dict(old)
            kept["message"] = message or old.get("message", "")
            if not message:
                kept.pop("message", None)
            return kept
    cond = {"type": type_, "status": status, "lastTransitionTime": now_iso()}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


class Controller:
    def __init__(self, store: Store):
        self.store = store
        self.started: dict[str, float] = {}  # pod uid -> monotonic time the kubelet started it
        self.managed_endpoints: set[tuple[str, str]] = set()
        self.rollout_started: dict[str, float] = {}  # new ReplicaSet uid -> when its rollout began
        self.wake = asyncio.Event()

    def poke(self) -> None:
        """Run the next tick now: called after client writes so rollouts don't wait for the timer."""
        self.wake.set()

    async def run(self) -> None:
        while True:
            for _ in range(MAX_SETTLE_TICKS):
                before = self.store.rv
                try:
                    self.tick()
                except Exception:  # a bug in one tick must not stop the cluster
                    log.exception("controller tick failed")
                if self.store.rv == before:
                    break
                await asyncio.sleep(0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), TICK_SECONDS)
            self.wake.clear()

    def tick(self) -> None:
        for step in (
            self.sync_deployments,
            self.sync_replicasets,
            self.sync_statefulsets,
            self.sync_daemonsets,
            self.sync_jobs,
            self.sync_pods,
            self.sync_endpoints,
            self.sync_pvcs,
            self.collect_garbage,
        ):
            step()

    # ---- helpers -----------------------------------------------------------------------------------------
    def _event(self, obj: dict, reason: str, message: str, component: str, type_: str = "Normal") -> None:
        self.store.record_event(obj, reason, message, type_=type_, component=component)

    def _set_meta(self, rt, obj: dict, mutate) -> dict:
        current = self.store.find(rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        new = copy.deepcopy(current)
        mutate(new)
        if new == current:
            return current
        return self.store.replace(rt, new, current)

    def _create_pod(self, owner: dict, template: dict, name: str, extra_labels: dict) -> dict:
        template = copy.deepcopy(template or {})
        tmeta = template.get("metadata") or {}
        pod = {
            "metadata": {
                "name": name,
                "namespace": owner["metadata"]["namespace"],
                "labels": {**(tmeta.get("labels") or {}), **extra_labels},
                "ownerReferences": [owner_ref(owner)],
            },
            "spec": template.get("spec") or {},
            "status": {"phase": "Pending", "qosClass": "BestEffort"},
        }
        if tmeta.get("annotations"):
            pod["metadata"]["annotations"] = tmeta["annotations"]
        pod["metadata"]["generation"] = 1
        self.store.apply_defaults(PODS, pod)
        return self.store.insert(PODS, pod)

    def _pods_of(self, owner: dict) -> list[dict]:
        return [p for p in self.store.items(PODS, owner["metadata"]["namespace"]) if owned_by(p, owner)]

    # ---- deployments -------------------------------------------------------------------------------------
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

    # ---- replicasets -------------------------------------------------------------------------------------
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

    # ---- statefulsets and daemonsets ---------------------------------------------------------------------
    def sync_statefulsets(self) -> None:
        for sts in self.store.items(STS):
            name = sts["metadata"]["name"]
            revision = f"{name}-{template_hash(sts['spec'].get('template') or {})}"
            desired = int(sts["spec"].get("replicas", 1))
            pods = {p["metadata"]["name"]: p for p in self._pods_of(sts)}
            for pod_name, pod in list(pods.items()):
                index = int(pod_name.rsplit("-", 1)[1])
                if index >= desired or pod["metadata"]["labels"].get("controller-revision-hash") != revision:
                    self.store.remove(PODS, pod)
                    pods.pop(pod_name)
            for index in range(desired):
                pod_name = f"{name}-{index}"
                if pod_name not in pods:
                    labels = {"controller-revision-hash": revision, "statefulset.kubernetes.io/pod-name": pod_name}
                    pods[pod_name] = self._create_pod(sts, sts["spec"].get("template"), pod_name, labels)
                    self._event(
                        sts,
                        "SuccessfulCreate",
                        f"create Pod {pod_name} in StatefulSet {name} successful",
                        "statefulset-controller",
                    )
            ready = sum(1 for p in pods.values() if pod_ready(p))
            previous = (sts.get("status") or {}).get("currentRevision", revision)
            status = {
                "observedGeneration": sts["metadata"].get("generation", 1),
                "replicas": len(pods),
                "readyReplicas": ready,
                "currentReplicas": len(pods),
                "updatedReplicas": len(pods),
                "availableReplicas": ready,
                "currentRevision": revision if ready >= desired else previous,
                "updateRevision": revision,
                "collisionCount": 0,
            }
            self.store.set_status(STS, sts, status)

    def sync_daemonsets(self) -> None:
        for ds in self.store.items(DS):
            revision = template_hash(ds["spec"].get("template") or {})
            pods = self._pods_of(ds)
            for pod in pods:
                if pod["metadata"]["labels"].get("controller-revision-hash") != revision:
                    self.store.remove(PODS, pod)
            pods = [p for p in pods if p["metadata"]["labels"].get("controller-revision-hash") == revision]
            if not pods:
                name = f"{ds['metadata']['name']}-{random_suffix()}"
                pods.append(
                    self._create_pod(ds, ds["spec"].get("template"), name, {"controller-revision-hash": revision})
                )
                self._event(ds, "SuccessfulCreate", f"Created pod: {name}", "daemonset-controller")
            ready = sum(1 for p in pods if pod_ready(p))
            status = {
                "currentNumberScheduled": len(pods),
                "desiredNumberScheduled": 1,
                "numberMisscheduled": 0,
                "numberReady": ready,
                "numberAvailable": ready,
                "updatedNumberScheduled": len(pods),
                "observedGeneration": ds["metadata"].get("generation", 1),
            }
            if not ready:
                status["numberUnavailable"] = 1
                status.pop("numberAvailable")
            self.store.set_status(DS, ds, status)

    # ---- jobs --------------------------------------------------------------------------------------------
    def sync_jobs(self) -> None:
        for job in self.store.items(JOBS):
            spec, status = job["spec"], copy.deepcopy(job.get("status") or {})
            if any(
                c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
                for c in status.get("conditions") or []
            ):
                continue
            pods = self._pods_of(job)
            phases = [(p.get("status") or {}).get("phase") for p in pods]
            succeeded, failed = phases.count("Succeeded"), phases.count("Failed")
            active = len(pods) - succeeded - failed
            completions, parallelism = int(spec.get("completions", 1)), int(spec.get("parallelism", 1))
            status.setdefault("startTime", now_iso())
            if succeeded >= completions:
                stamp = now_iso()
                status["conditions"] = [
                    {
                        "type": "SuccessCriteriaMet",
                        "status": "True",
                        "reason": "CompletionsReached",
                        "lastTransitionTime": stamp,
                    },
                    {"type": "Complete", "status": "True", "reason": "CompletionsReached", "lastTransitionTime": stamp},
                ]
                status["completionTime"] = stamp
                self._event(job, "Completed", "Job completed", "job-controller")
            elif failed > int(spec.get("backoffLimit", 6)):
                message = "Job has reached the specified backoff limit"
                status["conditions"] = [
                    {
                        "type": "Failed",
                        "status": "True",
                        "reason": "BackoffLimitExceeded",
                        "message": message,
                        "lastTransitionTime": now_iso(),
                    }
                ]
                self._event(job, "BackoffLimitExceeded", message, "job-controller", "Warning")
            else:
                for _ in range(min(parallelism, completions - succeeded) - active):
                    name = f"{job['metadata']['name']}-{random_suffix()}"
                    self._create_pod(job, spec.get("template"), name, {})
                    self._event(job, "SuccessfulCreate", f"Created pod: {name}", "job-controller")
                    active += 1
            status.update(active=active, succeeded=succeeded, failed=failed, ready=0)
            status = {k: v for k, v in status.items() if v or k == "ready"}
            self.store.set_status(JOBS, job, status)

    # ---- kubelet -----------------------------------------------------------------------------------------
    def sync_pods(self) -> None:
        for pod in self.store.items(PODS):
            if not (pod.get("spec") or {}).get("nodeName"):
                self._schedule(pod)
            else:
                self._run(pod)

    def _schedule(self, pod: dict) -> None:
        node = self.store.find(NODES, "", NODE_NAME)
        requested = sum(self._pod_cpu(p) for p in self.store.items(PODS) if (p.get("spec") or {}).get("nodeName"))
        cordoned = node is not None and (node.get("spec") or {}).get("unschedulable")
        if node is None or cordoned or self._pod_cpu(pod) + requested > NODE_CPU:
            status = copy.deepcopy(pod.get("status") or {})
            if status.get("conditions"):
                return
            reason = "1 node(s) were unschedulable" if cordoned else "1 Insufficient cpu"
            message = (
                f"0/1 nodes are available: {reason}. preemption: 0/1 nodes are available: "
                "1 No preemption victims found for incoming pod."
            )
            status.update(phase="Pending", conditions=[_condition("PodScheduled", "False", "Unschedulable", message)])
            self.store.set_status(PODS, pod, status)
            self._event(pod, "FailedScheduling", message, "default-scheduler", "Warning")
            return
        new = self._set_meta(PODS, pod, lambda o: o["spec"].update(nodeName=NODE_NAME))
        status = copy.deepcopy(new.get("status") or {})
        status.update(phase="Pending", conditions=[_condition("PodScheduled", "True")], hostIP="192.168.49.2")
        self.store.set_status(PODS, new, status)
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        self._event(new, "Scheduled", f"Successfully assigned {ns}/{name} to {NODE_NAME}", "default-scheduler")

    @staticmethod
    def _pod_cpu(pod: dict) -> float:
        total = 0.0
        for c in (pod.get("spec") or {}).get("containers") or []:
            resources = c.get("resources") or {}
            total += parse_cpu((resources.get("requests") or resources.get("limits") or {}).get("cpu"))
        return total

    def _run(self, pod: dict) -> None:
        uid = pod["metadata"]["uid"]
        now = time.monotonic()
        started = self.started.setdefault(uid, now)
        if now - started < START_DELAY:
            return
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            return
        containers = (pod.get("spec") or {}).get("containers") or []
        behavior = (pod["metadata"].get("annotations") or {}).get(BEHAVIOR_ANNOTATION, "")
        broken = [c for c in containers if "doesnotexist" in c.get("image", "") or behavior == "imagepull"]
        if broken:
            self._image_pull_failure(pod, broken[0], now - started)
        elif behavior == "crashloop":
            self._crashloop(pod, containers, now - started)
        else:
            self._running(pod, containers, now - started)

    def _base_status(self, pod: dict) -> dict:
        status = copy.deepcopy(pod.get("status") or {})
        if not status.get("podIP"):
            ip = f"10.244.{self.store.next_ip // 250}.{self.store.next_ip % 250 + 2}"
            self.store.next_ip += 1
            status.update(podIP=ip, podIPs=[{"ip": ip}], startTime=now_iso(), hostIP="192.168.49.2")
        return status

    def _pod_conditions(self, status: dict, ready: bool, previous: list) -> list:
        flag = "True" if ready else "False"
        reason = "" if ready else "ContainersNotReady"
        return [
            _condition("PodReadyToStartContainers", "True", previous=previous),
            _condition("Initialized", "True", previous=previous),
            _condition("Ready", flag, reason, previous=previous),
            _condition("ContainersReady", flag, reason, previous=previous),
            _condition("PodScheduled", "True", previous=previous),
        ]

    def _container_status(self, c: dict, state: dict, ready: bool, restarts: int = 0, last: dict | None = None) -> dict:
        image = c.get("image", "")
        cs = {
            "name": c.get("name", ""),
            "image": image if ":" in image.rsplit("/", 1)[-1] else f"{image}:latest",
            "imageID": "",
            "ready": ready,
            "started": "running" in state,
            "restartCount": restarts,
            "state": state,
            "lastState": last or {},
        }
        if "running" in state or "terminated" in state:
            cs["containerID"] = (
                "containerd://" + hashlib.sha256(c.get("name", "").encode() + image.encode()).hexdigest()
            )
            cs["imageID"] = f"docker.io/library/{cs['image']}@sha256:" + hashlib.sha256(image.encode()).hexdigest()
        return cs

    def _running(self, pod: dict, containers: list, age: float) -> None:
        status = self._base_status(pod)
        is_job = any(r.get("kind") == "Job" for r in pod["metadata"].get("ownerReferences") or [])
        done = is_job and age >= START_DELAY + JOB_RUN_SECONDS
        if (pod.get("status") or {}).get("phase") != "Running" and not done:
            for c in containers:
                image = c.get("image", "")
                self._event(pod, "Pulling", f'Pulling image "{image}"', "kubelet")
                self._event(
                    pod,
                    "Pulled",
                    f'Successfully pulled image "{image}" in 812ms (812ms including waiting). '
                    "Image size: 72099410 bytes.",
                    "kubelet",
                )
                self._event(pod, "Created", f"Created container {c.get('name')}", "kubelet")
                self._event(pod, "Started", f"Started container {c.get('name')}", "kubelet")
        previous = status.get("conditions") or []
        if done:
            term = {
                "terminated": {
                    "exitCode": 0,
                    "reason": "Completed",
                    "startedAt": status["startTime"],
                    "finishedAt": now_iso(),
                }
            }
            status["containerStatuses"] = [self._container_status(c, term, False) for c in containers]
            status.update(phase="Succeeded", conditions=self._pod_conditions(status, False, previous))
        else:
            old = {c["name"]: c for c in status.get("containerStatuses") or []}
            state = {"running": {"startedAt": status["startTime"]}}
            status["containerStatuses"] = [
                old.get(c.get("name"))
                if (old.get(c.get("name")) or {}).get("ready")
                else self._container_status(c, state, True)
                for c in containers
            ]
            status.update(phase="Running", conditions=self._pod_conditions(status, True, previous))
        self.store.set_status(PODS, pod, status)

    def _image_pull_failure(self, pod: dict, container: dict, age: float) -> None:
        status = self._base_status(pod)
        image = container.get("image", "")
        reason = "ErrImagePull" if age < START_DELAY + 1.0 else "ImagePullBackOff"
        waiting = {
            "waiting": {
                "reason": reason,
                "message": f'Back-off pulling image "{image}"'
                if reason == "ImagePullBackOff"
                else f'failed to pull and unpack image "docker.io/library/{image}": not found',
            }
        }
        previous = status.get("conditions") or []
        status["containerStatuses"] = [
            self._container_status(
                c, waiting if c is container else {"running": {"startedAt": status["startTime"]}}, c is not container
            )
            for c in (pod.get("spec") or {}).get("containers") or []
        ]
        status.update(phase="Pending", conditions=self._pod_conditions(status, False, previous))
        if (pod.get("status") or {}).get("containerStatuses") is None:
            self._event(pod, "Pulling", f'Pulling image "{image}"', "kubelet")
            message = (
                f'Failed to pull image "{image}": rpc error: code = NotFound desc = failed to pull and unpack image '
                f'"docker.io/library/{image}": failed to resolve reference "docker.io/library/{image}": '
                f"docker.io/library/{image}: not found"
            )
            self._event(pod, "Failed", message, "kubelet", "Warning")
            self._event(pod, "Failed", "Error: ErrImagePull", "kubelet", "Warning")
        before = ((pod.get("status") or {}).get("containerStatuses") or [{}])[0].get("state", {}).get("waiting", {})
        if reason == "ImagePullBackOff" and before.get("reason") != reason:
            self._event(pod, "BackOff", f'Back-off pulling image "{image}"', "kubelet", "Normal")
            self._event(pod, "Failed", "Error: ImagePullBackOff", "kubelet", "Warning")
        self.store.set_status(PODS, pod, status)

    def _crashloop(self, pod: dict, containers: list, age: float) -> None:
        status = self._base_status(pod)
        restarts = 1 + int(age // CRASH_RESTART_SECONDS)
        is_job = any(r.get("kind") == "Job" for r in pod["metadata"].get("ownerReferences") or [])
        last = {
            "terminated": {"exitCode": 1, "reason": "Error", "startedAt": status["startTime"], "finishedAt": now_iso()}
        }
        previous = status.get("conditions") or []
        old = (status.get("containerStatuses") or [{}])[0]
        if old.get("restartCount") == restarts:
            return
        if is_job:
            status["containerStatuses"] = [self._container_status(c, last, False) for c in containers]
            status.update(phase="Failed", conditions=self._pod_conditions(status, False, previous))
            self.store.set_status(PODS, pod, status)
            return
        name = containers[0].get("name", "") if containers else ""
        pod_name = pod["metadata"]["name"]
        delay = min(300, 10 * 2 ** (restarts - 1))
        message = f"back-off {delay}s restarting failed container={name} pod={pod_name}"
        waiting = {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
        status["containerStatuses"] = [self._container_status(c, waiting, False, restarts, last) for c in containers]
        status.update(phase="Running", conditions=self._pod_conditions(status, False, previous))
        if restarts == 1:
            image = containers[0].get("image", "") if containers else ""
            self._event(pod, "Pulled", f'Container image "{image}" already present on machine', "kubelet")
            self._event(pod, "Created", f"Created container {name}", "kubelet")
            self._event(pod, "Started", f"Started container {name}", "kubelet")
        self._event(
            pod,
            "BackOff",
            f"Back-off restarting failed container {name} in pod "
            f"{pod_name}_{pod['metadata']['namespace']}({pod['metadata']['uid']})",
            "kubelet",
            "Warning",
        )
        self.store.set_status(PODS, pod, status)

    # ---- services, volumes, garbage ----------------------------------------------------------------------
    def sync_endpoints(self) -> None:
        wanted = set()
        for svc in self.store.items(SERVICES):
            selector = (svc.get("spec") or {}).get("selector")
            if not selector:
                continue
            ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
            wanted.add((ns, name))
            pods = [
                p for p in self.store.items(PODS, ns) if map_selector_matches(selector, p["metadata"].get("labels"))
            ]
            body = {"metadata": {"name": name, "namespace": ns, "labels": dict(svc["metadata"].get("labels") or {})}}
            subsets = self._subsets(svc, pods)
            if subsets:
                body["subsets"] = subsets
            current = self.store.find(ENDPOINTS, ns, name)
            self.managed_endpoints.add((ns, name))
            if current is None:
                self.store.insert(ENDPOINTS, body)
            elif (
                current.get("subsets") != body.get("subsets")
                or current["metadata"].get("labels") != body["metadata"]["labels"]
            ):
                new = copy.deepcopy(current)
                new["metadata"]["labels"] = body["metadata"]["labels"]
                new.pop("subsets", None)
                if subsets:
                    new["subsets"] = subsets
                self.store.replace(ENDPOINTS, new, current)
        for ns, name in list(self.managed_endpoints - wanted):
            self.managed_endpoints.discard((ns, name))
            current = self.store.find(ENDPOINTS, ns, name)
            if current is not None:
                self.store.remove(ENDPOINTS, current)

    @staticmethod
    def _subsets(svc: dict, pods: list[dict]) -> list:
        ready, not_ready = [], []
        for pod in pods:
            ip = (pod.get("status") or {}).get("podIP")
            if not ip or pod["metadata"].get("deletionTimestamp"):
                continue
            ref = {
                "kind": "Pod",
                "namespace": pod["metadata"]["namespace"],
                "name": pod["metadata"]["name"],
                "uid": pod["metadata"]["uid"],
            }
            address = {"ip": ip, "nodeName": NODE_NAME, "targetRef": ref}
            (ready if pod_ready(pod) else not_ready).append(address)
        if not ready and not not_ready:
            return []
        ports = []
        for port in (svc.get("spec") or {}).get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            if isinstance(target, str) and not target.isdigit():
                target = next(
                    (
                        cp.get("containerPort")
                        for pod in pods
                        for c in (pod.get("spec") or {}).get("containers") or []
                        for cp in c.get("ports") or []
                        if cp.get("name") == target
                    ),
                    port.get("port"),
                )
            entry = {"port": int(target), "protocol": port.get("protocol", "TCP")}
            if port.get("name"):
                entry["name"] = port["name"]
            ports.append(entry)
        subset: dict = {}
        if ready:
            subset["addresses"] = sorted(ready, key=lambda a: a["ip"])
        if not_ready:
            subset["notReadyAddresses"] = sorted(not_ready, key=lambda a: a["ip"])
        if ports:
            subset["ports"] = ports
        return [subset]

    def sync_pvcs(self) -> None:
        for pvc in self.store.items(PVCS):
            if (pvc.get("status") or {}).get("phase") == "Bound":
                continue
            volume = f"pvc-{pvc['metadata']['uid']}"
            pvc = self._set_meta(PVCS, pvc, lambda o, v=volume: o.setdefault("spec", {}).update(volumeName=v))
            spec = pvc.get("spec") or {}
            storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
            status = {
                "phase": "Bound",
                "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                "capacity": {"storage": storage},
            }
            self.store.set_status(PVCS, pvc, status)

    def collect_garbage(self) -> None:
        """Delete dependents whose owners are gone, cascading (deployment -> replicasets -> pods) in one tick."""
        removed = True
        while removed:
            removed = False
            uids = self.store.all_uids()
            for rt in BY_KEY.values():
                for obj in self.store.items(rt):
                    refs = obj["metadata"].get("ownerReferences") or []
                    if refs and not any(r.get("uid") in uids for r in refs):
                        self.store.remove(rt, obj)
                        self.started.pop(obj["metadata"]["uid"], None)
                        removed = True


def seed_cluster(store: Store) -> None:
    """The objects every fresh cluster has: namespaces, one Ready node, the `kubernetes` service."""
    for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
        ns = {"metadata": {"name": name}}
        store.apply_defaults(BY_KEY[("", "namespaces")], ns)
        store.insert(BY_KEY[("", "namespaces")], ns)
    stamp = now_iso()
    capacity = {"cpu": "4", "memory": "16Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    node = {
        "metadata": {
            "name": NODE_NAME,
            "labels": {
                "kubernetes.io/hostname": NODE_NAME,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node-role.kubernetes.io/control-plane": "",
            },
        },
        "spec": {"podCIDR": "10.244.0.0/24"},
        "status": {
            "capacity": capacity,
            "allocatable": capacity,
            "conditions": [
                {
                    "type": "MemoryPressure",
                    "status": "False",
                    "reason": "KubeletHasSufficientMemory",
                    "lastHeartbeatTime": stamp,
                    "lastTransitionTime": stamp,
                    "message": "kubelet has sufficient memory available",
                },
                {
                    "type": "DiskPressure",
                    "status": "False",
                    "reason": "KubeletHasNoDiskPressure",
                    "lastHeartbeatTime": stamp,
                    "lastTransitionTime": stamp,
                    "message": "kubelet has no disk pressure",
                },
                {
                    "type": "PIDPressure",
                    "status": "False",
                    "reason": "KubeletHasSufficientPID",
                    "lastHeartbeatTime": stamp,
                    "lastTransitionTime": stamp,
                    "message": "kubelet has sufficient PID available",
                },
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "lastHeartbeatTime": stamp,
                    "lastTransitionTime": stamp,
                    "message": "kubelet is posting ready status",
                },
            ],
            "addresses": [
                {"type": "InternalIP", "address": "192.168.49.2"},
                {"type": "Hostname", "address": NODE_NAME},
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.32.0",
                "kubeProxyVersion": "v1.32.0",
                "containerRuntimeVersion": "containerd://1.7.24",
                "operatingSystem": "linux",
                "architecture": "amd64",
                "osImage": "Sandbox Linux",
                "kernelVersion": "6.8.0",
            },
        },
    }
    store.insert(NODES, node)
    svc = {
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"component": "apiserver", "provider": "kubernetes"},
        },
        "spec": {
            "clusterIP": "10.96.0.1",
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
        },
    }
    store.apply_defaults(SERVICES, svc)
    store.insert(SERVICES, svc)
