from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from graph.cluster.bus import TickPublisher, TickSubscriber, latest_key, tick_channel
from graph.cluster.channels import Channels
from graph.cluster.codec import encode_tick
from graph.cluster.link import RedisLink
from graph.cluster.local import RedisServer
from graph.models import TickerUpdate
from tests.e2e import eventually

pytestmark = pytest.mark.e2e  # a real redis-server


def tick(ticker: str, ts: int, price: float = 0.5) -> TickerUpdate:
    return TickerUpdate(ticker, ts, price, price - 0.01, price + 0.01, 10.0, 5.0)


class Replica:
    """A subscriber side as one replica has it: channels plus a tick subscriber."""

    def __init__(self, link: RedisLink) -> None:
        self.got: list[TickerUpdate] = []
        self.fences: list[int] = []
        self.channels = Channels(link, backoff_base_s=0.02, backoff_cap_s=0.1)
        self.sub = TickSubscriber(link, self.channels, self.got.append, on_fence=self.fences.append)

    async def want(self, *tickers: str) -> None:
        self.sub.want(tickers)
        channels = {tick_channel(self.sub._link, t) for t in tickers}
        await eventually(lambda: self.channels.subscribed == channels)

    async def aclose(self) -> None:
        await self.sub.aclose()
        await self.channels.aclose()


@pytest.fixture
async def replica(other_link: RedisLink) -> AsyncIterator[Replica]:
    replica = Replica(other_link)
    try:
        yield replica
    finally:
        await replica.aclose()


async def set_fence(link: RedisLink, fence: int) -> None:
    """What the lease does on acquisition, as far as the tick script cares."""
    await link.client.set(link.key("feed", "fence"), fence)


async def test_published_ticks_reach_subscribers_and_are_stored(
    link: RedisLink, replica: Replica
) -> None:
    """A tick goes out on its market's channel with every field, and becomes the market's
    latest stored value."""
    await set_fence(link, 1)
    await replica.want("A", "B")
    publisher = TickPublisher(link, 1, on_fenced=lambda: None)
    try:
        publisher.publish(tick("A", 1))
        publisher.publish(tick("B", 2, 0.7))
        publisher.publish(tick("C", 3))  # nobody wants C: stored, delivered to nobody
        await eventually(lambda: len(replica.got) == 2)
        assert replica.got == [tick("A", 1), tick("B", 2, 0.7)]
        assert replica.fences == [1] and replica.sub.floor == 1
        await eventually(lambda: publisher.stats.published == 3)
        assert await replica.sub.latest(["C", "B", "missing"]) == [tick("C", 3), tick("B", 2, 0.7)]
        assert await link.client.pttl(latest_key(link, "A")) > 3600_000
    finally:
        await publisher.aclose()


async def test_ticks_from_an_older_owner_are_dropped(link: RedisLink, replica: Replica) -> None:
    """Once a replica saw fence 2, fence-1 messages are dropped (a paused ex-owner)."""
    await replica.want("A")
    channel = tick_channel(link, "A")
    await link.client.publish(channel, encode_tick(2, tick("A", 10)))
    await link.client.publish(channel, encode_tick(1, tick("A", 11)))
    await link.client.publish(channel, encode_tick(2, tick("A", 12)))
    await eventually(lambda: replica.sub.stats.received == 2)
    assert [u.ts_ms for u in replica.got] == [10, 12]
    assert replica.sub.stats.stale == 1


async def test_an_announced_fence_drops_the_old_owner_before_its_successor_ticks(
    link: RedisLink, replica: Replica
) -> None:
    """observe() (an acquisition announcement) raises the floor with no tick yet."""
    await replica.want("A")
    replica.sub.observe(5)
    replica.sub.observe(3)  # lower: ignored
    await link.client.publish(tick_channel(link, "A"), encode_tick(4, tick("A", 1)))
    await link.client.publish(tick_channel(link, "A"), encode_tick(5, tick("A", 2)))
    await eventually(lambda: replica.sub.stats.received == 1)
    assert replica.fences == [5] and [u.ts_ms for u in replica.got] == [2]


