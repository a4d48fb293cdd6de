"""Server-side `Table` output (what `kubectl get` prints) for the served kinds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sandbox.selectors import selector_string


def human_age(timestamp: str | None) -> str:
    if not timestamp:
        return "<unknown>"
    then = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    seconds = max(0, int((datetime.now(UTC) - then).total_seconds()))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if hours < 3:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if days < 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    return f"{days}d" if days < 730 else f"{days // 365}y"


def _age(obj: dict) -> str:
    return human_age(obj["metadata"].get("creationTimestamp"))


def pod_status_reason(pod: dict) -> str:
    status = pod.get("status") or {}
    if pod["metadata"].get("deletionTimestamp"):
        return "Terminating"
    reason = status.get("reason") or status.get("phase") or "Pending"
    for cs in status.get("containerStatuses") or []:
        state = cs.get("state") or {}
        if state.get("waiting", {}).get("reason"):
            return state["waiting"]["reason"]
        if state.get("terminated"):
            return state["terminated"].get("reason") or "Error"
    if reason == "Succeeded":
        return "Completed"
    return reason


def _pod_row(pod: dict) -> list:
    status = pod.get("status") or {}
    containers = (pod.get("spec") or {}).get("containers") or []
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for cs in statuses if cs.get("ready"))
    restarts = sum(cs.get("restartCount", 0) for cs in statuses)
    return [
        pod["metadata"]["name"],
        f"{ready}/{len(containers)}",
        pod_status_reason(pod),
        str(restarts),
        _age(pod),
        status.get("podIP") or "<none>",
        (pod.get("spec") or {}).get("nodeName") or "<none>",
        "<none>",
        "<none>",
    ]


def _containers(obj: dict) -> tuple[str, str]:
    cs = ((obj.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def _deployment_row(d: dict) -> list:
    spec, status = d.get("spec") or {}, d.get("status") or {}
    names, images = _containers(d)
    return [
        d["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        _age(d),
        names,
        images,
        selector_string(spec.get("selector")),
    ]


def _replicaset_row(rs: dict) -> list:
    spec, status = rs.get("spec") or {}, rs.get("status") or {}
    names, images = _containers(rs)
    return [
        rs["metadata"]["name"],
        spec.get("replicas", 0),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        _age(rs),
        names,
        images,
        selector_string(spec.get("selector")),
    ]


def _statefulset_row(s: dict) -> list:
    names, images = _containers(s)
    ready = f"{(s.get('status') or {}).get('readyReplicas', 0)}/{(s.get('spec') or {}).get('replicas', 0)}"
    return [s["metadata"]["name"], ready, _age(s), names, images]


def _daemonset_row(d: dict) -> list:
    st = d.get("status") or {}
    node_selector = ((d.get("spec") or {}).get("template") or {}).get("spec", {}).get("nodeSelector") or {}
    return [
        d["metadata"]["name"],
        st.get("desiredNumberScheduled", 0),
        st.get("currentNumberScheduled", 0),
        st.get("numberReady", 0),
        st.get("updatedNumberScheduled", 0),
        st.get("numberAvailable", 0),
        ",".join(f"{k}={v}" for k, v in node_selector.items()) or "<none>",
        _age(d),
    ]


def _job_row(j: dict) -> list:
    st, spec = j.get("status") or {}, j.get("spec") or {}
    conditions = {c["type"]: c["status"] for c in st.get("conditions") or []}
    state = (
        "Complete"
        if conditions.get("Complete") == "True"
        else "Failed"
        if conditions.get("Failed") == "True"
        else "Running"
    )
    duration = ""
    if st.get("startTime"):
        duration = human_age(st["startTime"]) if not st.get("completionTime") else "1s"
    return [j["metadata"]["name"], state, f"{st.get('succeeded', 0)}/{spec.get('completions', 1)}", duration, _age(j)]


def _service_row(s: dict) -> list:
    spec = s.get("spec") or {}
    ports = ",".join(
        f"{p.get('port')}{':' + str(p['nodePort']) if p.get('nodePort') else ''}/{p.get('protocol', 'TCP')}"
        for p in spec.get("ports") or []
    )
    ingress = ((s.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    external = ",".join(i.get("ip") or i.get("hostname", "") for i in ingress)
    if not external:
        external = "<pending>" if spec.get("type") == "LoadBalancer" else spec.get("externalName", "<none>")
    selector = ",".join(f"{k}={v}" for k, v in (spec.get("selector") or {}).items()) or "<none>"
    return [
        s["metadata"]["name"],
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP", "None"),
        external,
        ports or "<none>",
        _age(s),
        selector,
    ]


def _endpoints_row(e: dict) -> list:
    addresses = []
    for subset in e.get("subsets") or []:
        for addr in subset.get("addresses") or []:
            addresses.extend(f"{addr['ip']}:{p['port']}" for p in subset.get("ports") or [])
    text = ",".join(addresses[:3]) + (f" + {len(addresses) - 3} more..." if len(addresses) > 3 else "")
    return [e["metadata"]["name"], text or "<none>", _age(e)]


def _event_row(e: dict) -> list:
    obj = e.get("involvedObject") or {}
    return [
        human_age(e.get("lastTimestamp")),
        e.get("type", "Normal"),
        e.get("reason", ""),
        f"{obj.get('kind', '').lower()}/{obj.get('name', '')}",
        e.get("message", ""),
    ]


def _node_row(n: dict) -> list:
    conditions = {c["type"]: c["status"] for c in (n.get("status") or {}).get("conditions") or []}
    roles = [k.split("/", 1)[1] for k in n["metadata"].get("labels", {}) if k.startswith("node-role.kubernetes.io/")]
    info = (n.get("status") or {}).get("nodeInfo") or {}
    addresses = {a["type"]: a["address"] for a in (n.get("status") or {}).get("addresses") or []}
    ready = "Ready" if conditions.get("Ready") == "True" else "NotReady"
    if (n.get("spec") or {}).get("unschedulable"):
        ready += ",SchedulingDisabled"
    return [
        n["metadata"]["name"],
        ready,
        ",".join(roles) or "<none>",
        _age(n),
        info.get("kubeletVersion", ""),
        addresses.get("InternalIP", "<none>"),
        addresses.get("ExternalIP", "<none>"),
        info.get("osImage", ""),
        info.get("kernelVersion", ""),
        info.get("containerRuntimeVersion", ""),
    ]


def _pvc_row(p: dict) -> list:
    st, spec = p.get("status") or {}, p.get("spec") or {}
    return [
        p["metadata"]["name"],
        st.get("phase", "Pending"),
        spec.get("volumeName", ""),
        (st.get("capacity") or {}).get("storage", ""),
        ",".join(
            {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX"}.get(m, m)
            for m in st.get("accessModes") or []
        ),
        spec.get("storageClassName", "standard"),
        "<unset>",
        _age(p),
    ]


def _ingress_row(i: dict) -> list:
    spec = i.get("spec") or {}
    hosts = ",".join(r.get("host", "*") for r in spec.get("rules") or []) or "*"
    return [i["metadata"]["name"], spec.get("ingressClassName", "<none>"), hosts, "", "80", _age(i)]


def _hpa_row(h: dict) -> list:
    spec, st = h.get("spec") or {}, h.get("status") or {}
    ref = spec.get("scaleTargetRef") or {}
    return [
        h["metadata"]["name"],
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        "<unknown>",
        spec.get("minReplicas", 1),
        spec.get("maxReplicas", 0),
        st.get("currentReplicas", 0),
        _age(h),
    ]


def _col(name: str, type_: str = "string", priority: int = 0, fmt: str = "") -> dict:
    return {"name": name, "type": type_, "format": fmt, "description": name, "priority": priority}


_NAME = _col("Name", fmt="name")
COLUMNS: dict[str, tuple[list[dict], Callable[[dict], list]]] = {
    "pods": (
        [
            _NAME,
            _col("Ready"),
            _col("Status"),
            _col("Restarts"),
            _col("Age"),
            _col("IP", priority=1),
            _col("Node", priority=1),
            _col("Nominated Node", priority=1),
            _col("Readiness Gates", priority=1),
        ],
        _pod_row,
    ),
    "deployments": (
        [
            _NAME,
            _col("Ready"),
            _col("Up-to-date", "integer"),
            _col("Available", "integer"),
            _col("Age"),
            _col("Containers", priority=1),
            _col("Images", priority=1),
            _col("Selector", priority=1),
        ],
        _deployment_row,
    ),
    "replicasets": (
        [
            _NAME,
            _col("Desired", "integer"),
            _col("Current", "integer"),
            _col("Ready", "integer"),
            _col("Age"),
            _col("Containers", priority=1),
            _col("Images", priority=1),
            _col("Selector", priority=1),
        ],
        _replicaset_row,
    ),
    "statefulsets": (
        [_NAME, _col("Ready"), _col("Age"), _col("Containers", priority=1), _col("Images", priority=1)],
        _statefulset_row,
    ),
    "daemonsets": (
        [
            _NAME,
            _col("Desired", "integer"),
            _col("Current", "integer"),
            _col("Ready", "integer"),
            _col("Up-to-date", "integer"),
            _col("Available", "integer"),
            _col("Node Selector"),
            _col("Age"),
        ],
        _daemonset_row,
    ),
    "jobs": ([_NAME, _col("Status"), _col("Completions"), _col("Duration"), _col("Age")], _job_row),
    "services": (
        [
            _NAME,
            _col("Type"),
            _col("Cluster-IP"),
            _col("External-IP"),
            _col("Port(s)"),
            _col("Age"),
            _col("Selector", priority=1),
        ],
        _service_row,
    ),
    "endpoints": ([_NAME, _col("Endpoints"), _col("Age")], _endpoints_row),
    "events": ([_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"), _col("Message")], _event_row),
    "nodes": (
        [
            _NAME,
            _col("Status"),
            _col("Roles"),
            _col("Age"),
            _col("Version"),
            _col("Internal-IP", priority=1),
            _col("External-IP", priority=1),
            _col("OS-Image", priority=1),
            _col("Kernel-Version", priority=1),
            _col("Container-Runtime", priority=1),
        ],
        _node_row,
    ),
    "namespaces": (
        [_NAME, _col("Status"), _col("Age")],
        lambda n: [n["metadata"]["name"], (n.get("status") or {}).get("phase", "Active"), _age(n)],
    ),
    "configmaps": (
        [_NAME, _col("Data", "integer"), _col("Age")],
        lambda c: [c["metadata"]["name"], len(c.get("data") or {}) + len(c.get("binaryData") or {}), _age(c)],
    ),
    "secrets": (
        [_NAME, _col("Type"), _col("Data", "integer"), _col("Age")],
        lambda s: [s["metadata"]["name"], s.get("type", "Opaque"), len(s.get("data") or {}), _age(s)],
    ),
    "serviceaccounts": (
        [_NAME, _col("Secrets", "integer"), _col("Age")],
        lambda s: [s["metadata"]["name"], len(s.get("secrets") or []), _age(s)],
    ),
    "persistentvolumeclaims": (
        [
            _NAME,
            _col("Status"),
            _col("Volume"),
            _col("Capacity"),
            _col("Access Modes"),
            _col("StorageClass"),
            _col("VolumeAttributesClass"),
            _col("Age"),
        ],
        _pvc_row,
    ),
    "ingresses": (
        [_NAME, _col("Class"), _col("Hosts"), _col("Address"), _col("Ports"), _col("Age")],
        _ingress_row,
    ),
    "horizontalpodautoscalers": (
        [
            _NAME,
            _col("Reference"),
            _col("Targets"),
            _col("MinPods", "integer"),
            _col("MaxPods", "integer"),
            _col("Replicas", "integer"),
            _col("Age"),
        ],
        _hpa_row,
    ),
}
_DEFAULT = ([_NAME, _col("Age")], lambda o: [o["metadata"]["name"], _age(o)])


def to_table(plural: str, objects: list[dict], resource_version: str, include: str = "Metadata") -> dict:
    columns, row_fn = COLUMNS.get(plural, _DEFAULT)
    rows = []
    for obj in objects:
        if include == "Object":
            embedded = obj
        elif include == "None":
            embedded = None
        else:
            embedded = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}
        rows.append({"cells": row_fn(obj), "object": embedded})
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": columns,
        "rows": rows,
    }
