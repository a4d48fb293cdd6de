"""The channel layer: channels_redis' pub/sub layer plus `group_send_many`.

The pub/sub layer sends each group message as one PUBLISH and waits for Redis's reply before the next; a process
streaming many runs sends batches of frames many times a second (chats.publisher), so one pipelined round trip per
batch keeps the frames in order at a fraction of the CPU (bench/README.md). Everything else is
channels_redis 4.3's own (its internals used here: `_get_layer`, `_get_group_channel_name`, `_get_shard` and the
shard's `_lock`/`_ensure_redis`/`_redis`; the version is pinned in requirements.txt and
chats/tests/test_it_group_send_many.py covers this class).
"""

from channels_redis.pubsub import RedisPubSubChannelLayer


class PubSubChannelLayer(RedisPubSubChannelLayer):
    async def group_send_many(self, messages: list[tuple[str, dict]]) -> None:
        """Publish (group, message) pairs in order, one pipelined round trip per Redis shard."""
        layer = self._get_layer()
        by_shard: dict = {}
        for group, message in messages:
            channel = layer._get_group_channel_name(group)
            by_shard.setdefault(layer._get_shard(channel), []).append((channel, self.serialize(message)))
        for shard, items in by_shard.items():
            async with shard._lock:
                shard._ensure_redis()
                async with shard._redis.pipeline(transaction=False) as pipe:
                    for channel, data in items:
                        pipe.publish(channel, data)
                    await pipe.execute()