async def test_a_fenced_publisher_stops_and_says_so(link: RedisLink, replica: Replica) -> None:
    """The script refuses a batch below the current fence: nothing is published or stored,
    on_fenced runs once, later ticks are ignored."""
    await replica.want("A")
    await set_fence(link, 3)
    fenced: list[bool] = []
    publisher = TickPublisher(link, 2, on_fenced=lambda: fenced.append(True))
    try:
        publisher.publish(tick("A", 1))
        await eventually(lambda: publisher.fenced)
        publisher.publish(tick("A", 2))
        assert fenced == [True] and publisher.pending == 0
        assert await link.client.get(latest_key(link, "A")) is None
        assert replica.got == []
    finally:
        await publisher.aclose()


async def test_pending_ticks_conflate_per_market(link: RedisLink) -> None:
    """Before the sender runs, a newer tick of a market replaces the pending one."""
    publisher = TickPublisher(link, 1, on_fenced=lambda: None)
    try:
        publisher.publish(tick("A", 1))
        publisher.publish(tick("A", 2))
        publisher.publish(tick("B", 3))
        assert publisher.pending == 2 and publisher.stats.conflated == 1
        await eventually(lambda: publisher.stats.published == 2)
        stored = await link.client.get(latest_key(link, "A"))
        assert stored == encode_tick(1, tick("A", 2)).encode()
    finally:
        await publisher.aclose()


async def test_publishing_survives_a_redis_outage(
    link: RedisLink, redis_server: RedisServer
) -> None:
    """With Redis down the latest pending tick per market is kept and sent once it is back."""
    redis_server.stop()
    publisher = TickPublisher(link, 1, on_fenced=lambda: None, retry_s=0.02)
    try:
        publisher.publish(tick("A", 1))
        await eventually(lambda: publisher.stats.retries >= 1)
        publisher.publish(tick("A", 2))
        redis_server.start()
        await eventually(lambda: publisher.stats.published == 1, timeout=5)
        assert await link.client.get(latest_key(link, "A")) == encode_tick(1, tick("A", 2)).encode()
    finally:
        await publisher.aclose()


async def test_unwanted_markets_are_unsubscribed(link: RedisLink, replica: Replica) -> None:
    """want() with fewer markets drops their channels; a message already in flight for a
    dropped market is not handed on."""
    await replica.want("A", "B")
    await replica.want("B")
    assert replica.sub.wanted == {"B"}
    replica.sub._receive(encode_tick(1, tick("A", 1)).encode())  # arrived just after the drop
    assert replica.got == []


async def test_malformed_messages_are_counted_and_dropped(
    link: RedisLink, replica: Replica
) -> None:
    """Garbage on a tick channel or in a stored value is counted and skipped."""
    await replica.want("A")
    await link.client.publish(tick_channel(link, "A"), "garbage")
    await link.client.set(latest_key(link, "A"), "garbage")
    await eventually(lambda: replica.sub.stats.malformed == 1)
    assert await replica.sub.latest(["A"]) == []
    assert replica.sub.stats.malformed == 2


async def test_after_a_reconnect_newer_stored_values_are_handed_on(
    link: RedisLink, replica: Replica, redis_server: RedisServer
) -> None:
    """Ticks published while the subscriber's connection was down are not lost for good:
    after it resubscribes, the stored latest values newer than what it had arrive."""
    await set_fence(link, 1)
    await replica.want("A", "B")
    publisher = TickPublisher(link, 1, on_fenced=lambda: None)
    try:
        publisher.publish(tick("A", 1))
        publisher.publish(tick("B", 1))
        await eventually(lambda: len(replica.got) == 2)
        redis_server.restart()  # empty again: nothing stored
        await set_fence(link, 1)
        publisher.publish(tick("A", 2))  # may be stored before the subscriber is back
        await eventually(lambda: replica.channels.stats.connects == 2)
        await eventually(lambda: tick("A", 2) in replica.got)
        assert replica.got.count(tick("A", 2)) == 1
        assert tick("B", 1) == replica.got[1] and len(replica.got) == 3
    finally:
        await publisher.aclose()


async def test_latest_without_redis_is_empty(link: RedisLink, redis_server: RedisServer) -> None:
    """Reading stored values during an outage gives nothing instead of failing."""
    sub = TickSubscriber(link, Channels(link), lambda u: None)
    assert await sub.latest([]) == []
    redis_server.stop()
    assert await sub.latest(["A"]) == []
