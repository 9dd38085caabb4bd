"""The subscription snapshot against the real simulator: cached prices, unknown tickers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

import httpx
import pytest

from graph.cache import TTLCache
from graph.errors import InvalidInput, UpstreamUnavailable
from graph.kalshi.rest import KalshiRest
from graph.live.snapshot import Snapshot
from graph.models import League, TickerUpdate
from graph.sim import Simulator
from tests.e2e import SUNDAY_NOON_UTC
from tests.games.helpers import NO_RETRY, SUNDAY, fixed_sim


@asynccontextmanager
async def snapshot_on(
    sim: Simulator,
    latest: Callable[[Sequence[str]], Awaitable[list[TickerUpdate]]] | None = None,
) -> AsyncIterator[Snapshot]:
    async with httpx.AsyncClient() as http:
        yield Snapshot(
            rest=KalshiRest(http, sim.rest_url, policy=NO_RETRY, clock=lambda: SUNDAY_NOON_UTC),
            markets=TTLCache(),
            prices_ttl_s=5.0,
            unknown_ttl_s=60.0,
            clock=lambda: SUNDAY_NOON_UTC,
            latest=latest,
        )


async def test_stored_live_prices_come_first_and_cost_no_request() -> None:
    """With Redis, markets that have a stored tick need no REST request and show that
    tick; the others are read from Kalshi as before; the newer of the two wins."""
    noon_ms = int(SUNDAY_NOON_UTC * 1000)
    async with fixed_sim() as sim:
        a, b, c = (m["ticker"] for m in sim.markets_for(League.NBA, SUNDAY)[:3])
        stored = {
            a: TickerUpdate(a, noon_ms + 1000, 0.61),  # newer than a REST read at noon
            c: TickerUpdate(c, noon_ms - 60_000, 0.11),  # older than the REST read below
        }

        async def latest(tickers: Sequence[str]) -> list[TickerUpdate]:
            return [stored[t] for t in tickers if t in stored]

        async with snapshot_on(sim, latest) as snapshot:
            first = await snapshot([a])
            assert sim.stats.requests["markets"] == 0
            await snapshot([b])
            both = await snapshot([a, b])
            await snapshot([c, b])  # b cached; c has a stored tick: still no request
            calls = sim.stats.requests["markets"]
            snapshot._markets.invalidate(c)
            snapshot._latest = None
            await snapshot([c])  # now read from Kalshi at noon...
            snapshot._latest = latest
            newest = await snapshot([c])  # ...and newer than the stored tick
    assert first == [stored[a]]
    assert [u.market_ticker for u in both] == [a, b] and both[0] == stored[a]
    assert calls == 1
    assert newest[0].ts_ms == noon_ms and newest[0] != stored[c]


async def test_snapshot_uses_cached_prices_and_refuses_what_it_cannot_check() -> None:
    """The initial snapshot fetches unknown tickers once; while Kalshi fails, tickers it did
    not answer for recently are refused (UPSTREAM_UNAVAILABLE), known ones still pass."""
    async with fixed_sim() as sim, snapshot_on(sim) as snapshot:
        a, b = (m["ticker"] for m in sim.markets_for(League.NBA, SUNDAY)[:2])
        first = await snapshot([a, b])
        calls = sim.stats.requests["markets"]
        second = await snapshot([a, b])
        sim.faults.scripted_statuses.append(500)
        with pytest.raises(UpstreamUnavailable, match="cannot check 1 market ticker"):
            await snapshot(["KXNBAGAME-26NOV22AAABBB-AAA"])
        sim.faults.error_rate = 1.0
        known = await snapshot([a])
    assert [u.market_ticker for u in first] == [a, b]
    assert second == first
    assert [u.market_ticker for u in known] == [a]
    assert sim.stats.requests["markets"] == calls + 1  # only the failing one went upstream


async def test_unknown_tickers_are_refused_and_remembered() -> None:
    """A ticker Kalshi does not list is InvalidInput, and asking again costs no request."""
    async with fixed_sim() as sim, snapshot_on(sim) as snapshot:
        real = sim.markets_for(League.NBA, SUNDAY)[0]["ticker"]
        fake = "KXNBAGAME-26NOV22AAABBB-AAA"
        with pytest.raises(InvalidInput, match=f"unknown market ticker: {fake}"):
            await snapshot([real, fake])
        calls = sim.stats.requests["markets"]
        with pytest.raises(InvalidInput):
            await snapshot([fake])
    assert sim.stats.requests["markets"] == calls


async def test_subscribers_arriving_together_share_one_request() -> None:
    """Fifty subscribers asking for the same uncached markets at once cost one request."""
    async with fixed_sim() as sim, snapshot_on(sim) as snapshot:
        sim.faults.latency_s = 0.05  # every subscriber arrives while the request is out
        a, b = (m["ticker"] for m in sim.markets_for(League.NBA, SUNDAY)[:2])
        answers = await asyncio.gather(*(snapshot([a, b]) for _ in range(50)))
        assert sim.stats.requests["markets"] == 1
    assert all([u.market_ticker for u in got] == [a, b] for got in answers)
