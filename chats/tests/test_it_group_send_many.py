"""skyflo.channel_layer.PubSubChannelLayer.group_send_many on the real Redis layer of the settings (the publisher's
batches use it)."""

from channels.layers import get_channel_layer

from chats.publisher import conversation_group


async def test_group_send_many_reaches_every_member_of_each_group_in_order():
    layer = get_channel_layer()
    first, second, both = [await layer.new_channel() for _ in range(3)]
    for group, channel in [("a", first), ("b", second), ("a", both), ("b", both)]:
        await layer.group_add(conversation_group(group), channel)
    try:
        await layer.group_send_many(
            [(conversation_group(group), {"type": "run.event", "seq": seq}) for group, seq in
             [("a", 1), ("b", 1), ("a", 2), ("b", 2), ("a", 3)]]
        )  # fmt: skip

        async def seqs(channel, count):
            return [(await layer.receive(channel))["seq"] for _ in range(count)]

        assert await seqs(first, 3) == [1, 2, 3]
        assert await seqs(second, 2) == [1, 2]
        assert await seqs(both, 5) == [1, 1, 2, 2, 3]
    finally:
        await layer.flush()
