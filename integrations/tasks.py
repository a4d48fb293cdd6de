"""Celery tasks that talk to Slack and to the webhook, off the run's path: the run has already parked at its
approval when these start, and whatever they meet (Slack down, a bad token, a webhook refusing) is logged and
tried again a bounded number of times, never raised into a run.

Tasks take ids and call a service. Embedded mode (no broker) runs them on a thread of the web process.
"""

from __future__ import annotations

import logging
import threading

import httpx
from celery import shared_task
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connections

from integrations import services

logger = logging.getLogger(__name__)


def task_dispatch(task, *args) -> None:
    """Start `task` after the caller's commit; a broker failure is logged, not raised to the caller."""
    if settings.RUNS_IN_PROCESS:
        threading.Thread(target=_apply, args=(task, args), name=task.name, daemon=True).start()
        return
    try:
        task.delay(*args)
    except Exception:
        logger.exception("could not queue %s%s; the approval stays decidable in Skyflo", task.name, args)


def _apply(task, args) -> None:
    try:
        task.apply(args=args)
    finally:
        connections.close_all()  # this thread's own connections


def _attempt(task, what: str, call) -> None:
    try:
        call()
    except Exception as exc:  # Slack or the receiver: anything they do must stay theirs
        tries = task.request.retries + 1
        if tries <= settings.INTEGRATIONS_RETRIES:
            logger.warning("%s failed (try %d, again shortly): %s", what, tries, _reason(exc))
            # No exc=: Celery would log its repr, and an HTTP error's names the (maybe secret-bearing) URL.
            raise task.retry(countdown=min(2**tries, 60)) from None
        logger.error(
            "%s failed %d times; giving up (the approval can still be decided in Skyflo): %s", what, tries, _reason(exc)
        )


def _reason(exc: Exception) -> str:
    """Why, in a few words, never the URL (a webhook's may hold its own secret) nor a token."""
    if isinstance(exc, httpx.HTTPStatusError):
        return f"the receiver answered {exc.response.status_code}"
    if isinstance(exc, httpx.HTTPError | ValidationError):
        return type(exc).__name__ + (f": {' '.join(exc.messages)}" if isinstance(exc, ValidationError) else "")
    response = getattr(exc, "response", None)
    error = response.get("error") if hasattr(response, "get") else None  # a Slack error code: channel_not_found
    return f"{type(exc).__name__}: {error}" if error else type(exc).__name__


@shared_task(bind=True, ignore_result=True, max_retries=None)
def slack_approval_post(self, approval_id: str) -> None:
    _attempt(
        self, f"Slack: posting approval {approval_id}", lambda: services.slack_approval_post(approval_id=approval_id)
    )


@shared_task(bind=True, ignore_result=True, max_retries=None)
def slack_approval_refresh(self, approval_id: str) -> None:
    _attempt(
        self,
        f"Slack: updating approval {approval_id}",
        lambda: services.slack_approval_refresh(approval_id=approval_id),
    )


@shared_task(bind=True, ignore_result=True, max_retries=None)
def slack_ephemeral_send(self, org_id: str, channel: str, user: str, text: str) -> None:
    _attempt(
        self,
        f"Slack: answering {user} in {channel}",
        lambda: services.slack_ephemeral_send(org_id=org_id, channel=channel, user=user, text=text),
    )


@shared_task(bind=True, ignore_result=True, max_retries=None)
def webhook_approval_deliver(self, approval_id: str) -> None:
    _attempt(
        self,
        f"webhook: delivering approval {approval_id}",
        lambda: services.webhook_approval_deliver(approval_id=approval_id),
    )
