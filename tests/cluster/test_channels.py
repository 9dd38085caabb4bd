from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from graph.cluster.channels import Channels
from graph.cluster.link import RedisLink
from graph.cluster.local import RedisServer
from tests.e2e import eventually

pytestmark = pytest.mark.e2e  # a real redis-server


@pytest.fixture
async def channels(link: RedisLink) -> AsyncIterator[Channels]:
    channels = Channels(link, backoff_base_s=0.02, backoff_cap_s=0.1)
    try:
        yield channels
    finally:
        await channels.aclose()


async def test_messages_reach_their_channels_handler(
    channels: Channels, other_link: RedisLink
) -> None:
    """Each channel's messages go to its own handler, once Redis confirmed the channel."""
    a: list[bytes] = []
    b: list[bytes] = []
    channels.add("a", a.append)
    channels.add("b", b.append)
    await eventually(lambda: channels.subscribed == {"a", "b"})
    await other_link.client.publish("a", "1")
    await other_link.client.publish("b", "2")
    await other_link.client.publish("c", "3")
    await eventually(lambda: a == [b"1"] and b == [b"2"])
    assert channels.stats.messages == 2 and channels.wanted == {"a", "b"}


async def test_removed_channels_are_unsubscribed(channels: Channels, other_link: RedisLink) -> None:
    """After remove, Redis drops the channel and its messages reach nobody."""
    got: list[bytes] = []
    channels.add("a", got.append)
    channels.add("b", got.append)
    await eventually(lambda: channels.subscribed == {"a", "b"})
    channels.remove("a")
    channels.remove("a")  # twice: a no-op
    await eventually(lambda: channels.subscribed == {"b"})
    assert await other_link.client.publish("a", "lost") == 0
    await other_link.client.publish("b", "kept")
    await eventually(lambda: got == [b"kept"])


async def test_nothing_wanted_opens_no_connection(link: RedisLink, channels: Channels) -> None:
    """Without a channel no pub/sub connection exists (clients seen by Redis: just ours)."""
    clients = await link.client.client_list()
    assert [c for c in clients if c.get("cmd") in ("subscribe", "unsubscribe")] == []
    assert channels.subscribed == frozenset()


async def test_reconnects_and_resubscribes_after_a_redis_restart(
    channels: Channels, link: RedisLink, redis_server: RedisServer
) -> None:
    """Redis restarting: the link goes down and up, every wanted channel is subscribed
    again, and on_resubscribed callbacks run once the new connection is confirmed."""
    got: list[bytes] = []
    resubscribed: list[bool] = []
    channels.on_resubscribed(lambda: resubscribed.append(True))
    channels.add("a", got.append)
    await eventually(lambda: channels.subscribed == {"a"})
    redis_server.restart()
    await eventually(lambda: link.stats.downs == 1)
    await eventually(lambda: resubscribed == [True] and channels.subscribed == {"a"})
    await link.client.publish("a", "after")
    await eventually(lambda: got == [b"after"])
    assert channels.stats.connects == 2 and link.up


async def test_a_failing_handler_or_callback_harms_nobody(
    channels: Channels, other_link: RedisLink, redis_server: RedisServer
) -> None:
    """A handler that raises is logged; the next message and other channels still arrive."""
    got: list[bytes] = []

    def broken(data: bytes) -> None:
        raise RuntimeError("bug")

    def broken_callback() -> None:
        raise RuntimeError("bug")

    channels.on_resubscribed(broken_callback)
    channels.add("bad", broken)
    channels.add("good", got.append)
    await eventually(lambda: channels.subscribed == {"bad", "good"})
    await other_link.client.publish("bad", "x")
    await other_link.client.publish("good", "y")
    await eventually(lambda: got == [b"y"])
    redis_server.restart()
    await eventually(
        lambda: channels.stats.connects == 2 and channels.subscribed == {"bad", "good"}
    )
    await other_link.client.publish("good", "z")
    await eventually(lambda: got == [b"y", b"z"])


class _SwallowingPubSub:
    """A redis-py PubSub whose read, cancelled mid-teardown, returns instead of raising (the
    first time; a later cancel raises, so a failing test ends)."""

    def __init__(self) -> None:
        self.reading = asyncio.Event()
        self.swallowed = 0

    async def get_message(self, timeout: float | None = None) -> None:
        self.reading.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            if self.swallowed:
                raise
            self.swallowed += 1
        return None


async def test_a_reader_cancelled_while_redis_swallows_it_still_ends(link: RedisLink) -> None:
    """A cancel that redis-py turns into a plain return still ends the reader, so a session's
    teardown (and Channels.aclose) cannot wait for it forever."""
    pubsub = _SwallowingPubSub()
    reader = asyncio.create_task(Channels(link)._reader(pubsub))  # type: ignore[arg-type]
    await pubsub.reading.wait()
    reader.cancel()
    try:
        done, _ = await asyncio.wait([reader], timeout=10)  # a hang guard, not a timing
        assert done and reader.cancelled() and pubsub.swallowed == 1
    finally:
        reader.cancel()
        await asyncio.wait([reader])
