"""What a `games` query reads: schedules and Kalshi markets, cached (adapter).

How it works:
- Schedules come from the scoreboard, one request per (league, US-Eastern date),
  through a TTL cache with single-flight, so N identical concurrent queries cost
  one upstream request.
- Markets for a whole response are one batch (:meth:`GameService.load_markets`):
  one ``GET /markets?series_ticker=...`` per (league, US-Eastern day), narrowed with
  Kalshi's close-time filters to the markets of that day's games (:func:`close_window`),
  so it fits one page whatever its status (finished games included); cached for the
  price TTL and shared by every query. A game whose event it lacks costs one ``tickers=``
  request more. Games are matched to events by :mod:`graph.games.matching`.
- The listing does not need the schedule, so a query that will want markets starts it
  together with the scoreboard request (``games(..., with_markets=True)``): one round
  trip for both.
- Predictions (:mod:`graph.games.predictions`), per-operation batches
  (:mod:`graph.games.batches`), rating upkeep (:mod:`graph.games.upkeep`) and the
  live track record (:mod:`graph.games.track`) are separate modules; this class
  wires them to its caches.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time as clock_time, timedelta
from typing import TYPE_CHECKING, Any

from graph import teams
from graph.cache import CacheStats, TTLCache
from graph.errors import UpstreamError
from graph.espn.parse import EASTERN, eastern_date
from graph.games import track
from graph.games.batches import GameSet
from graph.games.ids import parse_public_id
from graph.games.matching import GameMarkets, event_ticker, market_tickers, match_markets
from graph.games.predictions import CompleteDays, Predictor
from graph.games.upkeep import refresh_ratings
from graph.kalshi.rest import GAME_MARKET_CLOSE_AFTER_START
from graph.model.policy import DEFAULT_POLICIES, LeaguePolicy
from graph.models import Game, League, Market

if TYPE_CHECKING:
    from graph.espn.client import ScoreboardClient
    from graph.espn.parse import GameSummary
    from graph.kalshi.rest import KalshiRest
    from graph.model.ratings import RatingStore
    from graph.model.track import TrackSummary

logger = logging.getLogger(__name__)

Listing = tuple[str, date]  # (series, US-Eastern day)
Load = Callable[[], Awaitable[dict[str, list[Market]]]]

# Past days do not change; keep them long.
PAST_SCHEDULE_TTL_S = 3600.0
# A close time taken from a late game's expected end rather than its start still counts
# for the game's day.
CLOSE_SLACK = timedelta(hours=6)


def close_window(day: date) -> tuple[int, int]:
    """Kalshi's ``min_close_ts``/``max_close_ts`` for the game markets of ET ``day``."""
    midnight = datetime.combine(day, clock_time(), EASTERN).astimezone(UTC)
    low = midnight + GAME_MARKET_CLOSE_AFTER_START
    high = low + timedelta(days=1) + CLOSE_SLACK
    return int(low.timestamp()), int(high.timestamp())


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    prices_ttl_s: float = 5.0
    schedule_ttl_s: float = 60.0
    prediction_concurrency: int = 16
    max_games_per_query: int = 500


