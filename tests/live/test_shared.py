"""The live path across replicas on a real Redis, with stand-in Kalshi feeds."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field

import pytest

from graph.cluster.link import RedisLink
from graph.cluster.local import RedisServer
from graph.errors import FeedFatalError
from graph.live.shared import LiveConfig, LiveMode, SharedLive
from graph.models import TickerUpdate
from tests.e2e import eventually

pytestmark = pytest.mark.e2e  # a real redis-server

CONFIG = LiveConfig(
    lease_ttl_s=0.6, heartbeat_s=0.1, wanted_ttl_s=0.3, fallback_after_s=0.3, fatal_cooldown_s=1
)


class FakeFeed:
    """Stands in for KalshiFeed: records what it is asked to subscribe; tests make it tick."""

    def __init__(
        self, on_update: Callable[[TickerUpdate], None], on_fatal: Callable[[FeedFatalError], None]
    ) -> None:
        self.on_update = on_update
        self.on_fatal = on_fatal
        self.wanted: frozenset[str] = frozenset()
        self.fatal_error: FeedFatalError | None = None
        self.closed = False

    def set_wanted(self, tickers: Collection[str]) -> None:
        self.wanted = frozenset(tickers)

    async def aclose(self) -> None:
        self.closed = True

    def tick(self, ticker: str, ts: int) -> None:
        self.on_update(TickerUpdate(ticker, ts, 0.5))


@dataclass
class Replica:
    live: SharedLive
    feeds: list[FakeFeed] = field(default_factory=list)
    got: list[TickerUpdate] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def feed(self) -> FakeFeed:
        return self.feeds[-1]

    def ts(self, ticker: str) -> list[int]:
        return [u.ts_ms for u in self.got if u.market_ticker == ticker]


@pytest.fixture
async def make(redis_server: RedisServer) -> AsyncIterator[Callable[[str], Replica]]:
    replicas: list[Replica] = []
    links: list[RedisLink] = []

    def build(name: str) -> Replica:
        link = RedisLink.from_url(redis_server.url, timeout_s=0.3)
        links.append(link)
        replica: Replica

        def factory(
            on_update: Callable[[TickerUpdate], None], on_fatal: Callable[[FeedFatalError], None]
        ) -> FakeFeed:
            feed = FakeFeed(on_update, on_fatal)
            replica.feeds.append(feed)
            return feed

        live = SharedLive(
            link,
            factory,
            on_update=lambda u: replica.got.append(u),
            on_fatal=lambda e: replica.failures.append(str(e)),
            config=CONFIG,
            replica=name,
        )
        replica = Replica(live)
        replicas.append(replica)
        return replica

    try:
        yield build
    finally:
        for replica in replicas:
            await replica.live.aclose()
        for link in links:
            await link.aclose()


async def started(make: Callable[[str], Replica], name: str, *wanted: str) -> Replica:
    replica = make(name)
    await replica.live.start()
    replica.live.set_wanted(frozenset(wanted))
    return replica


def owner_of(*replicas: Replica) -> Replica:
    owners = [r for r in replicas if r.live.owner is not None]
    assert len(owners) == 1, [r.live for r in replicas]
    return owners[0]


async def test_one_owner_feeds_every_replica(make: Callable[[str], Replica]) -> None:
    """Exactly one replica opens a feed; it subscribes to the union of every replica's
    markets, and each replica receives the ticks of its own markets only."""
    a = await started(make, "a", "X", "Y")
    b = await started(make, "b", "Y", "Z")
    await eventually(lambda: any(r.live.owner is not None for r in (a, b)))
    owner = owner_of(a, b)
    await eventually(lambda: owner.feed.wanted == {"X", "Y", "Z"})
    assert len(a.feeds) + len(b.feeds) == 1
    await eventually(lambda: a.live.channels.subscribed >= {"kalshi-graph:tick:X"})
    await eventually(lambda: b.live.channels.subscribed >= {"kalshi-graph:tick:Z"})
    for ticker in ("X", "Y", "Z"):
        owner.feed.tick(ticker, 1)
    await eventually(lambda: len(a.got) == 2 and len(b.got) == 2)
    assert {u.market_ticker for u in a.got} == {"X", "Y"}
    assert {u.market_ticker for u in b.got} == {"Y", "Z"}
    assert a.live.fatal_error is None and a.live.mode is LiveMode.SHARED


async def test_a_dead_owner_is_replaced_and_its_old_ticks_are_dropped(
    make: Callable[[str], Replica],
) -> None:
    """The owner stops renewing (dies): within the lease TTL another replica owns the feed
    and its ticks flow; a tick the old owner still publishes afterwards reaches nobody."""
    a = await started(make, "a", "X")
    await eventually(lambda: a.live.owner is not None)
    b = await started(make, "b", "X")
    await eventually(lambda: a.feed.wanted == {"X"})
    old = a.live.owner
    assert old is not None
    # Kill a's loops without a release, as kill -9 would; its publisher object stays around.
    for task in a.live._running:
        task.cancel()
    await eventually(lambda: b.live.owner is not None, timeout=5)
    await eventually(lambda: b.feed.wanted == {"X"})
    b.feed.tick("X", 2)
    await eventually(lambda: b.ts("X") == [2])
    old.publisher.publish(TickerUpdate("X", 3))  # a paused ex-owner wakes up
    await eventually(lambda: old.publisher.fenced)
    b.feed.tick("X", 4)
    await eventually(lambda: b.ts("X") == [2, 4])
    assert 3 not in a.ts("X")


async def test_a_release_hands_over_at_once(make: Callable[[str], Replica]) -> None:
    """An owner shutting down releases the lease and the waiting replica takes over
    without waiting for the TTL."""
    a = await started(make, "a", "X")
    await eventually(lambda: a.live.owner is not None)
    b = await started(make, "b", "X")
    b.live.lease._retry_s = 30  # only the release announcement can wake it in time
    await eventually(lambda: b.live.channels.subscribed >= {b.live.lease.channel})
    await a.live.aclose()
    await eventually(lambda: b.live.owner is not None, timeout=CONFIG.lease_ttl_s)
    assert a.feed.closed


async def test_a_fatal_feed_error_reaches_every_replica(make: Callable[[str], Replica]) -> None:
    """The owner's refused key fails subscribers on every replica with the same message,
    for the cool-down only."""
    a = await started(make, "a", "X")
    b = await started(make, "b", "X")
    await eventually(lambda: any(r.live.owner is not None for r in (a, b)))
    owner = owner_of(a, b)
    await eventually(lambda: b.live.channels.subscribed >= {"kalshi-graph:feed:fatal"})
    owner.feed.on_fatal(FeedFatalError("Kalshi refused the WebSocket handshake (HTTP 401)"))
    await eventually(
        lambda: a.failures == b.failures == ["Kalshi refused the WebSocket handshake (HTTP 401)"]
    )
    assert str(a.live.fatal_error) == a.failures[0]
    await eventually(lambda: a.live.fatal_error is None, timeout=2)


async def test_redis_down_falls_back_to_a_local_feed_and_back(
    make: Callable[[str], Replica], redis_server: RedisServer
) -> None:
    """Redis gone past the grace period: the replica opens its own feed for its markets,
    whose ticks reach its subscribers. Redis back: the shared path resumes and the local
    feed closes once a tick came through Redis."""
    a = await started(make, "a", "X")
    await eventually(lambda: a.live.owner is not None)
    shared_feed = a.feed
    redis_server.stop()
    await eventually(lambda: a.live.mode is LiveMode.LOCAL, timeout=5)
    local = a.feed
    assert local is not shared_feed and local.wanted == {"X"} and a.live.feed is local
    local.tick("X", 10)
    assert a.ts("X") == [10]
    a.live.set_wanted(frozenset({"X", "Y"}))
    assert local.wanted == {"X", "Y"}
    redis_server.start()
    await eventually(lambda: a.live.owner is not None and a.feed is not local, timeout=5)
    await eventually(lambda: a.feed.wanted == {"X", "Y"}, timeout=5)
    a.feed.tick("Y", 11)
    await eventually(lambda: a.live.mode is LiveMode.SHARED and local.closed, timeout=5)
    assert a.live.stats.fallbacks == 1 and a.live.stats.returns == 1


async def test_redis_down_at_start_runs_locally(
    make: Callable[[str], Replica], redis_server: RedisServer
) -> None:
    """A replica starting without Redis serves live prices from its own feed."""
    redis_server.stop()
    a = await started(make, "a", "X")
    await eventually(lambda: a.live.mode is LiveMode.LOCAL, timeout=5)
    assert a.feed.wanted == {"X"} and a.live.owner is None


async def test_redis_flapping_while_returning_keeps_the_local_feed(
    make: Callable[[str], Replica], redis_server: RedisServer
) -> None:
    """Redis back and gone again before any tick came through it: the replica stays on
    its local feed (still open); the next return completes normally."""
    a = await started(make, "a", "X")
    redis_server.stop()
    await eventually(lambda: a.live.mode is LiveMode.LOCAL, timeout=5)
    local = a.feed
    local.fatal_error = FeedFatalError("refused")
    assert a.live.fatal_error is local.fatal_error  # in local mode the local feed decides
    local.fatal_error = None
    redis_server.start()
    await eventually(lambda: a.live._returning is not None, timeout=5)
    redis_server.stop()
    await eventually(lambda: a.live._returning is None, timeout=5)
    assert a.live.mode is LiveMode.LOCAL and not local.closed
    redis_server.start()
    await eventually(lambda: a.live.owner is not None, timeout=5)
    await eventually(lambda: a.live.owner is not None and a.feed.wanted == {"X"}, timeout=5)
    a.feed.tick("X", 1)
    await eventually(lambda: a.live.mode is LiveMode.SHARED and local.closed, timeout=5)
    assert "mode=shared" in repr(a.live) and "owner fence=" in repr(a.live)


async def test_a_fatal_error_without_redis_still_reaches_local_subscribers(
    make: Callable[[str], Replica], redis_server: RedisServer
) -> None:
    """The owner's feed fails while Redis cannot carry the news: its own hub hears it."""
    a = await started(make, "a", "X")
    await eventually(lambda: a.live.owner is not None)
    redis_server.stop()
    a.feed.on_fatal(FeedFatalError("refused"))
    await eventually(lambda: a.failures == ["refused"])
    assert repr(a.live).startswith("SharedLive(a, ")
