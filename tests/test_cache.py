from __future__ import annotations

import asyncio

import pytest

from graph.cache import TTLCache

TIMEOUT_S = 5.0


class Clock:
    """A settable monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Loader:
    """A load function that counts calls and can be held at a gate."""

    def __init__(self, value: str = "v", *, error: Exception | None = None) -> None:
        self.value = value
        self.error = error
        self.calls = 0
        self.started = asyncio.Event()
        self.gate = asyncio.Event()
        self.cancelled = False

    def open(self) -> Loader:
        self.gate.set()
        return self

    async def __call__(self) -> str:
        self.calls += 1
        self.started.set()
        try:
            await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        if self.error is not None:
            raise self.error
        return f"{self.value}{self.calls}"


async def _all_waiting(
    cache: TTLCache[str, str], key: str, load: Loader, n: int
) -> list[asyncio.Task[str]]:
    """Start n get() calls and return once every one of them has registered with the cache."""
    arrived = 0
    all_in = asyncio.Event()

    async def one() -> str:
        nonlocal arrived
        arrived += 1
        if arrived == n:
            all_in.set()
        # get() registers (starts or joins the load) before its first await.
        return await cache.get(key, load, ttl_s=60.0)

    tasks = [asyncio.create_task(one()) for _ in range(n)]
    async with asyncio.timeout(TIMEOUT_S):
        await all_in.wait()
    return tasks


async def test_concurrent_gets_share_one_load() -> None:
    """50 concurrent get() calls of one key run the load exactly once and all get its value."""
    cache: TTLCache[str, str] = TTLCache()
    load = Loader()
    tasks = await _all_waiting(cache, "k", load, 50)
    load.gate.set()
    async with asyncio.timeout(TIMEOUT_S):
        results = await asyncio.gather(*tasks)
    assert load.calls == 1
    assert results == ["v1"] * 50
    assert (cache.stats.loads, cache.stats.joined) == (1, 49)


async def test_different_keys_load_separately() -> None:
    """Single-flight is per key: two keys load twice."""
    cache: TTLCache[str, str] = TTLCache()
    a, b = Loader("a").open(), Loader("b").open()
    assert await cache.get("a", a, ttl_s=60.0) == "a1"
    assert await cache.get("b", b, ttl_s=60.0) == "b1"
    assert (a.calls, b.calls) == (1, 1)


async def test_value_fresh_within_ttl_and_reloaded_after() -> None:
    """A value is served from cache until its TTL passes, then loaded again."""
    clock = Clock()
    cache: TTLCache[str, str] = TTLCache(clock=clock)
    load = Loader().open()
    assert await cache.get("k", load, ttl_s=10.0) == "v1"
    clock.now += 9.999
    assert await cache.get("k", load, ttl_s=10.0) == "v1"
    assert cache.peek("k") == "v1"
    assert cache.stats.hits == 1
    clock.now += 0.001
    assert cache.peek("k") is None
    assert await cache.get("k", load, ttl_s=10.0) == "v2"
    assert load.calls == 2


async def test_zero_ttl_is_not_stored() -> None:
    """ttl_s <= 0 shares an in-flight load but never stores the value."""
    cache: TTLCache[str, str] = TTLCache()
    load = Loader().open()
    assert await cache.get("k", load, ttl_s=0.0) == "v1"
    assert await cache.get("k", load, ttl_s=0.0) == "v2"
    assert len(cache) == 0


async def test_invalidate_forces_reload() -> None:
    """invalidate() drops a fresh value so the next get() loads."""
    cache: TTLCache[str, str] = TTLCache()
    load = Loader().open()
    await cache.get("k", load, ttl_s=60.0)
    cache.invalidate("k")
    assert await cache.get("k", load, ttl_s=60.0) == "v2"


async def test_failed_load_reaches_every_waiter_and_is_not_cached() -> None:
    """All callers joined on a failing load get its exception; the next get() loads again."""
    cache: TTLCache[str, str] = TTLCache()
    boom = RuntimeError("upstream down")
    load = Loader(error=boom)
    tasks = await _all_waiting(cache, "k", load, 3)
    load.gate.set()
    async with asyncio.timeout(TIMEOUT_S):
        results = await asyncio.gather(*tasks, return_exceptions=True)
    assert results == [boom, boom, boom]
    assert load.calls == 1
    assert cache.stats.failures == 1
    assert len(cache) == 0
    load.error = None
    assert await cache.get("k", load, ttl_s=60.0) == "v2"
    assert load.calls == 2


async def test_cancelled_waiter_does_not_cancel_the_load() -> None:
    """Cancelling one caller leaves the shared load running for the others (and caches it)."""
    cache: TTLCache[str, str] = TTLCache()
    load = Loader()
    first, second = await _all_waiting(cache, "k", load, 2)
    async with asyncio.timeout(TIMEOUT_S):
        await load.started.wait()
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert not load.cancelled
    load.gate.set()
    async with asyncio.timeout(TIMEOUT_S):
        assert await second == "v1"
    assert cache.peek("k") == "v1"
    assert load.calls == 1


async def test_load_completes_even_if_every_waiter_gave_up() -> None:
    """With all callers cancelled, the load still finishes and its value is cached."""
    cache: TTLCache[str, str] = TTLCache()
    load = Loader()
    (only,) = await _all_waiting(cache, "k", load, 1)
    async with asyncio.timeout(TIMEOUT_S):
        await load.started.wait()
    only.cancel()
    with pytest.raises(asyncio.CancelledError):
        await only
    load.gate.set()
    async with asyncio.timeout(TIMEOUT_S):
        assert await cache.get("k", load, ttl_s=60.0) == "v1"
    assert load.calls == 1


async def test_max_entries_evicts_least_recently_used() -> None:
    """Beyond max_entries the least recently used value is dropped."""
    cache: TTLCache[str, str] = TTLCache(max_entries=2)
    loads = {k: Loader(k).open() for k in "abc"}
    await cache.get("a", loads["a"], ttl_s=60.0)
    await cache.get("b", loads["b"], ttl_s=60.0)
    await cache.get("a", loads["a"], ttl_s=60.0)  # a is now the most recent
    await cache.get("c", loads["c"], ttl_s=60.0)
    assert len(cache) == 2
    assert cache.peek("b") is None
    assert (cache.peek("a"), cache.peek("c")) == ("a1", "c1")
    assert loads["a"].calls == 1


async def test_aclose_cancels_in_flight_loads() -> None:
    """aclose() cancels running loads (their callers see CancelledError) and clears values."""
    cache: TTLCache[str, str] = TTLCache()
    await cache.get("done", Loader().open(), ttl_s=60.0)
    load = Loader()
    (waiter,) = await _all_waiting(cache, "k", load, 1)
    async with asyncio.timeout(TIMEOUT_S):
        await load.started.wait()
        await cache.aclose()
    assert load.cancelled
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert len(cache) == 0
    assert cache.peek("done") is None


async def test_put_and_fresh_store_batch_items_including_none() -> None:
    """put() stores a value (even None) that fresh() reports until it expires."""
    now = [0.0]
    cache: TTLCache[str, int | None] = TTLCache(clock=lambda: now[0], max_entries=2)
    cache.put("a", None, 10)
    cache.put("b", 2, 10)
    assert cache.fresh("a") and cache.peek("a") is None
    assert not cache.fresh("missing")
    cache.put("c", 3, 10)  # evicts the oldest
    assert not cache.fresh("a") and cache.peek("c") == 3
    now[0] = 11
    assert not cache.fresh("b")


async def test_clear_forgets_values_so_the_next_get_loads() -> None:
    """After clear() every key is loaded again; nothing stale is served."""
    cache: TTLCache[str, str] = TTLCache(clock=Clock())
    load = Loader().open()
    assert await cache.get("k", load, ttl_s=60) == "v1"
    cache.clear()
    assert len(cache) == 0 and not cache.fresh("k")
    assert await cache.get("k", load, ttl_s=60) == "v2"


async def test_prefetch_starts_the_load_and_get_joins_it() -> None:
    """prefetch() starts a load at once without waiting; a get() made meanwhile shares it."""
    cache: TTLCache[str, str] = TTLCache()
    load = Loader()
    cache.prefetch("k", load, ttl_s=60.0)
    async with asyncio.timeout(TIMEOUT_S):
        await load.started.wait()
    waiter = asyncio.create_task(cache.get("k", Loader("other").open(), ttl_s=60.0))
    load.open()
    assert await waiter == "v1"
    assert load.calls == 1
    assert (cache.stats.loads, cache.stats.joined) == (1, 1)


async def test_prefetch_does_nothing_when_fresh_or_loading() -> None:
    """A fresh value or a load in flight is not loaded again by prefetch()."""
    cache: TTLCache[str, str] = TTLCache()
    first = Loader()
    cache.prefetch("k", first, ttl_s=60.0)
    again = Loader().open()
    cache.prefetch("k", again, ttl_s=60.0)  # loading: joined by nobody, not restarted
    first.open()
    assert await cache.get("k", again, ttl_s=60.0) == "v1"
    cache.prefetch("k", again, ttl_s=60.0)  # fresh
    assert (first.calls, again.calls, cache.stats.loads) == (1, 0, 1)


async def test_failed_prefetch_is_forgotten_and_raises_nowhere() -> None:
    """A prefetch that fails leaves nothing behind: the next get() loads afresh."""
    cache: TTLCache[str, str] = TTLCache()
    failing = Loader(error=RuntimeError("boom")).open()
    cache.prefetch("k", failing, ttl_s=60.0)
    async with asyncio.timeout(TIMEOUT_S):
        while not cache.stats.failures:  # the load fails in a task of its own
            await asyncio.sleep(0)
    assert await cache.get("k", Loader("ok").open(), ttl_s=60.0) == "ok1"
    assert (cache.stats.failures, cache.stats.loads) == (1, 2)
