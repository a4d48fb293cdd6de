"""Decode the protobuf request bodies that kubectl's typed clients send (`kubectl create namespace|configmap|
secret|deployment|job|service|serviceaccount|role|rolebinding|clusterrole|clusterrolebinding`, `kubectl run`,
helm's Secret storage driver), for the kinds and fields those commands fill in.

Only decoding is needed: the clients accept JSON responses. Fields outside these tables are skipped.
"""

from __future__ import annotations

import base64
from typing import Any

MAGIC = b"k8s\x00"

# message name -> {field number: (json name, type, repeated)}
_S = "string"
SCHEMAS: dict[str, dict[int, tuple[str, str, bool]]] = {
    "Unknown": {1: ("typeMeta", "TypeMeta", False), 2: ("raw", "bytes_raw", False)},
    "TypeMeta": {1: ("apiVersion", _S, False), 2: ("kind", _S, False)},
    "ObjectMeta": {
        1: ("name", _S, False),
        2: ("generateName", _S, False),
        3: ("namespace", _S, False),
        11: ("labels", "map", False),
        12: ("annotations", "map", False),
        14: ("finalizers", _S, True),
    },
    "Namespace": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "NamespaceSpec", False)},
    "NamespaceSpec": {1: ("finalizers", _S, True)},
    "ConfigMap": {
        1: ("metadata", "ObjectMeta", False),
        2: ("data", "map", False),
        3: ("binaryData", "map_bytes", False),
        4: ("immutable", "bool", False),
    },
    "Secret": {
        1: ("metadata", "ObjectMeta", False),
        2: ("data", "map_bytes", False),
        3: ("type", _S, False),
        4: ("stringData", "map", False),
        5: ("immutable", "bool", False),
    },
    "LabelSelector": {1: ("matchLabels", "map", False), 2: ("matchExpressions", "LabelSelectorRequirement", True)},
    "LabelSelectorRequirement": {1: ("key", _S, False), 2: ("operator", _S, False), 3: ("values", _S, True)},
    "Deployment": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "DeploymentSpec", False)},
    "DeploymentSpec": {
        1: ("replicas", "int", False),
        2: ("selector", "LabelSelector", False),
        3: ("template", "PodTemplateSpec", False),
        4: ("strategy", "DeploymentStrategy", False),
        5: ("minReadySeconds", "int", False),
        6: ("revisionHistoryLimit", "int", False),
        7: ("paused", "bool", False),
        9: ("progressDeadlineSeconds", "int", False),
    },
    "DeploymentStrategy": {1: ("type", _S, False)},
    "PodTemplateSpec": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "PodSpec", False)},
    "Pod": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "PodSpec", False)},
    "PodSpec": {
        2: ("containers", "Container", True),
        3: ("restartPolicy", _S, False),
        6: ("dnsPolicy", _S, False),
        7: ("nodeSelector", "map", False),
        8: ("serviceAccountName", _S, False),
        20: ("initContainers", "Container", True),
    },
    "Container": {
        1: ("name", _S, False),
        2: ("image", _S, False),
        3: ("command", _S, True),
        4: ("args", _S, True),
        5: ("workingDir", _S, False),
        6: ("ports", "ContainerPort", True),
        7: ("env", "EnvVar", True),
        8: ("resources", "ResourceRequirements", False),
        14: ("imagePullPolicy", _S, False),
        16: ("stdin", "bool", False),
        18: ("tty", "bool", False),
    },
    "ContainerPort": {1: ("name", _S, False), 3: ("containerPort", "int", False), 4: ("protocol", _S, False)},
    "EnvVar": {1: ("name", _S, False), 2: ("value", _S, False)},
    "ResourceRequirements": {1: ("limits", "map_quantity", False), 2: ("requests", "map_quantity", False)},
    "Job": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "JobSpec", False)},
    "JobSpec": {
        1: ("parallelism", "int", False),
        2: ("completions", "int", False),
        4: ("selector", "LabelSelector", False),
        6: ("template", "PodTemplateSpec", False),
        7: ("backoffLimit", "int", False),
    },
    "Service": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "ServiceSpec", False)},
    "ServiceSpec": {
        1: ("ports", "ServicePort", True),
        2: ("selector", "map", False),
        3: ("clusterIP", _S, False),
        4: ("type", _S, False),
        10: ("externalName", _S, False),
    },
    "ServicePort": {
        1: ("name", _S, False),
        2: ("protocol", _S, False),
        3: ("port", "int", False),
        4: ("targetPort", "IntOrString", False),
        5: ("nodePort", "int", False),
    },
    "IntOrString": {1: ("type", "int", False), 2: ("intVal", "int", False), 3: ("strVal", _S, False)},
    "ServiceAccount": {1: ("metadata", "ObjectMeta", False)},
    "PolicyRule": {
        1: ("verbs", _S, True),
        2: ("apiGroups", _S, True),
        3: ("resources", _S, True),
        4: ("resourceNames", _S, True),
        5: ("nonResourceURLs", _S, True),
    },
    "Role": {1: ("metadata", "ObjectMeta", False), 2: ("rules", "PolicyRule", True)},
    "ClusterRole": {1: ("metadata", "ObjectMeta", False), 2: ("rules", "PolicyRule", True)},
    "Subject": {
        1: ("kind", _S, False),
        2: ("apiGroup", _S, False),
        3: ("name", _S, False),
        4: ("namespace", _S, False),
    },
    "RoleRef": {1: ("apiGroup", _S, False), 2: ("kind", _S, False), 3: ("name", _S, False)},
    "RoleBinding": {
        1: ("metadata", "ObjectMeta", False),
        2: ("subjects", "Subject", True),
        3: ("roleRef", "RoleRef", False),
    },
    "ClusterRoleBinding": {
        1: ("metadata", "ObjectMeta", False),
        2: ("subjects", "Subject", True),
        3: ("roleRef", "RoleRef", False),
    },
    "SelfSubjectAccessReview": {
        1: ("metadata", "ObjectMeta", False),
        2: ("spec", "SelfSubjectAccessReviewSpec", False),
    },
    "SelfSubjectAccessReviewSpec": {
        1: ("resourceAttributes", "ResourceAttributes", False),
        2: ("nonResourceAttributes", "NonResourceAttributes", False),
    },
    "ResourceAttributes": {
        1: ("namespace", _S, False),
        2: ("verb", _S, False),
        3: ("group", _S, False),
        4: ("version", _S, False),
        5: ("resource", _S, False),
        6: ("subresource", _S, False),
        7: ("name", _S, False),
    },
    "NonResourceAttributes": {1: ("path", _S, False), 2: ("verb", _S, False)},
    "SelfSubjectRulesReview": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "SelfSubjectRulesReviewSpec", False)},
    "SelfSubjectRulesReviewSpec": {1: ("namespace", _S, False)},
}
KEEP_ZERO = {"replicas"}


