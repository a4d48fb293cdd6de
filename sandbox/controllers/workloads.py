"""StatefulSets (ordinal pods), DaemonSets (one pod on the one node) and Jobs (run to completion or backoff)."""

from __future__ import annotations

import copy

from sandbox.controllers.base import ControllerBase
from sandbox.controllers.objects import (
    DS,
    JOBS,
    PODS,
    STS,
    pod_ready,
    template_hash,
)
from sandbox.store import now_iso, random_suffix


class WorkloadController(ControllerBase):
    """StatefulSets, DaemonSets and Jobs."""

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

    def sync_jobs(self) -> None:
        for job in self.store.items(JOBS):
            self._sync_job(job)

    def _sync_job(self, job: dict) -> None:
        spec, status = job["spec"], copy.deepcopy(job.get("status") or {})
        if _job_finished(status):
            return
        phases = [(p.get("status") or {}).get("phase") for p in self._pods_of(job)]
        succeeded, failed = phases.count("Succeeded"), phases.count("Failed")
        active = len(phases) - succeeded - failed
        completions, parallelism = int(spec.get("completions", 1)), int(spec.get("parallelism", 1))
        status.setdefault("startTime", now_iso())
        if succeeded >= completions:
            self._job_complete(job, status)
        elif failed > int(spec.get("backoffLimit", 6)):
            self._job_fail(job, status)
        else:
            active += self._job_pods_start(job, min(parallelism, completions - succeeded) - active)
        status.update(active=active, succeeded=succeeded, failed=failed, ready=0)
        status = {k: v for k, v in status.items() if v or k == "ready"}
        self.store.set_status(JOBS, job, status)

    def _job_complete(self, job: dict, status: dict) -> None:
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

    def _job_fail(self, job: dict, status: dict) -> None:
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

    def _job_pods_start(self, job: dict, count: int) -> int:
        """Create `count` pods (none when count <= 0); returns how many were created."""
        for _ in range(count):
            name = f"{job['metadata']['name']}-{random_suffix()}"
            self._create_pod(job, job["spec"].get("template"), name, {})
            self._event(job, "SuccessfulCreate", f"Created pod: {name}", "job-controller")
        return max(0, count)


def _job_finished(status: dict) -> bool:
    return any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in status.get("conditions") or []
    )
