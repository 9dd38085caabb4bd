"""The live path across replicas: one Kalshi feed per deployment, ticks through Redis (adapter).

How it works
------------
:class:`SharedLive` is the hub's feed control when ``REDIS_URL`` is set. The hub's
reference counting calls ``set_wanted(tickers)`` as before; here that subscribes the
markets' Redis channels (:class:`~graph.cluster.bus.TickSubscriber`, which hands each
tick to the hub) and publishes the set in the wanted-markets registry.

Every replica runs the feed lease. The holder (:class:`_Owner`) opens the Kalshi
WebSocket, subscribes it to the union of every replica's wanted markets (rereading the
union on each change announcement and at each heartbeat) and publishes its ticks with
its fencing number. Each acquisition is announced, so every replica raises its fence
floor at once: ticks of a paused ex-owner are dropped even before the new owner's first
tick. Losing the lease halts publishing at once and then closes that feed. When the
owner dies, another replica acquires within the lease TTL, connects and publishes;
subscribers everywhere keep their GraphQL subscriptions and see ticks resume. A fatal
feed error (a refused key) is announced too, so every replica's hub fails its
subscribers with the same message; it is forgotten after ``fatal_cooldown_s``.

Redis trouble: the link reports it; if Redis is still unavailable ``fallback_after_s``
later, the live path falls back to a replica-local feed (this process's own Kalshi
WebSocket, subscribed to this replica's markets, publishing straight to the hub). When
Redis answers again, the shared path resumes; the local feed is closed once the first
tick arrives through Redis (or after a lease TTL and a heartbeat), so subscribers see
no gap. Each transition is logged once and counted (:class:`LiveStats`).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Collection, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from graph.cluster.bus import PublisherStats, TickPublisher, TickSubscriber
from graph.cluster.channels import Channels
from graph.cluster.lease import FeedLease, announced_fence
from graph.cluster.link import RedisLink, RedisUnavailable
from graph.cluster.wanted import UnionWatcher, WantedRegistry
from graph.errors import FeedFatalError
from graph.models import TickerUpdate

logger = logging.getLogger(__name__)


class Feed(Protocol):
    """What the live path needs of a Kalshi feed (``graph.kalshi.feed.KalshiFeed``)."""

    @property
    def fatal_error(self) -> FeedFatalError | None: ...

    def set_wanted(self, tickers: Collection[str]) -> None: ...

    async def aclose(self) -> None: ...


# (on_update, on_fatal) -> a feed, not yet connected.
FeedFactory = Callable[[Callable[[TickerUpdate], None], Callable[[FeedFatalError], None]], Feed]


class LiveMode(enum.StrEnum):
    SHARED = "shared"  # ticks through Redis, from whichever replica holds the lease
    LOCAL = "local"  # Redis unavailable: this replica's own Kalshi connection


@dataclass(frozen=True, slots=True)
class LiveConfig:
    lease_ttl_s: float = 5.0
    heartbeat_s: float = 1.0
    wanted_ttl_s: float = 3.0
    fallback_after_s: float = 3.0
    fatal_cooldown_s: float = 60.0


@dataclass(slots=True)
class LiveStats:
    fallbacks: int = 0  # shared -> local transitions
    returns: int = 0  # local -> shared transitions
    fatal_announced: int = 0  # fatal feed errors announced by (or to) this replica


def replica_id() -> str:
    """Host, process and a random part: unique even when a pid is reused."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class _Owner:
    """What the lease holder runs: the feed, the publisher, the union watcher."""

    def __init__(
        self,
        link: RedisLink,
        fence: int,
        factory: FeedFactory,
        channels: Channels,
        *,
        heartbeat_s: float,
        on_fenced: Callable[[], None],
        on_fatal: Callable[[FeedFatalError], None],
        stats: PublisherStats,
    ) -> None:
        self.fence = fence
        self.publisher = TickPublisher(link, fence, on_fenced=on_fenced, stats=stats)
        self.feed = factory(self.publisher.publish, on_fatal)
        # Every read reaches the feed, changed or not: after a fatal error's cool-down the
        # feed may only try again when told what is wanted.
        self.watcher = UnionWatcher(
            link, self.feed.set_wanted, heartbeat_s=heartbeat_s, always=True
        )
        self._channels = channels
        channels.add(self.watcher.channel, self.watcher.poke)
        self._task = asyncio.get_running_loop().create_task(
            self.watcher.run(), name="feed-owner-union"
        )

    def halt(self) -> None:
        """Publish nothing more, from now on (the lease is gone)."""
        self.publisher.fenced = True

    async def aclose(self) -> None:
        self.halt()
        self._channels.remove(self.watcher.channel)
        self._task.cancel()
        await asyncio.wait([self._task])
        await self.feed.aclose()
        await self.publisher.aclose()


