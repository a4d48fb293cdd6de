"""The objects every fresh cluster starts with."""

from __future__ import annotations

from sandbox.controllers.objects import (
    NODE_NAME,
    NODES,
    SERVICES,
)
from sandbox.resources import BY_KEY
from sandbox.store import Store, now_iso


def seed_cluster(store: Store) -> None:
    """The objects every fresh cluster has: namespaces, one Ready node, the `kubernetes` service."""
    for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
        ns = {"metadata": {"name": name}}
        store.apply_defaults(BY_KEY[("", "namespaces")], ns)
        store.insert(BY_KEY[("", "namespaces")], ns)
    store.insert(NODES, _node())
    svc = _kubernetes_service()
    store.apply_defaults(SERVICES, svc)
    store.insert(SERVICES, svc)


def _node() -> dict:
    stamp = now_iso()
    capacity = {"cpu": "4", "memory": "16Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    return {
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
            "conditions": _node_conditions(stamp),
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


def _node_conditions(stamp: str) -> list[dict]:
    """A healthy node: no pressure of any kind, kubelet Ready."""
    healthy = (
        ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    )
    return [
        {
            "type": type_,
            "status": status,
            "reason": reason,
            "lastHeartbeatTime": stamp,
            "lastTransitionTime": stamp,
            "message": message,
        }
        for type_, status, reason, message in healthy
    ]


def _kubernetes_service() -> dict:
    return {
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
