"""Celery tasks: start and resume runs, expire approvals, recover runs whose worker died.

Tasks take ids and call the engine or a service. Workers run with a thread pool
(`celery -A skyflo worker --pool threads --concurrency 50`); each task hands its coroutine to the process's
run loop (workflows/executor.py) and waits, so the message is acknowledged (acks_late) only when the run is
finished or parked at an approval. A redelivered task finds nothing to claim and returns.
"""

from celery import shared_task

from workflows import engine, services
from workflows.executor import run_loop


@shared_task(acks_late=True, ignore_result=True)
def run_execute(run_id: str) -> None:
    run_loop().submit(engine.run_execute(run_id)).result()


@shared_task(acks_late=True, ignore_result=True)
def run_resume(run_id: str, decision: dict) -> None:
    run_loop().submit(engine.run_resume(run_id, decision)).result()


@shared_task(ignore_result=True)
def approvals_expire() -> int:
    return services.approvals_expire()


@shared_task(ignore_result=True)
def runs_recover() -> list[str]:
    return services.runs_recover()
