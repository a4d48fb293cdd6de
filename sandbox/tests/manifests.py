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


RBAC = "rbac.authorization.k8s.io/v1"


def rule(verbs: list[str], resources: list[str], groups: tuple[str, ...] = ("",), names: tuple[str, ...] = ()) -> dict:
    out = {"apiGroups": list(groups), "resources": resources, "verbs": verbs}
    return {**out, "resourceNames": list(names)} if names else out


def role(name: str, rules: list[dict], namespace: str | None = None) -> dict:
    """A Role in `namespace`, or a ClusterRole without one."""
    meta = {"name": name, "namespace": namespace} if namespace else {"name": name}
    return {"apiVersion": RBAC, "kind": "Role" if namespace else "ClusterRole", "metadata": meta, "rules": rules}


def binding(name: str, role_ref: dict, subjects: list[tuple[str, str]], namespace: str | None = None) -> dict:
    """A RoleBinding in `namespace` (or a ClusterRoleBinding) of the role `role_ref` to (kind, name) subjects."""
    meta = {"name": name, "namespace": namespace} if namespace else {"name": name}
    return {
        "apiVersion": RBAC,
        "kind": "RoleBinding" if namespace else "ClusterRoleBinding",
        "metadata": meta,
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": role_ref["kind"],
            "name": role_ref["metadata"]["name"],
        },
        "subjects": [{"kind": kind, "name": who, "apiGroup": "rbac.authorization.k8s.io"} for kind, who in subjects],
    }
