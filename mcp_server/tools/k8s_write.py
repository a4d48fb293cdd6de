"""Mutating Kubernetes tools (refused in read-only mode; confined to allowed namespaces when a list is set)."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from pydantic import Field

from mcp_server.safety import UnsafeArgument, validate, validate_key_values
from mcp_server.toolbox import ToolResult, toolbox_of
from mcp_server.tools import tool
from mcp_server.tools.k8s_read import _scope_args, parse_manifest, patch_json
from mcp_server.tools.params import (
    Kind,
    Name,
    Namespace,
    PatchType,
    ScalableKind,
    Selector,
    WorkloadKind,
)

NodeName = Annotated[str, Field(description="Node name.")]


@tool(title="Apply a manifest", read_only=False, destructive=True, idempotent=True, scope="manifest")
async def k8s_apply(
    manifest: Annotated[str, Field(description="YAML manifest, one or more documents separated by '---'.")],
    ctx: Context,
    namespace: Namespace = None,
    server_side: Annotated[bool, Field(description="Use server-side apply (field ownership).")] = False,
) -> ToolResult:
    """Create or update objects from a YAML manifest (`kubectl apply -f -`, manifest on stdin).

    Preview first with k8s_diff. Secret values in the manifest never appear in any output.
    """
    box = toolbox_of(ctx)
    namespace = box.namespace(namespace)
    await box.check_manifest_namespaces(await parse_manifest(manifest, box.redactor), namespace)
    args = ["apply", "-f", "-", *_scope_args(namespace)]
    if server_side:
        args += ["--server-side", "--force-conflicts"]
    return await box.kubectl(ctx, args, stdin=manifest)


@tool(title="Patch an object", read_only=False, destructive=True, idempotent=False)
async def k8s_patch(
    kind: Kind,
    name: Name,
    patch: Annotated[str, Field(description="The patch as JSON or YAML.")],
    ctx: Context,
    namespace: Namespace = None,
    patch_type: PatchType = "strategic",
) -> ToolResult:
    """Patch one object in place (`kubectl patch`). Preview with k8s_diff(kind, name, patch) first."""
    box = toolbox_of(ctx)
    args = ["patch", validate("kind", "kind", kind), validate("name", "name", name), *_scope_args(namespace)]
    args += [f"--type={patch_type}", f"--patch={await patch_json(patch)}"]
    return await box.kubectl(ctx, args)


@tool(title="Scale a workload", read_only=False, destructive=True, idempotent=True)
async def k8s_scale(
    kind: ScalableKind,
    name: Name,
    replicas: Annotated[int, Field(description="Desired replica count.", ge=0, le=1000)],
    ctx: Context,
    namespace: Namespace = None,
) -> ToolResult:
    """Set the replica count of a deployment, statefulset or replicaset (`kubectl scale`)."""
    box = toolbox_of(ctx)
    target = f"{kind}/{validate('name', 'name', name)}"
    return await box.kubectl(ctx, ["scale", target, f"--replicas={replicas}", *_scope_args(namespace)])


@tool(title="Set a container image", read_only=False, destructive=True, idempotent=True)
async def k8s_set_image(
    kind: WorkloadKind,
    name: Name,
    container: Annotated[str, Field(description="Container name in the pod template.")],
    image: Annotated[str, Field(description="New image reference, e.g. 'nginx:1.27' or 'repo/app@sha256:…'.")],
    ctx: Context,
    namespace: Namespace = None,
) -> ToolResult:
    """Change one container's image, which starts a rollout (`kubectl set image`)."""
    box = toolbox_of(ctx)
    target = f"{kind}/{validate('name', 'name', name)}"
    pair = f"{validate('container', 'container', container)}={validate('image', 'image', image)}"
    return await box.kubectl(ctx, ["set", "image", target, pair, *_scope_args(namespace)])


@tool(title="Restart a rollout", read_only=False, destructive=True, idempotent=False)
async def k8s_rollout_restart(kind: WorkloadKind, name: Name, ctx: Context, namespace: Namespace = None) -> ToolResult:
    """Restart all pods of a workload with a new rollout (`kubectl rollout restart`)."""
    box = toolbox_of(ctx)
    target = f"{kind}/{validate('name', 'name', name)}"
    return await box.kubectl(ctx, ["rollout", "restart", target, *_scope_args(namespace)])


