"""What every controller shares: the resource types it drives, the node, and pure helpers over object dicts."""

from __future__ import annotations

import hashlib
import json
import math

from sandbox.resources import BY_KEY
from sandbox.store import now_iso

NODE_NAME = "sandbox-node"
NODE_CPU = 4.0

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
