"""GameService against the real simulator: batching, fallbacks, isolation, rating upkeep."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from graph.errors import InvalidInput
from graph.espn.client import ScoreboardClient
from graph.games.matching import GameMarkets
from graph.games.service import (
    GameService,
    PredictionFailed,
    ServiceConfig,
    parse_public_id,
    public_id,
)
from graph.http import RetryPolicy
from graph.kalshi.rest import KalshiRest
from graph.model.elo import EloModel
from graph.model.ratings import RatingStore
from graph.models import League
from graph.sim import Simulator
from tests.e2e import SUNDAY_NOON_UTC

SUNDAY = date(2026, 11, 22)
SATURDAY = date(2026, 11, 21)
NO_RETRY = RetryPolicy(attempts=1)


@asynccontextmanager
async def service_on(
    sim: Simulator, tmp_path: Path, ratings: Any = None
) -> AsyncIterator[GameService]:
    store = RatingStore(tmp_path / "ratings.sqlite3")
    store.open()
    async with httpx.AsyncClient() as http:
        service = GameService(
            rest=KalshiRest(http, sim.rest_url, policy=NO_RETRY, clock=lambda: SUNDAY_NOON_UTC),
            scoreboard=ScoreboardClient(http, sim.scoreboard_url, policy=NO_RETRY),
            ratings=ratings(store) if ratings else store,
            clock=lambda: SUNDAY_NOON_UTC,
        )
        try:
            yield service
        finally:
            await service.aclose()
            store.close()


def fixed_sim(**kwargs: Any) -> Simulator:
    return Simulator(clock=lambda: SUNDAY_NOON_UTC, tick_interval_s=None, **kwargs)


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


class ExplodingRatings:
    """A rating store whose model raises for one team: a bug confined to one game."""

    def __init__(self, store: RatingStore, bad_team: str) -> None:
        self._store = store
        self.bad_team = bad_team

    def model_for(self, league: League) -> EloModel:
        model = self._store.model_for(league)
        bad = self.bad_team

        class Exploding(EloModel):
            def explain(self, home: str, away: str, **kwargs: Any) -> Any:
                if home == bad:
                    raise ZeroDivisionError("model bug")
                return super().explain(home, away, **kwargs)

        return Exploding(params=model.params, ratings=model.ratings)

    def model_name(self, league: League) -> str:
        return self._store.model_name(league)


async def test_a_model_error_fails_only_its_game(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An exception in the model for one game becomes that game's error; others predict."""
    caplog.set_level(logging.INFO)
    async with fixed_sim() as sim:
        games_raw = sim.games_for(League.NBA, SUNDAY)
        bad = next(
            c for c in games_raw[1]["competitions"][0]["competitors"] if c["homeAway"] == "home"
        )
        team = bad["team"]["abbreviation"]
        async with service_on(sim, tmp_path, lambda s: ExplodingRatings(s, team)) as service:
            games = await service.games(League.NBA, SUNDAY)

            async def markets(game: Any) -> GameMarkets:
                return GameMarkets()

            results = await service.load_predictions(games, markets)
    failed = [(g, r) for g, r in zip(games, results, strict=True) if isinstance(r, BaseException)]
    assert [g.home.code for g, _ in failed] == [team]
    assert isinstance(failed[0][1], PredictionFailed)
    assert "model bug" not in str(failed[0][1])  # internal text stays in the log, not the API
    assert f"Successfully generated {len(games) - 1} predictions (1 failed)" in caplog.text


async def test_rating_refresh_applies_each_final_game_once(tmp_path: Path) -> None:
    """Completed games move ratings exactly once, however often the refresh runs."""
    async with fixed_sim() as sim, service_on(sim, tmp_path) as service:
        first = await service.refresh_ratings([League.NBA], days=1)
        again = await service.refresh_ratings([League.NBA], days=1)
        finals = [g for g in await service.games(League.NBA, SATURDAY)]
    assert first == len([g for g in finals if g.state.value == "FINAL"]) > 0
    assert again == 0


async def test_rating_refresh_skips_a_failing_scoreboard(tmp_path: Path) -> None:
    """A scoreboard outage during upkeep is logged and skipped, not raised."""
    async with fixed_sim() as sim, service_on(sim, tmp_path) as service:
        sim.faults.error_rate = 1.0
        assert await service.refresh_ratings([League.NBA], days=1) == 0


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


@pytest.mark.parametrize("value", ["", "NBA", "XFL.20261122.1", "NBA.2026-11-22.1"])
def test_bad_game_ids_are_invalid_input(value: str) -> None:
    """Malformed ids are rejected with InvalidInput, not a crash."""
    with pytest.raises(InvalidInput, match="not a game id"):
        parse_public_id(value)


async def test_snapshot_uses_cached_prices_and_survives_errors(tmp_path: Path) -> None:
    """The initial snapshot fetches unknown tickers once and returns nothing if Kalshi fails."""
    async with fixed_sim() as sim, service_on(sim, tmp_path) as service:
        a, b = (m["ticker"] for m in sim.markets_for(League.NBA, SUNDAY)[:2])
        first = await service.snapshot([a, b])
        calls = sim.stats.requests["markets"]
        second = await service.snapshot([a, b])
        sim.faults.scripted_statuses.append(500)
        failed = await service.snapshot(["KXNBAGAME-26NOV22AAABBB-AAA"])
    assert [u.market_ticker for u in first] == [a, b]
    assert second == first
    assert sim.stats.requests["markets"] == calls + 1  # only the failing one went upstream
    assert failed == []


