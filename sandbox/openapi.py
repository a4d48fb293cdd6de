"""A minimal OpenAPI v3 surface: enough for kubectl to leave field validation to the server.

kubectl reads `/openapi/v3`, then the per-group document; PATCH operations tagged with
`x-kubernetes-group-version-kind` and offering a `fieldValidation` parameter tell it the server validates.
"""

from __future__ import annotations

import hashlib

from sandbox.resources import RESOURCE_TYPES, group_versions

_QUERY = ("fieldValidation", "fieldManager", "dryRun", "force", "pretty")


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def index() -> dict:
    paths = {}
    for group, versions in group_versions().items():
        for version in versions:
            path = _gv_path(group, version)
            digest = hashlib.sha256(path.encode()).hexdigest()[:32].upper()
            paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": paths}


def _operation(action: str, gvk: dict, op_id: str) -> dict:
    params = [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}} for n in _QUERY]
    return {
        "operationId": f"{action}{op_id}",
        "parameters": params,
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
    }


def group_document(group: str, version: str) -> dict | None:
    paths: dict = {}
    for rt in RESOURCE_TYPES:
        if rt.group != group or rt.version != version:
            continue
        gvk = {"group": group, "version": version, "kind": rt.kind}
        schema_name = f"{rt.kind}{group.split('.')[0].title()}{version.title()}"
        base = f"/{_gv_path(group, version)}"
        collection = f"{base}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{base}/{rt.plural}"
        paths[collection] = {
            "get": _operation("list", gvk, schema_name),
            "post": _operation("post", gvk, schema_name),
        }
        paths[f"{collection}/{{name}}"] = {
            action: _operation(action, gvk, schema_name) for action in ("get", "put", "patch", "delete")
        }
    if not paths:
        return None

    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (sandbox)", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": {}},
    }
