"""The live track record against Kalshi: pre-game snapshots and their scores (adapter).

How it works: :func:`record_upcoming` runs with the rating upkeep (every pass of
``graph.app``'s upkeep loop). For each league it reads today's schedule (US-Eastern), predicts
every game that has not started through the same batch a ``games`` query uses, and stores one
snapshot per game: our home probability, Kalshi's (the prediction's
``market_home_win_probability``, built on ``Market.implied_probability``, the one rule for what
counts as a real price) and the recommendation made then, with its ask. A later pass before the
start replaces the snapshot; from the start on the store refuses it. Results are written by the
rating upkeep (:mod:`graph.games.upkeep`) when a game is final. :func:`summary` scores what is
stored (:func:`graph.model.track.summarise`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING

from graph.espn.parse import eastern_date
from graph.games.batches import GameSet
from graph.games.ids import public_id
from graph.model.track import TrackEntry, TrackSummary, summarise
from graph.models import Game, GameState, League, Prediction

if TYPE_CHECKING:
    from graph.model.trackstore import TrackStore

logger = logging.getLogger(__name__)


def entry(game: Game, prediction: Prediction, now: datetime) -> TrackEntry:
    bet = prediction.bet
    return TrackEntry(
        league=game.league,
        game_id=public_id(game),
        start_time=game.start_time,
        recorded_at=now,
        model=prediction.model,
        p_model=prediction.home_win_probability,
        p_market=prediction.market_home_win_probability,
        bet_side=bet.side if bet else None,
        bet_ticker=bet.code if bet else None,
        bet_price=bet.price if bet else None,
        bet_stake=bet.stake if bet else None,
    )


async def record_upcoming(
    leagues: Iterable[League],
    *,
    now: datetime,
    schedule: Callable[[League, date], Awaitable[list[Game]]],
    game_set: Callable[[Sequence[Game]], GameSet],
    track: TrackStore,
) -> int:
    """Snapshot every game of today that has not started; returns how many were stored."""
    stored = 0
    for league in leagues:
        upcoming = [
            g
            for g in await schedule(league, eastern_date(now))
            if g.state is GameState.SCHEDULED and g.start_time > now
        ]
        if not upcoming:
            continue
        predictions = await game_set(upcoming).predictions()
        for game, prediction in zip(upcoming, predictions, strict=True):
            if isinstance(prediction, BaseException):
                continue  # logged by the predictor; the next pass tries again
            snapshot = entry(game, prediction, now)
            day = eastern_date(game.start_time)
            stored += await asyncio.to_thread(track.record, snapshot, day)
        logger.info("Track record snapshots league=%s games=%d", league, len(upcoming))
    return stored


def outcome(game: Game) -> float | None:
    """1 home win, 0 loss, 0.5 tie; None unless the game is final with a score."""
    if game.state is not GameState.FINAL or game.home_score is None or game.away_score is None:
        return None
    if game.home_score == game.away_score:
        return 0.5
    return 1.0 if game.home_score > game.away_score else 0.0


async def summary(track: TrackStore, league: League, since: date | None) -> TrackSummary:
    return summarise(await asyncio.to_thread(track.entries, league, since))
