from __future__ import annotations

import sqlite3
import threading
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

import pytest

from graph.model.data import HistoricalGame, load_games
from graph.model.elo import PARAMS
from graph.model.ratings import RatingStore
from graph.models import League


class CountingHistory:
    """A history loader that records which leagues were replayed."""

    def __init__(self, games: Mapping[League, Sequence[HistoricalGame]]) -> None:
        self.games = games
        self.calls: list[League] = []

    def __call__(self, league: League) -> Sequence[HistoricalGame]:
        self.calls.append(league)
        return self.games.get(league, ())


def game(day: date, season: int, home: str, away: str, hs: int, aws: int) -> HistoricalGame:
    return HistoricalGame(
        day=day,
        season=season,
        home=home,
        away=away,
        home_score=hs,
        away_score=aws,
        neutral=False,
        playoff=False,
        playoff_round="",
        elo_home_pre=1600.0,
        elo_away_pre=1400.0,
        elo_prob_home=0.0,
        headline_prob_home=None,
    )


SMALL = {League.NBA: [game(date(2023, 4, 9), 2023, "GSW", "BOS", 110, 100)]}


def test_bootstrap_replays_the_shipped_history(tmp_path: Path) -> None:
    """A fresh store rates NFL/NBA teams under graph.teams keys; other leagues start at default."""
    with RatingStore(tmp_path / "r.sqlite3") as store:
        nba = store.model_for(League.NBA)
        nfl = store.model_for(League.NFL)
        assert {"GS", "BKN", "PHX", "NY"} <= set(nba.ratings)
        assert "LV" in nfl.ratings and "OAK" not in nfl.ratings
        assert nba.season == 2023 and nfl.season == 2022
        assert len(nba.ratings) == 30 and len(nfl.ratings) == 32
        assert store.model_for(League.MLB).rating("NYY") == PARAMS[League.MLB].initial
        assert "elo-nba v1-" in store.model_name(League.NBA)


def test_bootstrapped_ratings_are_plausible(tmp_path: Path) -> None:
    """After the replay the NBA mean sits near 1505 and the 2023 champions rate near the top."""
    with RatingStore(tmp_path / "r.sqlite3") as store:
        ratings = store.ratings(League.NBA)
    assert 1480 < sum(ratings.values()) / len(ratings) < 1530
    assert "DEN" in sorted(ratings, key=ratings.__getitem__, reverse=True)[:5]
    assert load_games(League.NBA)[-1].home == "DEN"


def test_restart_loads_from_sqlite_without_replaying(tmp_path: Path) -> None:
    """The second open reads the database; the history loader is not called again."""
    history = CountingHistory(SMALL)
    path = tmp_path / "r.sqlite3"
    with RatingStore(path, history=history) as store:
        first = store.ratings(League.NBA)
        store.apply_result(League.NBA, "g1", "GS", "BOS", 90, 120, False, date(2023, 5, 1))
        after = store.ratings(League.NBA)
    assert history.calls == list(League)
    history.calls.clear()
    with RatingStore(path, history=history) as store:
        assert store.ratings(League.NBA) == after != first
        assert store.model_for(League.NBA).last_played["GS"] == date(2023, 5, 1)
        assert store.model_for(League.NBA).season == 2023
    assert history.calls == []


def test_a_game_is_applied_exactly_once(tmp_path: Path) -> None:
    """Seeing a completed game many times (and after a restart) changes ratings once."""
    path = tmp_path / "r.sqlite3"
    args = (League.NBA, "401", "GS", "BOS", 100, 101, False, date(2023, 5, 2))
    with RatingStore(path, history=CountingHistory(SMALL)) as store:
        assert store.apply_result(*args) is True
        once = store.ratings(League.NBA)
        assert [store.apply_result(*args) for _ in range(5)] == [False] * 5
        assert store.ratings(League.NBA) == once
    with RatingStore(path, history=CountingHistory(SMALL)) as store:
        assert store.apply_result(*args) is False
        assert store.ratings(League.NBA) == once


def test_concurrent_repeats_apply_once(tmp_path: Path) -> None:
    """Threads racing on the same game id: exactly one of them applies it."""
    args = (League.NBA, "402", "GS", "BOS", 100, 101, False, date(2023, 5, 2))
    with RatingStore(tmp_path / "r.sqlite3", history=CountingHistory(SMALL)) as store:
        results: list[bool] = []
        lock = threading.Lock()

        def worker() -> None:
            applied = store.apply_result(*args)
            with lock:
                results.append(applied)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=10)
        assert sorted(results) == [False] * 7 + [True]


