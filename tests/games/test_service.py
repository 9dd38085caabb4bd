"""GameService against the real simulator: batching, fallbacks, ids, ratings."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest

from graph.cluster.link import RedisLink
from graph.games.ids import parse_public_id, public_id
from graph.games.markets import close_window
from graph.games.matching import GameMarkets
from graph.games.service import GameService
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
    tickers_queries = [q for q in sim.stats.market_queries if "tickers" in q]
    assert len(tickers_queries) == 1
    assert 2 * len(games) <= len(tickers_queries[0]["tickers"].split(",")) <= 8 * len(games)


async def test_todays_games_are_one_request_narrowed_by_close_time(tmp_path: Path) -> None:
    """A day's markets are one listing request narrowed to the markets closing with the day's
    games (no status, one page): nothing else is asked when every game is in it."""
    async with fixed_sim() as sim, service_on(sim, tmp_path) as service:
        games = await service.games(League.NBA, SUNDAY)
        found = await service.load_markets(games)
    assert len(games) > 1 and all(r.matched for r in found)
    low, high = close_window(SUNDAY)
    assert sim.stats.market_queries == [
        {
            "series_ticker": "KXNBAGAME",
            "min_close_ts": str(low),
            "max_close_ts": str(high),
            "limit": "1000",
        }
    ]


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


async def test_a_moved_close_time_convention_falls_back_to_the_open_listing(
    tmp_path: Path,
) -> None:
    """If no event of the day closes in its window (Kalshi moved its close times: the window
    holds other days' games), the open listing is asked instead, so the games still match."""
    faults = Faults(close_after_start=timedelta(days=3))
    async with fixed_sim(faults=faults) as sim, service_on(sim, tmp_path) as service:
        games = await service.games(League.NBA, SUNDAY)
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
    assert found == [GameMarkets() for g in games]
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


@pytest.mark.e2e
async def test_replicas_share_schedules_listings_and_summaries(
    tmp_path: Path, link: RedisLink, other_link: RedisLink
) -> None:
    """Two services on one Redis: what one loaded the other reads from Redis, with no
    upstream request; single markets stay per process; the shared counters say so."""
    async with (
        fixed_sim() as sim,
        service_on(sim, tmp_path, link=link) as a,
        service_on(sim, tmp_path, link=other_link) as b,
    ):
        games = await a.games(League.NBA, SUNDAY)
        await a.load_markets(games)
        await a._summary(games[0])
        before = dict(sim.stats.requests)
        assert await b.games(League.NBA, SUNDAY) == games
        assert await b.load_markets(games) == await a.load_markets(games)
        assert await b._summary(games[0]) == await a._summary(games[0])
        assert dict(sim.stats.requests) == before
        shared = b.shared_stats()
    assert set(shared) == {
        "schedules",
        "listings",
        "open_markets",
        "closed_markets",
        "finished_markets",
        "summaries",
    }
    assert shared["schedules"].hits == shared["summaries"].hits == 1
    assert a.shared_stats()["schedules"].loads == 1
