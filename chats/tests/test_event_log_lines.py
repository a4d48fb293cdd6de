"""The worker log's event lines: each names its own run, never the run that first published on the loop."""

import asyncio
import contextvars
import logging

import pytest

from chats.publisher import aevent_publish
from skyflo.logs import PlainFormatter, log_context_bind

pytestmark = pytest.mark.django_db(transaction=True)


class Lines(logging.Handler):
    """Formats at emit time, in the emitting task's context, as the worker's log handler does."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(PlainFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


async def _publish_in_run(conversation_id, run_id: str) -> None:
    log_context_bind(run=run_id, conversation=conversation_id)
    await aevent_publish(conversation_id=conversation_id, run_id=run_id, type="run.queued", data={})


async def test_event_lines_of_two_runs_each_name_their_own_run(world):
    lines, events_logger = Lines(), logging.getLogger("skyflo.events")
    events_logger.addHandler(lines)
    events_logger.setLevel(logging.INFO)
    first, second = "5d1c0000-0000-4000-8000-0000000000a1", "5d1c0000-0000-4000-8000-0000000000a2"
    try:
        for run_id in (first, second):
            # Each run is a task of its own with its own log context, as on a worker's run loop.
            await asyncio.create_task(_publish_in_run(world.conversation.pk, run_id), context=contextvars.Context())
    finally:
        events_logger.removeHandler(lines)

    assert len(lines.lines) == 2
    assert f"run={first}" in lines.lines[0]
    assert f"run={second}" in lines.lines[1]
    assert first not in lines.lines[1]
