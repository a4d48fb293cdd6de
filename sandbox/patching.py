"""Patch semantics: JSON merge patch (RFC 7386), an approximation of strategic merge patch, JSON patch (RFC 6902).

Strategic merge merges lists of objects by a merge key chosen by field name (containers/env/volumes by `name`,
container ports by `containerPort`, service ports by `port`, volumeMounts by `mountPath`, conditions by `type`)
and understands the directives kubectl sends (`$patch`, `$retainKeys`, `$setElementOrder/...`,
`$deleteFromPrimitiveList/...`). Other lists are replaced, as for atomic lists in Kubernetes.
"""

from __future__ import annotations

import copy
import json
from typing import Any

MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "imagePullSecrets": "name",
    "ownerReferences": "uid",
    "conditions": "type",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
}
MERGED_PRIMITIVE_LISTS = {"finalizers"}


class PatchError(ValueError):
    """The patch cannot be applied; reported as 422 (or 409 for a failed `test` op)."""

    def __init__(self, message: str, *, conflict: bool = False):
        super().__init__(message)
        self.conflict = conflict


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def merge_key_for(field: str, items: list) -> str | None:
    if field == "ports":
        sample = next((i for i in items if isinstance(i, dict)), {})
        return "containerPort" if "containerPort" in sample else "port"
    return MERGE_KEYS.get(field)


def strategic_merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key in ("$retainKeys", "$patch"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            result[field] = [v for v in result.get(field) or [] if v not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list):
            result[key] = _merge_list(key, result.get(key), value)
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = copy.deepcopy(value)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(field: str, current: Any, patch: list) -> list:
    current = current if isinstance(current, list) else []
    if field in MERGED_PRIMITIVE_LISTS:
        return current + [v for v in patch if v not in current]
    key = merge_key_for(field, patch + current)
    if key is None or not all(isinstance(i, dict) for i in patch):
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, dict) and i.get("$patch"))]
    if any(i.get("$patch") == "replace" for i in patch):
        return [copy.deepcopy(i) for i in patch if i.get("$patch") != "replace"]
    result = [copy.deepcopy(i) for i in current]
    for item in patch:
        idx = next((n for n, c in enumerate(result) if isinstance(c, dict) and c.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                result.pop(idx)
        elif idx is None:
            result.append(strategic_merge({}, item))
        else:
            result[idx] = strategic_merge(result[idx], item)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str]) -> Any:
    for part in parts:
        try:
            doc = doc[int(part)] if isinstance(doc, list) else doc[part]
        except (KeyError, IndexError, ValueError, TypeError):
            raise PatchError(f"path /{'/'.join(parts)} not found") from None
    return doc


def _add(doc: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if index > len(parent):
            raise PatchError("index out of range")
        parent.insert(index, value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise PatchError(f"cannot add at /{'/'.join(parts)}")
    return doc


def _remove(doc: Any, parts: list[str]) -> Any:
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    try:
        return parent.pop(int(last)) if isinstance(parent, list) else parent.pop(last)
    except (KeyError, IndexError, ValueError):
        raise PatchError(f"unable to remove nonexistent key: /{'/'.join(parts)}") from None


def json_patch(target: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in ops:
        name, parts = op.get("op"), _pointer(op.get("path", ""))
        if name == "add":
            doc = _add(doc, parts, copy.deepcopy(op.get("value")))
        elif name == "remove":
            _remove(doc, parts)
        elif name == "replace":
            _walk(doc, parts)
            if not parts:
                doc = copy.deepcopy(op.get("value"))
            else:
                _remove(doc, parts)
                doc = _add(doc, parts, copy.deepcopy(op.get("value")))
        elif name in ("move", "copy"):
            source = _pointer(op.get("from", ""))
            value = copy.deepcopy(_walk(doc, source))
            if name == "move":
                _remove(doc, source)
            doc = _add(doc, parts, value)
        elif name == "test":
            if _walk(doc, parts) != op.get("value"):
                raise PatchError(f"testing value /{'/'.join(parts)} failed", conflict=True)
        else:
            raise PatchError(f"unexpected JSON patch operation {name!r}")
    return doc


def leaf_paths(obj: Any, prefix: tuple = (), field: str = "") -> dict[tuple, Any]:
    """Flatten an applied configuration into {path: value}; keyed list items become ("k", key, value)."""
    out: dict[tuple, Any] = {}
    if isinstance(obj, dict) and obj:
        for k, v in obj.items():
            out.update(leaf_paths(v, (*prefix, k), k))
    elif isinstance(obj, list) and obj and all(isinstance(i, dict) for i in obj) and merge_key_for(field, obj):
        key = merge_key_for(field, obj)
        for item in obj:
            out.update(leaf_paths(item, (*prefix, ("k", key, item.get(key))), ""))
    else:
        out[prefix] = obj
    return out


def fields_v1(obj: Any, field: str = "") -> dict:
    """The managedFields `fieldsV1` set of an applied configuration."""
    if isinstance(obj, dict):
        out: dict = {}
        for k, v in obj.items():
            out[f"f:{k}"] = fields_v1(v, k) if isinstance(v, dict | list) else {}
        if out and field:
            out["."] = {}
        return out
    if isinstance(obj, list) and obj and all(isinstance(i, dict) for i in obj) and merge_key_for(field, obj):
        key = merge_key_for(field, obj)
        return {f'k:{{"{key}":{_json_scalar(i.get(key))}}}': fields_v1(i, "item") for i in obj}
    return {}


def _json_scalar(value: Any) -> str:
    return json.dumps(value)


def remove_paths(obj: Any, paths: list[tuple]) -> Any:
    """Remove the given leaf paths (as produced by `leaf_paths`) from obj, pruning emptied keyed items."""
    obj = copy.deepcopy(obj)
    for path in paths:
        _remove_path(obj, list(path))
    return obj


def _remove_path(node: Any, path: list) -> None:
    if not path:
        return
    head, rest = path[0], path[1:]
    if isinstance(head, tuple):
        if not isinstance(node, list):
            return
        _, key, value = head
        for index, item in enumerate(node):
            if isinstance(item, dict) and item.get(key) == value:
                if rest:
                    _remove_path(item, rest)
                if not rest or set(item) <= {key}:
                    node.pop(index)
                return
        return
    if not isinstance(node, dict) or head not in node:
        return
    if rest:
        _remove_path(node[head], rest)
        if node[head] in ({}, []) and head not in ("metadata", "spec"):
            node.pop(head)
    else:
        node.pop(head)
