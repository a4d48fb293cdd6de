"""Periodic job: expire approvals nobody decided in time and resume their runs (which end `denied`)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from workflows.dispatch import run_dispatch_after_commit
from workflows.lifecycle import approval_ref, approval_resolved, run_audit
from workflows.models import Approval, Run

BATCH = 500


def approvals_expire() -> int:
    """Mark overdue pending approvals expired and resume their runs. Returns the count."""
    expired = 0
    overdue = Approval.objects.filter(decision=Approval.Decision.PENDING, expires_at__lte=timezone.now())
    for approval_id in overdue.values_list("pk", flat=True)[:BATCH]:
        expired += _approval_expire(approval_id)
    return expired


@transaction.atomic
def _approval_expire(approval_id) -> int:
    approval = (
        Approval.objects.select_for_update(skip_locked=True)
        .select_related("run")
        .filter(pk=approval_id, decision=Approval.Decision.PENDING)
        .first()
    )
    if approval is None:
        return 0
    approval.decision = Approval.Decision.EXPIRED
    approval.reason = "Nobody decided before the approval expired."
    approval.decided_at = timezone.now()
    approval.save(update_fields=["decision", "reason", "decided_at"])
    run_audit(approval, "approval.expired", actor=None)
    if approval.run.status == Run.Status.AWAITING_APPROVAL:
        approval_resolved(approval, decision="expired", by=None)
        run_dispatch_after_commit(approval.run_id, approval_ref(approval))
    return 1
