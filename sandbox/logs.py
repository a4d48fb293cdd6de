"""Container log text: scripted through the `sandbox.skyflo.dev/logs` annotation, else plausible generated lines."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

LOGS_ANNOTATION = "sandbox.skyflo.dev/logs"
BEHAVIOR_ANNOTATION = "sandbox.skyflo.dev/behavior"

_PATHS = ["/", "/healthz", "/api/v1/items", "/static/app.js", "/api/v1/cart", "/favicon.ico"]
_AGENTS = ["kube-probe/1.32", "Mozilla/5.0 (X11; Linux x86_64)", "curl/8.5.0"]


def scripted_logs(pod: dict, container: str) -> str | None:
    annotations = pod["metadata"].get("annotations") or {}
    text = annotations.get(f"{LOGS_ANNOTATION}.{container}", annotations.get(LOGS_ANNOTATION))
    if text is None:
        return None
    return text if text.endswith("\n") or not text else text + "\n"


def _seed(pod: dict, container: str, n: int) -> int:
    digest = hashlib.sha256(f"{pod['metadata']['name']}/{container}/{n}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def access_line(pod: dict, container: str, n: int, when: datetime) -> str:
    seed = _seed(pod, container, n)
    path = _PATHS[seed % len(_PATHS)]
    status = 404 if path == "/favicon.ico" else 200
    agent = _AGENTS[seed % len(_AGENTS)]
    stamp = when.strftime("%d/%b/%Y:%H:%M:%S +0000")
    return f'10.244.0.{seed % 200 + 2} - - [{stamp}] "GET {path} HTTP/1.1" {status} {seed % 4000 + 100} "-" "{agent}"'


def _started(pod: dict) -> datetime:
    try:
        return datetime.strptime(pod["metadata"].get("creationTimestamp") or "", "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=UTC
        )
    except ValueError:
        return datetime.now(UTC)


def with_timestamps(pod: dict, lines: list[str]) -> list[str]:
    """`kubectl logs --timestamps`: RFC3339Nano prefixes, one second apart from the pod's start."""
    base = _started(pod)
    return [
        f"{(base + timedelta(seconds=n)).strftime('%Y-%m-%dT%H:%M:%S.%f')}000Z {line}" for n, line in enumerate(lines)
    ]


def generated_logs(pod: dict, container: str, image: str) -> list[str]:
    base = _started(pod)
    iso = base.strftime("%Y/%m/%d %H:%M:%S")
    if "nginx" in image:
        lines = [
            "/docker-entrypoint.sh: Configuration complete; ready for start up",
            f"{iso} [notice] 1#1: nginx/1.27.3",
            f"{iso} [notice] 1#1: start worker processes",
        ]
        lines += [access_line(pod, container, n, base + timedelta(seconds=n + 1)) for n in range(5)]
        return lines
    return [
        f"{base.isoformat()} INFO  Starting {container} (image {image})",
        f"{base.isoformat()} INFO  Loaded configuration from environment",
        f"{base.isoformat()} INFO  Listening on 0.0.0.0:8080",
        f"{(base + timedelta(seconds=5)).isoformat()} INFO  GET /healthz 200 1ms",
    ]


CRASH_LOGS = """Starting checkout service v2.3.1
Connecting to database at postgres://orders-db:5432/orders
Traceback (most recent call last):
  File "/app/main.py", line 42, in <module>
    app = create_app()
  File "/app/main.py", line 18, in create_app
    db.connect(os.environ["DATABASE_URL"])
  File "/usr/local/lib/python3.12/os.py", line 714, in __getitem__
    raise KeyError(key) from None
KeyError: 'DATABASE_URL'
"""
