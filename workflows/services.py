"""Writers for runs and approvals as people steer them: post (start a run), cancel, decide an approval.

Every service starts with an access check; events and dispatch go after commit. The run's own state changes
(claim, await approval, finish) are workflows/lifecycle.py, shared with the engine and the periodic jobs.
"""

from __future__ import annotations

import logging
import uuid
from typing import Literal

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from agents.errors import ToolServerError
from chats.event_log import storable
from chats.models import Conversation, Message
from chats.publisher import event_publish
from chats.selectors import conversation_can_ask
from chats.services import conversation_lock, message_content_validate, message_user_create
from insights.budgets import budget_admit
from orgs.models import Role, User
from orgs.selectors import cluster_can_operate, cluster_can_request_changes, has_role
from skyflo.api_errors import Conflict, ServiceUnavailable, TooManyRequests
from skyflo.tracing import traceparent
from workflows.dispatch import run_dispatch_after_commit
from workflows.lifecycle import (
    approval_edited,
    approval_ref,
    approval_resolved,
    approval_updated_data,
    run_audit,
    run_event_publish,
    run_finish,
)
from workflows.models import Approval, Run, ToolCall
from workflows.selectors import run_identity, run_policy_inputs

# Runs that hold a worker or will soon: the per-user limit counts these. A run waiting for a human holds nothing.
RUNS_BUSY = (Run.Status.QUEUED, Run.Status.RUNNING)
RUNS_ACTIVE = (Run.Status.QUEUED, Run.Status.RUNNING, Run.Status.AWAITING_APPROVAL)
logger = logging.getLogger(__name__)
DECISIONS = {"approve": Approval.Decision.APPROVED, "deny": Approval.Decision.DENIED}


# --- runs ----------------------------------------------------------------------------------------------------


def _run_create_access(*, user: User, conversation: Conversation) -> None:
    # conversation_can_ask also requires that the user may use the conversation's cluster.
    if not conversation_can_ask(user=user, conversation=conversation):
        raise PermissionDenied("You may not ask in this conversation, or may not use its cluster.")


@transaction.atomic
def run_create(
    *, user: User, conversation: Conversation, content: str, preset_call: dict | None = None, undo_of=None
) -> tuple[Message, Run]:
    """Post the user's message and queue a run for it; the run is dispatched once this commits.

    `preset_call` ({tool, args, title}): the run's single step is this call instead of the model's plan (an undo,
    `undo_of` the ToolCall it restores); it waits for an approval like any other.

    Raises PermissionDenied (may not ask / use the cluster), ValidationError (content), Conflict (a run of this
    conversation is still in progress), TooManyRequests (the user's concurrent-run limit).
    """
    _run_create_access(user=user, conversation=conversation)
    content = message_content_validate(content)
    # Lock order user -> conversation, so two posts of one user are counted one after the other.
    User.objects.select_for_update().filter(pk=user.pk).first()
    conversation_lock(conversation_id=conversation.pk)
    if Run.objects.filter(requested_by=user, status__in=RUNS_BUSY).count() >= settings.MAX_CONCURRENT_RUNS_PER_USER:
        raise TooManyRequests(f"You have {settings.MAX_CONCURRENT_RUNS_PER_USER} runs in progress; wait for one.")
    if Run.objects.filter(conversation=conversation, status__in=RUNS_ACTIVE).exists():
        raise Conflict("A run of this conversation is still in progress; wait for it or cancel it.")
    budget_admit(user=user, org=conversation.org)  # 429 budget_exceeded (insights/budgets.py)
    run_id = uuid.uuid4()
    message = message_user_create(conversation=conversation, author=user, content=content, run_id=run_id)
    run = Run.objects.create(
        id=run_id,
        conversation=conversation,
        message=message,
        requested_by=user,
        traceparent=traceparent(),
        preset_call=preset_call,
        undo_of=undo_of,
    )
    event_publish(
        conversation_id=conversation.id,
        run_id=run.id,
        type="run.queued",
        data={"message_id": str(message.id), "requested_by": str(user.id)},
    )
    run_dispatch_after_commit(run.id)
    return message, run


