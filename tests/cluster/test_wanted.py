from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import pytest

from graph.cluster.channels import Channels
from graph.cluster.link import RedisLink
from graph.cluster.local import RedisServer
from graph.cluster.wanted import UnionWatcher, WantedRegistry
from tests.e2e import eventually

pytestmark = pytest.mark.e2e  # a real redis-server

TTL_S = 0.6
HEARTBEAT_S = 0.2


@contextlib.asynccontextmanager
async def running(*coroutines: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(c) for c in coroutines]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)


def registry(link: RedisLink, replica: str) -> WantedRegistry:
    return WantedRegistry(link, replica, ttl_s=TTL_S, heartbeat_s=HEARTBEAT_S)


class Owner:
    def __init__(self, link: RedisLink) -> None:
        self.unions: list[frozenset[str]] = []
        self.watcher = UnionWatcher(link, self.unions.append, heartbeat_s=HEARTBEAT_S)
        self.channels = Channels(link)
        self.channels.add(self.watcher.channel, self.watcher.poke)

    @property
    def union(self) -> frozenset[str]:
        return self.watcher.union if self.watcher.union is not None else frozenset({"<unread>"})


@pytest.fixture
async def owner(link: RedisLink) -> AsyncIterator[Owner]:
    owner = Owner(link)
    async with running(owner.watcher.run()):
        await eventually(lambda: owner.channels.subscribed == {owner.watcher.channel})
        yield owner
    await owner.channels.aclose()


async def test_the_owner_sees_the_union_of_every_replica(
    owner: Owner, link: RedisLink, other_link: RedisLink
) -> None:
    """Two replicas' sets merge; a change on one reaches the owner through its announcement
    long before the next heartbeat would."""
    a, b = registry(link, "a"), registry(other_link, "b")
    a.set({"X", "Y"})
    b.set({"Y", "Z"})
    async with running(a.run(), b.run()):
        await eventually(lambda: owner.union == {"X", "Y", "Z"})
        b.set({"W"})
        await eventually(lambda: owner.union == {"X", "Y", "W"}, timeout=HEARTBEAT_S / 2)
    assert owner.watcher.stats.changes == len(owner.unions) and owner.unions[-1] == {"X", "Y", "W"}


async def test_a_dead_replicas_markets_leave_within_its_expiry(
    owner: Owner, link: RedisLink, other_link: RedisLink
) -> None:
    """A replica that stops heartbeating (killed) drops out of the union no later than its
    key's expiry after its last write, and is forgotten from the replica set."""
    a, b = registry(link, "a"), registry(other_link, "b")
    a.set({"X"})
    b.set({"Y"})
    b_task = asyncio.create_task(b.run())
    async with running(a.run()):
        await eventually(lambda: owner.union == {"X", "Y"})
        writes = b.writes
        await eventually(lambda: b.writes > writes)  # just renewed
        b_task.cancel()
        await asyncio.wait([b_task])
        last_write = time.monotonic()
        await eventually(lambda: owner.union == {"X"}, timeout=5)
        assert time.monotonic() - last_write <= TTL_S + 0.15
    assert await link.client.smembers(link.key("wanted", "replicas")) == {b"a"}


async def test_remove_withdraws_at_once(owner: Owner, link: RedisLink) -> None:
    """A replica shutting down removes its set and the owner hears it right away."""
    a = registry(link, "a")
    a.set({"X"})
    async with running(a.run()):
        await eventually(lambda: owner.union == {"X"})
        await a.remove()
        await eventually(lambda: owner.union == frozenset(), timeout=HEARTBEAT_S / 2)


async def test_heartbeats_keep_an_unchanged_set_alive(owner: Owner, link: RedisLink) -> None:
    """A set that never changes survives several expiries because the heartbeat rewrites it
    (without announcing it: nothing changed)."""
    a = registry(link, "a")
    a.set({"X"})
    async with running(a.run()):
        await eventually(lambda: owner.union == {"X"})
        await eventually(lambda: a.writes >= 1 + int(3 * TTL_S / HEARTBEAT_S), timeout=5)
        assert owner.union == {"X"} and owner.unions == [frozenset(), {"X"}][-len(owner.unions) :]


async def test_an_outage_is_survived_on_both_sides(
    owner: Owner, link: RedisLink, redis_server: RedisServer
) -> None:
    """Writes and reads fail quietly while Redis is down; after a restart (empty) the
    registry writes its set again and the owner reads it."""
    a = registry(link, "a")
    a.set({"X"})
    async with running(a.run()):
        await eventually(lambda: owner.union == {"X"})
        redis_server.stop()
        assert not await a.write()
        redis_server.start()
        await eventually(lambda: owner.union == {"X"} and a.writes >= 2, timeout=5)
        assert await link.client.get(link.key("wanted", "by", "a")) == b'["X"]'


async def test_garbage_in_a_replica_key_is_ignored(owner: Owner, link: RedisLink) -> None:
    """A key that is not a JSON list of strings contributes nothing, and breaks nothing."""
    a = registry(link, "a")
    a.set({"X"})
    await a.write()
    await link.client.sadd(link.key("wanted", "replicas"), "odd", "bad")
    await link.client.set(link.key("wanted", "by", "odd"), '{"not": "a list"}', px=5000)
    await link.client.set(link.key("wanted", "by", "bad"), "][", px=5000)
    union, soonest = await owner.watcher.read()
    assert union == {"X"} and 0 < soonest <= TTL_S


async def test_remove_without_redis_is_quiet(link: RedisLink, redis_server: RedisServer) -> None:
    """Withdrawing during an outage does not raise (the key expires by itself)."""
    redis_server.stop()
    await registry(link, "a").remove()


def test_heartbeat_must_be_shorter_than_the_expiry(link: RedisLink) -> None:
    """A heartbeat at or beyond the TTL would let the set lapse; it is refused."""
    with pytest.raises(ValueError, match="heartbeat_s"):
        WantedRegistry(link, "a", ttl_s=1, heartbeat_s=1)
