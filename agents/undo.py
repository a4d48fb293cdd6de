"""Undo: what a mutating call will change, read right before it runs, and the call that puts it back.

The saved state is read through the tool server's read-only tools (`k8s_get -o json`, `helm_status`), so it is
redacted as every output is. A Secret's data is therefore never kept, and a Secret is never offered an undo.
The restoring call is an ordinary call: it waits for an approval, is previewed and audited like any other.
"""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING

import yaml

from mcp_server.redaction import MASK
from mcp_server.yaml_input import load_all

if TYPE_CHECKING:
    from agents.context import RunContext

log = logging.getLogger(__name__)

# Tools whose change to one named object is undone by applying that object as it was.
APPLY_BACK = {
    "k8s_scale",
    "k8s_set_image",
    "k8s_patch",
    "k8s_label",
    "k8s_annotate",
    "k8s_rollout_restart",
    "k8s_rollout_undo",
    "k8s_delete",
}
HELM_BACK = ("helm_upgrade", "helm_rollback")  # undone by rolling back to the revision before
OPPOSITE = {"k8s_cordon": "k8s_uncordon", "k8s_uncordon": "k8s_cordon"}
SERVER_METADATA = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "ownerReferences",
)
SERVER_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/revision")
REVISION = re.compile(r"^REVISION:\s*(\d+)\s*$", re.MULTILINE)


def _target(tool: str, args: dict) -> dict | None:
    """{kind, name, namespace} of the one object the call changes, or None (none or several)."""
    if tool in APPLY_BACK:
        if not args.get("name") or not args.get("kind"):
            return None
        return {"kind": args["kind"], "name": args["name"], "namespace": args.get("namespace")}
    if tool != "k8s_apply":
        return None
    try:
        docs = [doc for doc in load_all(str(args.get("manifest") or "")) if doc is not None]
    except Exception:  # noqa: BLE001 - an unreadable manifest is the tool server's refusal, here only "no undo"
        return None
    metadata = (docs[0].get("metadata") or {}) if len(docs) == 1 and isinstance(docs[0], dict) else {}
    if not metadata.get("name") or not docs[0].get("kind"):
        return None
    return {
        "kind": docs[0]["kind"],
        "name": metadata["name"],
        "namespace": metadata.get("namespace") or args.get("namespace"),
    }


def no_undo_reason(tool: str, args: dict) -> str | None:
    """Why this call can never be undone (a sentence), or None when an undo will be offered once it ran."""
    if tool in OPPOSITE or tool in HELM_BACK:
        return None
    target = _target(tool, args)
    kind = str((target or args).get("kind") or "").lower()
    if tool == "k8s_delete" and kind in ("namespace", "namespaces", "ns"):
        return "a deleted namespace and everything in it cannot be restored."
    if kind in ("secret", "secrets"):
        return "Skyflo never keeps a Secret's data, so it cannot put a Secret back."
    if tool in APPLY_BACK or tool == "k8s_apply":
        return None if target else "the call does not name one single object, so nothing is saved to restore."
    return f"Skyflo cannot tell what {tool} changes, so it saves nothing to restore."


def undo_note(tool: str, args: dict) -> str:
    """What the approval card says about undo, before anyone approves."""
    reason = no_undo_reason(tool, args)
    if reason is not None:
        return f"No undo: {reason}"
    return "Undo will be offered: what this call changes is saved right before it runs."


async def snapshot(ctx: RunContext, call: dict) -> tuple[dict | None, dict]:
    """(the saved state or None, the restoring call {tool, args, title} or {"none": why}) of `call`, read now."""
    tool, args = call["tool"], call["args"]
    if (reason := no_undo_reason(tool, args)) is not None:
        return None, {"none": reason}
    if tool in OPPOSITE:
        restoring = {"tool": OPPOSITE[tool], "args": {"node": args.get("node")}}
        return None, restoring | {"title": f"Undo {tool} of node {args.get('node')}"}
    if tool in HELM_BACK:
        return await _helm_snapshot(ctx, call)
    target = _target(tool, args)
    where = {"namespace": target["namespace"]} if target["namespace"] else {}
    label = f"{target['kind']} {target['name']}"
    ok, output = await _read(
        ctx, call, "k8s_get", {"kind": target["kind"], "name": target["name"], "output": "json", **where}
    )
    if not ok and tool == "k8s_apply" and "(NotFound)" in output:  # the apply creates it: undo deletes it
        restoring = {"tool": "k8s_delete", "args": {"kind": target["kind"], "name": target["name"], **where}}
        return None, restoring | {"title": f"Undo k8s_apply: delete the {label} it created"}
    try:
        saved = json.loads(output) if ok else None
    except ValueError:
        saved = None
    if not isinstance(saved, dict) or not saved.get("kind"):
        return None, {"none": f"the {label} could not be read before the call ran."}
    manifest = cleaned(saved)
    if MASK in json.dumps(manifest):  # applying a redacted value back would not restore it
        return saved, {"none": f"part of the {label} was redacted when it was read, so it cannot be put back."}
    title = f"Undo {tool}: apply the {label} as it was before"
    manifest_text = yaml.safe_dump(manifest, sort_keys=True)
    return saved, {"tool": "k8s_apply", "args": {"manifest": manifest_text, **where}, "title": title}


def cleaned(obj: dict) -> dict:
    """The object as one would apply it: no status, no fields the API server sets."""
    obj = {k: v for k, v in obj.items() if k != "status"}
    metadata = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in SERVER_METADATA}
    annotations = {k: v for k, v in (metadata.get("annotations") or {}).items() if k not in SERVER_ANNOTATIONS}
    metadata.pop("annotations", None)
    if annotations:
        metadata["annotations"] = annotations
    return {**obj, "metadata": metadata}


async def _helm_snapshot(ctx: RunContext, call: dict) -> tuple[dict | None, dict]:
    args = call["args"]
    read = {"release": args["release"], **({"namespace": args["namespace"]} if args.get("namespace") else {})}
    _, output = await _read(ctx, call, "helm_status", read)
    found = REVISION.search(output)
    if found is None:
        return None, {"none": f"the release {args['release']} had no revision to go back to before the call ran."}
    revision = int(found.group(1))
    restoring = {"tool": "helm_rollback", "args": {**read, "revision": revision}}
    return {"release": args["release"], "revision": revision}, restoring | {
        "title": f"Undo {call['tool']}: roll {args['release']} back to revision {revision}"
    }


async def _read(ctx: RunContext, call: dict, tool: str, args: dict) -> tuple[bool, str]:
    """(ok, output) of a read-only call, through the run's policy (namespaces) like every call."""
    args, refusal = ctx.policy.check(tool, args)
    if refusal is not None:
        return False, refusal
    try:
        result = await ctx.tools.call(tool, args, call_id=f"{call['call_id']}:before")
    except Exception as exc:  # the undo is lost, not the call: it still runs, and no Undo is offered
        log.warning("call %s: reading the state before it failed", call["call_id"], exc_info=exc)
        return False, ""
    return result["ok"], result["output"] or ""
