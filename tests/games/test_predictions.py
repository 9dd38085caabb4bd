"""Predictor against the real simulator: isolation, the cap, rest days from the store."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from graph.espn.client import ScoreboardClient
from graph.games.matching import GameMarkets
from graph.games.predictions import PredictionFailed
from graph.games.service import GameService, ServiceConfig
from graph.kalshi.rest import KalshiRest
from graph.model.elo import EloModel
from graph.model.ratings import RatingStore
from graph.models import League
from tests.e2e import SUNDAY_NOON_UTC
from tests.games.helpers import NO_RETRY, SUNDAY, fixed_sim, service_on


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

            results = await service.predictor.predict(games, _no_markets(games))
    failed = [(g, r) for g, r in zip(games, results, strict=True) if isinstance(r, BaseException)]
    assert [g.home.code for g, _ in failed] == [team]
    assert isinstance(failed[0][1], PredictionFailed)
    assert "model bug" not in str(failed[0][1])  # internal text stays in the log, not the API
    assert f"Successfully generated {len(games) - 1} predictions (1 failed)" in caplog.text


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

            results = await service.predictor.predict(games, _no_markets(games))
            await service.aclose()
        store.close()
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(failed) == 2
    assert all("at most 4 predictions per query" in str(f) for f in failed)
    assert sim.stats.requests["summary"] == 4


def _rest_factors(results: list[Any]) -> list[dict[str, float]]:
    return [{f.name: f.value for f in r.factors if "rest" in f.name} for r in results]


async def _no_markets(games: list[Any]) -> list[GameMarkets]:
    return [GameMarkets() for _ in games]


async def test_refreshed_ratings_answer_rest_days_without_summaries(tmp_path: Path) -> None:
    """After a refresh covering the rest window, predictions need no per-game summary request."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with fixed_sim() as sim:
        async with service_on(sim, tmp_path / "a") as plain:
            games = await plain.games(League.NBA, SUNDAY)
            from_summaries = await plain.predictor.predict(games, _no_markets(games))
        assert sim.stats.requests["summary"] == len(games) > 0
        async with service_on(sim, tmp_path / "b") as refreshed:
            await refreshed.refresh_ratings([League.NBA])
            refreshed.clear_caches()
            sim.stats.reset()
            games = await refreshed.games(League.NBA, SUNDAY)
            from_store = await refreshed.predictor.predict(games, _no_markets(games))
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
        assert service.predictor.recorded_rest_days(game) is None  # nothing refreshed yet
        await service.refresh_ratings([League.NBA], days=days)
        if tamper is not None:
            assert service.predictor.recorded_rest_days(game) is not None
            tamper(stores[0], game.home.code)
        assert service.predictor.recorded_rest_days(game) is None
        sim.stats.reset()
        (prediction,) = await service.predictor.predict([game], _no_markets([game]))
    assert not isinstance(prediction, BaseException)
    assert sim.stats.requests["summary"] == 1


async def test_a_failed_refresh_day_keeps_the_earlier_record(tmp_path: Path) -> None:
    """A refresh that cannot read a day leaves the last complete record in force."""
    async with fixed_sim() as sim, service_on(sim, tmp_path) as service:
        await service.refresh_ratings([League.NBA])
        (game, *_) = await service.games(League.NBA, SUNDAY)
        known = service.predictor.recorded_rest_days(game)
        service.clear_caches()
        sim.faults.error_rate = 1.0
        await service.refresh_ratings([League.NBA])
        assert known is not None and service.predictor.recorded_rest_days(game) == known
