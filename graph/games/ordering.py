"""How ``games(sortBy:)`` orders a response (core).

``START_TIME`` needs nothing but the schedule. ``EDGE`` and ``CONFIDENCE`` need every game's
prediction: :func:`rank` is given them (or the failure) and puts games without one last, so a
failed prediction moves its game to the end instead of failing the query.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime

from graph.models import Confidence, Game, Prediction


class GameSort(enum.StrEnum):
    START_TIME = "START_TIME"
    EDGE = "EDGE"
    CONFIDENCE = "CONFIDENCE"


_CONFIDENCE_RANK = {Confidence.HIGH: 0, Confidence.MEDIUM: 1, Confidence.LOW: 2}


def _edge_rank(p: Prediction | None) -> tuple[int, float]:
    """Largest |edge| first; games without an edge last."""
    return (1, 0.0) if p is None or p.edge is None else (0, -abs(p.edge))


def _confidence_rank(p: Prediction | None) -> tuple[int, float]:
    """HIGH before MEDIUM before LOW, surer predictions first; failed ones last."""
    if p is None:
        return (3, 0.0)
    return (_CONFIDENCE_RANK[p.confidence], -abs(p.home_win_probability - 0.5))


def by_start_time(games: Sequence[Game]) -> list[Game]:
    return sorted(games, key=lambda g: (g.start_time, g.id))


def rank(
    games: Sequence[Game], predictions: Sequence[Prediction | BaseException], sort_by: GameSort
) -> list[Game]:
    """``games`` in ``sort_by`` order (EDGE or CONFIDENCE), given each game's prediction."""
    if sort_by is GameSort.START_TIME:
        return by_start_time(games)
    ranked = _edge_rank if sort_by is GameSort.EDGE else _confidence_rank

    def key(pair: tuple[Game, Prediction | BaseException]) -> tuple[tuple[int, float], datetime]:
        game, loaded = pair
        return ranked(loaded if isinstance(loaded, Prediction) else None), game.start_time

    return [g for g, _ in sorted(zip(games, predictions, strict=True), key=key)]
