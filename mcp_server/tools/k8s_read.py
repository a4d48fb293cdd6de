"""Read-only Kubernetes tools."""

from __future__ import annotations

import difflib
import json
from typing import Annotated, Any, Literal

import anyio
import yaml
from mcp.server.mcpserver import Context
from mcp_types import CallToolResult, TextContent
from pydantic import Field

from mcp_server import yaml_input
from mcp_server.redaction import Redactor
from mcp_server.safety import UnsafeArgument, validate, validate_optional
from mcp_server.toolbox import CommandOutput, ToolResult, toolbox_of
from mcp_server.tools import tool
from mcp_server.tools.params import (
    AllNamespaces,
    Kind,
    Name,
    Namespace,
    OptionalName,
    PatchType,
    PodOwnerKind,
    Selector,
    WorkloadKind,
)

STRUCTURED_OUTPUTS = ("yaml", "json")


def _scope_args(namespace: str | None, all_namespaces: bool = False) -> list[str]:
    if all_namespaces:
        return ["--all-namespaces"]
    return ["-n", validate("namespace", "namespace", namespace)] if namespace else []


@tool(title="Get Kubernetes resources", read_only=True)
async def k8s_get(
    kind: Kind,
    ctx: Context,
    name: OptionalName = None,
    namespace: Namespace = None,
    all_namespaces: AllNamespaces = False,
    selector: Selector = None,
    output: Annotated[
        Literal["wide", "yaml", "json", "name"], Field(description="Output format (table 'wide' by default).")
    ] = "wide",
) -> ToolResult:
    """List or fetch Kubernetes objects (`kubectl get`). Secret values are always redacted.

    Use output='yaml' or 'json' to read full specs; 'wide' gives the familiar table.
    """
    box = toolbox_of(ctx)
    args = ["get", validate("kind", "kind", kind)]
    if name:
        args.append(validate("name", "name", name))
    args += _scope_args(box.namespace(namespace), all_namespaces)
    if selector:
        args += ["-l", validate("selector", "selector", selector)]
    args += ["-o", output]
    return await box.kubectl(ctx, args, stream=output not in STRUCTURED_OUTPUTS)


@tool(title="Describe Kubernetes resources", read_only=True)
async def k8s_describe(
    kind: Kind,
    ctx: Context,
    name: OptionalName = None,
    namespace: Namespace = None,
    selector: Selector = None,
) -> ToolResult:
    """Show details and recent events of objects (`kubectl describe`): conditions, replicas, pod status."""
    box = toolbox_of(ctx)
    args = ["describe", validate("kind", "kind", kind)]
    if name:
        args.append(validate("name", "name", name))
    args += _scope_args(box.namespace(namespace))
    if selector:
        args += ["-l", validate("selector", "selector", selector)]
    return await box.kubectl(ctx, args)


@tool(title="Read container logs", read_only=True)
async def k8s_logs(
    name: Annotated[str, Field(description="Pod name, or the workload's name when kind is not 'pod'.")],
    ctx: Context,
    namespace: Namespace = None,
    kind: PodOwnerKind = "pod",
    container: Annotated[str | None, Field(description="Container name (default: the first).")] = None,
    tail: Annotated[int, Field(description="Number of most recent lines.", ge=1, le=10000)] = 200,
    previous: Annotated[bool, Field(description="Logs of the previous (crashed) container instance.")] = False,
    since: Annotated[str | None, Field(description="Only newer logs, e.g. '10m', '1h'.")] = None,
) -> ToolResult:
    """Read the recent logs of a pod or of a workload's pod (`kubectl logs`). Known secret values are redacted."""
    box = toolbox_of(ctx)
    target = validate("name", "name", name) if kind == "pod" else f"{kind}/{validate('name', 'name', name)}"
    args = ["logs", target, *_scope_args(box.namespace(namespace)), f"--tail={tail}"]
    if container:
        args += ["-c", validate("container", "container", container)]
    if previous:
        args.append("--previous")
    if since:
        args.append(f"--since={validate('duration', 'since', since)}")
    await _learn_secrets(ctx, box.namespace(namespace))
    return await box.kubectl(ctx, args)


async def _learn_secrets(ctx: Context, namespace: str | None) -> None:
    """Read the namespace's Secrets (output discarded) so their values are scrubbed from logs."""
    box = toolbox_of(ctx)
    await box.execute(None, [box.kubectl_bin, "get", "secrets", *_scope_args(namespace), "-o", "json"], stream=False)