class SharedLive:
    def __init__(
        self,
        link: RedisLink,
        factory: FeedFactory,
        *,
        on_update: Callable[[TickerUpdate], None],
        on_fatal: Callable[[FeedFatalError], None],
        config: LiveConfig = LiveConfig(),
        replica: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._link = link
        self._factory = factory
        self._on_update = on_update
        self._on_fatal = on_fatal
        self._config = config
        self._clock = clock
        self.replica = replica or replica_id()
        self.channels = Channels(link)
        self._bus_tick = asyncio.Event()  # set by every tick that came through Redis
        self.subscriber = TickSubscriber(
            link, self.channels, self._from_bus, on_fence=self._fence_seen
        )
        self.registry = WantedRegistry(
            link, self.replica, ttl_s=config.wanted_ttl_s, heartbeat_s=config.heartbeat_s
        )
        self.lease = FeedLease(
            link,
            ttl_s=config.lease_ttl_s,
            holder=self.replica,
            on_acquired=self._acquired,
            on_lost=self._lost,
        )
        self._fatal_channel = link.key("feed", "fatal")
        self.channels.add(self.lease.channel, self._owner_announced)
        self.channels.add(self._fatal_channel, self._fatal_announced)
        link.listen(self._link_changed)
        self.owner: _Owner | None = None
        self.local: Feed | None = None
        self.mode = LiveMode.SHARED
        self.stats = LiveStats()
        self.published = PublisherStats()  # every ownership term's publisher adds to it
        self._wanted: frozenset[str] = frozenset()
        self._fatal: FeedFatalError | None = None
        self._fatal_at = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        self._grace: asyncio.Task[None] | None = None
        self._returning: asyncio.Task[None] | None = None
        self._running: list[asyncio.Task[None]] = []
        self._closed = False

    # The hub's feed control -----------------------------------------------------------

    def set_wanted(self, tickers: Collection[str]) -> None:
        wanted = frozenset(tickers)
        self._wanted = wanted
        self.subscriber.want(wanted)
        self.registry.set(wanted)
        if self.local is not None:
            self.local.set_wanted(tickers)

    @property
    def fatal_error(self) -> FeedFatalError | None:
        if self.local is not None and self.mode is LiveMode.LOCAL:
            return self.local.fatal_error
        if (
            self._fatal is not None
            and self._clock() - self._fatal_at < self._config.fatal_cooldown_s
        ):
            return self._fatal
        return None

    def _from_bus(self, update: TickerUpdate) -> None:
        self._bus_tick.set()
        self._on_update(update)

    @property
    def feed(self) -> Feed | None:
        """The Kalshi feed this process runs now: the owner's, the local one, or none."""
        if self.local is not None:
            return self.local
        return self.owner.feed if self.owner is not None else None

    # Lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the lease and heartbeat loops; Redis down at start is reported, not raised."""
        await self._link.ping()
        self._running = [
            self._spawn(self.lease.run(), "feed-lease"),
            self._spawn(self.registry.run(), "wanted-heartbeat"),
        ]

    async def aclose(self) -> None:
        """Shutdown: stop every loop, give the lease and our markets up, close the feeds."""
        self._closed = True
        tasks = [*self._running, *self._tasks]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        owner, self.owner = self.owner, None
        if owner is not None:
            # Our connection closes before the lease is free: one upstream socket at a time.
            await owner.aclose()
            await self.lease.release()
        await self.registry.remove()
        local, self.local = self.local, None
        if local is not None:
            await local.aclose()
        await self.subscriber.aclose()
        await self.channels.aclose()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # Ownership --------------------------------------------------------------------------

    def _acquired(self, fence: int) -> None:
        self.subscriber.observe(fence)
        self.owner = _Owner(
            self._link,
            fence,
            self._factory,
            self.channels,
            heartbeat_s=self._config.heartbeat_s,
            on_fenced=self._fenced,
            on_fatal=self._owner_failed,
            stats=self.published,
        )

    def _lost(self, reason: str) -> None:
        owner, self.owner = self.owner, None
        if owner is not None:
            owner.halt()
            self._spawn(owner.aclose(), "feed-owner-close")

    def _fenced(self) -> None:
        """The tick script refused our fence: a newer owner exists, whatever we think."""
        self.lease.abandon("a newer owner's fence was found")

    def _owner_announced(self, data: bytes) -> None:
        fence = announced_fence(data)
        if fence is None:
            self.lease.poke()  # released: try to take over now
        else:
            self._fence_seen(fence)
            self.subscriber.observe(fence)

    def _fence_seen(self, fence: int) -> None:
        self.lease.observe(fence)

    # Fatal feed errors ------------------------------------------------------------------

    def _owner_failed(self, exc: FeedFatalError) -> None:
        self._spawn(self._announce_fatal(exc), "feed-fatal-announce")

    async def _announce_fatal(self, exc: FeedFatalError) -> None:
        message = str(exc)
        try:
            await self._link.call(
                lambda r: r.publish(self._fatal_channel, message), "announce feed error"
            )
        except RedisUnavailable:
            self._fatal_announced(message.encode())  # at least our own subscribers hear it

    def _fatal_announced(self, data: bytes) -> None:
        self.stats.fatal_announced += 1
        self._fatal = FeedFatalError(data.decode(errors="replace"))
        self._fatal_at = self._clock()
        self._on_fatal(self._fatal)

    # Redis trouble ----------------------------------------------------------------------

    def _link_changed(self, up: bool) -> None:
        if self._closed:
            return
        if not up:
            if self._returning is not None:
                self._returning.cancel()
                self._returning = None
            if self._grace is None and self.mode is LiveMode.SHARED:
                self._grace = self._spawn(self._fall_back_later(), "live-fallback-grace")
            return
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        if self.mode is LiveMode.LOCAL and self._returning is None:
            self._returning = self._spawn(self._return_to_shared(), "live-return")

    async def _fall_back_later(self) -> None:
        try:
            await asyncio.sleep(self._config.fallback_after_s)
        finally:
            self._grace = None
        if self._link.up is not False or self.mode is LiveMode.LOCAL:
            return
        self.mode = LiveMode.LOCAL
        self.stats.fallbacks += 1
        logger.warning(
            "Live prices fall back to a replica-local Kalshi feed: Redis unavailable "
            "for %.1f s markets=%d",
            self._link.down_for,
            len(self._wanted),
        )
        self.local = self._factory(self._on_update, self._on_fatal)
        self.local.set_wanted(self._wanted)

    async def _return_to_shared(self) -> None:
        """Redis is back: write our markets, wait for the first tick through Redis (or a
        lease TTL and a heartbeat, the longest an owner takes to appear), then close the
        local feed."""
        try:
            self.registry.set(self._wanted)
            self._bus_tick.clear()
            if self._wanted:
                limit = self._config.lease_ttl_s + self._config.heartbeat_s
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(limit):
                        await self._bus_tick.wait()
        finally:
            self._returning = None
        self.mode = LiveMode.SHARED
        self.stats.returns += 1
        local, self.local = self.local, None
        logger.warning(
            "Live prices back on the shared feed through Redis markets=%d", len(self._wanted)
        )
        if local is not None:
            await local.aclose()

    def __repr__(self) -> str:
        role = f"owner fence={self.owner.fence}" if self.owner is not None else "replica"
        return f"SharedLive({self.replica}, {role}, mode={self.mode.value})"
