from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import pytest

from graph.cluster.channels import Channels
from graph.cluster.lease import FeedLease, announced_fence
from graph.cluster.link import RedisLink
from graph.cluster.local import RedisServer
from tests.e2e import eventually

pytestmark = pytest.mark.e2e  # a real redis-server

TTL_S = 0.6


class Events:
    def __init__(self) -> None:
        self.acquired: list[int] = []
        self.lost: list[str] = []


def make(link: RedisLink, events: Events, **options: float) -> FeedLease:
    return FeedLease(
        link,
        ttl_s=options.pop("ttl_s", TTL_S),
        on_acquired=events.acquired.append,
        on_lost=events.lost.append,
        **options,  # type: ignore[arg-type]
    )


@contextlib.asynccontextmanager
async def running(lease: FeedLease) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(lease.run())
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.wait([task])


async def test_one_holder_at_a_time_with_increasing_fences(
    link: RedisLink, other_link: RedisLink
) -> None:
    """The first acquirer gets fence 1; a second cannot acquire while it is held; after a
    release the second gets fence 2."""
    a_events, b_events = Events(), Events()
    a, b = make(link, a_events), make(other_link, b_events)
    assert await a.try_acquire()
    assert not await b.try_acquire()
    assert (a.held, a.fence, a_events.acquired) == (True, 1, [1])
    await a.release()
    assert not a.held and a.stats.released == 1
    assert await b.try_acquire()
    assert b.fence == 2 and b_events.acquired == [2]
    assert a_events.lost == []  # a release is not a loss


async def test_renewal_keeps_the_lease_past_its_ttl(link: RedisLink, other_link: RedisLink) -> None:
    """A running holder renews well before expiry: after several TTLs it still holds and
    nobody else could take it."""
    events, rival_events = Events(), Events()
    lease, rival = make(link, events), make(other_link, rival_events)
    async with running(lease):
        await eventually(lambda: lease.held)
        until = time.monotonic() + 3 * TTL_S
        while time.monotonic() < until:
            assert not await rival.try_acquire()
            await asyncio.sleep(0.05)
        assert lease.held and events.lost == []
        ttl_ms = await link.client.pttl(link.key("feed", "lease"))
        assert 0 < ttl_ms <= TTL_S * 1000


async def test_a_takeover_is_reported_at_the_next_renewal(link: RedisLink) -> None:
    """When another token holds the key (the lease ran out meanwhile), renew calls on_lost
    at once and the holder stops claiming it."""
    events = Events()
    lease = make(link, events)
    assert await lease.try_acquire()
    await link.client.set(link.key("feed", "lease"), "someone-else 9", px=5000)
    assert not await lease.renew()
    assert events.lost == ["another replica holds it"]
    assert not lease.held and lease.stats.lost == 1
    assert not await lease.renew()  # nothing held: nothing to renew


async def test_redis_down_past_the_ttl_loses_the_lease(
    link: RedisLink, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """With Redis gone, the holder gives the lease up once the TTL (counted from its last
    successful renewal) runs out - never later than Redis itself would forget it."""
    events = Events()
    lease = make(link, events)
    async with running(lease):
        await eventually(lambda: lease.held)
        deadline = lease.valid_until
        redis_server.stop()
        await eventually(lambda: bool(events.lost), timeout=5)
        assert time.monotonic() >= deadline - 0.05
        assert time.monotonic() <= deadline + 0.5
    assert events.lost == ["no renewal reached Redis before the lease ran out"]
    assert "Lost the feed lease" in caplog.text


async def test_the_fence_never_repeats_after_redis_forgets_it(
    link: RedisLink, redis_server: RedisServer
) -> None:
    """Redis restarted empty resets the counter; the next fence is still above every one
    this replica saw."""
    events = Events()
    lease = make(link, events)
    lease.observe(41)
    assert await lease.try_acquire()
    assert lease.fence == 42
    await lease.release()
    redis_server.restart()
    assert await lease.try_acquire()
    assert lease.fence == 43 and lease.floor == 43


async def test_acquisition_and_release_are_announced(
    link: RedisLink, other_link: RedisLink
) -> None:
    """The new fence is published on the owner channel when acquired; 'released' on release."""
    heard: list[int | None] = []
    channels = Channels(other_link)
    lease = make(link, Events())
    channels.add(lease.channel, lambda data: heard.append(announced_fence(data)))
    try:
        await eventually(lambda: channels.subscribed == {lease.channel})
        assert await lease.try_acquire()
        await lease.release()
        await eventually(lambda: heard == [1, None])
    finally:
        await channels.aclose()


async def test_a_dead_holder_is_replaced_as_its_lease_runs_out(
    link: RedisLink, other_link: RedisLink
) -> None:
    """A holder that stops renewing (killed) is replaced right when its lease runs out: a
    waiting replica times its next try by the holder's remaining TTL, not its retry period."""
    a_events, b_events = Events(), Events()
    a, b = make(link, a_events), make(other_link, b_events, retry_s=30)
    task = asyncio.create_task(a.run())
    await eventually(lambda: a.held)
    async with running(b):
        task.cancel()  # dies without releasing
        await asyncio.wait([task])
        died = time.monotonic()
        await eventually(lambda: b.held, timeout=5)
        assert time.monotonic() - died <= TTL_S + 0.2
    assert b.fence == 2


async def test_poke_tries_at_once(link: RedisLink, other_link: RedisLink) -> None:
    """A waiting replica told about a release acquires without waiting for its retry."""
    # A long lease and a long retry: only the poke can make b try again in time.
    a, b = make(link, Events(), ttl_s=30), make(other_link, Events(), ttl_s=30, retry_s=30)
    assert await a.try_acquire()
    async with running(b):
        await eventually(lambda: b.stats.acquired == 0 and not b.held)
        await a.release()
        b.poke()
        await eventually(lambda: b.held, timeout=2)


async def test_redis_down_at_acquisition_is_not_an_error(
    link: RedisLink, redis_server: RedisServer
) -> None:
    """Trying to acquire without Redis just fails; the link reports the outage."""
    redis_server.stop()
    lease = make(link, Events())
    assert not await lease.try_acquire()
    assert link.up is False
    await lease.release()  # nothing held: a no-op


async def test_release_without_redis_leaves_it_to_expire(
    link: RedisLink, redis_server: RedisServer
) -> None:
    """A release that cannot reach Redis is dropped quietly; the lease is no longer held."""
    lease = make(link, Events())
    assert await lease.try_acquire()
    redis_server.stop()
    await lease.release()
    assert not lease.held


def test_ttl_must_be_positive(link: RedisLink) -> None:
    """A zero TTL is refused when the lease is built."""
    with pytest.raises(ValueError, match="ttl_s"):
        make(link, Events(), ttl_s=0)


def test_announcements_parse() -> None:
    """An owner announcement is a fence number; anything else means a release."""
    parse: Callable[[bytes], int | None] = announced_fence
    assert parse(b"17") == 17 and parse(b"released") is None
