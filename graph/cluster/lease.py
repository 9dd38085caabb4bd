"""The feed lease: which replica holds the Kalshi WebSocket (adapter).

How it works
------------
One key holds the lease: ``SET key token NX PX ttl`` run by a script that, when the set
succeeds, also takes the next fencing number (``INCR``) and stores it with the token.
The fencing number orders owners: every tick the owner publishes carries it, the tick
script refuses numbers below the current one and every replica drops ticks below the
highest number it has seen (:mod:`graph.cluster.bus`). Redis without persistence
restarts with the counter at 0, so the script never hands out a number at or below
``floor`` (the highest one this replica has seen).

:meth:`FeedLease.run` loops: while not holding, it tries to acquire every ``retry_s``, or
right when the holder's lease runs out if that is sooner (a failed try learns the time
left), and at once when :meth:`poke` says the holder released it; while holding, it renews
every ``renew_s`` (a third of the TTL by default) with a compare-and-extend script.
The lease is lost when a renewal finds another token, or when no renewal succeeded
before the TTL ran out by our own clock - counted from when the last successful renewal
was *sent*, less a margin (a fifth of the TTL, at most 0.5 s), so we stop the feed before
Redis forgets us and the next owner connects: one upstream connection at a time. Losing
it calls ``on_lost`` at once, before anything else is awaited; acquiring calls
``on_acquired(fence)``.
``release()`` (shutdown) deletes the key if it is still ours and announces it, so
another replica takes over without waiting for the TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from graph.cluster.link import RedisLink, RedisUnavailable

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

# KEYS: lease, fence counter. ARGV: token, ttl ms, floor, channel. The new fence, or minus the
# milliseconds the current holder's lease has left.
# The new fence is announced on the channel, so replicas fence the old owner out at once.
_ACQUIRE = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return -math.max(redis.call('PTTL', KEYS[1]), 0)
end
local fence = redis.call('INCR', KEYS[2])
local floor = tonumber(ARGV[3])
if fence <= floor then
  fence = floor + 1
  redis.call('SET', KEYS[2], fence)
end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. fence, 'PX', ARGV[2])
redis.call('PUBLISH', ARGV[4], fence)
return fence
"""
# KEYS: lease. ARGV: token + ' ' + fence, ttl ms. 1 if extended, 0 if not ours.
_RENEW = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""
# KEYS: lease. ARGV: token + ' ' + fence, channel. 1 if released.
_RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], 'released')
return 1
"""


@dataclass(slots=True)
class LeaseStats:
    acquired: int = 0
    lost: int = 0
    released: int = 0


class FeedLease:
    def __init__(
        self,
        link: RedisLink,
        *,
        ttl_s: float,
        on_acquired: Callable[[int], None],
        on_lost: Callable[[str], None],
        holder: str | None = None,
        renew_s: float | None = None,
        retry_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be > 0")
        self._link = link
        self._key = link.key("feed", "lease")
        self._fence_key = link.key("feed", "fence")
        self.channel = link.key("feed", "owner")
        self.holder = holder or uuid.uuid4().hex[:12]
        self._token = f"{self.holder}.{uuid.uuid4().hex[:8]}"
        self._ttl_s = ttl_s
        self._renew_s = renew_s if renew_s is not None else ttl_s / 3
        self._retry_s = retry_s if retry_s is not None else min(ttl_s / 10, 0.25)
        self._expires_in = 0.0  # the holder's remaining lease at our last try (seconds)
        self._on_acquired = on_acquired
        self._on_lost = on_lost
        self._clock = clock
        self._sleep = sleep
        self._acquire = link.client.register_script(_ACQUIRE)
        self._renew = link.client.register_script(_RENEW)
        self._release = link.client.register_script(_RELEASE)
        self._poked = asyncio.Event()
        self.fence: int | None = None  # while held
        self.floor = 0  # the highest fencing number this replica knows of
        self.valid_until = 0.0  # by ``clock``, the margin taken off; meaningful while held
        self._margin_s = min(ttl_s / 5, 0.5)
        self.stats = LeaseStats()

    @property
    def held(self) -> bool:
        return self.fence is not None

    @property
    def _value(self) -> str:
        return f"{self._token} {self.fence}"

    def observe(self, fence: int) -> None:
        """Another owner's fencing number was seen (a tick or an announcement)."""
        self.floor = max(self.floor, fence)

    def poke(self) -> None:
        """Try to acquire now (the holder announced a release)."""
        self._poked.set()

    async def run(self) -> None:
        while True:
            if self.fence is None:
                await self.try_acquire()
                if self.fence is None:
                    self._poked.clear()
                    # Try again when the holder's lease runs out, if that is sooner.
                    wait = min(self._retry_s, self._expires_in + 0.002)
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(wait):
                            await self._poked.wait()
                continue
            await self._sleep(max(0.0, min(self._renew_s, self.valid_until - self._clock())))
            await self.renew()

    async def try_acquire(self) -> bool:
        sent = self._clock()
        try:
            fence = await self._link.call(
                lambda r: self._acquire(
                    keys=[self._key, self._fence_key],
                    args=[self._token, int(self._ttl_s * 1000), self.floor, self.channel],
                    client=r,
                ),
                "acquire feed lease",
            )
        except RedisUnavailable:
            self._expires_in = self._retry_s
            return False
        if int(fence) <= 0:
            left_s = -int(fence) / 1000
            self._expires_in = left_s if left_s > 0 else self._retry_s
            return False
        self.fence = int(fence)
        self.floor = max(self.floor, self.fence)
        self.valid_until = sent + self._ttl_s - self._margin_s
        self.stats.acquired += 1
        logger.info("Acquired the feed lease holder=%s fence=%d", self.holder, self.fence)
        self._on_acquired(self.fence)
        return True

    async def renew(self) -> bool:
        """Extend the lease; False (and ``on_lost`` called) when it is gone."""
        if self.fence is None:
            return False
        while True:
            sent = self._clock()
            remaining = self.valid_until - sent
            if remaining <= 0:
                self._lose("no renewal reached Redis before the lease ran out")
                return False
            try:
                async with asyncio.timeout(remaining):
                    ours = await self._link.call(
                        lambda r: self._renew(
                            keys=[self._key], args=[self._value, int(self._ttl_s * 1000)], client=r
                        ),
                        "renew feed lease",
                    )
            except (RedisUnavailable, TimeoutError):
                await self._sleep(min(self._retry_s, max(0.0, self.valid_until - self._clock())))
                continue
            if not ours:
                self._lose("another replica holds it")
                return False
            self.valid_until = sent + self._ttl_s - self._margin_s
            return True

    def abandon(self, reason: str) -> None:
        """Stop holding now without asking Redis (a newer owner's fence was seen)."""
        if self.fence is not None:
            self._lose(reason)

    def _lose(self, reason: str) -> None:
        fence, self.fence = self.fence, None
        self.stats.lost += 1
        logger.warning(
            "Lost the feed lease holder=%s fence=%s reason=%s", self.holder, fence, reason
        )
        self._on_lost(reason)

    async def release(self) -> None:
        """Give the lease up if it is still ours (shutdown); errors are logged, not raised."""
        if self.fence is None:
            return
        value, self.fence = self._value, None
        self.stats.released += 1
        try:
            await self._link.call(
                lambda r: self._release(keys=[self._key], args=[value, self.channel], client=r),
                "release feed lease",
            )
        except RedisUnavailable:
            return  # it runs out by itself
        logger.info("Released the feed lease holder=%s", self.holder)


def announced_fence(data: bytes) -> int | None:
    """The fence of an owner announcement on the lease channel; None for a release."""
    try:
        return int(data)
    except ValueError:
        return None
