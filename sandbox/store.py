"""In-memory object store with Kubernetes write semantics (uids, resourceVersions, generations, watches).

All mutations run on the server's single asyncio event loop and never await in the middle, so each write is
atomic with respect to every other request and to the controller loop.
"""

from __future__ import annotations

import asyncio
import copy
import re
import secrets
import uuid
from collections import deque
from datetime import UTC, datetime
from typing import Any

from sandbox import patching
from sandbox.resources import BY_KEY, BY_KIND, ResourceType
from sandbox.selectors import selector_matches

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_KINDS = {"namespaces", "services"}
_INTERNAL_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)
HISTORY_SIZE = 50_000


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def random_suffix(length: int = 5) -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


class ApiError(Exception):
    """A failure reported to the client as a `Status` object."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details or {}

    def status(self) -> dict:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.code,
        }


def not_found(rt: ResourceType, name: str) -> ApiError:
    details = {"name": name, "kind": rt.plural}
    if rt.group:
        details["group"] = rt.group
    return ApiError(404, "NotFound", f'{rt.qualified} "{name}" not found', details)


def conflict(rt: ResourceType, name: str) -> ApiError:
    msg = (
        f'Operation cannot be fulfilled on {rt.qualified} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    return ApiError(409, "Conflict", msg, {"name": name, "kind": rt.plural, "group": rt.group})


def invalid(rt: ResourceType, name: str, causes: list[tuple[str, str]]) -> ApiError:
    text = "; ".join(f"{field}: {msg}" for field, msg in causes)
    details = {
        "name": name,
        "group": rt.group,
        "kind": rt.kind,
        "causes": [{"reason": "FieldValueInvalid", "message": msg, "field": field} for field, msg in causes],
    }
    return ApiError(422, "Invalid", f'{rt.kind} "{name}" is invalid: {text}', details)


def _spec_part(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "kind", "apiVersion")}


def _comparable(obj: dict) -> dict:
    obj = copy.deepcopy(obj)
    meta = obj.get("metadata", {})
    for key in ("resourceVersion", "managedFields"):
        meta.pop(key, None)
    return obj


class Watcher:
    def __init__(self, rt: ResourceType | None):
        self.rt = rt
        self.queue: asyncio.Queue = asyncio.Queue()


class Store:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict[tuple[str, str], dict]] = {k: {} for k in BY_KEY}
        self.rv = 1
        self.history: deque = deque(maxlen=HISTORY_SIZE)
        self.watchers: set[Watcher] = set()
        self.applied: dict[tuple[str, str], dict] = {}  # (uid, fieldManager) -> last applied config
        self.next_ip = 10
        self.next_cluster_ip = 10

    # ---- reads -------------------------------------------------------------------------------------------
    def get(self, rt: ResourceType, namespace: str, name: str) -> dict:
        obj = self.objects[rt.key].get((namespace if rt.namespaced else "", name))
        if obj is None:
            raise not_found(rt, name)
        return copy.deepcopy(obj)

    def find(self, rt: ResourceType, namespace: str, name: str) -> dict | None:
        return self.objects[rt.key].get((namespace if rt.namespaced else "", name))

    def items(self, rt: ResourceType, namespace: str | None = None) -> list[dict]:
        objs = self.objects[rt.key]
        if namespace:
            return [o for (ns, _), o in sorted(objs.items()) if ns == namespace]
        return [o for _, o in sorted(objs.items())]

    def namespace_exists(self, name: str) -> bool:
        return ("", name) in self.objects[("", "namespaces")]

    def all_uids(self) -> set[str]:
        return {o["metadata"]["uid"] for objs in self.objects.values() for o in objs.values()}

    # ---- writes ------------------------------------------------------------------------------------------
    def _emit(self, kind: str, rt: ResourceType, obj: dict, old: dict | None = None) -> None:
        event = (self.rv, kind, rt.key, copy.deepcopy(obj), old)
        self.history.append(event)
        for watcher in list(self.watchers):
            if watcher.rt is None or watcher.rt.key == rt.key:
                watcher.queue.put_nowait(event)

    def _bump(self, obj: dict) -> None:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)

    def create(self, rt: ResourceType, namespace: str, body: dict, *, dry_run: bool = False) -> dict:
        obj = copy.deepcopy(body) if isinstance(body, dict) else {}
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise ApiError(400, "BadRequest", "metadata must be an object")
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + random_suffix()
        name = meta.get("name") or ""
        self._check_namespace(rt, namespace, meta)
        if not name:
            raise invalid(rt, "", [("metadata.name", "Required value: name or generateName is required")])
        if self.find(rt, namespace, name) is not None:
            details = {"name": name, "group": rt.group, "kind": rt.plural}
            raise ApiError(409, "AlreadyExists", f'{rt.qualified} "{name}" already exists', details)
        obj["kind"], obj["apiVersion"] = rt.kind, rt.api_version
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=now_iso())
        for key in ("resourceVersion", "deletionTimestamp", "selfLink"):
            meta.pop(key, None)
        if _spec_part(obj) and rt.has_status:
            meta["generation"] = 1
        if rt.has_status and rt.plural not in ("nodes",):
            obj["status"] = {}
        self.apply_defaults(rt, obj)
        self.validate(rt, obj, None)
        if dry_run:
            meta["resourceVersion"] = ""
            return obj
        return self.insert(rt, obj)

    def insert(self, rt: ResourceType, obj: dict) -> dict:
        """Store a fully formed object (used by create and by controllers/scenarios)."""
        meta = obj["metadata"]
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", now_iso())
        obj["kind"], obj["apiVersion"] = rt.kind, rt.api_version
        self._bump(obj)
        ns = meta.get("namespace", "") if rt.namespaced else ""
        self.objects[rt.key][(ns, meta["name"])] = obj
        self._emit("ADDED", rt, obj)
        if rt.plural == "namespaces":
            self._on_namespace_created(meta["name"])
        return copy.deepcopy(obj)

    def _check_namespace(self, rt: ResourceType, namespace: str, meta: dict) -> None:
        if not rt.namespaced:
            meta.pop("namespace", None)
            return
        if meta.get("namespace") and meta["namespace"] != namespace:
            raise ApiError(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on the request",
            )
        meta["namespace"] = namespace
        if not self.namespace_exists(namespace):
            raise not_found(BY_KEY[("", "namespaces")], namespace)

    def _on_namespace_created(self, name: str) -> None:
        sa = BY_KEY[("", "serviceaccounts")]
        if self.find(sa, name, "default") is None:
            self.insert(sa, {"metadata": {"name": "default", "namespace": name}})

    def update(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: dict,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> dict:
        old = self.find(rt, namespace, name)
        if old is None:
            raise not_found(rt, name)
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body of the request must be an object")
        new = copy.deepcopy(body)
        meta = new.setdefault("metadata", {})
        sent_rv = meta.get("resourceVersion")
        if sent_rv and sent_rv != old["metadata"]["resourceVersion"]:
            raise conflict(rt, name)
        if meta.get("name", name) != name:
            raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
        if subresource == "status":
            new = {**copy.deepcopy(old), "status": new.get("status", {})}
            meta = new["metadata"]
        elif rt.has_status and "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        for key in ("uid", "creationTimestamp", "generation", "deletionTimestamp"):
            if key in old["metadata"]:
                meta[key] = old["metadata"][key]
        meta["name"] = name
        if rt.namespaced:
            meta["namespace"] = namespace
        new["kind"], new["apiVersion"] = rt.kind, rt.api_version
        self.apply_defaults(rt, new)
        self.validate(rt, new, old)
        if _spec_part(new) != _spec_part(old) and "generation" in meta:
            meta["generation"] = meta["generation"] + 1
        meta["resourceVersion"] = old["metadata"]["resourceVersion"]
        if _comparable(new) == _comparable(old) or dry_run:
            return new
        return self.replace(rt, new, old)

    def replace(self, rt: ResourceType, new: dict, old: dict) -> dict:
        """Store `new` in place of `old` (no validation): used by update and by controllers."""
        self._bump(new)
        meta = new["metadata"]
        ns = meta.get("namespace", "") if rt.namespaced else ""
        self.objects[rt.key][(ns, meta["name"])] = new
        self._emit("MODIFIED", rt, new, old)
        return copy.deepcopy(new)

    def set_status(self, rt: ResourceType, obj: dict, status: dict) -> None:
        """Controller write of status; a no-op when nothing changed (keeps watches quiet)."""
        current = self.find(rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        if current is None or current.get("status") == status:
            return
        new = copy.deepcopy(current)
        new["status"] = copy.deepcopy(status)
        self.replace(rt, new, current)

    def delete(self, rt: ResourceType, namespace: str, name: str, *, dry_run: bool = False) -> dict:
        obj = self.find(rt, namespace, name)
        if obj is None:
            raise not_found(rt, name)
        if dry_run:
            return copy.deepcopy(obj)
        return self.remove(rt, obj)

    def remove(self, rt: ResourceType, obj: dict) -> dict:
        meta = obj["metadata"]
        ns = meta.get("namespace", "") if rt.namespaced else ""
        self.objects[rt.key].pop((ns, meta["name"]), None)
        for key in [k for k in self.applied if k[0] == meta["uid"]]:
            self.applied.pop(key)
        deleted = copy.deepcopy(obj)
        deleted["metadata"]["deletionTimestamp"] = now_iso()
        self._bump(deleted)
        self._emit("DELETED", rt, deleted)
        if rt.plural == "namespaces":
            for other in BY_KEY.values():
                if other.namespaced:
                    for child in self.items(other, meta["name"]):
                        self.remove(other, child)
        return deleted

    def orphan_dependents(self, uid: str) -> None:
        """`propagationPolicy: Orphan`: drop owner references to `uid` so garbage collection keeps dependents."""
        for rt in BY_KEY.values():
            for obj in self.items(rt):
                refs = obj["metadata"].get("ownerReferences") or []
                if any(r.get("uid") == uid for r in refs):
                    new = copy.deepcopy(obj)
                    kept = [r for r in refs if r.get("uid") != uid]
                    if kept:
                        new["metadata"]["ownerReferences"] = kept
                    else:
                        new["metadata"].pop("ownerReferences")
                    self.replace(rt, new, obj)

    # ---- patch and server-side apply ---------------------------------------------------------------------
    def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        patch_type: str,
        patch: Any,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> dict:
        old = self.find(rt, namespace, name)
        if old is None:
            raise not_found(rt, name)
        try:
            if patch_type == "json":
                new = patching.json_patch(old, patch)
            elif patch_type == "merge":
                new = patching.merge_patch(old, patch)
            else:
                new = patching.strategic_merge(old, patch)
        except patching.PatchError as exc:
            if exc.conflict:
                raise ApiError(409, "Conflict", str(exc)) from exc
            raise ApiError(422, "Invalid", str(exc)) from exc
        if not isinstance(new, dict):
            raise ApiError(422, "Invalid", "the patch produced an invalid object")
        if subresource != "status" and rt.has_status:
            new["status"] = copy.deepcopy(old.get("status", {}))
        return self.update(rt, namespace, name, new, subresource=subresource, dry_run=dry_run)

    def apply(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        config: dict,
        *,
        manager: str,
        force: bool,
        dry_run: bool,
    ) -> tuple[dict, bool]:
        """Server-side apply: returns (object, created)."""
        if not manager:
            raise ApiError(400, "BadRequest", "PATCH with apply requires a fieldManager parameter")
        if not isinstance(config, dict):
            raise ApiError(400, "BadRequest", "the apply configuration must be an object")
        config = copy.deepcopy(config)
        config.setdefault("metadata", {})["name"] = name
        old = self.find(rt, namespace, name)
        if old is None:
            obj = self.create(rt, namespace, config, dry_run=dry_run)
            if not dry_run:
                self._record_apply(rt, obj, manager, config)
                obj = self.get(rt, namespace, name)
            return obj, True
        uid = old["metadata"]["uid"]
        self._check_apply_conflicts(rt, name, uid, manager, config, force)
        previous = self.applied.get((uid, manager), {})
        dropped = [p for p in patching.leaf_paths(previous) if p not in patching.leaf_paths(config)]
        base = patching.remove_paths(old, dropped)
        new = patching.strategic_merge(base, {k: v for k, v in config.items() if k != "status"})
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if config.get("metadata", {}).get("resourceVersion"):
            new["metadata"]["resourceVersion"] = config["metadata"]["resourceVersion"]
        obj = self.update(rt, namespace, name, new, dry_run=dry_run)
        if not dry_run:
            self._record_apply(rt, obj, manager, config)
            obj = self.get(rt, namespace, name)
        return obj, False

    def _check_apply_conflicts(self, rt, name, uid, manager, config, force) -> None:
        if force:
            for key in [k for k in self.applied if k[0] == uid and k[1] != manager]:
                self.applied[key] = patching.remove_paths(self.applied[key], list(patching.leaf_paths(config).keys()))
            return
        mine = patching.leaf_paths(config)
        causes = []
        for (other_uid, other_manager), other_config in self.applied.items():
            if other_uid != uid or other_manager == manager:
                continue
            for path, value in patching.leaf_paths(other_config).items():
                if path in mine and mine[path] != value and path[0] != "metadata":
                    field = "." + ".".join(p if isinstance(p, str) else f"[{p[1]}={p[2]}]" for p in path)
                    causes.append(
                        {
                            "reason": "FieldManagerConflict",
                            "message": f'conflict with "{other_manager}"',
                            "field": field,
                        }
                    )
        if causes:
            text = "; ".join(f"{c['message']}: {c['field']}" for c in causes)
            raise ApiError(409, "Conflict", f"Apply failed with {len(causes)} conflict(s): {text}", {"causes": causes})

    def _record_apply(self, rt: ResourceType, obj: dict, manager: str, config: dict) -> None:
        uid = obj["metadata"]["uid"]
        self.applied[(uid, manager)] = config
        current = self.find(rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        if current is None:
            return
        fields = {k: v for k, v in config.items() if k not in ("apiVersion", "kind")}
        entries = [e for e in current["metadata"].get("managedFields", []) if e.get("manager") != manager]
        entries.append(
            {
                "manager": manager,
                "operation": "Apply",
                "apiVersion": rt.api_version,
                "time": now_iso(),
                "fieldsType": "FieldsV1",
                "fieldsV1": patching.fields_v1(fields),
            }
        )
        current["metadata"]["managedFields"] = entries

    # ---- defaults and validation -------------------------------------------------------------------------
    def apply_defaults(self, rt: ResourceType, obj: dict) -> None:
        spec = obj.get("spec")
        if rt.plural == "deployments" and isinstance(spec, dict):
            spec.setdefault("replicas", 1)
            spec.setdefault("revisionHistoryLimit", 10)
            spec.setdefault("progressDeadlineSeconds", 600)
            strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
            if strategy.get("type", "RollingUpdate") == "RollingUpdate":
                strategy.setdefault("type", "RollingUpdate")
                strategy.setdefault("rollingUpdate", {"maxUnavailable": "25%", "maxSurge": "25%"})
        elif rt.plural in ("replicasets", "statefulsets") and isinstance(spec, dict):
            spec.setdefault("replicas", 1)
            if rt.plural == "statefulsets":
                spec.setdefault("podManagementPolicy", "OrderedReady")
                spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        elif rt.plural == "daemonsets" and isinstance(spec, dict):
            rolling = {"maxUnavailable": 1, "maxSurge": 0}
            spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": rolling})
        elif rt.plural == "services" and isinstance(spec, dict):
            self._default_service(spec)
        elif rt.plural == "namespaces":
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj["status"] = {"phase": "Active"}
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
        elif rt.plural == "persistentvolumeclaims" and isinstance(spec, dict):
            spec.setdefault("storageClassName", "standard")
            spec.setdefault("volumeMode", "Filesystem")
        elif rt.plural == "jobs" and isinstance(spec, dict):
            self._default_job(obj, spec)
        elif rt.plural == "secrets":
            obj.setdefault("type", "Opaque")
        if rt.plural == "pods" and isinstance(spec, dict):
            spec.setdefault("restartPolicy", "Always")
            spec.setdefault("serviceAccountName", "default")
            obj.setdefault("status", {}).setdefault("phase", "Pending")

    @staticmethod
    def _default_job(obj: dict, spec: dict) -> None:
        for key, value in (("completions", 1), ("parallelism", 1), ("backoffLimit", 6)):
            spec.setdefault(key, value)
        uid, name = obj["metadata"].get("uid", ""), obj["metadata"].get("name", "")
        labels = {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name}
        labels.update({"controller-uid": uid, "job-name": name})
        spec.setdefault("selector", {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}})
        template = spec.setdefault("template", {})
        template.setdefault("metadata", {}).setdefault("labels", {}).update(labels)
        template.setdefault("spec", {}).setdefault("restartPolicy", "Never")

    def _default_service(self, spec: dict) -> None:
        spec.setdefault("type", "ClusterIP")
        if spec["type"] != "ExternalName" and not spec.get("clusterIP"):
            spec["clusterIP"] = f"10.96.{self.next_cluster_ip // 250}.{self.next_cluster_ip % 250 + 1}"
            self.next_cluster_ip += 1
        if spec.get("clusterIP") and spec["clusterIP"] != "None":
            spec["clusterIPs"] = [spec["clusterIP"]]
        spec.setdefault("sessionAffinity", "None")
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
            if spec["type"] in ("NodePort", "LoadBalancer") and not port.get("nodePort"):
                port["nodePort"] = 30000 + self.next_cluster_ip % 2767
                self.next_cluster_ip += 1

    def validate(self, rt: ResourceType, obj: dict, old: dict | None) -> None:
        name = obj["metadata"].get("name", "")
        pattern, limit = (_DNS_LABEL, 63) if rt.plural in _LABEL_KINDS else (_DNS_SUBDOMAIN, 253)
        if rt.plural != "events" and (not pattern.match(name) or len(name) > limit):
            what = "RFC 1123 label" if limit == 63 else "RFC 1123 subdomain"
            msg = (
                f'Invalid value: "{name}": a lowercase {what} must consist of lower case alphanumeric '
                "characters, '-' or '.', and must start and end with an alphanumeric character"
            )
            raise invalid(rt, name, [("metadata.name", msg)])
        if rt.plural in ("deployments", "replicasets", "statefulsets", "daemonsets"):
            self._validate_workload(rt, obj, old)

    def _validate_workload(self, rt: ResourceType, obj: dict, old: dict | None) -> None:
        name = obj["metadata"]["name"]
        spec = obj.get("spec") or {}
        selector = spec.get("selector")
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
        if not selector:
            raise invalid(rt, name, [("spec.selector", "Required value")])
        if not selector_matches(selector, labels):
            raise invalid(
                rt,
                name,
                [("spec.template.metadata.labels", "Invalid value: `selector` does not match template `labels`")],
            )
        if old is not None and (old.get("spec") or {}).get("selector") != selector:
            raise invalid(rt, name, [("spec.selector", "Invalid value: field is immutable")])
        for container in ((spec.get("template") or {}).get("spec") or {}).get("containers") or [{}]:
            if not container.get("image"):
                field = "spec.template.spec.containers[0].image"
                raise invalid(rt, name, [(field, "Required value")])

    # ---- events ------------------------------------------------------------------------------------------
    def record_event(self, involved: dict, reason: str, message: str, *, type_: str = "Normal", component: str) -> None:
        meta = involved["metadata"]
        rt = BY_KIND[involved["kind"]]
        namespace = meta.get("namespace") or "default"
        if not self.namespace_exists(namespace):
            return
        events = BY_KEY[("", "events")]
        for event in self.items(events, namespace):
            if (
                event["involvedObject"].get("uid") == meta["uid"]
                and event["reason"] == reason
                and event["message"] == message
            ):
                new = copy.deepcopy(event)
                new["count"] = event.get("count", 1) + 1
                new["lastTimestamp"] = now_iso()
                self.replace(events, new, event)
                return
        stamp = now_iso()
        self.insert(
            events,
            {
                "metadata": {"name": f"{meta['name']}.{secrets.token_hex(8)}", "namespace": namespace},
                "involvedObject": {
                    "kind": involved["kind"],
                    "namespace": meta.get("namespace", ""),
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "apiVersion": rt.api_version,
                    "resourceVersion": meta.get("resourceVersion", ""),
                },
                "reason": reason,
                "message": message,
                "type": type_,
                "source": {"component": component},
                "firstTimestamp": stamp,
                "lastTimestamp": stamp,
                "count": 1,
                "reportingComponent": component,
                "reportingInstance": "",
            },
        )
