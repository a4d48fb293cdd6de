"""The HTTP surface of the sandbox API server (Starlette)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import yaml
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from sandbox import (
    audit,
    behaviors,
    default_roles,
    logs,
    openapi,
    patching,
    protobuf,
    rbac,
    resources,
    scenarios,
    tables,
)
from sandbox.controllers import Controller, seed_cluster
from sandbox.resources import BY_PATH, ResourceType
from sandbox.selectors import (
    SelectorError,
    fields_match,
    parse_field_selector,
    parse_label_selector,
    requirements_match,
    selector_string,
)
from sandbox.store import ApiError, Store, Watcher, conflict

VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2024-12-11T00:00:00Z",
    "goVersion": "go1.23.4",
    "compiler": "gc",
    "platform": "linux/amd64",
}
STREAMING_SUBRESOURCES = ("exec", "attach", "portforward")
WRITE_DELAY_ANNOTATION = "sandbox.skyflo.dev/write-delay-s"
PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}


def json_response(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status_code=status, media_type="application/json")


def error_response(exc: ApiError) -> Response:
    return json_response(exc.status(), exc.code)


def not_served(path: str) -> ApiError:
    return ApiError(
        404, "NotFound", "the server could not find the requested resource", {"causes": [{"message": path}]}
    )


class Target:
    """A parsed resource URL: /api/v1/namespaces/{ns}/{plural}/{name}/{subresource}."""

    def __init__(self, rt: ResourceType, namespace: str | None, name: str | None, sub: str | None):
        self.rt, self.namespace, self.name, self.sub = rt, namespace, name, sub


def parse_target(group: str, version: str, parts: list[str]) -> Target:
    namespace = None
    if len(parts) >= 3 and parts[0] == "namespaces" and (group, version, parts[2]) in BY_PATH:
        namespace, parts = parts[1], parts[2:]
    rt = BY_PATH.get((group, version, parts[0]))
    if rt is None or len(parts) > 3:
        raise not_served("/".join(parts))
    name = parts[1] if len(parts) > 1 else None
    sub = parts[2] if len(parts) > 2 else None
    if rt.plural == "pods" and sub in STREAMING_SUBRESOURCES:
        message = (
            f"the sandbox cluster has no container runtime: pods/{sub} (exec, attach, port-forward) is not supported"
        )
        raise ApiError(400, "BadRequest", message)
    if sub is not None and sub not in rt.subresources and not (rt.plural == "namespaces" and sub == "finalize"):
        raise not_served(sub)
    if rt.namespaced and namespace is None and name is not None:
        raise not_served("/".join(parts))
    return Target(rt, namespace if rt.namespaced else None, name, sub)


class SandboxServer:
    def __init__(self, admin_token: str | None = None) -> None:
        self.store = Store()
        seed_cluster(self.store)
        default_roles.seed_default_roles(self.store)
        self.controller = Controller(self.store)
        self.requests = audit.RequestLog()
        self.tokens = rbac.Tokens(admin_token or secrets.token_urlsafe(24))
        self.authorizer = rbac.Authorizer(self.store)
        self._task: asyncio.Task | None = None

    # ---- lifecycle ---------------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        self._task = asyncio.create_task(self.controller.run())
        try:
            yield
        finally:
            self._task.cancel()

    def build_app(self) -> Starlette:
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        routes = [
            Route("/version", lambda r: json_response(VERSION)),
            Route("/healthz", lambda r: Response("ok", media_type="text/plain")),
            Route("/livez", lambda r: Response("ok", media_type="text/plain")),
            Route("/readyz", lambda r: Response("ok", media_type="text/plain")),
            Route("/api", self.core_versions),
            Route("/apis", lambda r: json_response(resources.api_group_list())),
            Route("/openapi/v3", lambda r: json_response(openapi.index())),
            Route("/openapi/v3/{path:path}", self.openapi_group),
            Route("/sandbox/scenarios", lambda r: json_response({"scenarios": sorted(scenarios.SCENARIOS)})),
            Route("/sandbox/scenarios/{name}", self.seed_scenario, methods=["POST"]),
            Route("/sandbox/requests", self.request_log),
            Route("/sandbox/users", self.add_user, methods=["POST"]),
            Route("/api/{version}", self.core_resources),
            Route("/api/{version}/{rest:path}", self.core_dispatch, methods=methods),
            Route(
                f"/apis/{resources.REVIEW_GROUP}/{resources.REVIEW_VERSION}/{{plural}}", self.review, methods=["POST"]
            ),
            Route("/apis/{group}", self.group_info),
            Route("/apis/{group}/{version}", self.group_resources),
            Route("/apis/{group}/{version}/{rest:path}", self.group_dispatch, methods=methods),
        ]
        middleware = [
            Middleware(audit.RequestLogMiddleware, log=self.requests),
            Middleware(rbac.AuthMiddleware, tokens=self.tokens, authorizer=self.authorizer),
        ]
        return Starlette(routes=routes, lifespan=self.lifespan, middleware=middleware)

    # ---- discovery ---------------------------------------------------------------------------------------
    async def core_versions(self, request: Request) -> Response:
        server = f"{request.url.hostname}:{request.url.port}"
        return json_response(
            {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server}],
            }
        )

    async def core_resources(self, request: Request) -> Response:
        body = resources.api_resource_list("", request.path_params["version"])
        return json_response(body) if body else error_response(not_served(request.url.path))

    async def group_info(self, request: Request) -> Response:
        group = request.path_params["group"]
        for entry in resources.api_group_list()["groups"]:
            if entry["name"] == group:
                return json_response({"kind": "APIGroup", "apiVersion": "v1", **entry})
        return error_response(not_served(request.url.path))

    async def group_resources(self, request: Request) -> Response:
        body = resources.api_resource_list(request.path_params["group"], request.path_params["version"])
        return json_response(body) if body else error_response(not_served(request.url.path))

    async def openapi_group(self, request: Request) -> Response:
        path = request.path_params["path"].strip("/").split("/")
        if path[0] == "api" and len(path) == 2:
            doc = openapi.group_document("", path[1])
        elif path[0] == "apis" and len(path) == 3:
            doc = openapi.group_document(path[1], path[2])
        else:
            doc = None
        return json_response(doc) if doc else error_response(not_served(request.url.path))

    async def seed_scenario(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in scenarios.SCENARIOS:
            return json_response({"error": f"unknown scenario {name!r}", "scenarios": sorted(scenarios.SCENARIOS)}, 404)
        namespace = request.query_params.get("namespace") or scenarios.NAMESPACE
        try:
            created = scenarios.seed(self.store, name, namespace)
        except ApiError as exc:
            return error_response(exc)
        self.controller.poke()
        return json_response({"scenario": name, "namespace": namespace, "objects": created})

    async def request_log(self, request: Request) -> Response:
        """`GET /sandbox/requests?after=SEQ&contains=TEXT`: the requests received since SEQ whose path contains TEXT
        (see sandbox/audit.py)."""
        after = request.query_params.get("after", "0")
        if not after.isdigit():
            return json_response({"error": "after must be a request sequence number"}, 400)
        contains = request.query_params.get("contains") or ""
        entries = [e for e in self.requests.after(int(after)) if contains in e["path"]]
        return json_response({"last": self.requests.seq, "requests": entries})

    async def add_user(self, request: Request) -> Response:
        """`POST /sandbox/users {"name": "ada@example.com", "groups": ["dev"]}` with the admin token: a bearer token
        for a new identity (201 `{"name", "groups", "token"}`)."""
        given = request.headers.get("authorization", "").encode()
        if not secrets.compare_digest(given, f"Bearer {self.tokens.admin_token}".encode()):
            return error_response(ApiError(401, "Unauthorized", "minting users needs the admin token"))
        body = await self.body(request)
        name, groups = body.get("name"), body.get("groups") or []
        if not isinstance(name, str) or not name or not all(isinstance(g, str) and g for g in groups):
            return error_response(ApiError(422, "Invalid", "name must be a non-empty string, groups a list of them"))
        token = self.tokens.add(name, groups)
        return json_response({"name": name, "groups": groups, "token": token}, 201)

    async def review(self, request: Request) -> Response:
        """SelfSubjectAccessReview / SelfSubjectRulesReview, answered for the (possibly impersonated) caller."""
        kind = resources.REVIEWS.get(request.path_params["plural"])
        if kind is None:
            return error_response(not_served(request.url.path))
        try:
            spec = (await self.body(request)).get("spec") or {}
        except ApiError as exc:
            return error_response(exc)
        user = request.scope[rbac.SCOPE_KEY]
        if kind == "SelfSubjectAccessReview":
            status = rbac.access_review(self.authorizer, user, spec)
        else:
            status = rbac.rules_review(self.authorizer, user, spec.get("namespace", ""))
        api_version = f"{resources.REVIEW_GROUP}/{resources.REVIEW_VERSION}"
        body = {"kind": kind, "apiVersion": api_version, "metadata": {}, "spec": spec, "status": status}
        return json_response(body, 201)

    # ---- resources ---------------------------------------------------------------------------------------
    async def core_dispatch(self, request: Request) -> Response:
        return await self.dispatch(request, "", request.path_params["version"])

    async def group_dispatch(self, request: Request) -> Response:
        return await self.dispatch(request, request.path_params["group"], request.path_params["version"])

    async def dispatch(self, request: Request, group: str, version: str) -> Response:
        try:
            target = parse_target(group, version, request.path_params["rest"].strip("/").split("/"))
            if request.method != "GET" and request.query_params.get("dryRun") != "All":
                await self.write_delay(target)
            response = await self.handle(request, target)
            if request.method != "GET":
                self.controller.poke()
            return response
        except ApiError as exc:
            return error_response(exc)
        except SelectorError as exc:
            return error_response(ApiError(400, "BadRequest", str(exc)))

    async def write_delay(self, t: Target) -> None:
        """A change to an object annotated `sandbox.skyflo.dev/write-delay-s: N` is answered N seconds late (as
        a slow admission webhook would make it): tests kill a worker while a mutating command waits on it."""
        if t.name is None:
            return
        try:
            obj = self.store.get(t.rt, t.namespace or "", t.name)
        except ApiError:
            return
        delay = (obj["metadata"].get("annotations") or {}).get(WRITE_DELAY_ANNOTATION)
        with contextlib.suppress(ValueError):
            if delay and float(delay) > 0:
                await asyncio.sleep(min(float(delay), 60.0))

    async def handle(self, request: Request, t: Target) -> Response:
        method, q = request.method, request.query_params
        dry_run = q.get("dryRun") == "All"
        ns = t.namespace or ""
        if t.name is None:
            if method == "GET":
                if q.get("watch") in ("true", "1"):
                    return self.watch(request, t)
                return self.list(request, t)
            if method == "POST" and (not t.rt.namespaced or t.namespace is not None):
                obj = self.store.create(t.rt, ns, await self.body(request), dry_run=dry_run)
                return json_response(obj, 201)
            if method == "DELETE":
                return self.delete_collection(request, t, dry_run)
            raise ApiError(405, "MethodNotAllowed", f"method {method} not allowed on this collection")
        if t.sub == "log":
            return await self.pod_logs(request, t)
        if t.sub == "scale":
            return await self.scale(request, t, dry_run)
        if method == "GET":
            return self.render(request, t.rt, [self.store.get(t.rt, ns, t.name)], single=True)
        if method == "PUT":
            body = await self.body(request)
            return json_response(self.store.update(t.rt, ns, t.name, body, subresource=t.sub, dry_run=dry_run))
        if method == "PATCH":
            return await self.patch(request, t, dry_run)
        if method == "DELETE":
            policy = q.get("propagationPolicy") or (await self.delete_options(request)).get("propagationPolicy")
            if policy == "Orphan" and not dry_run:
                self.store.orphan_dependents(self.store.get(t.rt, ns, t.name)["metadata"]["uid"])
            return json_response(self.store.delete(t.rt, ns, t.name, dry_run=dry_run))
        raise ApiError(405, "MethodNotAllowed", f"method {method} not allowed")

    async def body(self, request: Request) -> Any:
        content_type = request.headers.get("content-type", "application/json").split(";")[0].strip()
        raw = await request.body()
        if "protobuf" in content_type:
            try:
                return protobuf.decode(raw)
            except (protobuf.ProtobufError, UnicodeDecodeError, IndexError) as exc:
                raise ApiError(415, "UnsupportedMediaType", str(exc)) from exc
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            pass
        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ApiError(400, "BadRequest", f"unable to decode the request body: {exc}") from exc

    async def delete_options(self, request: Request) -> dict:
        """DeleteOptions are optional and may arrive as protobuf from typed clients: read JSON, else ignore."""
        if "json" not in request.headers.get("content-type", "application/json"):
            return {}
        try:
            options = json.loads(await request.body() or b"{}")
        except json.JSONDecodeError:
            return {}
        return options if isinstance(options, dict) else {}

    def matching(self, request: Request, t: Target) -> list[dict]:
        labels = parse_label_selector(request.query_params.get("labelSelector"))
        fields = parse_field_selector(request.query_params.get("fieldSelector"))
        return [
            o
            for o in self.store.items(t.rt, t.namespace)
            if requirements_match(labels, o["metadata"].get("labels")) and fields_match(fields, o)
        ]

    def list(self, request: Request, t: Target) -> Response:
        return self.render(request, t.rt, self.matching(request, t), single=False)

    def render(self, request: Request, rt: ResourceType, objects: list[dict], *, single: bool) -> Response:
        rv = str(self.store.rv)
        if "as=Table" in request.headers.get("accept", ""):
            include = request.query_params.get("includeObject", "Metadata")
            return json_response(tables.to_table(rt.plural, objects, rv, include))
        if single:
            return json_response(objects[0])
        return json_response(
            {
                "kind": f"{rt.kind}List",
                "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": rv},
                "items": objects,
            }
        )

    def delete_collection(self, request: Request, t: Target, dry_run: bool) -> Response:
        deleted = [
            self.store.delete(t.rt, o["metadata"].get("namespace", ""), o["metadata"]["name"], dry_run=dry_run)
            for o in self.matching(request, t)
        ]
        rv = str(self.store.rv)
        list_kind = f"{t.rt.kind}List"
        return json_response(
            {"kind": list_kind, "apiVersion": t.rt.api_version, "metadata": {"resourceVersion": rv}, "items": deleted}
        )

    async def patch(self, request: Request, t: Target, dry_run: bool) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        patch_type = PATCH_TYPES.get(content_type)
        if patch_type is None:
            raise ApiError(
                415, "UnsupportedMediaType", f"the body of the request was in an unknown format: {content_type}"
            )
        body = await self.body(request)
        ns, q = t.namespace or "", request.query_params
        if patch_type == "apply":
            obj, created = self.store.apply(
                t.rt,
                ns,
                t.name,
                body,
                manager=q.get("fieldManager", ""),
                force=q.get("force") == "true",
                dry_run=q.get("dryRun") == "All",
            )
            return json_response(obj, 201 if created else 200)
        return json_response(self.store.patch(t.rt, ns, t.name, patch_type, body, subresource=t.sub, dry_run=dry_run))

    # ---- scale -------------------------------------------------------------------------------------------
    @staticmethod
    def scale_of(obj: dict) -> dict:
        meta = obj["metadata"]
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta
            },
            "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
            "status": {
                "replicas": (obj.get("status") or {}).get("replicas", 0),
                "selector": selector_string((obj.get("spec") or {}).get("selector")),
            },
        }

    async def scale(self, request: Request, t: Target, dry_run: bool) -> Response:
        ns = t.namespace or ""
        obj = self.store.get(t.rt, ns, t.name)
        if request.method == "GET":
            return json_response(self.scale_of(obj))
        current = self.scale_of(obj)
        body = await self.body(request)
        if request.method == "PUT":
            wanted = body
        elif request.method == "PATCH":
            patch_type = PATCH_TYPES.get(request.headers.get("content-type", "").split(";")[0].strip(), "merge")
            try:
                if patch_type == "json":
                    wanted = patching.json_patch(current, body)
                else:
                    wanted = patching.merge_patch(current, body)
            except patching.PatchError as exc:
                raise ApiError(422, "Invalid", str(exc)) from exc
        else:
            raise ApiError(405, "MethodNotAllowed", "method not allowed on scale")
        sent_rv = (wanted.get("metadata") or {}).get("resourceVersion")
        if sent_rv and sent_rv != obj["metadata"]["resourceVersion"]:
            raise conflict(t.rt, t.name)
        replicas = (wanted.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or replicas < 0:
            raise ApiError(
                422, "Invalid", f"spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0"
            )
        obj["spec"]["replicas"] = replicas
        obj["metadata"].pop("resourceVersion", None)
        updated = self.store.update(t.rt, ns, t.name, obj, dry_run=dry_run)
        return json_response(self.scale_of(updated))

    # ---- logs --------------------------------------------------------------------------------------------
    async def pod_logs(self, request: Request, t: Target) -> Response:
        ns, q = t.namespace or "", request.query_params
        pod = self.store.get(t.rt, ns, t.name)
        names = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]
        container = q.get("container") or (names[0] if len(names) == 1 else None)
        if container is None:
            message = f"a container name must be specified for pod {t.name}, choose one of: [{' '.join(names)}]"
            raise ApiError(400, "BadRequest", message)
        if container not in names:
            raise ApiError(400, "BadRequest", f"container {container} is not valid for pod {t.name}")
        lines = self.log_lines(pod, container)
        if q.get("previous") == "true" and not self.restart_count(pod, container):
            message = f'previous terminated container "{container}" in pod "{t.name}" not found'
            raise ApiError(400, "BadRequest", message)
        if q.get("timestamps") == "true":
            lines = logs.with_timestamps(pod, lines)
        tail = q.get("tailLines")
        if tail is not None and tail.lstrip("-").isdigit():
            lines = lines[-int(tail) :] if int(tail) > 0 else []
        text = "".join(f"{line}\n" for line in lines)
        if q.get("follow") != "true":
            return Response(text, media_type="text/plain")
        return StreamingResponse(self.follow_logs(pod, container, text), media_type="text/plain")

    @staticmethod
    def restart_count(pod: dict, container: str) -> int:
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        return next((c.get("restartCount", 0) for c in statuses if c.get("name") == container), 0)

    def log_lines(self, pod: dict, container: str) -> list[str]:
        status = pod.get("status") or {}
        cs = next((c for c in status.get("containerStatuses") or [] if c.get("name") == container), None)
        waiting = ((cs or {}).get("state") or {}).get("waiting")
        if cs is None or (waiting and not cs.get("restartCount")):
            reason = (waiting or {}).get("reason", "ContainerCreating")
            if reason in ("ErrImagePull", "ImagePullBackOff"):
                reason = "trying and failing to pull image"
            raise ApiError(
                400,
                "BadRequest",
                f'container "{container}" in pod "{pod["metadata"]["name"]}" is waiting to start: {reason}',
            )
        scripted = logs.scripted_logs(pod, container)
        if scripted is not None:
            return scripted.splitlines()
        namespace = pod["metadata"].get("namespace", "")
        crash = behaviors.crash(pod, lambda kind, name: self._data_keys(kind, name, namespace))
        if crash is not None and crash.container == container:
            return crash.log.splitlines()
        if (pod["metadata"].get("annotations") or {}).get(logs.BEHAVIOR_ANNOTATION) == "crashloop":
            return logs.CRASH_LOGS.splitlines()
        image = next(c.get("image", "") for c in pod["spec"]["containers"] if c.get("name") == container)
        return logs.generated_logs(pod, container, image)

    def _data_keys(self, kind: str, name: str, namespace: str = "") -> set[str]:
        obj = self.store.find(resources.BY_KIND[kind], namespace, name) or {}
        return set(obj.get("data") or {}) | set(obj.get("stringData") or {})

    async def follow_logs(self, pod: dict, container: str, text: str) -> AsyncIterator[str]:
        yield text
        image = next(c.get("image", "") for c in pod["spec"]["containers"] if c.get("name") == container)
        generated = logs.scripted_logs(pod, container) is None and "nginx" in image
        n = 100
        while self.store.find(resources.BY_KEY[("", "pods")], pod["metadata"]["namespace"], pod["metadata"]["name"]):
            await asyncio.sleep(1.0)
            if generated:
                yield logs.access_line(pod, container, n, datetime.now(UTC)) + "\n"
                n += 1

    # ---- watch -------------------------------------------------------------------------------------------
    def watch(self, request: Request, t: Target) -> Response:
        q = request.query_params
        labels = parse_label_selector(q.get("labelSelector"))
        fields = parse_field_selector(q.get("fieldSelector"))
        as_table = "as=Table" in request.headers.get("accept", "")
        rv = q.get("resourceVersion") or "0"
        timeout = float(q.get("timeoutSeconds") or 1800)
        watcher = Watcher(t.rt)
        initial = self._watch_start(request, t, rv, watcher)
        self.store.watchers.add(watcher)

        def visible(obj: dict | None) -> bool:
            if obj is None:
                return False
            if t.namespace and obj["metadata"].get("namespace") != t.namespace:
                return False
            return requirements_match(labels, obj["metadata"].get("labels")) and fields_match(fields, obj)

        def line(kind: str, obj: dict) -> str:
            if as_table and kind != "ERROR":
                obj = tables.to_table(t.rt.plural, [obj], obj["metadata"].get("resourceVersion", ""))
            return json.dumps({"type": kind, "object": obj}) + "\n"

        async def stream() -> AsyncIterator[str]:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            try:
                for kind, obj in initial:
                    yield line(kind, obj)
                    if kind == "ERROR":
                        return
                while loop.time() < deadline:
                    try:
                        _, kind, _, obj, old = await asyncio.wait_for(watcher.queue.get(), deadline - loop.time())
                    except TimeoutError:
                        break
                    if visible(obj):
                        yield line(kind, obj)
                    elif kind == "MODIFIED" and visible(old):
                        yield line("DELETED", obj)
            finally:
                self.store.watchers.discard(watcher)

        return StreamingResponse(stream(), media_type="application/json")

    def _watch_start(self, request: Request, t: Target, rv: str, watcher: Watcher) -> list[tuple[str, dict]]:
        """What a watch sends before live events: the current objects (rv "0"), a 410 ERROR when rv is older than
        the kept history, else nothing (the history after rv is queued on the watcher instead)."""
        if rv == "0":
            return [("ADDED", o) for o in self.matching(request, t)]
        if not rv.isdigit():
            raise ApiError(400, "BadRequest", f"invalid resourceVersion {rv!r}")
        history = self.store.history
        if history and len(history) == history.maxlen and int(rv) < history[0][0] - 1:
            gone = ApiError(410, "Expired", f"too old resource version: {rv} ({history[0][0]})")
            return [("ERROR", gone.status())]
        for event in history:
            if event[0] > int(rv) and event[2] == t.rt.key:
                watcher.queue.put_nowait(event)
        return []
