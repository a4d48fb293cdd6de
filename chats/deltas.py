"""Token streams: one message's tokens as `message.delta` frames, coalesced under load.

    stream = DeltaStream(conversation_id=…, run_id=…, message_id=…, agent=…)
    await stream.push("tok")   # many times
    await stream.close()       # before publishing the message's next event

A stream only collects text; the event loop's batcher in chats.publisher decides when it leaves (at once while
it is the process's only active stream, otherwise once its oldest pending token is about 30 ms old) and persists
and sends it together with everything else pending. A stream's frames keep token order.
"""

import asyncio
import uuid

from chats.event_log import NewEvent, storable
from chats.publisher import loop_batcher


class DeltaStream:
    def __init__(self, *, conversation_id, run_id, message_id, agent: str):
        self.conversation_id = uuid.UUID(str(conversation_id))
        self.run_id = uuid.UUID(str(run_id)) if run_id else None
        self.message_id = str(message_id)
        self.agent = agent
        self.frames = 0
        self._pending: list[str] = []
        self._sent: asyncio.Future | None = None  # resolves when the batch carrying _pending has been sent
        self._taken: asyncio.Future | None = None  # … and the one carrying the text taken last
        self._closed = False
        self._error: BaseException | None = None

    async def push(self, text: str) -> None:
        if self._closed:
            raise RuntimeError("DeltaStream is closed")
        self._raise_error()
        if not text:
            return
        self._pending.append(text)
        if self._sent is None:
            self._sent = asyncio.get_running_loop().create_future()
            loop_batcher().stream_pending(self)

    async def flush(self) -> None:
        """Publish whatever is pending now and wait until every frame of this stream is persisted and sent."""
        if self._sent is not None:
            loop_batcher().hurry()
        waiting = self._sent or self._taken
        if waiting is not None:
            await asyncio.shield(waiting)
        self._raise_error()

    async def close(self) -> None:
        await self.flush()
        self._closed = True

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    # --- called by the batcher ---

    def take(self) -> tuple[NewEvent, asyncio.Future]:
        data = {"message_id": self.message_id, "agent": self.agent, "text": storable("".join(self._pending))}
        event = NewEvent(conversation_id=self.conversation_id, run_id=self.run_id, type="message.delta", data=data)
        sent, self._sent = self._sent, None
        self._taken = sent
        self._pending.clear()
        return event, sent

    def done(self, result) -> None:
        if isinstance(result, BaseException):
            self._error = result  # surfaced to the producer on its next push/flush
        else:
            self.frames += 1
