"""The request log: every API request the sandbox received, in order, readable at `GET /sandbox/requests`.

Evals and tests read it to tell what a client really did to the cluster (which mutations, when, on what),
independently of what the client says it did. An entry is recorded when the request arrives (`status` None until
the response starts), so a change whose client was killed before the answer still counts. It is also the cluster's
audit: who acted (`user`, `groups`, and `impersonated_by`, the authenticated caller when the request impersonated
`user`), as sandbox/rbac.py decided.
"""

from __future__ import annotations

import time
from collections import deque
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.rbac import IDENTITY_PREFIX, SCOPE_KEY
from sandbox.resources import BY_PATH, REVIEWS

KEEP = 100_000
WRITE_METHODS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def _target(path: str) -> dict:
    """group/version/namespace/resource/name/subresource of a resource URL ({} for discovery and the rest)."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 3:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return {}
    namespace = ""
    if len(rest) >= 3 and rest[0] == "namespaces" and (group, version, rest[2]) in BY_PATH:
        namespace, rest = rest[1], rest[2:]
    return {
        "group": group,
        "version": version,
        "namespace": namespace,
        "resource": rest[0],
        "name": rest[1] if len(rest) > 1 else "",
        "subresource": rest[2] if len(rest) > 2 else "",
    }


def _without_identity(path: str) -> str:
    """The path as the API sees it: sandbox/rbac.py strips a `/identity/<token>` prefix (and the token is no
    business of the log)."""
    if not path.startswith(IDENTITY_PREFIX):
        return path
    rest = path[len(IDENTITY_PREFIX) :].split("/", 1)
    return "/" + rest[1] if len(rest) > 1 else "/"


def _verb(method: str, target: dict, query: dict) -> str:
    if method == "GET":
        if query.get("watch", [""])[0] in ("true", "1"):
            return "watch"
        return "get" if target.get("name") else "list"
    if method == "DELETE" and not target.get("name"):
        return "deletecollection"
    return WRITE_METHODS.get(method, method.lower())


class RequestLog:
    def __init__(self) -> None:
        self.entries: deque[dict] = deque(maxlen=KEEP)
        self.seq = 0

    def start(self, scope: Scope) -> dict:
        method, path = scope["method"], _without_identity(scope["path"])
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        target = _target(path)
        verb = _verb(method, target, query) if target else method.lower()
        fields = {k: target.get(k, "") for k in ("group", "version", "namespace", "resource", "name", "subresource")}
        dry_run = query.get("dryRun", [""])[0] == "All"
        headers = dict(scope.get("headers") or [])
        self.seq += 1
        entry = {
            "seq": self.seq,
            "time": time.time(),
            "method": method,
            "path": path,
            "query": scope.get("query_string", b"").decode("latin-1"),
            "status": None,  # until the response starts
            "user_agent": headers.get(b"user-agent", b"").decode("latin-1"),
            "verb": verb,
            "dry_run": dry_run,
            # A write that changed (or tried to change) stored state: not a dry run, not a review question.
            "mutating": bool(target)
            and method in WRITE_METHODS
            and not dry_run
            and target.get("resource") not in REVIEWS,
            **fields,
            "user": "",
            "groups": [],
            "impersonated_by": "",
        }
        self.entries.append(entry)
        return entry

    @staticmethod
    def answered(entry: dict, scope: Scope, status: int) -> None:
        """The response starts: its status, and who sandbox/rbac.py decided the caller was."""
        entry["status"] = status
        if who := scope.get(SCOPE_KEY):
            entry.update(who.record())

    def after(self, seq: int) -> list[dict]:
        return [e for e in self.entries if e["seq"] > seq]


class RequestLogMiddleware:
    """Records each request (except reads of the log itself) when it arrives, and its answer when it starts."""

    def __init__(self, app: ASGIApp, log: RequestLog) -> None:
        self.app, self.log = app, log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/sandbox/requests":
            await self.app(scope, receive, send)
            return

        entry = self.log.start(scope)

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.log.answered(entry, scope, message["status"])
            await send(message)

        await self.app(scope, receive, recording_send)
