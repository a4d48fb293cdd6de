"""The conversation WebSocket (DESIGN.md "WebSocket"): authenticate, join the group, relay.

Frames are relayed in seq order with no gap and no duplicate: the consumer remembers the last seq it sent;
a live frame at or below it is dropped, and a live frame beyond the next one first pulls the missing seqs
from the log (every seq below a sent one is already committed). The consumer handles one message at a time,
so live frames that arrive during a resume's replay wait in the queue and pass the same check; until the
client's resume (or RESUME_GRACE_S after the handshake) live frames are not relayed at all. Every few
seconds the consumer also sends whatever the log holds beyond its last frame (a frame lost by the channel
layer, which delivers at most once, reaches the client even when no later frame follows).
"""

import asyncio
import functools
import json
import time
import zlib

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist

from chats import selectors
from chats.events import event_frame
from chats.publisher import conversation_group, user_group
from skyflo import metrics
from skyflo.websocket_auth import SUBPROTOCOL

CLOSE_UNAUTHENTICATED = 4401  # no, refused or expired credentials
CLOSE_FORBIDDEN = 4403  # access lost while connected
CLOSE_NOT_FOUND = 4404  # not visible to this user (or does not exist)
CLOSE_BAD_REQUEST = 4400
REPLAY_CHUNK = 500
# A client that resumes sends {"type": "resume"} as soon as the socket opens (the chat UI does); until it has,
# or for at most this long, live frames wait in the channel queue, so that none is relayed before the replay of
# older ones. A client that never resumes gets live frames from this long after its connect.
RESUME_GRACE_S = 0.5


def _recheck_interval() -> float:
    return float(getattr(settings, "WS_ACCESS_RECHECK_S", 5))


@database_sync_to_async
def _may_view(user, conversation_id) -> bool:
    if selectors.conversation_is_active_owners(user_id=user.pk, conversation_id=conversation_id):
        return True  # the common case, in one query (every socket asks every few seconds)
    try:
        user.refresh_from_db(fields=["is_active"])
    except ObjectDoesNotExist:
        return False
    return selectors.conversation_can_view(user=user, conversation_id=conversation_id)


@database_sync_to_async
def _session_alive(session) -> bool:
    return session.session_key is not None and session.exists(session.session_key)


@database_sync_to_async
def _events(conversation_id, after, upto=None):
    events = selectors.conversation_events_between(
        conversation_id=conversation_id, after=after, upto=upto, limit=REPLAY_CHUNK
    )
    return [(e.seq, event_frame(type=e.type, seq=e.seq, run_id=e.run_id, ts=e.ts, data=e.data)) for e in events]


@database_sync_to_async
def _last_seq(conversation_id) -> int:
    return selectors.conversation_last_seq(conversation_id=conversation_id)