@tool(title="Roll back a rollout", read_only=False, destructive=True, idempotent=False)
async def k8s_rollout_undo(
    kind: WorkloadKind,
    name: Name,
    ctx: Context,
    namespace: Namespace = None,
    to_revision: Annotated[
        int | None, Field(description="Revision to return to (default: the previous).", ge=1)
    ] = None,
) -> ToolResult:
    """Roll a workload back to a previous revision (`kubectl rollout undo`); see k8s_rollout_history."""
    box = toolbox_of(ctx)
    args = ["rollout", "undo", f"{kind}/{validate('name', 'name', name)}", *_scope_args(namespace)]
    if to_revision is not None:
        args.append(f"--to-revision={to_revision}")
    return await box.kubectl(ctx, args)


@tool(title="Set or remove labels", read_only=False, destructive=False, idempotent=True)
async def k8s_label(
    kind: Kind,
    name: Name,
    labels: Annotated[
        dict[str, str | None], Field(description="Labels to set as {key: value}; a null value removes the label.")
    ],
    ctx: Context,
    namespace: Namespace = None,
) -> ToolResult:
    """Add, change (overwrite) or remove labels on one object (`kubectl label --overwrite`)."""
    box = toolbox_of(ctx)
    pairs = validate_key_values("labels", labels, value_kind="label_value")
    args = ["label", validate("kind", "kind", kind), validate("name", "name", name), *pairs, "--overwrite"]
    return await box.kubectl(ctx, [*args, *_scope_args(namespace)])


@tool(title="Set or remove annotations", read_only=False, destructive=False, idempotent=True)
async def k8s_annotate(
    kind: Kind,
    name: Name,
    annotations: Annotated[
        dict[str, str | None],
        Field(description="Annotations to set as {key: value}; a null value removes the annotation."),
    ],
    ctx: Context,
    namespace: Namespace = None,
) -> ToolResult:
    """Add, change (overwrite) or remove annotations on one object (`kubectl annotate --overwrite`)."""
    box = toolbox_of(ctx)
    pairs = validate_key_values("annotations", annotations, value_kind=None)
    args = ["annotate", validate("kind", "kind", kind), validate("name", "name", name), *pairs, "--overwrite"]
    return await box.kubectl(ctx, [*args, *_scope_args(namespace)])


@tool(title="Delete objects", read_only=False, destructive=True, idempotent=True)
async def k8s_delete(
    kind: Kind,
    ctx: Context,
    name: Annotated[str | None, Field(description="Object name (or give `selector`).")] = None,
    namespace: Namespace = None,
    selector: Selector = None,
) -> ToolResult:
    """Delete one object by name, or the objects matching a label selector (`kubectl delete`). Irreversible."""
    if not name and not selector:
        raise UnsafeArgument("k8s_delete needs `name` or `selector` (deleting everything is not offered)")
    box = toolbox_of(ctx)
    args = ["delete", validate("kind", "kind", kind)]
    if name:
        args.append(validate("name", "name", name))
    if selector:
        args += ["-l", validate("selector", "selector", selector)]
    return await box.kubectl(ctx, [*args, *_scope_args(namespace), "--wait=false"])


@tool(title="Cordon a node", read_only=False, destructive=False, idempotent=True, scope="cluster")
async def k8s_cordon(node: NodeName, ctx: Context) -> ToolResult:
    """Mark a node unschedulable so no new pods land on it (`kubectl cordon`)."""
    return await toolbox_of(ctx).kubectl(ctx, ["cordon", validate("name", "node", node)])


@tool(title="Uncordon a node", read_only=False, destructive=False, idempotent=True, scope="cluster")
async def k8s_uncordon(node: NodeName, ctx: Context) -> ToolResult:
    """Mark a node schedulable again (`kubectl uncordon`)."""
    return await toolbox_of(ctx).kubectl(ctx, ["uncordon", validate("name", "node", node)])


@tool(title="Drain a node", read_only=False, destructive=True, idempotent=True, scope="cluster")
async def k8s_drain(
    node: NodeName,
    ctx: Context,
    ignore_daemonsets: Annotated[bool, Field(description="Skip DaemonSet-managed pods.")] = True,
    delete_emptydir_data: Annotated[bool, Field(description="Evict pods using emptyDir (data is lost).")] = False,
    force: Annotated[bool, Field(description="Also delete pods not managed by a controller.")] = False,
) -> ToolResult:
    """Cordon a node and evict its pods (`kubectl drain`), streaming progress."""
    args = ["drain", validate("name", "node", node)]
    if ignore_daemonsets:
        args.append("--ignore-daemonsets")
    if delete_emptydir_data:
        args.append("--delete-emptydir-data")
    if force:
        args.append("--force")
    return await toolbox_of(ctx).kubectl(ctx, args)
