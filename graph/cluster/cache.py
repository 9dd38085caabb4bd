"""A TTL cache shared by every replica, with single-flight across them (adapter).

How it works
------------
:class:`SharedCache` sits behind an in-process :class:`~graph.cache.TTLCache`, which
keeps its single-flight (concurrent callers in one process share one lookup) and holds
each value for what is left of its Redis expiry, so a value is never older than one
TTL whichever replica loaded it. A local miss runs one script on the Redis key:

- the value is there: decode it, done;
- it is not, and the short lock beside it is free: take the lock (``SET NX PX``),
  load from upstream, store the value with the caller's TTL and drop the lock;
- it is not, and another replica holds the lock: poll (5 ms, doubling to 50 ms) until
  the value appears, or the lock is free again (the loader failed or died: take it).

So concurrent misses on any number of replicas cause one upstream request. A failed
load is not stored and frees the lock at once. Redis trouble never fails a lookup: the
caller's ``load`` runs directly and the local cache keeps the value for the full TTL
(the link reports the outage); so does waiting past ``wait_s``. A stored value that
does not decode (another version wrote it) counts as missing.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Any, Generic, TypeVar

from graph.cache import CacheStats, TTLCache
from graph.cluster.codec import CodecError, JsonCodec
from graph.cluster.link import RedisLink, RedisUnavailable

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Sleep = Callable[[float], Awaitable[None]]

_POLL_FIRST_S = 0.005
_POLL_MAX_S = 0.05
_KEY_MAX = 200

# KEYS: value, lock. ARGV: token, lock ms. {1, value, pttl} | {2} (locked for us) | {0} (busy)
_GET_OR_LOCK = """
local value = redis.call('GET', KEYS[1])
if value then return {1, value, redis.call('PTTL', KEYS[1])} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {2} end
return {0}
"""
# KEYS: value, lock. ARGV: payload, ttl ms, token.
_STORE = """
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1
"""
# KEYS: lock. ARGV: token.
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def stable_key(key: object) -> str:
    """A string naming ``key`` the same way in every process (str/int/date/enum/tuple/set)."""
    text = _render(key)
    if len(text) > _KEY_MAX:
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    return text


def _render(key: object) -> str:
    if isinstance(key, Enum):
        return str(key.value)
    if isinstance(key, str | int | date):
        return str(key)
    if isinstance(key, tuple):
        return "(" + ",".join(_render(k) for k in key) + ")"
    if isinstance(key, frozenset | set):
        return "{" + ",".join(sorted(_render(k) for k in key)) + "}"
    raise TypeError(f"no stable name for a cache key of type {type(key).__name__}")


@dataclass(slots=True)
class SharedStats:
    hits: int = 0  # values another replica (or an earlier load) stored
    loads: int = 0  # upstream loads this replica made under the lock
    waits: int = 0  # lookups that waited for another replica's load
    fallbacks: int = 0  # lookups that loaded without Redis (trouble, or waited too long)


class SharedCache(Generic[K, V]):
    def __init__(
        self,
        link: RedisLink,
        name: str,
        codec: JsonCodec[V],
        *,
        lock_s: float = 5.0,
        wait_s: float | None = None,
        key_of: Callable[[K], str] = stable_key,
        local: TTLCache[K, V] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._link = link
        self._prefix = link.key("cache", name, "")
        self._codec = codec
        self._lock_ms = int(lock_s * 1000)
        self._wait_s = wait_s if wait_s is not None else 2 * lock_s
        self._key_of = key_of
        self._local: TTLCache[K, V] = local if local is not None else TTLCache()
        self._clock = clock
        self._sleep = sleep
        self._get_or_lock = link.client.register_script(_GET_OR_LOCK)
        self._store = link.client.register_script(_STORE)
        self._unlock = link.client.register_script(_UNLOCK)
        self.shared = SharedStats()

    @property
    def stats(self) -> CacheStats:
        """The in-process cache's counters (a hit there never reaches Redis)."""
        return self._local.stats

    def __len__(self) -> int:
        return len(self._local)

    def clear(self) -> None:
        """Forget the in-process values (Redis keeps its own until they expire)."""
        self._local.clear()

    async def aclose(self) -> None:
        await self._local.aclose()

    async def get(self, key: K, load: Callable[[], Awaitable[V]], ttl_s: float) -> V:
        """The value for ``key``: in-process, else Redis, else ``load()`` once for everyone."""
        # ttl 0: the local cache must not store again; the loader puts it with the right TTL.
        return await self._local.get(key, self._loader(key, load, ttl_s), 0)

    def prefetch(self, key: K, load: Callable[[], Awaitable[V]], ttl_s: float) -> None:
        """Start :meth:`get`'s work for ``key`` unless it is fresh or loading; never waits."""
        self._local.prefetch(key, self._loader(key, load, ttl_s), 0)

    def _loader(
        self, key: K, load: Callable[[], Awaitable[V]], ttl_s: float
    ) -> Callable[[], Awaitable[V]]:
        async def shared() -> V:
            value, left_s = await self._shared(key, load, ttl_s)
            if left_s > 0:
                self._local.put(key, value, left_s)
            return value

        return shared

    async def _shared(
        self, key: K, load: Callable[[], Awaitable[V]], ttl_s: float
    ) -> tuple[V, float]:
        if ttl_s <= 0:
            return await load(), 0.0
        names = [self._prefix + self._key_of(key), self._prefix + "lock:" + self._key_of(key)]
        token = uuid.uuid4().hex
        delay, deadline, waited = _POLL_FIRST_S, self._clock() + self._wait_s, False
        while True:
            try:
                reply: list[Any] = await self._link.call(
                    lambda r: self._get_or_lock(keys=names, args=[token, self._lock_ms], client=r),
                    "read shared cache",
                )
            except RedisUnavailable:
                self.shared.fallbacks += 1
                return await load(), ttl_s
            if reply[0] == 1:
                try:
                    value = self._codec.decode(reply[1])
                except CodecError:
                    pass  # written by another version: load and overwrite it below
                else:
                    self.shared.hits += 1
                    return value, max(int(reply[2]), 0) / 1000
                return await self._load_and_store(names, token, load, ttl_s, locked=False)
            if reply[0] == 2:
                return await self._load_and_store(names, token, load, ttl_s, locked=True)
            if not waited:
                waited = True
                self.shared.waits += 1
            if self._clock() >= deadline:
                self.shared.fallbacks += 1
                return await load(), ttl_s
            await self._sleep(delay)
            delay = min(delay * 2, _POLL_MAX_S)

    async def _load_and_store(
        self,
        names: list[str],
        token: str,
        load: Callable[[], Awaitable[V]],
        ttl_s: float,
        *,
        locked: bool,
    ) -> tuple[V, float]:
        self.shared.loads += 1
        try:
            value = await load()
        except BaseException:
            if locked:  # let a waiting replica try at once instead of after the lock expires
                try:
                    await self._link.call(
                        lambda r: self._unlock(keys=names[1:], args=[token], client=r),
                        "unlock shared cache",
                    )
                except RedisUnavailable:
                    pass
            raise
        payload = self._codec.encode(value)
        try:
            await self._link.call(
                lambda r: self._store(
                    keys=names, args=[payload, int(ttl_s * 1000), token], client=r
                ),
                "write shared cache",
            )
        except RedisUnavailable:
            pass  # the value is still good here; others load it themselves
        return value, ttl_s


# A cache of the service: in process, or shared by the replicas through Redis.
Cache = TTLCache[K, V] | SharedCache[K, V]
