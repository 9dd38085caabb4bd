from __future__ import annotations

import asyncio
from datetime import date

import pytest

from graph.cluster.cache import SharedCache, stable_key
from graph.cluster.codec import JsonCodec
from graph.cluster.link import RedisLink
from graph.cluster.local import RedisServer
from graph.models import League
from tests.e2e import eventually

pytestmark = pytest.mark.e2e  # a real redis-server

CODEC: JsonCodec[list[int]] = JsonCodec(list[int])


class Upstream:
    """Counts loads; each waits for ``gate`` so tests decide when a load finishes."""

    def __init__(self) -> None:
        self.loads = 0
        self.gate = asyncio.Event()
        self.fail: Exception | None = None

    async def load(self) -> list[int]:
        self.loads += 1
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return [self.loads]


def cache(
    link: RedisLink, *, lock_s: float = 5.0, wait_s: float | None = None
) -> SharedCache[str, list[int]]:
    return SharedCache(link, "test", CODEC, lock_s=lock_s, wait_s=wait_s)


async def test_concurrent_misses_on_two_replicas_load_once(
    link: RedisLink, other_link: RedisLink
) -> None:
    """Fifty lookups on each of two replicas, all at once: one upstream load, one value."""
    upstream = Upstream()
    a, b = cache(link), cache(other_link)
    lookups = [c.get("k", upstream.load, 5) for c in (a, b) for _ in range(50)]
    tasks = [asyncio.ensure_future(x) for x in lookups]
    await eventually(lambda: upstream.loads == 1 and b.shared.waits + a.shared.waits == 1)
    upstream.gate.set()
    assert await asyncio.gather(*tasks) == [[1]] * 100
    assert upstream.loads == 1
    assert a.shared.loads + b.shared.loads == 1 and a.shared.hits + b.shared.hits == 1
    assert a.stats.joined + b.stats.joined == 98  # the in-process single-flight


async def test_a_value_lives_one_ttl_whichever_replica_loaded_it(
    link: RedisLink, other_link: RedisLink
) -> None:
    """A replica reading a stored value keeps it in process only for what is left of its
    TTL, never a fresh full TTL; after that both replicas see a new load."""
    upstream = Upstream()
    upstream.gate.set()
    a, b = cache(link), cache(other_link)
    assert await a.get("k", upstream.load, 0.4) == [1]
    remaining = await link.client.pttl(link.key("cache", "test", "k"))
    assert 0 < remaining <= 400
    assert await b.get("k", upstream.load, 0.4) == [1]
    assert await b.get("k", upstream.load, 0.4) == [1]  # in process now
    assert b.stats.hits == 1 and len(b) == 1
    await eventually(lambda: b._local.peek("k") is None, timeout=1)
    assert await b.get("k", upstream.load, 0.4) == [2]


async def test_a_failed_load_frees_the_lock_for_a_waiting_replica(
    link: RedisLink, other_link: RedisLink
) -> None:
    """The loader's failure reaches its callers, is not stored, and the waiting replica
    takes the lock at once and loads itself."""
    first, second = Upstream(), Upstream()
    a, b = cache(link, lock_s=30), cache(other_link, lock_s=30)
    failing = asyncio.ensure_future(a.get("k", first.load, 5))
    await eventually(lambda: first.loads == 1)
    waiting = asyncio.ensure_future(b.get("k", second.load, 5))
    await eventually(lambda: b.shared.waits == 1)
    first.fail = RuntimeError("upstream down")
    first.gate.set()
    with pytest.raises(RuntimeError, match="upstream down"):
        await failing
    await eventually(lambda: second.loads == 1, timeout=2)
    second.gate.set()
    assert await waiting == [1]
    assert a.stats.failures == 1


async def test_redis_down_loads_directly_and_caches_in_process(
    link: RedisLink, redis_server: RedisServer
) -> None:
    """Without Redis a lookup still answers (a fallback is counted) and the in-process
    cache keeps the value for the full TTL."""
    redis_server.stop()
    upstream = Upstream()
    upstream.gate.set()
    c = cache(link)
    assert await c.get("k", upstream.load, 5) == [1]
    assert await c.get("k", upstream.load, 5) == [1]
    assert upstream.loads == 1 and c.shared.fallbacks == 1 and link.up is False


async def test_a_store_that_fails_still_answers(link: RedisLink, redis_server: RedisServer) -> None:
    """Redis vanishing during the load: the loaded value is returned all the same."""
    upstream = Upstream()
    c = cache(link)
    task = asyncio.ensure_future(c.get("k", upstream.load, 5))
    await eventually(lambda: upstream.loads == 1)
    redis_server.stop()
    upstream.gate.set()
    assert await task == [1]


async def test_an_unreadable_stored_value_is_replaced(link: RedisLink) -> None:
    """A value another version wrote (does not decode) counts as missing and is overwritten."""
    await link.client.set(link.key("cache", "test", "k"), '{"other": "shape"}', px=5000)
    upstream = Upstream()
    upstream.gate.set()
    assert await cache(link).get("k", upstream.load, 5) == [1]
    assert await link.client.get(link.key("cache", "test", "k")) == b"[1]"


async def test_waiting_too_long_loads_without_the_lock(link: RedisLink) -> None:
    """A lock held past wait_s (a stuck loader) no longer blocks: the waiter loads itself."""
    await link.client.set(link.key("cache", "test", "lock:k"), "stuck", px=60_000)
    upstream = Upstream()
    upstream.gate.set()
    c = cache(link, wait_s=0.1)
    assert await c.get("k", upstream.load, 5) == [1]
    assert c.shared.waits == 1 and c.shared.fallbacks == 1


async def test_zero_ttl_caches_nothing(link: RedisLink) -> None:
    """ttl 0 means load every time, here and in Redis."""
    upstream = Upstream()
    upstream.gate.set()
    c = cache(link)
    assert await c.get("k", upstream.load, 0) == [1]
    assert await c.get("k", upstream.load, 0) == [2]
    assert await link.client.keys("*") == []


async def test_clear_and_close_forget_the_local_values(link: RedisLink) -> None:
    """clear() and aclose() drop in-process values; Redis keeps its copy."""
    upstream = Upstream()
    upstream.gate.set()
    c = cache(link)
    await c.get("k", upstream.load, 5)
    c.clear()
    assert len(c) == 0
    assert await c.get("k", upstream.load, 5) == [1] and c.shared.hits == 1
    await c.aclose()
    assert len(c) == 0


def test_stable_keys_are_the_same_in_every_process() -> None:
    """Keys render without object ids or hash order; long ones are hashed."""
    assert stable_key((League.NBA, date(2026, 11, 22))) == "(NBA,2026-11-22)"
    assert stable_key(frozenset({"B", "A"})) == "{A,B}"
    assert stable_key(7) == "7"
    long = stable_key(frozenset(f"KXNBAGAME-26NOV22-T{i}" for i in range(50)))
    assert long.startswith("sha256:") and len(long) == 71
    with pytest.raises(TypeError, match="float"):
        stable_key(1.5)
