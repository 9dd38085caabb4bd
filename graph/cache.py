"""TTL cache with single-flight loading (adapter, asyncio).

How it works: a key is either fresh in ``_values`` (returned at once), being
loaded (every caller awaits the one shared task), or absent (the caller starts
the load). The shared task is shielded, so one caller giving up does not cancel
the load for the others. Only successes are stored; a failed load is forgotten
and every caller waiting on it gets the same exception, so the next call retries.
:meth:`TTLCache.prefetch` starts a load that nobody awaits yet, so a value that
will be needed later is already on its way (a later ``get`` joins it).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(slots=True)
class CacheStats:
    hits: int = 0
    loads: int = 0
    joined: int = 0
    failures: int = 0


def _consume(task: asyncio.Task[V]) -> None:
    if not task.cancelled():
        task.exception()


class TTLCache(Generic[K, V]):
    def __init__(
        self, *, max_entries: int = 1024, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._values: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._loading: dict[K, asyncio.Task[V]] = {}
        self._max = max_entries
        self._clock = clock
        self.stats = CacheStats()

    def __len__(self) -> int:
        return len(self._values)

    def peek(self, key: K) -> V | None:
        """The fresh value for ``key`` without loading, or ``None``."""
        entry = self._values.get(key)
        if entry is None or entry[0] <= self._clock():
            return None
        return entry[1]

    def fresh(self, key: K) -> bool:
        """Whether ``key`` holds an unexpired value (which may itself be ``None``)."""
        entry = self._values.get(key)
        return entry is not None and entry[0] > self._clock()

    def put(self, key: K, value: V, ttl_s: float) -> None:
        """Store a value obtained elsewhere (e.g. one item of a batch response)."""
        self._values[key] = (self._clock() + ttl_s, value)
        self._values.move_to_end(key)
        self._evict()

    def invalidate(self, key: K) -> None:
        self._values.pop(key, None)

    def clear(self) -> None:
        """Forget every stored value (loads in flight still complete and store theirs)."""
        self._values.clear()

    async def get(self, key: K, load: Callable[[], Awaitable[V]], ttl_s: float) -> V:
        """The cached value for ``key``, loading it at most once at a time."""
        entry = self._values.get(key)
        if entry is not None:
            if entry[0] > self._clock():
                self.stats.hits += 1
                self._values.move_to_end(key)
                return entry[1]
            del self._values[key]
        task = self._loading.get(key)
        if task is None:
            task = self._start(key, load, ttl_s)
        else:
            self.stats.joined += 1
        return await asyncio.shield(task)

    def prefetch(self, key: K, load: Callable[[], Awaitable[V]], ttl_s: float) -> None:
        """Start loading ``key`` unless it is fresh or already loading; never waits.

        A later :meth:`get` joins the load; a failure is forgotten like any other.
        """
        if not self.fresh(key) and key not in self._loading:
            self._start(key, load, ttl_s)

    def _start(self, key: K, load: Callable[[], Awaitable[V]], ttl_s: float) -> asyncio.Task[V]:
        self.stats.loads += 1
        task = asyncio.ensure_future(self._load(key, load, ttl_s))
        # Mark the outcome as seen even if every caller was cancelled meanwhile.
        task.add_done_callback(_consume)
        self._loading[key] = task
        return task

    async def _load(self, key: K, load: Callable[[], Awaitable[V]], ttl_s: float) -> V:
        try:
            value = await load()
        except BaseException:
            self.stats.failures += 1
            raise
        finally:
            self._loading.pop(key, None)
        if ttl_s > 0:
            self._values[key] = (self._clock() + ttl_s, value)
            self._evict()
        return value

    def _evict(self) -> None:
        while len(self._values) > self._max:
            self._values.popitem(last=False)

    async def aclose(self) -> None:
        """Cancel loads still running (on shutdown) and drop every value."""
        tasks = list(self._loading.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._values.clear()