@tool(title="List Kubernetes events", read_only=True)
async def k8s_events(
    ctx: Context,
    namespace: Namespace = None,
    all_namespaces: AllNamespaces = False,
    for_object: Annotated[
        str | None, Field(description="Only events about this object, as 'kind/name' (e.g. 'deployment/web').")
    ] = None,
    warnings_only: Annotated[bool, Field(description="Only Warning events.")] = False,
) -> ToolResult:
    """List recent events, oldest first (`kubectl events`): scheduling failures, image pulls, restarts."""
    box = toolbox_of(ctx)
    args = ["events", *_scope_args(box.namespace(namespace), all_namespaces)]
    if for_object:
        kind, _, name = for_object.partition("/")
        args.append(f"--for={validate('kind', 'for_object kind', kind)}/{validate('name', 'for_object name', name)}")
    if warnings_only:
        args.append("--types=Warning")
    return await box.kubectl(ctx, args)


@tool(title="List API resource types", read_only=True, scope="cluster")
async def k8s_api_resources(
    ctx: Context,
    namespaced: Annotated[
        bool | None, Field(description="True: only namespaced kinds; False: only cluster-scoped; omit: all.")
    ] = None,
    api_group: Annotated[str | None, Field(description="Only this API group, e.g. 'apps' ('' is core).")] = None,
) -> ToolResult:
    """List the resource types the cluster serves (`kubectl api-resources`) with short names and verbs."""
    box = toolbox_of(ctx)
    args = ["api-resources", "-o", "wide"]
    if namespaced is not None:
        args.append(f"--namespaced={str(namespaced).lower()}")
    if api_group is not None:
        args.append(f"--api-group={validate('kind', 'api_group', api_group) if api_group else ''}")
    return await box.kubectl(ctx, args)


@tool(title="Watch a rollout until done", read_only=True)
async def k8s_rollout_status(kind: WorkloadKind, name: Name, ctx: Context, namespace: Namespace = None) -> ToolResult:
    """Wait until a rollout finishes (`kubectl rollout status`), streaming its progress.

    Ends with an error when the server's per-call timeout passes first.
    """
    box = toolbox_of(ctx)
    target = f"{kind}/{validate('name', 'name', name)}"
    return await box.kubectl(ctx, ["rollout", "status", target, *_scope_args(box.namespace(namespace))])


@tool(title="Show rollout history", read_only=True)
async def k8s_rollout_history(
    kind: WorkloadKind,
    name: Name,
    ctx: Context,
    namespace: Namespace = None,
    revision: Annotated[int | None, Field(description="Show the pod template of this revision.", ge=1)] = None,
) -> ToolResult:
    """List a workload's revisions (`kubectl rollout history`), e.g. to pick one for k8s_rollout_undo."""
    box = toolbox_of(ctx)
    args = ["rollout", "history", f"{kind}/{validate('name', 'name', name)}", *_scope_args(box.namespace(namespace))]
    if revision is not None:
        args.append(f"--revision={revision}")
    return await box.kubectl(ctx, args)


@tool(title="Preview a change (server-side dry-run diff)", read_only=True, scope="manifest")
async def k8s_diff(
    ctx: Context,
    manifest: Annotated[
        str, Field(description="YAML manifest(s) to compare with the live objects (server-side dry run).")
    ] = "",
    kind: Annotated[str | None, Field(description="With `patch`: the kind of the object to patch.")] = None,
    name: Annotated[str | None, Field(description="With `patch`: the name of the object to patch.")] = None,
    namespace: Namespace = None,
    patch: Annotated[str, Field(description="With kind/name: the patch (JSON or YAML) to preview.")] = "",
    patch_type: PatchType = "strategic",
) -> ToolResult:
    """Show what a manifest or a patch WOULD change, as a unified diff, without changing anything.

    Pass either `manifest`, or `kind` + `name` + `patch` (+ `patch_type`). Exit code 1 means 'differences found'.
    """
    box = toolbox_of(ctx)
    namespace = box.namespace(namespace)
    if manifest:
        await box.check_manifest_namespaces(await parse_manifest(manifest, box.redactor), namespace)
        args = ["diff", "--server-side", "--force-conflicts", "-f", "-", *_scope_args(namespace)]
        return await box.kubectl(ctx, args, stdin=manifest, stream=False, ok_codes=(0, 1))
    if not (kind and name and patch):
        raise UnsafeArgument("k8s_diff needs either `manifest` or `kind`, `name` and `patch`")
    return await _diff_patch(ctx, kind, name, namespace, patch, patch_type)


