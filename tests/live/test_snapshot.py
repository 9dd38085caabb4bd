"""The subscription snapshot against the real simulator: cached prices, unknown tickers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from graph.cache import TTLCache
from graph.errors import InvalidInput
from graph.kalshi.rest import KalshiRest
from graph.live.snapshot import Snapshot
from graph.models import League
from graph.sim import Simulator
from tests.e2e import SUNDAY_NOON_UTC
from tests.games.helpers import NO_RETRY, SUNDAY, fixed_sim


@asynccontextmanager
async def snapshot_on(sim: Simulator) -> AsyncIterator[Snapshot]:
    async with httpx.AsyncClient() as http:
        yield Snapshot(
            rest=KalshiRest(http, sim.rest_url, policy=NO_RETRY, clock=lambda: SUNDAY_NOON_UTC),
            markets=TTLCache(),
            prices_ttl_s=5.0,
            unknown_ttl_s=60.0,
            clock=lambda: SUNDAY_NOON_UTC,
        )


async def test_snapshot_uses_cached_prices_and_survives_errors() -> None:
    """The initial snapshot fetches unknown tickers once and returns nothing if Kalshi fails."""
    async with fixed_sim() as sim, snapshot_on(sim) as snapshot:
        a, b = (m["ticker"] for m in sim.markets_for(League.NBA, SUNDAY)[:2])
        first = await snapshot([a, b])
        calls = sim.stats.requests["markets"]
        second = await snapshot([a, b])
        sim.faults.scripted_statuses.append(500)
        failed = await snapshot(["KXNBAGAME-26NOV22AAABBB-AAA"])
    assert [u.market_ticker for u in first] == [a, b]
    assert second == first
    assert sim.stats.requests["markets"] == calls + 1  # only the failing one went upstream
    assert failed == []


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
