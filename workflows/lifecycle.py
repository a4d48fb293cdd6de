"""A run's state changes, the one place that moves a Run row and publishes the run.* / approval.* event with it.

A run moves queued -> running -> (awaiting_approval -> running)* -> succeeded | failed | cancelled | denied.
Claiming (queued/awaiting_approval -> running) is a conditional UPDATE, so a redelivered or duplicated task finds
nothing to claim. Each change and its event commit in one transaction, so a run's status and its events agree
after a crash. This module dispatches nothing: its callers (services, the engine, the periodic jobs) do.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from agents.undo import undo_note
from chats.event_log import storable
from chats.publisher import event_publish
from chats.selectors import conversation_org
from orgs.models import User
from orgs.services.audit import audit_record
from skyflo.metrics import approval_decided
from workflows.models import Approval, Run
from workflows.selectors import run_usage


def run_event_publish(run: Run, type: str, data: dict) -> None:  # noqa: A002 - the event's field name
    event_publish(conversation_id=run.conversation_id, run_id=run.id, type=type, data=data)


def run_audit(target: Run | Approval, action: str, *, actor: User | None, data: dict | None = None) -> None:
    """The audit row of a cancel or an approval's request or decision (it outlives the conversation)."""
    run = target if isinstance(target, Run) else target.run
    facts = {"run": str(run.pk), "conversation": str(run.conversation_id)}
    if isinstance(target, Approval):
        facts |= {"tool": target.tool, "call_id": target.call_id}
    org = conversation_org(conversation_id=run.conversation_id)
    audit_record(actor=actor, org=org, action=action, target=target, data={**facts, **(data or {})})


# --- claim ---------------------------------------------------------------------------------------------------


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


# --- await approval, resume ----------------------------------------------------------------------------------


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
            run_audit(approval, "approval.requested", actor=run.requested_by)
            run_event_publish(run, "approval.requested", _approval_requested_data(approval))
    return approval


def _approval_requested_data(approval: Approval) -> dict:
    return {
        "approval_id": str(approval.id),
        "call_id": approval.call_id,
        "tool": approval.tool,
        "args": approval.args,
        "preview": approval.preview,
        "expires_at": approval.expires_at.isoformat().replace("+00:00", "Z"),
        "undo": undo_note(approval.tool, approval.args),
    }


def approval_updated_data(approval: Approval) -> dict:
    """approval.updated: an approver edited the pending call; the card shows the new arguments and preview."""
    return {
        "approval_id": str(approval.id),
        "call_id": approval.call_id,
        "tool": approval.tool,
        "args": approval.args,
        "proposed_args": approval.proposed_args,
        "preview": approval.preview,
        "by": str(approval.edited_by_id) if approval.edited_by_id else None,
        "undo": undo_note(approval.tool, approval.args),
    }


def approval_edited(approval: Approval) -> dict:
    """{"args", "proposed_args"} when the approved arguments differ from the model's, else {}."""
    if approval.proposed_args is None or approval.proposed_args == approval.args:
        return {}
    return {"args": approval.args, "proposed_args": approval.proposed_args}


def approval_resolved(approval: Approval, *, decision: str, by: str | None, source: str | None = None) -> None:
    """A decided (or expired) approval: count it and tell the room (`source`: where a person decided; None when it
    expired). Its caller dispatches the resume."""
    approval_decided(decision=decision, requested_at=approval.created_at, decided_at=approval.decided_at)
    run_event_publish(
        approval.run,
        "approval.resolved",
        {
            "approval_id": str(approval.id),
            "decision": decision,
            "by": by,
            "reason": approval.reason,
            "source": source,
            **approval_edited(approval),
        },
    )


def approval_ref(approval: Approval) -> dict:
    """What a resume task carries: which approval of which call it continues (the decision is read from the row)."""
    return {"approval_id": str(approval.id), "call_id": approval.call_id}


def approval_resume_value(approval: Approval) -> dict:
    """What the graph's approval node is resumed with, read from the row (never from a task's message)."""
    decision = {
        Approval.Decision.APPROVED: "approve",
        Approval.Decision.DENIED: "deny",
        Approval.Decision.EXPIRED: "expired",
    }[approval.decision]
    by = str(approval.decided_by_id) if approval.decided_by_id else ""
    resumed = {**approval_ref(approval), "decision": decision, "by": by, "reason": approval.reason}
    return resumed | {"args": approval.args}  # what runs: the approved arguments, edited or not


def run_resume_value(*, run: Run, resume: dict) -> dict:
    """The resume value of the approval a claimed resume names."""
    approval = Approval.objects.get(run=run, pk=resume["approval_id"], call_id=resume["call_id"])
    return approval_resume_value(approval)


def run_decided_resume_value(*, run: Run, call_id: str) -> dict:
    """The resume value of a call that already had a decided approval (a re-run after a crash)."""
    return approval_resume_value(Approval.objects.get(run=run, call_id=call_id))


# --- finish --------------------------------------------------------------------------------------------------


def run_replans_record(*, run: Run, replans: int) -> None:
    Run.objects.filter(pk=run.pk).update(replans=replans)


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


def run_hand_back(*, run_id, worker: str) -> bool:
    """A stopping worker's running run back to the queue (attempt + 1, as recovery requeues a run after a missed
    heartbeat); True when it was handed back: its caller dispatches it to another worker."""
    with transaction.atomic():
        # The row lock waits for a state change of the run still in flight on a DB thread (a finish, a parking at
        # an approval), which then wins: the run is handed back only if it is still running here.
        if Run.objects.select_for_update().filter(pk=run_id, status=Run.Status.RUNNING).first() is None:
            return False
        moved = Run.objects.filter(pk=run_id, status=Run.Status.RUNNING, worker=worker[:200]).update(
            status=Run.Status.QUEUED, attempt=F("attempt") + 1, worker="", heartbeat_at=timezone.now()
        )
    return bool(moved)