class GameService:
    def __init__(
        self,
        *,
        rest: KalshiRest,
        scoreboard: ScoreboardClient,
        ratings: RatingStore,
        config: ServiceConfig = ServiceConfig(),
        clock: Callable[[], float] = time.time,
        policies: Mapping[League, LeaguePolicy] = DEFAULT_POLICIES,
    ) -> None:
        self._rest = rest
        self._scoreboard = scoreboard
        self._ratings = ratings
        self._config = config
        self._clock = clock
        self._schedules: TTLCache[tuple[League, date], list[Game]] = TTLCache()
        self._listings: TTLCache[tuple[str, date], dict[str, list[Market]]] = TTLCache()
        self._closed_markets: TTLCache[frozenset[str], dict[str, list[Market]]] = TTLCache()
        self._summaries: TTLCache[tuple[League, str], GameSummary] = TTLCache()
        self._markets: TTLCache[str, Market | None] = TTLCache(max_entries=4096)
        self._complete_days: CompleteDays = {}
        self.predictor = Predictor(
            ratings=ratings,
            summary=self._summary,
            complete_days=self._complete_days,
            concurrency=config.prediction_concurrency,
            max_games=config.max_games_per_query,
            clock=clock,
            policies=policies,
        )

    # Schedules

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), tz=UTC)

    def today(self) -> date:
        return eastern_date(self.now())

    async def games(self, league: League, day: date, *, with_markets: bool = False) -> list[Game]:
        """The day's games; ``with_markets`` starts the day's market listing meanwhile."""
        if with_markets:
            self._listings.prefetch(*self._listing(league, day))
        past = day < self.today() - timedelta(days=1)
        ttl = PAST_SCHEDULE_TTL_S if past else self._config.schedule_ttl_s
        return await self._schedules.get(
            (league, day), lambda: self._scoreboard.games(league, day), ttl
        )

    async def game(self, game_id: str, *, with_markets: bool = False) -> Game | None:
        league, day, raw = parse_public_id(game_id)
        games = await self.games(league, day, with_markets=with_markets)
        return next((g for g in games if g.id == raw), None)

    # Markets

    def event_ticker(self, game: Game) -> str | None:
        return event_ticker(game.league, game)

    @property
    def market_cache(self) -> TTLCache[str, Market | None]:
        """Single markets by ticker, shared with the subscription snapshot."""
        return self._markets

    async def market(self, ticker: str) -> Market | None:
        return await self._markets.get(
            ticker, lambda: self._rest.market(ticker), self._config.prices_ttl_s
        )

    def _listing(self, league: League, day: date) -> tuple[Listing, Load, float]:
        """The cache key, load and TTL of one league's markets closing on ``day``."""
        series = teams.SERIES[league]

        async def fetch() -> dict[str, list[Market]]:
            low, high = close_window(day)
            found = await self._rest.markets(
                series_ticker=series, min_close_ts=low, max_close_ts=high
            )
            if not found:
                # Nothing closes in the window: no games on Kalshi that day, or its
                # close-time convention moved. Every open market tells the two apart.
                logger.info("No Kalshi markets close with the day league=%s day=%s", league, day)
                found = await self._rest.markets(series_ticker=series, status="open")
            return _by_event(found)

        return (series, day), fetch, self._config.prices_ttl_s

    async def _day_events(self, league: League, day: date) -> dict[str, list[Market]]:
        return await self._listings.get(*self._listing(league, day))

    async def _closed_events(
        self, league: League, events: dict[str, Game]
    ) -> dict[str, list[Market]]:
        tickers = [t for game in events.values() for t in market_tickers(league, game) or ()]

        async def fetch() -> dict[str, list[Market]]:
            return _by_event(await self._rest.markets(tickers=tickers))

        return await self._closed_markets.get(frozenset(events), fetch, self._config.prices_ttl_s)

    async def load_markets(self, games: Sequence[Game]) -> list[GameMarkets]:
        """DataLoader batch: every game of a response in one go (see module doc)."""
        by_league: dict[League, list[Game]] = defaultdict(list)
        for game in games:
            by_league[game.league].append(game)
        found: dict[str, GameMarkets] = {}
        await asyncio.gather(*(self._league_markets(lg, gs, found) for lg, gs in by_league.items()))
        return [found[g.id] for g in games]

    async def _league_markets(
        self, league: League, games: list[Game], out: dict[str, GameMarkets]
    ) -> None:
        tickers = {g.id: event_ticker(league, g) for g in games}
        days = sorted({eastern_date(g.start_time) for g in games})
        try:
            listing: dict[str, list[Market]] = {}
            for part in await asyncio.gather(*(self._day_events(league, d) for d in days)):
                listing.update(part)
            closed = {t: g for g in games if (t := tickers[g.id]) is not None and t not in listing}
            if closed:
                listing = {**listing, **await self._closed_events(league, closed)}
        except UpstreamError as exc:
            # Kalshi being down must not take the schedule with it: no markets, logged.
            logger.warning("Kalshi markets unavailable league=%s error=%s", league, exc)
            listing = {}
        unmatched = 0
        everything: list[Market] | None = None
        for game in games:
            ticker = tickers[game.id]
            candidates = listing.get(ticker) if ticker else None
            if candidates is None:
                # A moved start time or a neutral site listed the other way round: let the
                # matcher's fallback look at every listed market of the league.
                if everything is None:
                    everything = [m for ms in listing.values() for m in ms]
                candidates = everything
            result = match_markets(league, game, candidates)
            unmatched += not result.matched
            out[game.id] = result
        logger.info(
            "Matched Kalshi markets league=%s games=%d unmatched=%d", league, len(games), unmatched
        )

    # Predictions and ratings

    def game_set(self, games: Sequence[Game]) -> GameSet:
        """The games of one response, their markets and predictions batched (see batches)."""
        return GameSet(games, markets=self.load_markets, predictions=self.predictor.predict)

    def rating(self, league: League, code: str) -> float | None:
        if teams.by_espn(league, code) is None:
            return None
        return self._ratings.model_for(league).rating(code)

    async def _summary(self, game: Game) -> GameSummary:
        return await self._summaries.get(
            (game.league, game.id),
            lambda: self._scoreboard.summary(game.league, game.id),
            self._config.schedule_ttl_s,
        )

    async def refresh_ratings(self, leagues: Iterable[League], *, days: int | None = None) -> int:
        """Apply finished games to the rating store (:func:`graph.games.upkeep.refresh_ratings`)."""
        return await refresh_ratings(
            leagues,
            days=days,
            today=self.today(),
            schedule=self.games,
            ratings=self._ratings,
            rest_window=self.predictor.rest_window,
            complete_days=self._complete_days,
            now=self.now(),
        )

    async def record_track(self, leagues: Iterable[League]) -> int:
        """Snapshot today's games before they start (:mod:`graph.games.track`)."""
        return await track.record_upcoming(
            leagues,
            now=self.now(),
            schedule=self.games,
            game_set=self.game_set,
            track=self._ratings.track,
        )

    async def track_record(self, league: League, since: date | None) -> TrackSummary:
        """The league's live track record against Kalshi, scored."""
        return await track.summary(self._ratings.track, league, since)

    def cache_stats(self) -> dict[str, CacheStats]:
        """Each cache's counters by name (read by the metrics collector at scrape time)."""
        return {
            "schedules": self._schedules.stats,
            "listings": self._listings.stats,
            "closed_markets": self._closed_markets.stats,
            "summaries": self._summaries.stats,
            "markets": self._markets.stats,
        }

    def _caches(self) -> tuple[TTLCache[Any, Any], ...]:
        return (
            self._schedules,
            self._listings,
            self._closed_markets,
            self._summaries,
            self._markets,
        )

    def clear_caches(self) -> None:
        """Forget every cached upstream answer (rating records stay): the next query is cold."""
        for cache in self._caches():
            cache.clear()

    async def aclose(self) -> None:
        for cache in self._caches():
            await cache.aclose()


def _by_event(markets: Iterable[Market]) -> dict[str, list[Market]]:
    out: dict[str, list[Market]] = defaultdict(list)
    for m in markets:
        out[m.event_ticker].append(m)
    return dict(out)
