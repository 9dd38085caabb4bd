"""Tests for graph.games.ordering: how games(sortBy:) orders a response."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from graph.games.ordering import GameSort, by_start_time, rank
from graph.models import Confidence, Game, GameState, League, Prediction, TeamRef

T0 = datetime(2026, 11, 22, 18, tzinfo=UTC)


def game(gid: str, minutes: int = 0) -> Game:
    return Game(
        id=gid,
        league=League.NBA,
        start_time=T0 + timedelta(minutes=minutes),
        state=GameState.SCHEDULED,
        home=TeamRef("H", "Home"),
        away=TeamRef("A", "Away"),
    )


def prediction(p_home: float, edge: float | None, confidence: Confidence) -> Prediction:
    return Prediction(p_home, 1 - p_home, confidence, "m", edge=edge)


def test_start_time_breaks_ties_by_scoreboard_id() -> None:
    """START_TIME: earliest first; games starting together in scoreboard-id order."""
    games = [game("b", 30), game("c", 0), game("a", 0)]
    assert [g.id for g in by_start_time(games)] == ["a", "c", "b"]
    assert rank(games, [ValueError()] * 3, GameSort.START_TIME) == by_start_time(games)


def test_edge_puts_the_largest_disagreement_first_and_failures_last() -> None:
    """EDGE: largest |edge| first, either sign; no edge or a failed prediction last."""
    games = [game("none"), game("small"), game("failed"), game("big", 5)]
    predictions: list[Prediction | BaseException] = [
        prediction(0.6, None, Confidence.HIGH),
        prediction(0.6, 0.02, Confidence.HIGH),
        RuntimeError("boom"),
        prediction(0.6, -0.2, Confidence.LOW),
    ]
    ordered = [g.id for g in rank(games, predictions, GameSort.EDGE)]
    assert ordered[:2] == ["big", "small"]
    assert set(ordered[2:]) == {"none", "failed"}


def test_confidence_puts_high_and_surer_first_and_failures_last() -> None:
    """CONFIDENCE: HIGH before MEDIUM before LOW, the surer of equals first, failures last."""
    games = [game("low"), game("failed"), game("high-close"), game("high-sure"), game("medium")]
    predictions: list[Prediction | BaseException] = [
        prediction(0.9, 0.1, Confidence.LOW),
        RuntimeError("boom"),
        prediction(0.55, 0.1, Confidence.HIGH),
        prediction(0.8, 0.1, Confidence.HIGH),
        prediction(0.7, 0.1, Confidence.MEDIUM),
    ]
    ordered = [g.id for g in rank(games, predictions, GameSort.CONFIDENCE)]
    assert ordered == ["high-sure", "high-close", "medium", "low", "failed"]
