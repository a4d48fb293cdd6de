"""The web process's watch over its open conversation sockets: the fallback for a missed access notification and
for a frame the channel layer lost (it delivers at most once).

Every WS_ACCESS_RECHECK_S one task asks the database, for all sockets of the process at once, the log's last seq
of their conversations, which owners still have access with the password they connected with, and which sessions
still exist; a socket behind the log catches up, and only a socket not covered by the owners' answer (a shared
conversation, a changed password, a lost membership) runs its own full access check. Idle sockets thus cost a
few queries per interval per process, not a few per socket.
"""

import asyncio
import logging

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone

from chats import selectors

logger = logging.getLogger(__name__)


def recheck_interval() -> float:
    return float(settings.WS_ACCESS_RECHECK_S)


@database_sync_to_async
def _state(conversation_ids: set[str], session_keys: set[str]) -> tuple[dict, set, set]:
    last_seqs = selectors.conversations_last_seq(conversation_ids=conversation_ids)
    owned = selectors.conversations_owned_by_active_owners(conversation_ids=conversation_ids)
    sessions = set()
    if session_keys:
        alive = Session.objects.filter(session_key__in=session_keys, expire_date__gt=timezone.now())
        sessions = set(alive.values_list("session_key", flat=True))
    return last_seqs, owned, sessions


class SocketWatch:
    """The consumers of this process; each one implements `watch_tick(last_seqs, owned, sessions)`."""

    def __init__(self):
        self.consumers: set = set()
        self._task: asyncio.Task | None = None

    def add(self, consumer) -> None:
        self.consumers.add(consumer)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="skyflo-socket-watch")

    def discard(self, consumer) -> None:
        self.consumers.discard(consumer)

    async def _run(self) -> None:
        while self.consumers:
            await asyncio.sleep(recheck_interval())
            try:
                await self.check()
            except Exception:
                logger.exception("socket watch: the database check failed; retrying next interval")

    async def check(self) -> None:
        consumers = list(self.consumers)
        conversation_ids = {c.conversation_id for c in consumers}
        session_keys = {c.session_key for c in consumers if c.session_key}
        last_seqs, owned, sessions = await _state(conversation_ids, session_keys)
        for consumer in consumers:
            if consumer in self.consumers:
                consumer.watch_tick(last_seqs, owned, sessions)


socket_watch = SocketWatch()
