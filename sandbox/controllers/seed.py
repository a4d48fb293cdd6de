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
