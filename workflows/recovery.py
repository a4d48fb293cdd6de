"""Periodic job: dispatch again what a lost message or a dead worker left behind.

Each run is dispatched at most once per timeout (heartbeat_at marks the dispatch), and a duplicate delivery
claims nothing, so running this often is harmless. The ledger keeps mutating calls from running twice.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from workflows.dispatch import run_dispatch_after_commit
from workflows.lifecycle import approval_ref
from workflows.models import Approval, Run

logger = logging.getLogger(__name__)

BATCH = 500


def runs_recover() -> list[str]:
    """Returns the ids of the runs dispatched again:

    - running, no heartbeat for settings.RUN_HEARTBEAT_TIMEOUT_S (the worker died): queued again, attempt + 1;
    - queued and not started within settings.RUN_DISPATCH_TIMEOUT_S (the dispatch was lost: a broker error,
      Redis restarted empty);
    - waiting for an approval that was decided that long ago (its resume was lost).
    """
    now = timezone.now()
    dead = now - timezone.timedelta(seconds=settings.RUN_HEARTBEAT_TIMEOUT_S)
    lost = now - timezone.timedelta(seconds=settings.RUN_DISPATCH_TIMEOUT_S)
    return _runs_requeue(dead) + _runs_redispatch(lost) + _resumes_redispatch(lost)


def _runs_requeue(cutoff) -> list[str]:
    stale = Run.objects.filter(status=Run.Status.RUNNING, heartbeat_at__lt=cutoff)
    recovered = []
    for run_id in stale.values_list("pk", flat=True)[:BATCH]:
        with transaction.atomic():
            moved = Run.objects.filter(pk=run_id, status=Run.Status.RUNNING, heartbeat_at__lt=cutoff).update(
                status=Run.Status.QUEUED, attempt=F("attempt") + 1, worker="", heartbeat_at=timezone.now()
            )
            if moved:
                logger.warning("run %s: worker stopped heart-beating; re-dispatching", run_id)
                run_dispatch_after_commit(run_id)
                recovered.append(str(run_id))
    return recovered


def _dispatch_due(status: str, cutoff):
    """Runs in `status` last dispatched before `cutoff` (never: created before it)."""
    never = Q(heartbeat_at__isnull=True, created_at__lt=cutoff)
    return Run.objects.filter(Q(heartbeat_at__lt=cutoff) | never, status=status)


def _runs_redispatch(cutoff) -> list[str]:
    recovered = []
    for run_id in _dispatch_due(Run.Status.QUEUED, cutoff).values_list("pk", flat=True)[:BATCH]:
        with transaction.atomic():
            if _dispatch_due(Run.Status.QUEUED, cutoff).filter(pk=run_id).update(heartbeat_at=timezone.now()):
                logger.warning("run %s: queued but never started; dispatching it again", run_id)
                run_dispatch_after_commit(run_id)
                recovered.append(str(run_id))
    return recovered


def _resumes_redispatch(cutoff) -> list[str]:
    waiting = _dispatch_due(Run.Status.AWAITING_APPROVAL, cutoff)
    recovered = []
    for run_id in waiting.values_list("pk", flat=True)[:BATCH]:
        with transaction.atomic():
            run = waiting.select_for_update(skip_locked=True).filter(pk=run_id).first()
            latest = run and Approval.objects.filter(run=run).order_by("-created_at", "-id").first()
            if latest is None or latest.decision == Approval.Decision.PENDING:
                continue
            if latest.decided_at is not None and latest.decided_at >= cutoff:
                continue
            Run.objects.filter(pk=run_id).update(heartbeat_at=timezone.now())
            logger.warning("run %s: decided approval %s was never resumed; dispatching it again", run_id, latest.pk)
            run_dispatch_after_commit(run_id, approval_ref(latest))
            recovered.append(str(run_id))
    return recovered
