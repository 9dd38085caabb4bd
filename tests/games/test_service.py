"""GameService against the real simulator: batching, fallbacks, ids, ratings."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest

from graph.games.ids import parse_public_id, public_id
from graph.games.matching import GameMarkets, market_tickers
from graph.games.service import GameService, close_window
from graph.models import League
from graph.sim import Faults
from tests.games.helpers import SATURDAY, SUNDAY, fixed_sim, service_on


async def test_one_listing_request_per_day_finished_games_included(tmp_path: Path) -> None:
    """A day's markets are one request narrowed by close time (no status): yesterday's
    finished games come in it, so no second request is needed."""
    async with fixed_sim() as sim, service_on(sim, tmp_path) as service:
        games = await service.games(League.NBA, SATURDAY)
        found = await service.load_markets(games)
    assert games and all(r.matched for r in found)
    assert all(r.home and r.home.status == "finalized" for r in found)
    low, high = close_window(SATURDAY)
    assert sim.stats.market_queries == [
        {
            "series_ticker": "KXNBAGAME",
            "min_close_ts": str(low),
            "max_close_ts": str(high),
            "limit": "1000",
        }
    ]


async def test_a_game_missing_from_the_listing_costs_one_tickers_request(tmp_path: Path) -> None:
    """Events the day's listing lacks (here: a window that closes with the first game's
    markets) are asked for by ticker, all in one request."""
    async with fixed_sim() as sim, service_on(sim, tmp_path) as service:
        games = await service.games(League.NBA, SUNDAY)
        listing = sim.markets_for(League.NBA, SUNDAY)
        first = min(_closes(m) for m in listing)
        with patch("graph.games.service.close_window", lambda day: (first, first)):
            found = await service.load_markets(games)
    assert len(games) > 1 and all(r.matched for r in found)
    listed = {m["event_ticker"] for m in listing if _closes(m) == first}
    missing = [g for g in games if service.event_ticker(g) not in listed]
    assert missing and [q for q in sim.stats.market_queries if "tickers" in q] == [
        {
            "tickers": ",".join(t for g in missing for t in market_tickers(g.league, g) or ()),
            "limit": "1000",
        }
    ]


def _closes(market: dict[str, Any]) -> int:
    return int(datetime.fromisoformat(market["close_time"].replace("Z", "+00:00")).timestamp())


async def test_with_markets_the_listing_starts_with_the_scoreboard(tmp_path: Path) -> None:
    """games(with_markets=True) has the day's listing requested before the schedule is back,
    and the markets batch then joins that request; without it nothing is listed."""
    async with (
        fixed_sim(faults=Faults(latency_s=0.05)) as sim,
        service_on(sim, tmp_path) as service,
    ):
        plain = await service.games(League.NBA, SATURDAY)
        assert sim.stats.requests["markets"] == 0
        games = await service.games(League.NBA, SUNDAY, with_markets=True)
        assert sim.stats.requests["markets"] == 1  # sent while the scoreboard was on its way
        await service.load_markets(games)
    assert plain and games
    assert sim.stats.requests["markets"] == 1 and service.cache_stats()["listings"].loads == 1


async def test_an_empty_window_falls_back_to_every_open_market(tmp_path: Path) -> None:
    """If nothing closes in the day's window (Kalshi moved its close times), the open
    listing is asked instead, so games still find their markets."""
    async with fixed_sim() as sim, service_on(sim, tmp_path) as service:
        games = await service.games(League.NBA, SUNDAY)
        with patch("graph.games.service.close_window", lambda day: (1, 2)):
            found = await service.load_markets(games)
    assert games and all(r.matched for r in found)
    assert [q.get("status") for q in sim.stats.market_queries] == [None, "open"]


async def test_kalshi_outage_leaves_games_without_markets(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """If Kalshi fails, games still load, with no markets and a warning in the log."""
    async with fixed_sim() as sim, service_on(sim, tmp_path) as service:
        games = await service.games(League.NBA, SUNDAY)
        sim.faults.scripted_statuses.extend([500] * 5)
        found = await service.load_markets(games)
    assert found == [GameMarkets(event_ticker=service.event_ticker(g)) for g in games]
    assert "Kalshi markets unavailable league=NBA" in caplog.text


async def test_unknown_team_has_no_rating(tmp_path: Path) -> None:
    """Team.rating is null for a code outside our tables, a float otherwise."""
    async with fixed_sim() as sim, service_on(sim, tmp_path) as service:
        assert service.rating(League.NBA, "ZZZ") is None
        assert isinstance(service.rating(League.NBA, "BOS"), float)


async def test_game_ids_round_trip(tmp_path: Path) -> None:
    """public_id encodes league, Eastern date and scoreboard id; game() finds it again."""
    async with fixed_sim() as sim, service_on(sim, tmp_path) as service:
        (game, *_) = await service.games(League.NHL, SUNDAY)
        again = await service.game(public_id(game))
        missing = await service.game(f"NHL.{SUNDAY:%Y%m%d}.0")
    assert parse_public_id(public_id(game)) == (League.NHL, SUNDAY, game.id)
    assert again == game
    assert missing is None


def test_logs_say_nothing_before_work(caplog: pytest.LogCaptureFixture) -> None:
    """Building a service does no I/O and logs nothing."""
    caplog.set_level(logging.DEBUG)
    GameService(rest=None, scoreboard=None, ratings=None)  # type: ignore[arg-type]
    assert caplog.text == ""
