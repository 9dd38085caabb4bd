"""One Kalshi read budget for every replica: a token bucket in Redis (adapter + pure core).

How it works
------------
Kalshi meters reads with a token bucket per key (Basic tier: 20 reads/s, see
``reference/kalshi-api.md`` §5), shared by every process that uses the key. So is
ours: one Redis hash holds the bucket (tokens and when it was last filled) and one
script takes a token, on Redis's clock, for any replica. The bucket refills at
``rate`` per second up to ``capacity`` (one second's worth by default, below Kalshi's
two, so our bursts never reach its limit).

Taking works by reservation: a request that finds no token takes one anyway, driving
the count below zero, and is told how long until its token exists; it waits that long
and goes. Waiters are thus served in order, one Redis call each. When the wait would be
longer than ``max_wait_s`` nothing is reserved and the request fails at once with
``RATE_LIMITED`` (waiting the bound first would only delay the same answer).
:class:`TokenBucket` is the same arithmetic in Python: the fallback while Redis is
unavailable (each replica then limits itself alone) and the reference the script is
tested against. :class:`RateLimitedTransport` puts a limiter in front of an httpx
transport, so every read - retries included - pays its token.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from graph.cluster.link import RedisLink, RedisUnavailable
from graph.errors import RateLimited

Sleep = Callable[[float], Awaitable[None]]

# KEYS: bucket. ARGV: rate per s, capacity, max wait ms. The wait in µs, or -1 (refused).
_TAKE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
if now > at then tokens = math.min(capacity, tokens + (now - at) * rate / 1000000) end
local wait = 0
if tokens < 1 then wait = math.ceil((1 - tokens) * 1000000 / rate) end
if wait > tonumber(ARGV[3]) * 1000 then return -1 end
tokens = tokens - 1
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(math.max(now, at)))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity * 1000 / rate) + 1000)
return wait
"""


class TokenBucket:
    """The script's arithmetic, in process (pure: time is passed in, in seconds)."""

    def __init__(self, rate: float, capacity: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = rate
        self.capacity = capacity if capacity is not None else max(1.0, rate)
        self._tokens = self.capacity
        self._at: float | None = None

    def take(self, now: float, max_wait_s: float) -> float | None:
        """Reserve one token: seconds to wait before using it, or None (refused)."""
        at = now if self._at is None else self._at
        tokens = self._tokens
        if now > at:
            tokens = min(self.capacity, tokens + (now - at) * self.rate)
        wait = (1 - tokens) / self.rate if tokens < 1 else 0.0
        if wait > max_wait_s:
            return None
        self._tokens = tokens - 1
        self._at = max(now, at)
        return wait


@dataclass(slots=True)
class LimiterStats:
    taken: int = 0  # requests let through
    waited: int = 0  # of those, how many had to wait
    wait_s: float = 0.0  # total time waited
    refused: int = 0  # requests failed with RATE_LIMITED
    local: int = 0  # tokens taken from the in-process bucket (Redis unavailable)


class ReadLimiter:
    """``await limiter.acquire()`` before each Kalshi read."""

    def __init__(
        self,
        link: RedisLink | None,
        *,
        rate: float,
        capacity: float | None = None,
        max_wait_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._link = link
        self._local = TokenBucket(rate, capacity)
        self.rate = rate
        self.capacity = self._local.capacity
        self.max_wait_s = max_wait_s
        self._clock = clock
        self._sleep = sleep
        self._script = link.client.register_script(_TAKE) if link is not None else None
        self._key = link.key("ratelimit", "kalshi-read") if link is not None else ""
        self.stats = LimiterStats()

    async def acquire(self) -> None:
        """Wait for a read token; raises ``RateLimited`` when the wait would exceed the bound."""
        wait = await self._take()
        if wait is None:
            self.stats.refused += 1
            raise RateLimited(
                f"Kalshi read rate limit: more than {self.rate:g} reads/s are queued "
                f"(KALSHI_READ_RATE); a token was more than {self.max_wait_s:g} s away"
            )
        self.stats.taken += 1
        if wait > 0:
            self.stats.waited += 1
            self.stats.wait_s += wait
            await self._sleep(wait)

    async def _take(self) -> float | None:
        if self._link is not None and self._script is not None:
            script, key = self._script, self._key
            try:
                micros = await self._link.call(
                    lambda r: script(
                        keys=[key],
                        args=[self.rate, self.capacity, int(self.max_wait_s * 1000)],
                        client=r,
                    ),
                    "take a read token",
                )
            except RedisUnavailable:
                pass
            else:
                return None if int(micros) < 0 else int(micros) / 1_000_000
        self.stats.local += 1
        return self._local.take(self._clock(), self.max_wait_s)


class RateLimitedTransport(httpx.AsyncBaseTransport):
    """Takes a read token before every GET (or HEAD) that goes through ``inner``."""

    def __init__(self, inner: httpx.AsyncBaseTransport, limiter: ReadLimiter) -> None:
        self._inner = inner
        self._limiter = limiter

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method in ("GET", "HEAD"):
            await self._limiter.acquire()
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
