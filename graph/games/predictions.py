"""Every game's prediction of one response, made concurrently with failures isolated (adapter).

How it works: :meth:`Predictor.predict` takes the games of a response and the pending markets
batch of the same games. Per game it needs rest days and the rating lookup; the markets are
awaited only at the end, so the listing request and the per-game summaries are in flight
together. A game whose prediction fails gets a :class:`PredictionFailed` (with the reason) in its
place and the others stand; a game whose markets failed still gets our own prediction.

Rest days come from the rating store's record of each team's last game when that record is
known to be complete: the last rating refresh (:mod:`graph.games.upkeep`) read every day of the
league's rest window up to the day before the game, and every game on those days was over.
Otherwise (no refresh yet, an outage, a team that already played on the game's day) they come
from the game's ESPN summary, one request per game, under a semaphore. Measured (``make
bench``): those requests cost ~3 ms of CPU each on loopback, so at 200 games they, not the
upstream latency, made the cold query ~12 round trips whatever the concurrency.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING

from graph.errors import GraphError, InvalidInput
from graph.espn.parse import eastern_date, rest_days
from graph.games.ids import public_id
from graph.games.matching import GameMarkets
from graph.model.policy import DEFAULT_POLICIES, LeaguePolicy
from graph.model.predict import build_prediction
from graph.models import Game, League, Prediction

if TYPE_CHECKING:
    from graph.espn.parse import GameSummary
    from graph.model.ratings import RatingStore

logger = logging.getLogger(__name__)

RestDays = tuple[int | None, int | None]
# Per league: (first, last) day of the last refresh's unbroken run of finished days.
CompleteDays = dict[League, tuple[date, date]]

_ONE_DAY = timedelta(days=1)


class PredictionFailed(GraphError):
    """One game's prediction could not be made (the other games are unaffected)."""

    code = "PREDICTION_FAILED"


class Predictor:
    def __init__(
        self,
        *,
        ratings: RatingStore,
        summary: Callable[[Game], Awaitable[GameSummary]],
        complete_days: CompleteDays,
        concurrency: int,
        max_games: int,
        clock: Callable[[], float],
        policies: Mapping[League, LeaguePolicy] = DEFAULT_POLICIES,
    ) -> None:
        self._ratings = ratings
        self._policies = policies
        self._summary = summary
        self._complete_days = complete_days
        self._concurrency = concurrency
        self._max_games = max_games
        self._clock = clock

    async def predict(
        self, games: Sequence[Game], markets: Awaitable[Sequence[GameMarkets]]
    ) -> list[Prediction | BaseException]:
        """Predict every game concurrently; a failure stays with its game."""
        logger.info("Generating predictions for %d games concurrently...", len(games))
        started = time.perf_counter()
        pending = asyncio.ensure_future(markets)
        semaphore = asyncio.Semaphore(self._concurrency)
        # Each prediction may cost an upstream request: aliases over many dates must not fan
        # out without bound. Games past the cap fail alone, with the reason.
        cap = self._max_games

        async def one(index: int, game: Game) -> Prediction:
            if index >= cap:
                raise InvalidInput(f"at most {cap} predictions per query; ask for fewer games")
            rest = self.recorded_rest_days(game)
            if rest is None:
                async with semaphore:
                    summary = await self._summary(game)
                rest = (
                    rest_days(summary, game.home.code, game.start_time),
                    rest_days(summary, game.away.code, game.start_time),
                )
            found: GameMarkets | None
            try:
                found = (await asyncio.shield(pending))[index]
            except Exception:  # no market price is no reason to withhold our own prediction
                found = None
            return self._predict(game, rest, found)

        results = await asyncio.gather(
            *(one(i, g) for i, g in enumerate(games)), return_exceptions=True
        )
        await asyncio.gather(pending, return_exceptions=True)  # settled even when all capped
        out = [_isolated(game, result) for game, result in zip(games, results, strict=True)]
        failed = sum(isinstance(r, BaseException) for r in out)
        logger.info(
            "Successfully generated %d predictions (%d failed) in %.0f ms",
            len(out) - failed,
            failed,
            (time.perf_counter() - started) * 1000,
        )
        return out

    def rest_window(self, league: League) -> int:
        """Days before a game the model looks at: its rest cap, at least the day before."""
        return max(self._ratings.model_for(league).params.rest_cap_days, 1)

    def recorded_rest_days(self, game: Game) -> RestDays | None:
        """Both teams' rest days from the rating store, or None unless known complete.

        Complete: the last refresh saw every game of the rest window before the game's
        day finished (and applied it), so the store's last game of each team is the true
        one within the window; beyond it the model caps rest anyway.
        """
        known = self._complete_days.get(game.league)
        if known is None:
            return None
        day = eastern_date(game.start_time)
        first, last = known
        if first > day - timedelta(days=self.rest_window(game.league)) or last < day - _ONE_DAY:
            return None
        played = self._ratings.model_for(game.league).last_played
        out: list[int] = []
        for code in (game.home.code, game.away.code):
            previous = played.get(code)
            if previous is None or previous >= day:  # unseen, or already played that day
                return None
            out.append((day - previous).days)
        return out[0], out[1]

    def _predict(self, game: Game, rest: RestDays, markets: GameMarkets | None) -> Prediction:
        model = self._ratings.model_for(game.league)
        p_home, factors = model.explain(
            game.home.code,
            game.away.code,
            neutral=game.neutral_site,
            home_rest_days=rest[0],
            away_rest_days=rest[1],
            day=eastern_date(game.start_time),
        )
        home_market = markets.home if markets else None
        return build_prediction(
            p_home=p_home,
            factors=factors,
            model=self._ratings.model_name(game.league),
            policy=self._policies[game.league],
            # Bets name the exact market: team codes differ between Kalshi and the scoreboard.
            home_code=home_market.ticker if home_market else game.home.code,
            away_code=markets.away.ticker if markets and markets.away else game.away.code,
            home_market=home_market,
            away_market=markets.away if markets else None,
            now_ms=int(self._clock() * 1000),
        )


def _isolated(game: Game, result: Prediction | BaseException) -> Prediction | BaseException:
    """A failure as the client should see it: coded, naming the game, cause kept for the log."""
    if not isinstance(result, BaseException):
        return result
    if isinstance(result, GraphError):
        logger.warning("Prediction failed game=%s error=%s", game.id, result)
        return PredictionFailed(f"prediction failed for game {public_id(game)}: {result}")
    logger.warning("Prediction failed game=%s error=%s", game.id, type(result).__name__)
    failure = PredictionFailed(f"prediction failed for game {public_id(game)}")
    failure.__cause__ = result
    return failure