def test_logs_say_nothing_before_work(caplog: pytest.LogCaptureFixture) -> None:
    """Building a service does no I/O and logs nothing."""
    caplog.set_level(logging.DEBUG)
    GameService(rest=None, scoreboard=None, ratings=None)  # type: ignore[arg-type]
    assert caplog.text == ""


async def test_unknown_tickers_are_refused_and_remembered(tmp_path: Path) -> None:
    """A ticker Kalshi does not list is InvalidInput, and asking again costs no request."""
    async with fixed_sim() as sim, service_on(sim, tmp_path) as service:
        real = sim.markets_for(League.NBA, SUNDAY)[0]["ticker"]
        fake = "KXNBAGAME-26NOV22AAABBB-AAA"
        with pytest.raises(InvalidInput, match=f"unknown market ticker: {fake}"):
            await service.snapshot([real, fake])
        calls = sim.stats.requests["markets"]
        with pytest.raises(InvalidInput):
            await service.snapshot([fake])
    assert sim.stats.requests["markets"] == calls


async def test_predictions_past_the_per_query_cap_fail_alone(tmp_path: Path) -> None:
    """Games beyond max_games_per_query get an error; the others are predicted."""
    async with fixed_sim(slate_size={League.NBA: 6}) as sim:
        store = RatingStore(tmp_path / "r.sqlite3")
        store.open()
        async with httpx.AsyncClient() as http:
            service = GameService(
                rest=KalshiRest(http, sim.rest_url, policy=NO_RETRY),
                scoreboard=ScoreboardClient(http, sim.scoreboard_url, policy=NO_RETRY),
                ratings=store,
                config=ServiceConfig(max_games_per_query=4),
                clock=lambda: SUNDAY_NOON_UTC,
            )
            games = await service.games(League.NBA, SUNDAY)

            async def markets(game: Any) -> GameMarkets:
                return GameMarkets()

            results = await service.load_predictions(games, markets)
            await service.aclose()
        store.close()
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(failed) == 2
    assert all("at most 4 predictions per query" in str(f) for f in failed)
    assert sim.stats.requests["summary"] == 4


def _rest_factors(results: list[Any]) -> list[dict[str, float]]:
    return [{f.name: f.value for f in r.factors if "rest" in f.name} for r in results]


async def _no_markets(game: Any) -> GameMarkets:
    return GameMarkets()


async def test_refreshed_ratings_answer_rest_days_without_summaries(tmp_path: Path) -> None:
    """After a refresh covering the rest window, predictions need no per-game summary request."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with fixed_sim() as sim:
        async with service_on(sim, tmp_path / "a") as plain:
            games = await plain.games(League.NBA, SUNDAY)
            from_summaries = await plain.load_predictions(games, _no_markets)
        assert sim.stats.requests["summary"] == len(games) > 0
        async with service_on(sim, tmp_path / "b") as refreshed:
            await refreshed.refresh_ratings([League.NBA])
            refreshed.clear_caches()
            sim.stats.reset()
            games = await refreshed.games(League.NBA, SUNDAY)
            from_store = await refreshed.load_predictions(games, _no_markets)
        assert dict(sim.stats.requests) == {"scoreboard": 1}
    assert _rest_factors(from_store) == _rest_factors(from_summaries)
    assert any(f["home_rest_days"] == 1 for f in _rest_factors(from_store))  # a back-to-back


# The tampering edits the live model in place, as a result applied behind the refresh's back.
def _forget(store: RatingStore, code: str) -> None:
    store.model_for(League.NBA).last_played.pop(code)


def _played_today(store: RatingStore, code: str) -> None:
    store.model_for(League.NBA).last_played[code] = SUNDAY


@pytest.mark.parametrize(
    ("days", "day", "tamper"),
    [
        pytest.param(1, SUNDAY, None, id="refresh-shorter-than-the-rest-window"),
        pytest.param(None, date(2026, 11, 24), None, id="game-after-the-refreshed-days"),
        pytest.param(None, SUNDAY, _forget, id="team-never-seen"),
        pytest.param(None, SUNDAY, _played_today, id="team-already-played-that-day"),
    ],
)
async def test_rest_days_come_from_summaries_unless_the_record_is_complete(
    tmp_path: Path, days: int | None, day: date, tamper: Any
) -> None:
    """The rating store answers rest days only when it provably knows every recent game."""
    stores: list[RatingStore] = []

    def keep(store: RatingStore) -> RatingStore:
        stores.append(store)
        return store

    async with fixed_sim() as sim, service_on(sim, tmp_path, keep) as service:
        (game, *_) = await service.games(League.NBA, day)
        assert service.recorded_rest_days(game) is None  # nothing refreshed yet
        await service.refresh_ratings([League.NBA], days=days)
        if tamper is not None:
            assert service.recorded_rest_days(game) is not None
            tamper(stores[0], game.home.code)
        assert service.recorded_rest_days(game) is None
        sim.stats.reset()
        (prediction,) = await service.load_predictions([game], _no_markets)
    assert not isinstance(prediction, BaseException)
    assert sim.stats.requests["summary"] == 1


async def test_a_failed_refresh_day_keeps_the_earlier_record(tmp_path: Path) -> None:
    """A refresh that cannot read a day leaves the last complete record in force."""
    async with fixed_sim() as sim, service_on(sim, tmp_path) as service:
        await service.refresh_ratings([League.NBA])
        (game, *_) = await service.games(League.NBA, SUNDAY)
        known = service.recorded_rest_days(game)
        service.clear_caches()
        sim.faults.error_rate = 1.0
        await service.refresh_ratings([League.NBA])
        assert known is not None and service.recorded_rest_days(game) == known
