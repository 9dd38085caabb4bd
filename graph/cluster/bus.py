"""The tick bus: the feed owner's ticks to every replica through Redis pub/sub (adapter).

How it works
------------
Owner side, :class:`TickPublisher`: ``publish(update)`` is synchronous (the feed calls
it for every frame); it keeps at most one pending update per market (a newer one
replaces it) and wakes a task that sends the pending updates in batches to one script.
The script refuses the whole batch when the batch's fencing number is below the
current one (a newer owner exists: ``on_fenced`` is called and the publisher stops);
otherwise, per update, it stores the message as the market's latest value (with a
long expiry) and publishes it on the market's channel. If Redis fails, the pending
updates stay (still one per market) and the task tries again shortly.

Replica side, :class:`TickSubscriber`: ``want(tickers)`` subscribes exactly the
channels of those markets (through :class:`~graph.cluster.channels.Channels`). Each
message carries the owner's fencing number; one below the highest seen is dropped, so
a paused ex-owner can never overwrite the new one's prices; a higher one raises the
floor (``on_fence``). ``latest(tickers)`` reads the stored values, for a new
subscriber's first prices, and after a pub/sub reconnect the subscriber delivers the
stored values newer than what it delivered last, so nothing published during the gap
is missing for long.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from graph.cluster.channels import Channels
from graph.cluster.codec import CodecError, decode_tick, encode_tick
from graph.cluster.link import RedisLink, RedisUnavailable
from graph.models import TickerUpdate

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

LATEST_TTL_S = 24 * 3600.0
BATCH = 256

# KEYS: fence counter, latest key per update. ARGV: fence, channel prefix, ttl ms, then
# (ticker, payload) per update. 1 if published, 0 if a newer owner exists.
_PUBLISH = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) < current then return 0 end
for i = 2, #KEYS do
  local payload = ARGV[2 * i + 1]
  redis.call('SET', KEYS[i], payload, 'PX', ARGV[3])
  redis.call('PUBLISH', ARGV[2] .. ARGV[2 * i], payload)
end
return 1
"""


def tick_channel(link: RedisLink, ticker: str) -> str:
    return link.key("tick", ticker)


def latest_key(link: RedisLink, ticker: str) -> str:
    return link.key("latest", ticker)


@dataclass(slots=True)
class PublisherStats:
    published: int = 0  # updates Redis accepted
    conflated: int = 0  # pending updates replaced by a newer one before they were sent
    retries: int = 0  # batches that failed on Redis trouble and were tried again


class TickPublisher:
    def __init__(
        self,
        link: RedisLink,
        fence: int,
        *,
        on_fenced: Callable[[], None],
        retry_s: float = 0.1,
        latest_ttl_s: float = LATEST_TTL_S,
        stats: PublisherStats | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._link = link
        self.fence = fence
        self._on_fenced = on_fenced
        self._retry_s = retry_s
        self._ttl_ms = int(latest_ttl_s * 1000)
        self._sleep = sleep
        self._script = link.client.register_script(_PUBLISH)
        self._fence_key = link.key("feed", "fence")
        self._pending: dict[str, TickerUpdate] = {}
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.fenced = False
        self.stats = stats if stats is not None else PublisherStats()  # may outlive us

    def publish(self, update: TickerUpdate) -> None:
        if self.fenced:
            return
        if update.market_ticker in self._pending:
            self.stats.conflated += 1
        self._pending[update.market_ticker] = update
        self._wakeup.set()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="tick-publisher")

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def _run(self) -> None:
        while not self.fenced:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending and not self.fenced:
                batch = [self._pending.pop(t) for t in list(self._pending)[:BATCH]]
                if not await self._send(batch):
                    for update in batch:  # keep them, unless a newer one arrived meanwhile
                        self._pending.setdefault(update.market_ticker, update)
                    self.stats.retries += 1
                    await self._sleep(self._retry_s)

    async def _send(self, batch: list[TickerUpdate]) -> bool:
        keys = [self._fence_key] + [latest_key(self._link, u.market_ticker) for u in batch]
        args: list[str | int] = [self.fence, self._link.key("tick", ""), self._ttl_ms]
        for update in batch:
            args += [update.market_ticker, encode_tick(self.fence, update)]
        try:
            accepted = await self._link.call(
                lambda r: self._script(keys=keys, args=args, client=r), "publish ticks"
            )
        except RedisUnavailable:
            return False
        if not accepted:
            self.fenced = True
            self._pending.clear()
            logger.warning("Ticks refused: a newer feed owner exists fence=%d", self.fence)
            self._on_fenced()
            return True
        self.stats.published += len(batch)
        return True

    async def aclose(self) -> None:
        """Stop sending (pending updates are dropped: the next owner publishes fresh ones)."""
        self.fenced = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])