async def _diff_patch(
    ctx: Context, kind: str, name: str, namespace: str | None, patch: str, patch_type: str
) -> CallToolResult:
    box = toolbox_of(ctx)
    target = [validate("kind", "kind", kind), validate("name", "name", name), *_scope_args(namespace)]
    body = await patch_json(patch)
    live = await box.execute(None, [box.kubectl_bin, "get", *target, "-o", "json"], stream=False)
    if live.exit_code != 0:
        return box.shape(live, is_error=True)
    argv = [box.kubectl_bin, "patch", *target, f"--type={patch_type}", f"--patch={body}"]
    patched = await box.execute(None, [*argv, "--dry-run=server", "-o", "json"], stream=False)
    if patched.exit_code != 0:
        return box.shape(patched, is_error=True)
    if live.truncated or patched.truncated:
        raise UnsafeArgument(f"{kind}/{name} is larger than the output cap; preview the change with a manifest")
    diff = unified_diff(live.output, patched.output, f"{kind}/{name}")
    commands = f"{live.command}\n{patched.command}"
    structured = CommandOutput(command=commands, output=diff, exit_code=1 if diff else 0)
    shown = "".join(f"$ {line}\n" for line in commands.splitlines())
    return CallToolResult(
        content=[TextContent(type="text", text=f"{shown}{diff or '(no changes)'}")],
        structured_content=structured.model_dump(mode="json"),
    )


_VOLATILE = ("resourceVersion", "managedFields", "generation")


def unified_diff(before_json: str, after_json: str, label: str) -> str:
    """A unified diff of two (already redacted) JSON objects rendered as YAML, ignoring volatile metadata."""
    before, after = (_stable_yaml(text) for text in (before_json, after_json))
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), f"live/{label}", f"patched/{label}"
    )
    return "".join(lines)


def _stable_yaml(text: str) -> str:
    obj: dict[str, Any] = json.loads(text)
    for key in _VOLATILE:
        obj.get("metadata", {}).pop(key, None)
    return yaml.safe_dump(obj, sort_keys=True)


async def patch_json(patch: str) -> str:
    """Accept a JSON or YAML patch; return it as compact JSON (one argv element, never a flag)."""
    return await anyio.to_thread.run_sync(_patch_json, patch)


def _patch_json(patch: str) -> str:
    docs = _load_input("patch", patch)
    parsed = docs[0] if docs else None
    if not isinstance(parsed, dict | list):
        raise UnsafeArgument("patch: must be an object (or a list of operations for a JSON patch)")
    return json.dumps(parsed, separators=(",", ":"))


async def parse_manifest(manifest: str, redactor: Redactor) -> list[dict[str, Any]]:
    """Parse a multi-document manifest (off the event loop, bounded); remember any Secret values in it so
    this call's outputs never echo them."""
    return await anyio.to_thread.run_sync(_parse_manifest, manifest, redactor)


def _parse_manifest(manifest: str, redactor: Redactor) -> list[dict[str, Any]]:
    docs = [doc for doc in _load_input("manifest", manifest) if doc is not None]
    if not docs or not all(isinstance(doc, dict) and doc.get("kind") for doc in docs):
        raise UnsafeArgument("manifest: every document must be a Kubernetes object with a kind")
    redactor.redact_object(json.loads(json.dumps(docs, default=str)))
    for doc in docs:
        for key in ("namespace", "name"):
            value = (doc.get("metadata") or {}).get(key)
            validate_optional("namespace" if key == "namespace" else "name", f"manifest metadata.{key}", value)
    return docs


def _load_input(argument: str, text: str) -> list[Any]:
    try:
        docs = yaml_input.load_all(text)
    except yaml_input.YamlRefused as exc:
        raise UnsafeArgument(f"{argument}: refused, {exc}") from None
    except yaml.YAMLError as exc:
        raise UnsafeArgument(f"{argument}: not valid JSON/YAML ({exc.__class__.__name__})") from None
    if argument == "patch" and len(docs) > 1:
        raise UnsafeArgument("patch: must be one document")
    return docs