class ProtobufError(ValueError):
    pass


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes):
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        yield number, value


def _map_entry(data: bytes) -> tuple[str, bytes]:
    key, value = "", b""
    for number, raw in _fields(data):
        if number == 1:
            key = raw.decode()
        elif number == 2:
            value = raw
    return key, value


def _quantity(data: bytes) -> str:
    return next((raw.decode() for number, raw in _fields(data) if number == 1), "")


def _scalar(kind: str, raw: Any) -> Any:
    if kind == _S:
        return raw.decode()
    if kind == "int":
        return raw - (1 << 64) if raw >= 1 << 63 else raw
    if kind == "bool":
        return bool(raw)
    return raw


def decode_message(name: str, data: bytes) -> dict:
    schema = SCHEMAS[name]
    out: dict[str, Any] = {}
    for number, raw in _fields(data):
        if number not in schema:
            continue
        field, kind, repeated = schema[number]
        if kind.startswith("map"):
            key, value = _map_entry(raw)
            if kind == "map_bytes":
                value = base64.b64encode(value).decode()
            elif kind == "map_quantity":
                value = _quantity(value)
            else:
                value = value.decode()
            out.setdefault(field, {})[key] = value
            continue
        value = decode_message(kind, raw) if kind in SCHEMAS else _scalar(kind, raw)
        if kind == "IntOrString":
            value = value.get("strVal", "") if value.get("type") == 1 else value.get("intVal", 0)
        if repeated:
            out.setdefault(field, []).append(value)
        else:
            out[field] = value
    return out


def _prune(value: Any, field: str = "") -> Any:
    if isinstance(value, dict):
        pruned = {k: _prune(v, k) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if not _empty(v, k)}
    if isinstance(value, list):
        return [_prune(v, field) for v in value]
    return value


def _empty(value: Any, field: str) -> bool:
    if field in KEEP_ZERO:
        return False
    return value in ("", 0, False, None) or value == {} or value == []


def decode(body: bytes) -> dict:
    """Decode a `k8s\\x00`-prefixed protobuf envelope into the JSON form of the object."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf magic prefix")
    envelope = decode_message("Unknown", body[len(MAGIC) :])
    type_meta = envelope.get("typeMeta") or {}
    kind = type_meta.get("kind", "")
    if kind not in SCHEMAS:
        raise ProtobufError(f"protobuf bodies for {kind or 'this kind'} are not supported; send JSON or YAML")
    obj = _prune(decode_message(kind, envelope.get("raw", b"")))
    return {"apiVersion": type_meta.get("apiVersion", ""), "kind": kind, **obj}
