"""What a simulated container does, decided from its pod's spec and the `sandbox.skyflo.dev/*` annotations.

The sandbox runs no processes: a scenario states what the image needs, and the kubelet judges the current spec
against it, so fixing the spec (not the annotation) fixes the pod. Annotations, on a pod or a pod template:

- `sandbox.skyflo.dev/requires-env: A,B` — the process exits 1 unless every listed variable is set on the
  container (`env` value or valueFrom, or `envFrom` of a ConfigMap/Secret that has the key).
- `sandbox.skyflo.dev/entrypoint: /app/server[,/bin/sh]` — the executables the image has; a `command` whose
  first word is another one fails to start (exit 128, "no such file or directory").
- `sandbox.skyflo.dev/listens-on: 8080` — the port the process serves; readiness and liveness probes (httpGet or
  tcpSocket, named ports resolved) on another port are refused, and httpGet paths outside
  `sandbox.skyflo.dev/http-paths` (default `/,/healthz,/readyz,/livez`) answer 404. Without `listens-on`, every
  probe passes.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "sandbox.skyflo.dev/"
REQUIRES_ENV = PREFIX + "requires-env"
ENTRYPOINT = PREFIX + "entrypoint"
LISTENS_ON = PREFIX + "listens-on"
HTTP_PATHS = PREFIX + "http-paths"
DEFAULT_PATHS = ("/", "/healthz", "/readyz", "/livez")


@dataclass(frozen=True)
class Crash:
    container: str
    exit_code: int
    reason: str  # lastState.terminated.reason
    log: str


@dataclass(frozen=True)
class ProbeFailure:
    container: str
    probe: str  # "readiness" | "liveness"
    message: str


def _annotations(pod: dict) -> dict:
    return pod["metadata"].get("annotations") or {}


def _listed(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _env_names(container: dict, store_lookup) -> set[str]:
    names = {e.get("name") for e in container.get("env") or [] if e.get("value") or e.get("valueFrom")}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            ref = source.get(key)
            if ref:
                names |= {prefix + k for k in store_lookup(kind, ref.get("name", ""))}
    return names


def crash(pod: dict, store_lookup) -> Crash | None:
    """The first container that cannot run, by the pod's annotations; `store_lookup(kind, name)` -> data keys."""
    annotations = _annotations(pod)
    required, entrypoints = _listed(annotations.get(REQUIRES_ENV)), _listed(annotations.get(ENTRYPOINT))
    for container in (pod.get("spec") or {}).get("containers") or []:
        name = container.get("name", "")
        command = container.get("command") or []
        if entrypoints and command and command[0] not in entrypoints:
            log = f'exec {command[0]}: no such file or directory\nexec: "{command[0]}": stat {command[0]}: not found'
            return Crash(name, 128, "StartError", log)
        missing = [v for v in required if v not in _env_names(container, store_lookup)]
        if missing:
            log = (
                f"Starting {name}\nLoading configuration from the environment\n"
                f"FATAL: required environment variable {missing[0]} is not set\n"
                f"KeyError: '{missing[0]}'"
            )
            return Crash(name, 1, "Error", log)
    return None


def _port_number(container: dict, port) -> int | None:
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    return next((p.get("containerPort") for p in container.get("ports") or [] if p.get("name") == port), None)


def _probe_error(pod: dict, container: dict, probe: dict, listens: int, paths: list[str]) -> str | None:
    ip = (pod.get("status") or {}).get("podIP", "10.244.0.2")
    http, tcp = probe.get("httpGet"), probe.get("tcpSocket")
    check = http or tcp
    if not check:
        return None
    port = _port_number(container, check.get("port"))
    if port != listens:
        if http:
            path = http.get("path", "/")
            return f'Get "http://{ip}:{port}{path}": dial tcp {ip}:{port}: connect: connection refused'
        return f"dial tcp {ip}:{port}: connect: connection refused"
    if http and http.get("path", "/") not in paths:
        return "HTTP probe failed with statuscode: 404"
    return None


def probe_failure(pod: dict) -> ProbeFailure | None:
    """The first failing liveness probe, else the first failing readiness probe."""
    annotations = _annotations(pod)
    if not str(annotations.get(LISTENS_ON, "")).isdigit():
        return None
    listens = int(annotations[LISTENS_ON])
    paths = _listed(annotations.get(HTTP_PATHS)) or list(DEFAULT_PATHS)
    containers = (pod.get("spec") or {}).get("containers") or []
    for kind in ("liveness", "readiness"):
        for container in containers:
            error = _probe_error(pod, container, container.get(f"{kind}Probe") or {}, listens, paths)
            if error:
                return ProbeFailure(container.get("name", ""), kind, error)
    return None
