"""Endpoints for every Service with a selector, from the pods it selects."""

from __future__ import annotations

import copy

from sandbox.controllers.base import ControllerBase
from sandbox.controllers.objects import (
    ENDPOINTS,
    NODE_NAME,
    PODS,
    SERVICES,
    pod_ready,
)
from sandbox.selectors import map_selector_matches


class EndpointController(ControllerBase):
    """Endpoints of selector-based Services."""

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
