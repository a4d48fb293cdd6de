"""The conversation WebSocket (DESIGN.md "WebSocket"): authenticate, join the group, relay.

Frames are relayed in seq order with no gap and no duplicate: the consumer remembers the last seq it sent;
a live frame at or below it is dropped, and a live frame beyond the next one first pulls the missing seqs
from the log (every seq below a sent one is already committed). The consumer handles one message at a time,
so live frames that arrive during a resume's replay wait in the queue and pass the same check; until the
client's resume (or RESUME_GRACE_S after the handshake) live frames are not relayed at all, unless the conversation's
log was empty at the handshake: then there is nothing a replay could put behind a live frame, and a resume that
comes after live frames replays only what the socket has not sent. The process's
socket watch (chats/socket_watch.py) has every socket send what the log holds beyond its last frame every few
seconds (a frame lost by the channel layer, which delivers at most once, reaches the client even when no later
frame follows) and re-check access that a missed notification would have ended.
"""

import asyncio
import functools
import json
import time

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.core.exceptions import ObjectDoesNotExist

from chats import selectors
from chats.events import event_frame
from chats.publisher import conversation_group, user_group
from chats.socket_watch import socket_watch
from skyflo import metrics
from skyflo.websocket_auth import SUBPROTOCOL

CLOSE_UNAUTHENTICATED = 4401  # no, refused or expired credentials
CLOSE_FORBIDDEN = 4403  # access lost while connected
CLOSE_NOT_FOUND = 4404  # not visible to this user (or does not exist)
CLOSE_BAD_REQUEST = 4400
CLOSE_TOO_MANY = 4429  # resumes faster than RESUME_BURST / RESUME_REFILL_S allow
REPLAY_CHUNK = 500
# A client that resumes sends {"type": "resume"} as soon as the socket opens (the chat UI does); until it has,
# or for at most this long, live frames wait in the channel queue, so that none is relayed before the replay of
# older ones. A client that never resumes gets live frames from this long after its connect (at once on a
# conversation with no events yet).
RESUME_GRACE_S = 0.5
# Each resume may replay the whole log: a socket gets RESUME_BURST of them, and one more every RESUME_REFILL_S.
RESUME_BURST = 5
RESUME_REFILL_S = 2.0


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
def _access_lost(user, conversation_id, password: str) -> int | None:
    """None while the user may still see the conversation with the password they connected with; else the close
    code: 4401 after a password change or reset (it ends every socket opened before), 4403 when access is gone."""
    if selectors.conversation_is_active_owners(user_id=user.pk, conversation_id=conversation_id, password=password):
        return None  # the common case, in one query (every socket asks every few seconds)
    try:
        user.refresh_from_db(fields=["is_active", "password"])
    except ObjectDoesNotExist:
        return CLOSE_FORBIDDEN
    if user.password != password:
        return CLOSE_UNAUTHENTICATED
    return None if selectors.conversation_can_view(user=user, conversation_id=conversation_id) else CLOSE_FORBIDDEN


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
    expiry: asyncio.Task | None = None
    user_id = ""
    session_key: str | None = None  # sockets signed in by the session cookie: closed when it ends
    password = ""  # the user's password hash at connect: a change or reset closes the socket
    resume_tokens = float(RESUME_BURST)
    resume_counted_at = 0.0
    live_before_resume = False  # live frames flow before any resume (the log was empty at the handshake)
    counted = False  # in the open-sockets gauge

    async def connect(self):
        user = self.scope.get("user")
        subprotocol = SUBPROTOCOL if SUBPROTOCOL in self.scope.get("subprotocols", []) else None
        if self.scope.get("auth_error") or user is None or not user.is_authenticated:
            return await self._refuse(subprotocol, CLOSE_UNAUTHENTICATED)
        self.conversation_id = str(self.scope["url_route"]["kwargs"]["conversation_id"])
        if not await _may_view(user, self.conversation_id):
            return await self._refuse(subprotocol, CLOSE_NOT_FOUND)
        self.password = user.password
        self.user_id = str(user.pk)
        if self.scope.get("auth_method") == "session":
            self.session_key = self.scope["session"].session_key or ""
        self.groups_joined = (conversation_group(self.conversation_id), user_group(user.pk))
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        # Read after joining: every later seq reaches us live or through the gap fill.
        self.last_sent = await _last_seq(self.conversation_id)
        await self.accept(subprotocol=subprotocol)
        metrics.websocket_opened()
        self.counted = True
        if self.last_sent == 0:
            self.live_before_resume = True
            self.live.set()
        else:
            asyncio.get_running_loop().call_later(RESUME_GRACE_S, self.live.set)
        if self.scope.get("token_exp") is not None:
            self.expiry = asyncio.create_task(self._expire(self.scope["token_exp"]))
        socket_watch.add(self)
        return None

    async def __call__(self, scope, receive, send):
        """channels' AsyncConsumer.__call__ with a lighter loop: one long-lived reader per source instead of a new
        task and an asyncio.wait per message (bench/README.md has the cost); a lock keeps channels' rule that a
        consumer handles one message at a time (the seq bookkeeping of run_event and _replay relies on it)."""
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.channel_name = await self.channel_layer.new_channel()
        self.channel_receive = functools.partial(self.channel_layer.receive, self.channel_name)
        self.base_send = send
        self.one_at_a_time = asyncio.Lock()
        self.live = asyncio.Event()  # live frames are held until the client said where it is (see receive)
        self.checks: set[asyncio.Task] = set()  # what the socket watch asked of this socket

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
        socket_watch.discard(self)
        for task in (self.expiry, *self.checks):
            if task is not None:
                task.cancel()
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
        if not self._resume_allowed():
            await self.close(code=CLOSE_TOO_MANY)
            return
        if self.live_before_resume:
            # Every seq up to last_sent went out live on this socket, in order: the first resume adds what is
            # beyond it (gap fill), never a frame twice.
            self.live_before_resume = False
            after = max(after, self.last_sent)
        await self._replay(after=after)

    def _resume_allowed(self) -> bool:
        """A token bucket of RESUME_BURST resumes, refilled one per RESUME_REFILL_S."""
        now = time.monotonic()
        if self.resume_counted_at:
            refill = (now - self.resume_counted_at) / RESUME_REFILL_S
            self.resume_tokens = min(float(RESUME_BURST), self.resume_tokens + refill)
        self.resume_counted_at = now
        if self.resume_tokens < 1:
            return False
        self.resume_tokens -= 1
        return True

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
        """Someone's memberships, teams, grants or password changed: close if this user lost the conversation."""
        code = await _access_lost(self.scope["user"], self.conversation_id, self.password)
        if code is not None:
            await self.close(code=code)

    async def _expire(self, expires: float) -> None:
        await asyncio.sleep(max(expires - time.time(), 0))
        await self.close(code=CLOSE_UNAUTHENTICATED)

    def watch_tick(self, last_seqs: dict, owned: set, sessions: set) -> None:
        """The process's socket watch answered for every socket (chats/socket_watch.py)."""
        if self.session_key is not None and self.session_key not in sessions:
            self._check(self.close(code=CLOSE_UNAUTHENTICATED))  # signed out elsewhere
        elif (self.conversation_id, self.user_id, self.password) not in owned:
            self._check(self.access_recheck(None))  # not the owner's common case: the full check
        if self.live.is_set() and last_seqs.get(self.conversation_id, 0) > self.last_sent:
            self._check(self._catch_up())

    def _check(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.checks.add(task)
        task.add_done_callback(self.checks.discard)

    async def _catch_up(self) -> None:
        """Send what the log holds beyond the last frame sent. The channel layer delivers at most once: a frame
        lost on its way (a Redis reconnect, a failed send) would otherwise wait for the next live frame's gap
        fill, and the last frames of a run have none."""
        async with self.one_at_a_time:
            last = await _last_seq(self.conversation_id)
            if last > self.last_sent:
                await self._replay(after=self.last_sent, upto=last)