def run_can_cancel(*, user: User, run: Run) -> bool:
    """The one who asked, or whoever may operate the run's cluster (an operator's role alone is not enough)."""
    if run.requested_by_id == user.pk:
        return True
    cluster, org = run.conversation.cluster, run.conversation.org
    if has_role(user=user, org=org, role=Role.ADMIN):
        return True
    # Not cluster_can_operate: a read-only cluster refuses changes, not stopping a run.
    granted = cluster is not None and user.has_perm("orgs.operate_cluster", cluster)
    return granted and has_role(user=user, org=org, role=Role.OPERATOR)


@transaction.atomic
def run_cancel(*, user: User, run: Run) -> Run:
    """Cancel a run: at once when no worker holds it, else by flagging it for its worker (which stops the
    LLM stream and the running command). Raises PermissionDenied, Conflict when the run already finished."""
    if not run_can_cancel(user=user, run=run):
        raise PermissionDenied("Only the person who asked, or someone who may operate its cluster, cancels this run.")
    run = Run.objects.select_for_update().get(pk=run.pk)
    if run.is_finished:
        raise Conflict(f"The run already finished ({run.status}).")
    run.cancel_requested = True
    run.save(update_fields=["cancel_requested"])
    run_audit(run, "run.cancelled", actor=user, data={"status": run.status})
    if run.status == Run.Status.RUNNING:
        return run  # its worker sees the flag within CANCEL_POLL_S and stops the LLM stream and the command
    Approval.objects.filter(run=run, decision=Approval.Decision.PENDING).update(
        decision=Approval.Decision.EXPIRED, reason="the run was cancelled", decided_at=timezone.now()
    )
    return run_finish(run=run, status=Run.Status.CANCELLED)


# --- approvals -------------------------------------------------------------------------------------------------


def approval_can_decide(*, user: User, approval: Approval) -> bool:
    return cluster_can_operate(user=user, cluster=approval.run.conversation.cluster)


def _approve_access(*, user: User, approval: Approval) -> None:
    """Who may approve (and so edit): operate permission on the cluster; four eyes excludes the requester."""
    cluster = approval.run.conversation.cluster
    if cluster is None or not approval_can_decide(user=user, approval=approval):
        raise PermissionDenied("Only operators who may operate this cluster decide its approvals.")
    if approval.run.conversation.org.four_eyes and approval.requested_by_id == user.pk:
        raise PermissionDenied("Four-eyes rule: someone else must approve a change you requested.")


def _pending_locked(approval: Approval) -> Approval:
    locked = Approval.objects.select_for_update().select_related("run").get(pk=approval.pk)
    if locked.decision != Approval.Decision.PENDING:
        raise Conflict(f"This approval was already decided ({locked.decision}).")
    if locked.expires_at <= timezone.now():
        raise Conflict("This approval has expired.")
    if locked.run.status != Run.Status.AWAITING_APPROVAL:
        raise Conflict(f"The run is no longer waiting for this approval ({locked.run.status}).")
    return locked


def approval_edit(*, user: User, approval: Approval, args) -> Approval:
    """Change a pending call's arguments before deciding it; the preview is made again. What runs once approved is
    exactly these arguments (the executor takes them from the row, run_context.mutation_refusal compares them).

    Raises PermissionDenied (as for approving), Conflict (no longer pending), ValidationError (a sentence: outside
    the tool's schema or the connection's policy; nothing changed), ToolServerError (the tool server is down).
    """
    # The MCP client and the SDK under it: a web process imports them only when an approver edits.
    from agents.approval_edit import EditRefused, edit_check
    from agents.mcp_client import ToolSession

    _approve_access(user=user, approval=approval)
    with transaction.atomic():
        _pending_locked(approval)  # before asking the tool server: a decided approval is a 409 at once
    run = Run.objects.select_related("conversation__cluster", "requested_by").get(pk=approval.run_id)
    cluster = run.conversation.cluster
    session = ToolSession(
        url=cluster.mcp_server_url, token=cluster.mcp_server_token or None, identity=run_identity(run, cluster)
    )

    async def checked() -> tuple[dict, str]:
        async with session as tools:
            return await edit_check(
                tools=tools,
                policy_inputs=policy_inputs,
                call_id=approval.call_id,
                tool=approval.tool,
                args=args,
            )

    policy_inputs = run_policy_inputs(run)
    try:
        scoped, preview = async_to_sync(checked)()
    except EditRefused as exc:
        raise ValidationError(str(exc), code="invalid_args") from None
    except ToolServerError as exc:
        logger.warning("approval %s: the edit's tool server failed: %s", approval.pk, exc)
        raise ServiceUnavailable(f"{exc.sentence} Nothing was changed.") from None
    with transaction.atomic():
        locked = _pending_locked(approval)
        if locked.proposed_args is None:
            locked.proposed_args = locked.args
        locked.args, locked.preview, locked.edited_by = storable(scoped), storable(preview), user
        locked.save(update_fields=["args", "preview", "proposed_args", "edited_by"])
        run_audit(
            locked, "approval.edited", actor=user, data={"proposed_args": locked.proposed_args, "args": locked.args}
        )
        run_event_publish(locked.run, "approval.updated", approval_updated_data(locked))
    return locked


