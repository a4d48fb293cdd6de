"""Writers for runs and approvals. Every service starts with an access check; side effects go after commit.

A run moves queued -> running -> (awaiting_approval -> running)* -> succeeded | failed | cancelled | denied.
Claiming a run (queued/awaiting_approval -> running) is a conditional UPDATE, so a redelivered or duplicated
task finds nothing to claim and does nothing.
"""

from __future__ import annotations

import logging
import uuid
from typing import Literal

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from chats.event_log import storable
from chats.models import Conversation, Message
from chats.publisher import event_publish
from orgs.models import Role, User
from orgs.selectors import cluster_can_operate, has_role
from orgs.services.audit import audit_record
from skyflo.api_errors import Conflict, TooManyRequests
from skyflo.metrics import approval_decided
from skyflo.tracing import traceparent
from workflows.models import Approval, Run

logger = logging.getLogger(__name__)

# Runs that hold a worker or will soon: the per-user limit counts these. A run waiting for a human holds nothing.
RUNS_BUSY = (Run.Status.QUEUED, Run.Status.RUNNING)
RUNS_ACTIVE = (Run.Status.QUEUED, Run.Status.RUNNING, Run.Status.AWAITING_APPROVAL)
DECISIONS = {"approve": Approval.Decision.APPROVED, "deny": Approval.Decision.DENIED}


# --- dispatch ------------------------------------------------------------------------------------------------


def run_dispatch(run_id, *, resume: dict | None = None) -> None:
    """Hand a run (or its resume after a decision) to whoever executes runs in this deployment.

    Scaled mode: a Celery task. Embedded mode (settings.RUNS_IN_PROCESS): the process's own run loop.
    """
    if settings.RUNS_IN_PROCESS:
        from workflows import engine
        from workflows.executor import run_loop

        coro = engine.run_resume(str(run_id), resume) if resume else engine.run_execute(str(run_id))
        run_loop().submit(coro)
        return
    from workflows import tasks

    if resume:
        tasks.run_resume.delay(str(run_id), resume)
    else:
        tasks.run_execute.delay(str(run_id))


def _dispatch_after_commit(run_id, resume: dict | None = None) -> None:
    # robust: a broker error is logged, not raised to the person who posted; runs_recover dispatches again.
    transaction.on_commit(lambda: run_dispatch(run_id, resume=resume), robust=True)


# --- runs ----------------------------------------------------------------------------------------------------


def _run_create_access(*, user: User, conversation: Conversation) -> None:
    from chats.selectors import conversation_can_ask

    # conversation_can_ask also requires that the user may use the conversation's cluster.
    if not conversation_can_ask(user=user, conversation=conversation):
        raise PermissionDenied("You may not ask in this conversation, or may not use its cluster.")


@transaction.atomic
def run_create(*, user: User, conversation: Conversation, content: str) -> tuple[Message, Run]:
    """Post the user's message and queue a run for it; the run is dispatched once this commits.

    Raises PermissionDenied (may not ask / use the cluster), ValidationError (content), Conflict (a run of this
    conversation is still in progress), TooManyRequests (the user's concurrent-run limit).
    """
    from chats.services import message_content_validate
    from insights.budgets import budget_admit

    _run_create_access(user=user, conversation=conversation)
    content = message_content_validate(content)
    # Lock order user -> conversation, so two posts of one user are counted one after the other.
    User.objects.select_for_update().filter(pk=user.pk).first()
    Conversation.objects.select_for_update().filter(pk=conversation.pk).first()
    if Run.objects.filter(requested_by=user, status__in=RUNS_BUSY).count() >= settings.MAX_CONCURRENT_RUNS_PER_USER:
        raise TooManyRequests(f"You have {settings.MAX_CONCURRENT_RUNS_PER_USER} runs in progress; wait for one.")
    if Run.objects.filter(conversation=conversation, status__in=RUNS_ACTIVE).exists():
        raise Conflict("A run of this conversation is still in progress; wait for it or cancel it.")
    budget_admit(user=user, org=conversation.org)  # 429 budget_exceeded (insights/budgets.py)
    run_id = uuid.uuid4()
    message = Message.objects.create(
        conversation=conversation, role=Message.Role.USER, author=user, content=content, run_id=run_id
    )
    run = Run.objects.create(
        id=run_id, conversation=conversation, message=message, requested_by=user, traceparent=traceparent()
    )
    event_publish(
        conversation_id=conversation.id,
        run_id=run.id,
        type="run.queued",
        data={"message_id": str(message.id), "requested_by": str(user.id)},
    )
    _dispatch_after_commit(run.id)
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
    _audit(run, "run.cancelled", actor=user, data={"status": run.status})
    if run.status == Run.Status.RUNNING:
        return run  # its worker sees the flag within CANCEL_POLL_S and stops the LLM stream and the command
    Approval.objects.filter(run=run, decision=Approval.Decision.PENDING).update(
        decision=Approval.Decision.EXPIRED, reason="the run was cancelled", decided_at=timezone.now()
    )
    return run_finish(run=run, status=Run.Status.CANCELLED)


