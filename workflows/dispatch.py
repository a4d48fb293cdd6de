"""Hand a run (or its resume after a decision) to whoever executes runs in this deployment.

Scaled mode: a Celery task, sent by name so that this module needs nothing of the worker's. Embedded mode
(settings.RUNS_IN_PROCESS): the web process's own run loop.
"""

from __future__ import annotations

from celery import current_app
from django.conf import settings
from django.db import transaction

from workflows import engine
from workflows.run_loop import run_loop

RUN_EXECUTE_TASK = "workflows.tasks.run_execute"
RUN_RESUME_TASK = "workflows.tasks.run_resume"


def run_dispatch(run_id, *, resume: dict | None = None) -> None:
    """Start the run, or resume it with `resume` = {"approval_id", "call_id"} once that approval is decided."""
    if settings.RUNS_IN_PROCESS:
        coro = engine.run_resume(str(run_id), resume) if resume else engine.run_execute(str(run_id))
        run_loop().submit(coro)
    elif resume:
        current_app.send_task(RUN_RESUME_TASK, args=(str(run_id), resume))
    else:
        current_app.send_task(RUN_EXECUTE_TASK, args=(str(run_id),))


def run_dispatch_after_commit(run_id, resume: dict | None = None) -> None:
    """Dispatch once the caller's transaction commits (nothing if it rolls back)."""
    # robust: a broker error is logged, not raised to the person who posted; runs_recover dispatches again.
    transaction.on_commit(lambda: run_dispatch(run_id, resume=resume), robust=True)
