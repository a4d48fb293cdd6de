"""The scheduler and the kubelet: bind pods to the node, then run, crash-loop or fail to pull them."""

from __future__ import annotations

import copy
import hashlib
import time

from sandbox import behaviors
from sandbox.controllers.base import ControllerBase
from sandbox.controllers.objects import (
    NODE_CPU,
    NODE_NAME,
    NODES,
    PODS,
    _condition,
    parse_cpu,
)
from sandbox.logs import BEHAVIOR_ANNOTATION
from sandbox.resources import BY_KIND
from sandbox.store import now_iso

START_DELAY = 0.15  # scheduled -> running
JOB_RUN_SECONDS = 0.6
CRASH_RESTART_SECONDS = 5.0


class KubeletController(ControllerBase):
    """Scheduling and pod lifecycle."""

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
        crash = behaviors.crash(pod, lambda kind, name: self._data_keys(pod, kind, name))
        probe = None if crash else behaviors.probe_failure(pod)
        if broken:
            self._image_pull_failure(pod, broken[0], now - started)
        elif behavior == "crashloop" or crash or (probe and probe.probe == "liveness"):
            self._crashloop(pod, containers, now - started, crash, probe)
        else:
            self._running(pod, containers, now - started, probe)

    def _data_keys(self, pod: dict, kind: str, name: str) -> set[str]:
        """Keys of a ConfigMap or Secret in the pod's namespace (what `envFrom` would import)."""
        rt = BY_KIND[kind]
        obj = self.store.find(rt, pod["metadata"]["namespace"], name) or {}
        return set(obj.get("data") or {}) | set(obj.get("stringData") or {})

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

    def _running(self, pod: dict, containers: list, age: float, probe=None) -> None:
        """Running; ready unless a readiness probe fails (`probe`, a behaviors.ProbeFailure)."""
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
                if (old.get(c.get("name")) or {}).get("ready") and probe is None
                else self._container_status(c, state, probe is None)
                for c in containers
            ]
            status.update(phase="Running", conditions=self._pod_conditions(status, probe is None, previous))
            was_ready = all(c.get("ready") for c in old.values()) if old else True
            if probe is not None and was_ready:  # once per pod, not every tick: the event count would churn
                self._event(pod, "Unhealthy", f"Readiness probe failed: {probe.message}", "kubelet", "Warning")
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

    def _crashloop(self, pod: dict, containers: list, age: float, crash=None, probe=None) -> None:
        """Restarting with back-off: the `crashloop` behaviour, a `crash` or a failing liveness `probe`."""
        status = self._base_status(pod)
        restarts = 1 + int(age // CRASH_RESTART_SECONDS)
        is_job = any(r.get("kind") == "Job" for r in pod["metadata"].get("ownerReferences") or [])
        code, reason = (crash.exit_code, crash.reason) if crash else (137, "Error") if probe else (1, "Error")
        last = {
            "terminated": {
                "exitCode": code,
                "reason": reason,
                "startedAt": status["startTime"],
                "finishedAt": now_iso(),
            }
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
        if probe is not None:
            self._event(pod, "Unhealthy", f"Liveness probe failed: {probe.message}", "kubelet", "Warning")
            message = f"Container {probe.container} failed liveness probe, will be restarted"
            self._event(pod, "Killing", message, "kubelet")
        self._event(
            pod,
            "BackOff",
            f"Back-off restarting failed container {name} in pod "
            f"{pod_name}_{pod['metadata']['namespace']}({pod['metadata']['uid']})",
            "kubelet",
            "Warning",
        )
        self.store.set_status(PODS, pod, status)
