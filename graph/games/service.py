"""What a `games` query reads: schedules and Kalshi markets, cached (adapter).

How it works:
- Schedules come from the scoreboard, one request per (league, US-Eastern date),
  through a TTL cache with single-flight, so N identical concurrent queries cost
  one upstream request.
- Markets for a whole response are one batch (:meth:`GameService.load_markets`,
  :class:`graph.games.markets.MarketBook`): one ``GET /markets?series_ticker=...&status=open``
  per league (cached for the price TTL and shared by every query), plus one ``tickers=``
  request for finished games whose events are no longer open. Games are matched to events
  by the evidence the listing carries (:mod:`graph.games.matching`).
- The day's listing does not need the schedule, so a query that will want markets starts it
  together with the scoreboard request (``games(..., with_markets=True)``): one round trip
  for both.
- With Redis (``link``), schedules, market listings and summaries are shared by every
  replica (:class:`~graph.cluster.cache.SharedCache`: same TTLs, single-flight across
  replicas); single markets stay per process. Without it, or while Redis is down, the
  in-process caches alone do the work.
- Single markets (``market(ticker:)``) asked for in the same turn of the event loop are
  one ``GET /markets?tickers=...`` (:class:`TickerBatch`): thirty aliased lookups are one
  request, not thirty.
- Predictions (:mod:`graph.games.predictions`), per-operation batches
  (:mod:`graph.games.batches`), rating upkeep (:mod:`graph.games.upkeep`) and the
  live track record (:mod:`graph.games.track`) are separate modules; this class
  wires them to its caches.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from graph import teams
from graph.cache import CacheStats, TTLCache
from graph.cluster.cache import Cache, SharedCache, SharedStats
from graph.cluster.codec import JsonCodec
from graph.cluster.link import RedisLink
from graph.espn.parse import GameSummary, eastern_date
from graph.games import track
from graph.games.batches import GameSet
from graph.games.ids import parse_public_id
from graph.games.markets import MarketBook, MatchStats
from graph.games.matching import GameMarkets
from graph.games.predictions import CompleteDays, Predictor
from graph.games.upkeep import refresh_ratings
from graph.model.policy import DEFAULT_POLICIES, LeaguePolicy
from graph.models import Game, League, Market
from graph.tracing import Tracing

if TYPE_CHECKING:
    from graph.espn.client import ScoreboardClient
    from graph.kalshi.rest import KalshiRest
    from graph.model.ratings import RatingStore
    from graph.model.track import TrackSummary

logger = logging.getLogger(__name__)


# Past days do not change; keep them long.
PAST_SCHEDULE_TTL_S = 3600.0


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
        tracing: Tracing | None = None,
        link: RedisLink | None = None,
        lock_s: float = 5.0,
        policies: Mapping[League, LeaguePolicy] = DEFAULT_POLICIES,
    ) -> None:
        self._tracing = tracing or Tracing()
        self._rest = rest
        self._scoreboard = scoreboard
        self._ratings = ratings
        self._config = config
        self._clock = clock
        self._link = link
        self._lock_s = lock_s
        self._schedules: Cache[tuple[League, date], list[Game]] = self._cache(
            "schedules", list[Game]
        )
        self._summaries: Cache[tuple[League, str], GameSummary] = self._cache(
            "summaries", GameSummary
        )
        self._markets: TTLCache[str, Market | None] = TTLCache(max_entries=4096)
        self._by_ticker = TickerBatch(lambda tickers: self._rest.markets(tickers=tickers))
        self._complete_days: CompleteDays = {}
        self.markets = MarketBook(
            rest=rest,
            ratings=ratings,
            schedule=self.games,
            today=self.today,
            ttl_s=config.prices_ttl_s,
            cache=self._cache,
        )
        self.predictor = Predictor(
            ratings=ratings,
            summary=self._summary,
            complete_days=self._complete_days,
            concurrency=config.prediction_concurrency,
            max_games=config.max_games_per_query,
            clock=clock,
            policies=policies,
        )

    def _cache(self, name: str, kind: Any) -> Any:
        """In process, or shared through Redis when there is a link."""
        if self._link is None:
            return TTLCache()
        return SharedCache(self._link, name, JsonCodec(kind), lock_s=self._lock_s)

    # Schedules

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), tz=UTC)

    def today(self) -> date:
        return eastern_date(self.now())

    async def games(self, league: League, day: date, *, with_markets: bool = False) -> list[Game]:
        """The day's games; ``with_markets`` starts the day's market listing meanwhile."""
        if with_markets:
            self.markets.prefetch(league, day)
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

    @property
    def market_cache(self) -> TTLCache[str, Market | None]:
        """Single markets by ticker, shared with the subscription snapshot."""
        return self._markets

    async def market(self, ticker: str) -> Market | None:
        return await self._markets.get(
            ticker, lambda: self._by_ticker.load(ticker), self._config.prices_ttl_s
        )

    async def load_markets(self, games: Sequence[Game]) -> list[GameMarkets]:
        """DataLoader batch: every game of a response in one go (see module doc)."""
        return await self.markets.load(games)

    def market_team(self, market: Market) -> str | None:
        """Our code for the team a game-winner market pays on, by the market's own evidence."""
        return self.markets.team_of(market)

    def match_stats(self) -> MatchStats:
        """Unmatched games by league and reason, and today's match rate (for ``/metrics``)."""
        return self.markets.stats

    # Predictions and ratings

    def game_set(self, games: Sequence[Game]) -> GameSet:
        """The games of one response, their markets and predictions batched (see batches)."""
        return GameSet(
            games,
            markets=self.load_markets,
            predictions=self.predictor.predict,
            tracing=self._tracing,
        )

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
            **self.markets.cache_stats(),
            "summaries": self._summaries.stats,
            "markets": self._markets.stats,
        }

    def shared_stats(self) -> dict[str, SharedStats]:
        """The Redis side of the shared caches by name (empty without Redis)."""
        caches: dict[str, Cache[Any, Any]] = {
            "schedules": self._schedules,
            "summaries": self._summaries,
            **self.markets.named_caches(),
        }
        return {n: c.shared for n, c in caches.items() if isinstance(c, SharedCache)}

    def _caches(self) -> tuple[Cache[Any, Any], ...]:
        return (
            self._schedules,
            *self.markets.named_caches().values(),
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


class TickerBatch:
    """Markets by ticker: every ``load`` made before the loop's next turn is one request."""

    def __init__(self, fetch: Callable[[list[str]], Awaitable[list[Market]]]) -> None:
        self._fetch = fetch
        self._pending: dict[str, asyncio.Future[Market | None]] = {}

    def load(self, ticker: str) -> asyncio.Future[Market | None]:
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._dispatch)
        future = self._pending.get(ticker)
        if future is None:
            future = self._pending[ticker] = asyncio.get_running_loop().create_future()
        return future

    def _dispatch(self) -> None:
        batch, self._pending = self._pending, {}
        task = asyncio.ensure_future(self._run(batch))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _run(self, batch: dict[str, asyncio.Future[Market | None]]) -> None:
        try:
            found = {m.ticker: m for m in await self._fetch(list(batch))}
        except asyncio.CancelledError:
            for future in batch.values():
                future.cancel()
            raise
        except Exception as exc:
            for future in batch.values():
                if not future.done():
                    future.set_exception(exc)
            return
        for ticker, future in batch.items():
            if not future.done():
                future.set_result(found.get(ticker))
