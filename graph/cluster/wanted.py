"""The wanted-markets registry: which markets some replica's subscribers need (adapter).

How it works
------------
Each replica writes the markets its hub wants as one JSON list under its own key, with
an expiry of ``ttl_s``, and adds its id to a set of replicas (:class:`WantedRegistry`).
A heartbeat rewrites the key every ``heartbeat_s``, so a replica that dies (even by
``kill -9``) stops counting once its key expires. A change is written at once and
announced on a channel, so the feed owner hears about a new market without waiting.

The owner reads the union with one script (:func:`read_union`): the live replicas'
lists merged, ids whose key expired removed from the set, and the shortest remaining
expiry among the keys. :class:`UnionWatcher` rereads on each announcement and no later
than that expiry (or ``heartbeat_s``), and hands a changed union to its callback (every
union with ``always``), so a dead replica's markets leave the upstream subscription as
soon as its key expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from graph.cluster.link import RedisLink, RedisUnavailable

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

# KEYS: replica set, the replica's key. ARGV: id, JSON list, ttl ms, channel, announce (0/1).
_WRITE = """
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('SADD', KEYS[1], ARGV[1])
if ARGV[5] == '1' then redis.call('PUBLISH', ARGV[4], ARGV[1]) end
return 1
"""
# KEYS: replica set, the replica's key. ARGV: id, channel.
_REMOVE = """
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[1])
return 1
"""
# KEYS: replica set. ARGV: key prefix of replicas' lists. {soonest expiry ms or -1, lists}.
_UNION = """
local lists = {}
local soonest = -1
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[1] .. id
  local value = redis.call('GET', key)
  if value then
    table.insert(lists, value)
    local left = redis.call('PTTL', key)
    if left >= 0 and (soonest < 0 or left < soonest) then soonest = left end
  else
    redis.call('SREM', KEYS[1], id)
  end
end
return {soonest, lists}
"""


def _names(link: RedisLink) -> tuple[str, str, str]:
    """(replica set, key prefix of the lists, change channel)."""
    return (
        link.key("wanted", "replicas"),
        link.key("wanted", "by", ""),
        link.key("wanted", "changed"),
    )


class WantedRegistry:
    """This replica's wanted markets in Redis, kept alive by a heartbeat."""

    def __init__(
        self,
        link: RedisLink,
        replica: str,
        *,
        ttl_s: float,
        heartbeat_s: float,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if not 0 < heartbeat_s < ttl_s:
            raise ValueError("heartbeat_s must be > 0 and below ttl_s")
        self._link = link
        self.replica = replica
        self._set_key, prefix, self.channel = _names(link)
        self._key = prefix + replica
        self._ttl_ms = int(ttl_s * 1000)
        self._heartbeat_s = heartbeat_s
        self._sleep = sleep
        self._write = link.client.register_script(_WRITE)
        self._remove = link.client.register_script(_REMOVE)
        self._wanted: frozenset[str] = frozenset()
        self._written: frozenset[str] | None = None  # what Redis holds, as far as we know
        self._changed = asyncio.Event()
        self.writes = 0

    @property
    def wanted(self) -> frozenset[str]:
        return self._wanted

    def set(self, tickers: Iterable[str]) -> None:
        """Publish ``tickers`` as this replica's wanted markets (written by ``run``)."""
        self._wanted = frozenset(tickers)
        self._changed.set()

    async def run(self) -> None:
        """Write on every change and every heartbeat, until cancelled."""
        while True:
            await self.write()
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._heartbeat_s):
                    await self._changed.wait()

    async def write(self) -> bool:
        wanted = self._wanted
        changed = wanted != self._written
        payload = json.dumps(sorted(wanted), separators=(",", ":"))
        try:
            await self._link.call(
                lambda r: self._write(
                    keys=[self._set_key, self._key],
                    args=[self.replica, payload, self._ttl_ms, self.channel, int(changed)],
                    client=r,
                ),
                "write wanted markets",
            )
        except RedisUnavailable:
            self._written = None  # Redis may have restarted empty: announce the next write
            return False
        self._written = wanted
        self.writes += 1
        return True

    async def remove(self) -> None:
        """Withdraw this replica's markets at once (shutdown); Redis trouble is ignored."""
        with contextlib.suppress(RedisUnavailable):
            await self._link.call(
                lambda r: self._remove(
                    keys=[self._set_key, self._key], args=[self.replica, self.channel], client=r
                ),
                "remove wanted markets",
            )


@dataclass(slots=True)
class WatcherStats:
    reads: int = 0
    changes: int = 0


class UnionWatcher:
    """Hands the union of wanted markets to ``on_union`` whenever it changes (the owner)."""

    def __init__(
        self,
        link: RedisLink,
        on_union: Callable[[frozenset[str]], None],
        *,
        heartbeat_s: float,
        retry_s: float = 0.2,
        always: bool = False,
    ) -> None:
        self._link = link
        self._on_union = on_union
        self._always = always
        self._heartbeat_s = heartbeat_s
        self._retry_s = retry_s
        self._poked = asyncio.Event()
        self._set_key, self._prefix, self.channel = _names(link)
        self._union = link.client.register_script(_UNION)
        self.union: frozenset[str] | None = None
        self.stats = WatcherStats()

    async def read(self) -> tuple[frozenset[str], float]:
        """(union of every live replica's markets, seconds until the first list expires or -1).

        Raises:
            RedisUnavailable: Redis did not answer.
        """
        soonest, lists = await self._link.call(
            lambda r: self._union(keys=[self._set_key], args=[self._prefix], client=r),
            "read wanted markets",
        )
        markets: set[str] = set()
        for raw in lists:
            try:
                items = json.loads(raw)
            except ValueError:
                continue
            if isinstance(items, list):
                markets.update(item for item in items if isinstance(item, str))
        return frozenset(markets), int(soonest) / 1000 if int(soonest) >= 0 else -1.0

    def poke(self, data: bytes = b"") -> None:
        """Reread now (a replica announced a change); usable as a channel handler."""
        self._poked.set()

    async def run(self) -> None:
        while True:
            self._poked.clear()
            wait = self._heartbeat_s
            try:
                union, soonest = await self.read()
            except RedisUnavailable:
                wait = self._retry_s
            else:
                self.stats.reads += 1
                if soonest >= 0:
                    # Reread just after the first list expires: a dead replica's markets go then.
                    wait = min(wait, soonest + 0.01)
                if union != self.union:
                    self.union = union
                    self.stats.changes += 1
                    self._on_union(union)
                elif self._always:
                    self._on_union(union)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._poked.wait()
