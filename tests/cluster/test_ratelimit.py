from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from graph.cluster.link import RedisLink
from graph.cluster.local import RedisServer
from graph.cluster.ratelimit import RateLimitedTransport, ReadLimiter, TokenBucket
from graph.errors import RateLimited


class Sleeps:
    """Records the waits a limiter asks for instead of sleeping them."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def test_bucket_allows_a_burst_then_paces() -> None:
    """A full bucket lets `capacity` reads through at once; the next waits 1/rate each."""
    bucket = TokenBucket(rate=20)
    assert bucket.capacity == 20
    assert [bucket.take(100.0, 1.0) for _ in range(20)] == [0.0] * 20
    assert bucket.take(100.0, 1.0) == pytest.approx(0.05)
    assert bucket.take(100.0, 1.0) == pytest.approx(0.10)


def test_bucket_refuses_beyond_the_bound_without_reserving() -> None:
    """A wait longer than max_wait is refused, and the refusal costs no token."""
    bucket = TokenBucket(rate=10, capacity=1)
    assert bucket.take(0.0, 0.15) == 0.0
    assert bucket.take(0.0, 0.15) == pytest.approx(0.1)
    assert bucket.take(0.0, 0.15) is None
    assert bucket.take(0.0, 0.25) == pytest.approx(0.2)


def test_bucket_refills_up_to_capacity() -> None:
    """Idle time refills the bucket, but never above its capacity."""
    bucket = TokenBucket(rate=10, capacity=2)
    bucket.take(0.0, 1)
    bucket.take(0.0, 1)
    assert bucket.take(0.1, 1) == 0.0  # one token back after 0.1 s
    assert bucket.take(1000.0, 1) == 0.0
    assert bucket.take(1000.0, 1) == 0.0
    assert bucket.take(1000.0, 1) == pytest.approx(0.1)


def test_bucket_rate_must_be_positive() -> None:
    """A zero rate would never refill; it is refused."""
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(0)


@pytest.mark.e2e
async def test_two_replicas_share_one_budget(link: RedisLink, other_link: RedisLink) -> None:
    """The burst of one bucket is spent across replicas: after `capacity` reads on either,
    the next on the other waits like it would on the first."""
    sleeps = Sleeps()
    # A slow refill (2/s), so the time the calls themselves take hardly matters.
    a = ReadLimiter(link, rate=2, capacity=20, max_wait_s=5, sleep=sleeps)
    b = ReadLimiter(other_link, rate=2, capacity=20, max_wait_s=5, sleep=sleeps)
    for limiter in (a, b) * 10:
        await limiter.acquire()
    assert sleeps.waits == []
    await b.acquire()
    await a.acquire()
    assert sleeps.waits[0] == pytest.approx(0.5, abs=0.1)
    assert sleeps.waits[1] == pytest.approx(1.0, abs=0.1)
    assert a.stats.taken + b.stats.taken == 22 and a.stats.local == b.stats.local == 0


@pytest.mark.e2e
async def test_over_the_rate_fails_with_rate_limited(link: RedisLink) -> None:
    """A read whose token is further away than max_wait fails at once with a clear
    RATE_LIMITED error naming the setting."""
    limiter = ReadLimiter(link, rate=5, capacity=1, max_wait_s=0.3, sleep=Sleeps())
    await limiter.acquire()
    await limiter.acquire()  # waits 0.2 s
    with pytest.raises(RateLimited, match="KALSHI_READ_RATE") as info:
        await limiter.acquire()
    assert info.value.code == "RATE_LIMITED"
    assert limiter.stats.refused == 1 and limiter.stats.waited == 1


@pytest.mark.e2e
async def test_the_rate_holds_in_real_time(link: RedisLink, other_link: RedisLink) -> None:
    """Two replicas reading as fast as they can stay within capacity + rate x elapsed."""
    rate = 50.0
    a = ReadLimiter(link, rate=rate, capacity=5, max_wait_s=5)
    b = ReadLimiter(other_link, rate=rate, capacity=5, max_wait_s=5)
    started = time.monotonic()

    async def reader(limiter: ReadLimiter) -> None:
        for _ in range(20):
            await limiter.acquire()

    await asyncio.gather(reader(a), reader(b))
    elapsed = time.monotonic() - started
    assert elapsed >= (40 - 5) / rate - 0.02


@pytest.mark.e2e
async def test_redis_down_falls_back_to_a_local_bucket(
    link: RedisLink, redis_server: RedisServer
) -> None:
    """Without Redis each replica limits itself with the same rate and burst."""
    redis_server.stop()
    sleeps = Sleeps()
    limiter = ReadLimiter(link, rate=20, capacity=2, sleep=sleeps, clock=lambda: 0.0)
    for _ in range(3):
        await limiter.acquire()
    assert limiter.stats.local == 3 and sleeps.waits == [pytest.approx(0.05, abs=0.01)]


async def test_no_redis_configured_limits_locally() -> None:
    """A limiter without a link is the in-process bucket."""
    limiter = ReadLimiter(None, rate=1, capacity=1, max_wait_s=0.5, sleep=Sleeps())
    await limiter.acquire()
    with pytest.raises(RateLimited):
        await limiter.acquire()


async def test_transport_takes_a_token_per_read() -> None:
    """Every GET through the transport takes a token; other methods do not."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        return httpx.Response(200, json={})

    limiter = ReadLimiter(None, rate=1, capacity=1, max_wait_s=0, sleep=Sleeps())
    transport = RateLimitedTransport(httpx.MockTransport(handler), limiter)
    async with httpx.AsyncClient(transport=transport) as client:
        assert (await client.get("http://kalshi/markets")).status_code == 200
        assert (await client.post("http://kalshi/orders")).status_code == 200
        with pytest.raises(RateLimited):
            await client.get("http://kalshi/markets")
    assert seen == ["GET", "POST"] and limiter.stats.taken == 1
