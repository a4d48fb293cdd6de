"""Running one tool call for a run: cancellation check, ledger, events, and the result record."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING

from agents.errors import RunCancelled
from agents.mcp_client import line_scrubber, redacted
from agents.state import CallResult, StepCall
from mcp_server.redaction import Redactor

if TYPE_CHECKING:
    from agents.context import RunContext

log = logging.getLogger(__name__)


async def ensure_not_cancelled(ctx: RunContext) -> None:
    if await ctx.cancelled():
        raise RunCancelled


def record(call: StepCall, step_id: str, result: CallResult) -> dict:
    """The per-run record of a finished call, kept in graph state and shown to later agents."""
    return {
        "call_id": call["call_id"],
        "step_id": step_id,
        "tool": call["tool"],
        "args": call["args"],
        "mutating": call["mutating"],
        "ok": bool(result.get("ok")),
        "output": result.get("output") or "",
        "truncated": bool(result.get("truncated")),
    }


async def run_call(
    ctx: RunContext, call: StepCall, step_id: str, *, use_ledger: bool = True, saved: tuple | None = None
) -> dict:
    """Run `call` ({call_id, tool, args, mutating}) unless the ledger says it already finished.

    Emits tool.call, tool.output (live lines) and tool.result. Returns the result record.
    Read-only discovery calls skip the ledger (`use_ledger=False`): repeating them is harmless.
    `saved`: (the state before, the restoring call) of an approved change (agents/undo.py), kept in the ledger;
    tool.result then says whether an undo is offered.
    """
    if use_ledger:
        done = await ctx.ledger_get(call["call_id"])
        if done is not None:
            return record(call, step_id, done)
    await ensure_not_cancelled(ctx)
    args, refusal = ctx.policy.check(call["tool"], call["args"])
    if refusal is not None:  # the last gate of every call: the model hears why, nothing reaches the tool server
        return record(call, step_id, refused_result(refusal))
    call = {**call, "args": args}
    call_id, tool, mutating = call["call_id"], call["tool"], call["mutating"]
    if use_ledger:
        before, undo = saved or (None, None)
        await ctx.ledger_start(call_id, tool, args, mutating, before=before, undo=undo)
    await ctx.emit("tool.call", {"call_id": call_id, "tool": tool, "args": args, "mutating": mutating})

    # Another MCP server's output gets our redaction and cap here, before the browser, the ledger or the model.
    redactor = Redactor() if ctx.policy.third_party else None
    scrub = line_scrubber(redactor) if redactor is not None else None

    async def on_output(line: str) -> None:
        if scrub is not None and (line := scrub(line)) is None:
            return
        await ctx.emit("tool.output", {"call_id": call_id, "stream": "stdout", "chunk": line})

    try:
        result = await ctx.tools.call(tool, args, call_id=call_id, on_output=on_output)
        if redactor is not None:  # pure CPU: off the run loop, which carries every other run's stream
            result = await asyncio.to_thread(redacted, result, redactor)
    except Exception as exc:  # the tool server failed: the model and the user get a sentence, the log the detail
        log.warning("call %s (%s): the tool server failed", call_id, tool, exc_info=exc)
        output = f"The tool server did not complete this call ({type(exc).__name__}); it may not have run."
        result: CallResult = {"ok": False, "output": output, "truncated": False, "command": None}
    if use_ledger:
        await ctx.ledger_finish(call_id, result["ok"], result)
    event = {"call_id": call_id, "ok": result["ok"], "output": result["output"], "truncated": result["truncated"]}
    if saved is not None:
        event["undo"] = bool(result["ok"] and "tool" in (saved[1] or {}))
    await ctx.emit("tool.result", event)
    return record(call, step_id, result)


def refused_result(reason: str) -> CallResult:
    return {"ok": False, "output": f"Refused: {reason} Nothing ran.", "truncated": False, "command": None}


def diff_arguments(tool: str, args: dict) -> dict | None:
    """k8s_diff arguments previewing a mutating call; scale and set-image are expressed as patches."""
    target = {k: args[k] for k in ("kind", "name", "namespace") if args.get(k) is not None}
    if tool == "k8s_apply":
        return {
            "manifest": args.get("manifest", ""),
            **({"namespace": args["namespace"]} if args.get("namespace") else {}),
        }
    if tool == "k8s_patch":
        return {**target, "patch": args.get("patch", ""), "patch_type": args.get("patch_type", "strategic")}
    if tool == "k8s_scale":
        patch = {"spec": {"replicas": args.get("replicas")}}
        return {**target, "patch": json.dumps(patch), "patch_type": "merge"}
    if tool == "k8s_set_image":
        container = {"name": args.get("container"), "image": args.get("image")}
        patch = {"spec": {"template": {"spec": {"containers": [container]}}}}
        return {**target, "patch": json.dumps(patch), "patch_type": "strategic"}
    return None


async def preview(ctx: RunContext, call: dict) -> str:
    """What the call would change: the k8s_diff output where possible, else the call itself."""
    described = f"{call['tool']} {json.dumps(call['args'], sort_keys=True)}"
    diff_args = diff_arguments(call["tool"], call["args"])
    if ctx.policy.third_party:  # another server's tool: its arguments' meaning and any diff tool are not ours
        return f"No diff preview for another MCP server's tool.{_destructive(ctx, call)} The call: {described}"
    if diff_args is None or not ctx.policy.previews:
        return f"No diff preview for this tool.{_destructive(ctx, call)} The call: {described}"
    diff_args, refusal = ctx.policy.check("k8s_diff", diff_args)
    if refusal is not None:
        return f"No diff preview: {refusal} The call: {described}"
    await ensure_not_cancelled(ctx)
    try:
        result = await ctx.tools.call("k8s_diff", diff_args, call_id=f"{call['call_id']}:preview")
    except Exception as exc:  # a preview failure must not hide the approval; say so in the preview
        log.warning("call %s: the diff preview failed", call["call_id"], exc_info=exc)
        return f"The diff preview failed (the tool server did not answer). The call: {described}"
    if not result["ok"]:
        return f"The diff preview failed:\n{result['output']}\nThe call: {described}"
    return result["output"] or "(no changes)"


def _destructive(ctx: RunContext, call: dict) -> str:
    """The server's own word that a call may destroy something (destructiveHint), for the approver."""
    spec = ctx.policy.tools.get(call["tool"])
    hint = (spec.annotations or {}).get("destructiveHint") if spec else None
    return " Its server marks this tool as destructive." if hint is True else ""
