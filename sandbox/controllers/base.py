"""The state and store helpers every controller of the loop shares."""

from __future__ import annotations

import asyncio
import copy

from sandbox.controllers.objects import (
    PODS,
    owned_by,
    owner_ref,
)
from sandbox.store import Store


class ControllerBase:
    """Shared state of the control loop; each controller of the package extends it with its own sync steps."""

    def __init__(self, store: Store):
        self.store = store
        self.started: dict[str, float] = {}  # pod uid -> monotonic time the kubelet started it
        self.managed_endpoints: set[tuple[str, str]] = set()
        self.rollout_started: dict[str, float] = {}  # new ReplicaSet uid -> when its rollout began
        self.wake = asyncio.Event()

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