class ConversationConsumer(AsyncWebsocketConsumer):
    conversation_id = None
    groups_joined: tuple = ()
    last_sent = 0
    watchdog: asyncio.Task | None = None
    counted = False  # in the open-sockets gauge

    async def connect(self):
        user = self.scope.get("user")
        subprotocol = SUBPROTOCOL if SUBPROTOCOL in self.scope.get("subprotocols", []) else None
        if self.scope.get("auth_error") or user is None or not user.is_authenticated:
            return await self._refuse(subprotocol, CLOSE_UNAUTHENTICATED)
        self.conversation_id = str(self.scope["url_route"]["kwargs"]["conversation_id"])
        if not await _may_view(user, self.conversation_id):
            return await self._refuse(subprotocol, CLOSE_NOT_FOUND)
        self.groups_joined = (conversation_group(self.conversation_id), user_group(user.pk))
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        # Read after joining: every later seq reaches us live or through the gap fill.
        self.last_sent = await _last_seq(self.conversation_id)
        await self.accept(subprotocol=subprotocol)
        metrics.websocket_opened()
        self.counted = True
        asyncio.get_running_loop().call_later(RESUME_GRACE_S, self.live.set)
        self.watchdog = asyncio.create_task(self._watch(user))
        return None

    async def __call__(self, scope, receive, send):
        """channels' AsyncConsumer.__call__ with a lighter loop. channels waits on both sources (the client and
        the channel layer) with a new task and an asyncio.wait per message, ~15 % of daphne's CPU per relayed
        frame at 50 sockets; here each source has one long-lived reader, and a lock keeps channels' rule that a
        consumer handles one message at a time (the seq bookkeeping of run_event and _replay relies on it)."""
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.channel_name = await self.channel_layer.new_channel()
        self.channel_receive = functools.partial(self.channel_layer.receive, self.channel_name)
        self.base_send = send
        self.one_at_a_time = asyncio.Lock()
        self.live = asyncio.Event()  # live frames are held until the client said where it is (see receive)

        async def pump(source, *, after=None):
            if after is not None:
                await after.wait()
            while True:
                message = await source()
                async with self.one_at_a_time:
                    await self.dispatch(message)

        readers = [
            asyncio.create_task(pump(receive)),
            asyncio.create_task(pump(self.channel_receive, after=self.live)),
        ]
        try:
            done, _ = await asyncio.wait(readers, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # StopConsumer after a disconnect, or the error to report
        except StopConsumer:
            pass
        finally:
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)

    async def dispatch(self, message):
        # Channels' own dispatch first hops to the shared sync thread to close old DB connections, for every
        # message. Relaying a frame touches no database, and under fan-out that hop queued every frame of
        # every socket behind one thread; the DB calls here go through database_sync_to_async, which does
        # that cleanup itself.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def _refuse(self, subprotocol, code):
        # Accept first so that the client learns why (a refused handshake carries no close code).
        await self.accept(subprotocol=subprotocol)
        await self.close(code=code)

    async def disconnect(self, code):
        if self.counted:
            metrics.websocket_closed()
            self.counted = False
        if self.watchdog is not None:
            self.watchdog.cancel()
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        try:
            await self._receive(text_data)
        finally:
            self.live.set()  # the client's position is known (or it sent something else): relay live frames

    async def _receive(self, text_data) -> None:
        try:
            message = json.loads(text_data or "")
        except ValueError:
            message = None
        if not isinstance(message, dict) or message.get("type") != "resume":
            await self.send(text_data=json.dumps({"type": "error", "detail": 'expected {"type": "resume"}'}))
            return
        after = message.get("after", 0)
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            await self.send(text_data=json.dumps({"type": "error", "detail": "after must be a seq (integer >= 0)"}))
            return
        await self._replay(after=after)

    async def _replay(self, *, after: int, upto: int | None = None) -> None:
        while True:
            events = await _events(self.conversation_id, after, upto)
            for seq, frame in events:
                await self.send(text_data=json.dumps(frame, separators=(",", ":")))
                after = seq
            self.last_sent = max(self.last_sent, after)
            if len(events) < REPLAY_CHUNK:
                return

    async def run_event(self, message):
        """A live frame from the publisher: relay it in order, once."""
        seq = message["seq"]
        if seq <= self.last_sent:
            return
        if seq > self.last_sent + 1:
            await self._replay(after=self.last_sent, upto=seq - 1)
        await self.send(text_data=message["text"])
        metrics.event_relayed(message.get("ts"))
        self.last_sent = seq

    async def access_recheck(self, message):
        """Someone's memberships, teams or grants changed: close if this user lost the conversation."""
        if not await _may_view(self.scope["user"], self.conversation_id):
            await self.close(code=CLOSE_FORBIDDEN)

    async def _watch(self, user):
        """Fallback for a missed notification or frame, and the token-expiry timer."""
        expires = self.scope.get("token_exp")
        # Spread the sockets' checks over the interval instead of running them all in the same second.
        first = (zlib.crc32(self.channel_name.encode()) % 1000) / 1000
        while True:
            delay = _recheck_interval() * first if first is not None else _recheck_interval()
            first = None
            if expires is not None:
                delay = min(delay, max(expires - time.time(), 0))
            await asyncio.sleep(delay)
            if expires is not None and time.time() >= expires:
                await self.close(code=CLOSE_UNAUTHENTICATED)
                return
            if self.scope.get("auth_method") == "session" and not await _session_alive(self.scope["session"]):
                await self.close(code=CLOSE_UNAUTHENTICATED)  # signed out elsewhere
                return
            if not await _may_view(user, self.conversation_id):
                await self.close(code=CLOSE_FORBIDDEN)
                return
            if self.live.is_set():
                async with self.one_at_a_time:
                    await self._catch_up()

    async def _catch_up(self) -> None:
        """Send what the log holds beyond the last frame sent. The channel layer delivers at most once: a frame
        lost on its way (a Redis reconnect, a failed send) would otherwise wait for the next live frame's gap
        fill, and the last frames of a run have none."""
        last = await _last_seq(self.conversation_id)
        if last > self.last_sent:
            await self._replay(after=self.last_sent, upto=last)