def run_usage(run: Run) -> dict:
    duration = (run.finished_at or timezone.now()) - (run.started_at or run.created_at)
    return {
        "prompt_tokens": run.prompt_tokens,
        "completion_tokens": run.completion_tokens,
        "cost_usd": float(run.cost_usd),
        "duration_ms": int(duration.total_seconds() * 1000),
    }


@transaction.atomic
def run_finish(*, run: Run, status: str, error: tuple[str, str] | None = None) -> Run:
    """Set the final status (once) and emit run.error (if any) then run.finished {status, usage}."""
    locked = Run.objects.select_for_update().get(pk=run.pk)
    if locked.is_finished:
        return locked
    locked.status = status
    locked.finished_at = timezone.now()
    fields = ["status", "finished_at", "cancel_requested"]
    if error:
        locked.error_code, locked.error_detail = error
        fields += ["error_code", "error_detail"]
    locked.save(update_fields=fields)
    if error:
        run_event_publish(locked, "run.error", {"code": error[0], "detail": error[1]})
    run_event_publish(locked, "run.finished", {"status": status, "usage": run_usage(locked)})
    return locked


def run_event_publish(run: Run, type: str, data: dict) -> None:  # noqa: A002 - the event's field name
    event_publish(conversation_id=run.conversation_id, run_id=run.id, type=type, data=data)


# --- claiming (used by the engine) -----------------------------------------------------------------------------


@transaction.atomic
def run_claim(*, run_id, worker: str, resume: dict | None = None) -> Run | None:
    """Take a run for this worker: queued -> running (execute) or awaiting_approval -> running (resume).

    A resume names its approval ({"approval_id", "call_id"}); it is claimed only while the run waits for exactly
    that approval (the run's latest, now decided). None when there is nothing to claim: finished, already taken, a
    duplicate or stale delivery (an earlier approval's resume delivered again while the run waits for the next).
    """
    source = Run.Status.AWAITING_APPROVAL if resume is not None else Run.Status.QUEUED
    locked = Run.objects.select_for_update().filter(pk=run_id, status=source).first()
    if locked is None or (resume is not None and run_awaited_approval(run=locked, resume=resume) is None):
        return None
    now = timezone.now()
    Run.objects.filter(pk=run_id).update(
        status=Run.Status.RUNNING, worker=worker[:200], heartbeat_at=now, started_at=Coalesce("started_at", Value(now))
    )
    return Run.objects.select_related("conversation__cluster__org", "conversation__org", "requested_by", "message").get(
        pk=run_id
    )


def run_awaited_approval(*, run: Run, resume: dict) -> Approval | None:
    """The decided approval `resume` names, if it is the one the run waits for (its latest); else None."""
    latest = Approval.objects.filter(run=run).order_by("-created_at", "-id").first()
    if latest is None or str(latest.id) != str(resume.get("approval_id")) or latest.call_id != resume.get("call_id"):
        return None
    return None if latest.decision == Approval.Decision.PENDING else latest


def run_await_approval(*, run: Run, call_id: str, tool: str, args: dict, preview: str) -> Approval | None:
    """The graph stopped before a mutating call: record the Approval, free the worker, tell the room.

    Returns the Approval, or None when the call already has a decided approval (a re-run after a crash):
    the engine then resumes at once with that decision.
    """
    with transaction.atomic():
        approval, created = Approval.objects.get_or_create(
            run=run,
            call_id=call_id,
            defaults={
                "tool": tool,
                "args": storable(args),
                "preview": storable(preview or ""),
                "requested_by": run.requested_by,
                "expires_at": timezone.now() + settings.APPROVAL_TTL,
            },
        )
        Run.objects.filter(pk=run.pk, status=Run.Status.RUNNING).update(
            status=Run.Status.AWAITING_APPROVAL, heartbeat_at=None
        )
        if not created and approval.decision != Approval.Decision.PENDING:
            Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING, heartbeat_at=timezone.now())
            return None
        if created:
            _audit(approval, "approval.requested", actor=run.requested_by)
            run_event_publish(
                run,
                "approval.requested",
                {
                    "approval_id": str(approval.id),
                    "call_id": call_id,
                    "tool": tool,
                    "args": approval.args,
                    "preview": approval.preview,
                    "expires_at": approval.expires_at.isoformat().replace("+00:00", "Z"),
                },
            )
    return approval


