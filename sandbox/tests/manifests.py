"""Manifest builders shared by the sandbox tests."""

from __future__ import annotations

import yaml


def deployment(namespace: str, name: str, image: str = "nginx:1.27", replicas: int = 2, **template_meta) -> dict:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels, **template_meta},
                "spec": {"containers": [{"name": name, "image": image, "ports": [{"containerPort": 80}]}]},
            },
        },
    }


def service(namespace: str, name: str, selector: dict | None = None, port: int = 80) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": selector or {"app": name}, "ports": [{"port": port, "targetPort": port}]},
    }


def configmap(namespace: str, name: str, data: dict) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}, "data": data}


def as_input(*objects: dict) -> str:
    """A multi-document YAML stream (a `kind: List` would need client-side validation against /openapi/v2)."""
    return yaml.safe_dump_all(objects, sort_keys=False)