@dataclass(slots=True)
class SubscriberStats:
    received: int = 0  # ticks handed on
    stale: int = 0  # ticks dropped: from an owner older than the newest seen
    malformed: int = 0  # messages that did not decode
    refreshed: int = 0  # stored values handed on after a pub/sub reconnect


class TickSubscriber:
    def __init__(
        self,
        link: RedisLink,
        channels: Channels,
        on_update: Callable[[TickerUpdate], None],
        *,
        on_fence: Callable[[int], None] | None = None,
    ) -> None:
        self._link = link
        self._channels = channels
        self._on_update = on_update
        self._on_fence = on_fence
        self._wanted: frozenset[str] = frozenset()
        self._last_ts: dict[str, int] = {}  # per wanted market: the newest ts handed on
        self._refresh: asyncio.Task[None] | None = None
        self.floor = 0
        self.stats = SubscriberStats()
        channels.on_resubscribed(self._start_refresh)

    @property
    def wanted(self) -> frozenset[str]:
        return self._wanted

    def want(self, tickers: Iterable[str]) -> None:
        """Subscribe to exactly the channels of ``tickers``."""
        wanted = frozenset(tickers)
        for ticker in self._wanted - wanted:
            self._channels.remove(tick_channel(self._link, ticker))
            self._last_ts.pop(ticker, None)
        for ticker in wanted - self._wanted:
            self._channels.add(tick_channel(self._link, ticker), self._receive)
        self._wanted = wanted

    def observe(self, fence: int) -> None:
        """Raise the floor: ticks below ``fence`` are dropped from now on."""
        if fence > self.floor:
            self.floor = fence
            if self._on_fence is not None:
                self._on_fence(fence)

    def _receive(self, data: bytes) -> None:
        try:
            fence, update = decode_tick(data)
        except CodecError as exc:
            self.stats.malformed += 1
            logger.warning("Malformed tick on the Redis bus error=%s", exc)
            return
        if fence < self.floor:
            self.stats.stale += 1
            return
        self.observe(fence)
        self._hand_on(update)

    def _hand_on(self, update: TickerUpdate) -> None:
        ticker = update.market_ticker
        if ticker not in self._wanted:
            return  # a message still in flight when the channel was dropped
        self._last_ts[ticker] = max(update.ts_ms, self._last_ts.get(ticker, update.ts_ms))
        self.stats.received += 1
        self._on_update(update)

    async def latest(self, tickers: Iterable[str]) -> list[TickerUpdate]:
        """The stored latest update of each of ``tickers`` that has one (Redis trouble: [])."""
        names = list(dict.fromkeys(tickers))
        if not names:
            return []
        keys = [latest_key(self._link, t) for t in names]
        try:
            values = await self._link.call(lambda r: r.mget(keys), "read latest ticks")
        except RedisUnavailable:
            return []
        found: list[TickerUpdate] = []
        for value in values:
            if value is None:
                continue
            try:
                fence, update = decode_tick(value)
            except CodecError:
                self.stats.malformed += 1
                continue
            if fence >= self.floor:
                found.append(update)
        return found

    def _start_refresh(self) -> None:
        if self._refresh is None or self._refresh.done():
            self._refresh = asyncio.get_running_loop().create_task(
                self.refresh(), name="tick-refresh"
            )

    async def refresh(self) -> None:
        """Hand on stored values newer than what was handed on (after a gap)."""
        for update in await self.latest(self._wanted):
            if update.ts_ms > self._last_ts.get(update.market_ticker, -1):
                self.stats.refreshed += 1
                self._hand_on(update)

    async def aclose(self) -> None:
        task, self._refresh = self._refresh, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])