def approval_resume_value(approval: Approval) -> dict:
    """What the graph's approval node is resumed with, read from the row (never from a task's message)."""
    decision = {
        Approval.Decision.APPROVED: "approve",
        Approval.Decision.DENIED: "deny",
        Approval.Decision.EXPIRED: "expired",
    }[approval.decision]
    by = str(approval.decided_by_id) if approval.decided_by_id else ""
    return {**approval_ref(approval), "decision": decision, "by": by, "reason": approval.reason}


def approval_ref(approval: Approval) -> dict:
    """What a resume task carries: which approval of which call it continues (the decision is read from the row)."""
    return {"approval_id": str(approval.id), "call_id": approval.call_id}


# --- approvals -------------------------------------------------------------------------------------------------


def approval_can_decide(*, user: User, approval: Approval) -> bool:
    return cluster_can_operate(user=user, cluster=approval.run.conversation.cluster)


@transaction.atomic
def approval_decide(
    *, user: User, approval: Approval, decision: Literal["approve", "deny"], reason: str = "", source: str = "browser"
) -> Approval:
    """Approve or deny a pending tool call and resume its run.

    Raises PermissionDenied (not an operator with operate_cluster on the run's cluster; with the org's four-eyes
    rule, approving one's own request) and Conflict (already decided, expired, or the run is no longer waiting).
    `source` (browser, slack, webhook: where the person decided) goes into the audit and approval.resolved.
    """
    cluster = approval.run.conversation.cluster
    if cluster is None or not approval_can_decide(user=user, approval=approval):
        raise PermissionDenied("Only operators who may operate this cluster decide its approvals.")
    if decision == "approve" and approval.run.conversation.org.four_eyes and approval.requested_by_id == user.pk:
        raise PermissionDenied("Four-eyes rule: someone else must approve a change you requested.")
    locked = Approval.objects.select_for_update().select_related("run").get(pk=approval.pk)
    if locked.decision != Approval.Decision.PENDING:
        raise Conflict(f"This approval was already decided ({locked.decision}).")
    if locked.expires_at <= timezone.now():
        raise Conflict("This approval has expired.")
    if locked.run.status != Run.Status.AWAITING_APPROVAL:
        raise Conflict(f"The run is no longer waiting for this approval ({locked.run.status}).")
    locked.decision = DECISIONS[decision]
    locked.decided_by = user
    locked.reason = reason or ""
    locked.decided_at = timezone.now()
    locked.save(update_fields=["decision", "decided_by", "reason", "decided_at"])
    _audit(locked, f"approval.{locked.decision}", actor=user, data={"reason": locked.reason, "source": source})
    _approval_resolved(locked, decision=decision, by=str(user.pk), source=source)
    return locked


def _approval_resolved(approval: Approval, *, decision: str, by: str | None, source: str | None = None) -> None:
    approval_decided(decision=decision, requested_at=approval.created_at, decided_at=approval.decided_at)
    run_event_publish(
        approval.run,
        "approval.resolved",
        {"approval_id": str(approval.id), "decision": decision, "by": by, "reason": approval.reason, "source": source},
    )
    _dispatch_after_commit(approval.run_id, approval_ref(approval))


def _audit(target: Run | Approval, action: str, *, actor: User | None, data: dict | None = None) -> None:
    """The audit row of a cancel or an approval's request or decision (it outlives the conversation)."""
    run = target if isinstance(target, Run) else target.run
    facts = {"run": str(run.pk), "conversation": str(run.conversation_id)}
    if isinstance(target, Approval):
        facts |= {"tool": target.tool, "call_id": target.call_id}
    org = Conversation.objects.select_related("org").get(pk=run.conversation_id).org
    audit_record(actor=actor, org=org, action=action, target=target, data={**facts, **(data or {})})