@transaction.atomic
def approval_decide(
    *,
    user: User,
    approval: Approval,
    decision: Literal["approve", "deny"],
    reason: str = "",
    source: str = "browser",
    args: dict | None = None,
) -> Approval:
    """Approve or deny a pending tool call and resume its run.

    `args`, when given: the arguments the approver saw; an approval edited since (by someone else) is a Conflict,
    so nobody approves arguments they were not shown.

    Raises PermissionDenied (not an operator with operate_cluster on the run's cluster; with the org's four-eyes
    rule, approving one's own request) and Conflict (already decided, expired, or the run is no longer waiting).
    `source` (browser, slack, webhook: where the person decided) goes into the audit and approval.resolved.
    """
    cluster = approval.run.conversation.cluster
    if cluster is None or not approval_can_decide(user=user, approval=approval):
        raise PermissionDenied("Only operators who may operate this cluster decide its approvals.")
    if decision == "approve":
        _approve_access(user=user, approval=approval)
    locked = _pending_locked(approval)
    if args is not None and decision == "approve" and storable(args) != locked.args:
        raise Conflict("The arguments were edited since you looked: review the new preview, then decide.")
    locked.decision = DECISIONS[decision]
    locked.decided_by = user
    locked.reason = reason or ""
    locked.decided_at = timezone.now()
    locked.save(update_fields=["decision", "decided_by", "reason", "decided_at"])
    facts = {"reason": locked.reason, "source": source, **approval_edited(locked)}
    run_audit(locked, f"approval.{locked.decision}", actor=user, data=facts)
    approval_resolved(locked, decision=decision, by=str(user.pk), source=source)
    run_dispatch_after_commit(locked.run_id, approval_ref(locked))
    return locked


# --- undo ------------------------------------------------------------------------------------------------------


def tool_call_undo(*, user: User, run: Run, call_id: str) -> tuple[Message, Run]:
    """Propose the call that restores what an executed, approved change altered: a new run of the conversation
    whose single step is that call, asked by `user`, so it waits for an approval by someone allowed to give it.

    Raises PermissionDenied (as for asking in the conversation), Http404 (no such change), Conflict (no undo for
    this call: never ran, failed, nothing saved, or already undone), and run_create's limits.
    """
    call = ToolCall.objects.filter(run=run, call_id=call_id, mutating=True).first()
    if call is None:
        raise Http404("No such change in this run.")
    _run_create_access(user=user, conversation=run.conversation)
    if not cluster_can_request_changes(user=user, cluster=run.conversation.cluster):
        raise PermissionDenied("Only someone who may request changes on this cluster asks for an undo.")
    if call.state != ToolCall.State.SUCCEEDED:
        raise Conflict("This change did not complete, so there is nothing to undo.")
    undo = call.undo or {}
    if "tool" not in undo:
        raise Conflict(f"This change cannot be undone: {undo.get('none') or 'its state was not saved before it ran.'}")
    retried = (Run.Status.DENIED, Run.Status.FAILED, Run.Status.CANCELLED)  # an undo not done may be asked again
    if Run.objects.filter(undo_of=call).exclude(status__in=retried).exists():
        raise Conflict("An undo of this change was already proposed.")
    preset = {"tool": undo["tool"], "args": undo["args"], "title": undo.get("title") or f"Undo {call.tool}"}
    content = f"{preset['title']} (undo of {call.tool} {call.call_id})"
    return run_create(user=user, conversation=run.conversation, content=content, preset_call=preset, undo_of=call)
