"""GameService against the real simulator: batching, fallbacks, ids, ratings."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from graph.games.ids import parse_public_id, public_id
from graph.games.matching import GameMarkets
from graph.games.service import GameService
from graph.models import League
from tests.games.helpers import SATURDAY, SUNDAY, fixed_sim, service_on


async def test_finished_games_get_their_closed_markets_in_one_request(tmp_path: Path) -> None:
    """Yesterday's finished games are not in the open listing; one tickers= request finds them."""
    async with fixed_sim() as sim, service_on(sim, tmp_path) as service:
        games = await service.games(League.NBA, SATURDAY)
        found = await service.load_markets(games)
    assert games and all(r.matched for r in found)
    assert all(r.home and r.home.status == "finalized" for r in found)
    tickers_queries = [q for q in sim.stats.market_queries if "tickers" in q]
    assert len(tickers_queries) == 1
    assert len(tickers_queries[0]["tickers"].split(",")) == 2 * len(games)


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