def approvals_expire() -> int:
    """Mark overdue pending approvals expired and resume their runs (which end `denied`). Returns the count."""
    expired = 0
    overdue = Approval.objects.filter(decision=Approval.Decision.PENDING, expires_at__lte=timezone.now())
    for approval_id in overdue.values_list("pk", flat=True)[:500]:
        with transaction.atomic():
            approval = (
                Approval.objects.select_for_update(skip_locked=True)
                .select_related("run")
                .filter(pk=approval_id, decision=Approval.Decision.PENDING)
                .first()
            )
            if approval is None:
                continue
            approval.decision = Approval.Decision.EXPIRED
            approval.reason = "Nobody decided before the approval expired."
            approval.decided_at = timezone.now()
            approval.save(update_fields=["decision", "reason", "decided_at"])
            _audit(approval, "approval.expired", actor=None)
            if approval.run.status == Run.Status.AWAITING_APPROVAL:
                _approval_resolved(approval, decision="expired", by=None)
            expired += 1
    return expired


def runs_recover() -> list[str]:
    """Dispatch again what a lost message or a dead worker left behind; returns the ids of the runs dispatched.

    - running, no heartbeat for settings.RUN_HEARTBEAT_TIMEOUT_S (the worker died): queued again, attempt + 1;
    - queued and not started within settings.RUN_DISPATCH_TIMEOUT_S (the dispatch was lost: a broker error,
      Redis restarted empty);
    - waiting for an approval that was decided that long ago (its resume was lost).
    Each is dispatched at most once per timeout (heartbeat_at marks the dispatch), and a duplicate delivery
    claims nothing, so running this often is harmless. The ledger keeps mutating calls from running twice.
    """
    now = timezone.now()
    dead = now - timezone.timedelta(seconds=settings.RUN_HEARTBEAT_TIMEOUT_S)
    lost = now - timezone.timedelta(seconds=settings.RUN_DISPATCH_TIMEOUT_S)
    return _runs_requeue(dead) + _runs_redispatch(lost) + _resumes_redispatch(lost)


def _runs_requeue(cutoff) -> list[str]:
    stale = Run.objects.filter(status=Run.Status.RUNNING, heartbeat_at__lt=cutoff)
    recovered = []
    for run_id in stale.values_list("pk", flat=True)[:500]:
        with transaction.atomic():
            moved = Run.objects.filter(pk=run_id, status=Run.Status.RUNNING, heartbeat_at__lt=cutoff).update(
                status=Run.Status.QUEUED, attempt=F("attempt") + 1, worker="", heartbeat_at=timezone.now()
            )
            if moved:
                logger.warning("run %s: worker stopped heart-beating; re-dispatching", run_id)
                _dispatch_after_commit(run_id)
                recovered.append(str(run_id))
    return recovered


def _dispatch_due(status: str, cutoff):
    """Runs in `status` last dispatched before `cutoff` (never: created before it)."""
    never = Q(heartbeat_at__isnull=True, created_at__lt=cutoff)
    return Run.objects.filter(Q(heartbeat_at__lt=cutoff) | never, status=status)


def _runs_redispatch(cutoff) -> list[str]:
    recovered = []
    for run_id in _dispatch_due(Run.Status.QUEUED, cutoff).values_list("pk", flat=True)[:500]:
        with transaction.atomic():
            if _dispatch_due(Run.Status.QUEUED, cutoff).filter(pk=run_id).update(heartbeat_at=timezone.now()):
                logger.warning("run %s: queued but never started; dispatching it again", run_id)
                _dispatch_after_commit(run_id)
                recovered.append(str(run_id))
    return recovered


def _resumes_redispatch(cutoff) -> list[str]:
    waiting = _dispatch_due(Run.Status.AWAITING_APPROVAL, cutoff)
    recovered = []
    for run_id in waiting.values_list("pk", flat=True)[:500]:
        with transaction.atomic():
            run = waiting.select_for_update(skip_locked=True).filter(pk=run_id).first()
            latest = run and Approval.objects.filter(run=run).order_by("-created_at", "-id").first()
            if latest is None or latest.decision == Approval.Decision.PENDING:
                continue
            if latest.decided_at is not None and latest.decided_at >= cutoff:
                continue
            Run.objects.filter(pk=run_id).update(heartbeat_at=timezone.now())
            logger.warning("run %s: decided approval %s was never resumed; dispatching it again", run_id, latest.pk)
            _dispatch_after_commit(run_id, approval_ref(latest))
            recovered.append(str(run_id))
    return recovered