def test_new_season_regresses_ratings_on_its_first_game(tmp_path: Path) -> None:
    """The first game of a new season regresses every team toward the mean, then rates it."""
    with RatingStore(tmp_path / "r.sqlite3", history=CountingHistory(SMALL)) as store:
        before = store.ratings(League.NBA)
        keep = 1 - PARAMS[League.NBA].regression
        # 2023-24 season (2024 in 538's convention): one regression for the new season.
        store.apply_result(League.NBA, "g", "LAL", "PHX", 100, 90, False, date(2023, 10, 24))
        model = store.model_for(League.NBA)
        assert model.season == 2024
        expected_gs = 1505 + keep * (before["GS"] - 1505)
        assert model.rating("GS") == pytest.approx(expected_gs)
        reopened = store.ratings(League.NBA)
    with RatingStore(tmp_path / "r.sqlite3", history=CountingHistory(SMALL)) as store:
        assert store.ratings(League.NBA) == reopened


def test_unknown_league_history_starts_at_default(tmp_path: Path) -> None:
    """Leagues without shipped history rate new teams at the default and learn from results."""
    with RatingStore(tmp_path / "r.sqlite3", history=CountingHistory({})) as store:
        assert store.apply_result(League.NHL, "h1", "BOS", "NYR", 4, 1, False, date(2025, 1, 5))
        model = store.model_for(League.NHL)
        assert model.rating("BOS") > PARAMS[League.NHL].initial > model.rating("NYR")


def test_model_snapshot_is_not_mutated_by_later_results(tmp_path: Path) -> None:
    """model_for returns a snapshot: applying a game builds a new model."""
    with RatingStore(tmp_path / "r.sqlite3", history=CountingHistory(SMALL)) as store:
        snapshot = store.model_for(League.NBA)
        frozen = dict(snapshot.ratings)
        store.apply_result(League.NBA, "g", "GS", "BOS", 1, 2, False, date(2023, 5, 1))
        assert snapshot.ratings == frozen
        assert store.model_for(League.NBA) is not snapshot


def test_use_before_open_is_an_error(tmp_path: Path) -> None:
    """Reading or writing a store that was never opened fails loudly."""
    store = RatingStore(tmp_path / "r.sqlite3")
    with pytest.raises(RuntimeError, match="open"):
        store.model_for(League.NBA)
    with pytest.raises(RuntimeError, match="open"):
        store.apply_result(League.NBA, "g", "GS", "BOS", 1, 2, False, date(2023, 5, 1))


def test_a_different_model_version_rebuilds_from_history(tmp_path: Path) -> None:
    """Ratings stored by other parameters are discarded and replayed with the current ones."""
    path = tmp_path / "r.sqlite3"
    with RatingStore(path, history=CountingHistory(SMALL)) as store:
        store.apply_result(League.NBA, "g", "GS", "BOS", 1, 2, False, date(2023, 5, 1))
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = 'old' WHERE key = 'model_version'")
    conn.close()
    history = CountingHistory(SMALL)
    with RatingStore(path, history=history) as store:
        assert history.calls == list(League)
        assert store.apply_result(League.NBA, "g", "GS", "BOS", 1, 2, False, date(2023, 5, 1))


def test_opening_twice_and_closing_twice_change_nothing(tmp_path: Path) -> None:
    """A second open keeps the loaded ratings (no second bootstrap); a second close is a no-op."""
    history = CountingHistory(SMALL)
    store = RatingStore(tmp_path / "r.sqlite3", history=history)
    store.open()
    ratings = store.ratings(League.NBA)
    store.open()
    assert history.calls == list(League)
    assert store.ratings(League.NBA) == ratings
    store.close()
    store.close()
    with pytest.raises(RuntimeError, match="open"):
        store.apply_result(League.NBA, "g", "GS", "BOS", 1, 2, False, date(2023, 5, 1))


def test_a_538_code_without_a_team_keeps_its_rating_under_that_code(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A history code graph.teams does not know is rated under the code itself, with a warning."""
    history = CountingHistory({League.NBA: [game(date(2023, 4, 9), 2023, "GSW", "XYZ", 1, 2)]})
    with RatingStore(tmp_path / "r.sqlite3", history=history) as store:
        assert set(store.ratings(League.NBA)) == {"GS", "XYZ"}
    assert "No team for 538 code league=NBA code=XYZ" in caplog.text


def test_learning_the_codes_already_known_changes_nothing(tmp_path: Path) -> None:
    """Codes equal to what the season knows are no change: nothing is reported or written."""
    with RatingStore(tmp_path / "r.sqlite3", history=CountingHistory(SMALL)) as store:
        assert store.learn_kalshi_codes(League.NBA, 2026, {"GS": "GSW"}) == [("GS", "GSW", None)]
        assert store.learn_kalshi_codes(League.NBA, 2026, {"GS": "GSW"}) == []
        assert store.kalshi_codes(League.NBA, 2026) == {"GS": "GSW"}
