"""Celery tasks: start and resume runs, and the beat's periodic jobs.

Tasks take ids and call the engine or a job. Workers run with a thread pool
(`celery -A skyflo worker --pool threads --concurrency 50`); each task hands its coroutine to the process's
run loop (workflows/run_loop.py) and waits, so the message is acknowledged (acks_late) only when the run is
finished or parked at an approval. A redelivered task finds nothing to claim and returns.
"""

import logging

from celery import shared_task
from celery.exceptions import Reject
from celery.signals import worker_ready, worker_shutting_down

from skyflo.gc_settle import gc_settle
from workflows import engine, expiry, recovery
from workflows.dispatch import RUN_EXECUTE_TASK, RUN_RESUME_TASK, run_dispatch
from workflows.run_loop import run_loop

logger = logging.getLogger(__name__)


@worker_ready.connect
def _warm_up(**kwargs) -> None:
    run_loop().submit(engine.warm_up()).add_done_callback(_warm_up_done)


@worker_shutting_down.connect
def _runs_hand_back(**kwargs) -> None:
    # A warm shutdown waits for every task, and a run's task may last minutes: its runs go back to the queue
    # instead (workflows/engine.py), so SIGTERM ends the worker within seconds.
    run_loop().stop_threadsafe()


def _warm_up_done(future) -> None:
    if future.exception() is not None:
        logger.warning("warm-up failed (the first run will do it): %s", future.exception())
    gc_settle()


@shared_task(name=RUN_EXECUTE_TASK, acks_late=True, ignore_result=True)
def run_execute(run_id: str) -> None:
    _not_stopping()
    if run_loop().submit(engine.run_execute(run_id)).result():
        run_dispatch(run_id)  # handed back by this stopping worker: to another one


@shared_task(name=RUN_RESUME_TASK, acks_late=True, ignore_result=True)
def run_resume(run_id: str, decision: dict) -> None:
    _not_stopping()
    if run_loop().submit(engine.run_resume(run_id, decision)).result():
        run_dispatch(run_id)  # queued again, it continues from its checkpoint like a recovered run


def _not_stopping() -> None:
    """A stopping worker leaves a run it has just been handed to another worker (the message goes back)."""
    if run_loop().stopping:
        raise Reject("this worker is stopping", requeue=True)


@shared_task(ignore_result=True)
def approvals_expire() -> int:
    return expiry.approvals_expire()


@shared_task(ignore_result=True)
def runs_recover() -> list[str]:
    return recovery.runs_recover()
