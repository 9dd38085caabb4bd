"""Rating upkeep: apply finished games to the rating store (adapter).

How it works: for each league, read the schedules of the last few days (at least the league's
rest window, so the store also knows every team's last game) and apply each FINAL game exactly
once (the store remembers applied game ids), and write its result into the live track record
(:mod:`graph.games.track`; a game recorded before its start is settled once). While doing so,
note the unbroken run of past days whose games were all over:
:class:`graph.games.predictions.Predictor` trusts the store's rest days only inside that run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from graph.errors import UpstreamError
from graph.espn.parse import eastern_date
from graph.games.ids import public_id
from graph.games.predictions import CompleteDays
from graph.games.track import outcome
from graph.models import Game, GameState, League

if TYPE_CHECKING:
    from graph.model.ratings import RatingStore

logger = logging.getLogger(__name__)

# Days the rating refresh reads at least (it reads a league's whole rest window if longer).
REFRESH_DAYS = 3
_OVER = frozenset({GameState.FINAL, GameState.POSTPONED, GameState.CANCELED})


async def refresh_ratings(
    leagues: Iterable[League],
    *,
    days: int | None,
    today: date,
    schedule: Callable[[League, date], Awaitable[list[Game]]],
    ratings: RatingStore,
    rest_window: Callable[[League], int],
    complete_days: CompleteDays,
    now: datetime,
) -> int:
    """Apply completed games of the last ``days`` days (default: see module doc); returns count."""
    applied = 0
    for league in leagues:
        back_days = max(REFRESH_DAYS, rest_window(league)) if days is None else days
        run: tuple[date, date] | None = None  # unbroken days whose games were all over
        for back in range(back_days, -1, -1):
            day = today - timedelta(days=back)
            try:
                games = await schedule(league, day)
            except UpstreamError as exc:
                logger.warning("Rating refresh skipped league=%s day=%s error=%s", league, day, exc)
                run = None
                continue
            if day < today:
                over = all(g.state in _OVER for g in games)
                run = ((run[0] if run else day), day) if over else None
            for g in games:
                result = outcome(g)
                if result is None or g.home_score is None or g.away_score is None:
                    continue
                await asyncio.to_thread(ratings.track.settle, league, public_id(g), result, now)
                applied += await asyncio.to_thread(
                    ratings.apply_result,
                    league,
                    g.id,
                    g.home.code,
                    g.away.code,
                    g.home_score,
                    g.away_score,
                    g.neutral_site,
                    eastern_date(g.start_time),
                )
        if run is not None:
            complete_days[league] = run
    return applied
