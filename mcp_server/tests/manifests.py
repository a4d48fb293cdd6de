"""Small manifests the cluster tests apply through kubectl (not through the tool server)."""

from __future__ import annotations

import json


def deployment(
    name: str,
    *,
    image: str = "nginx:1.27",
    replicas: int = 1,
    annotations: dict | None = None,
    namespace: str | None = None,
) -> str:
    pod_meta = {"labels": {"app": name}, "annotations": annotations or {}}
    meta = {"name": name, "labels": {"app": name}, **({"namespace": namespace} if namespace else {})}
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta,
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": pod_meta, "spec": {"containers": [{"name": "web", "image": image}]}},
            },
        }
    )


def secret(name: str, value: str) -> str:
    return json.dumps(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": {"password": value}}
    )


def configmap(name: str, data: dict[str, str]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})


def apply(cluster, namespace: str, manifest: str) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=manifest)
