"""What a `games` query does, independent of GraphQL (adapter).

How it works:
- Schedules come from the scoreboard, one request per (league, US-Eastern date),
  through a TTL cache with single-flight, so N identical concurrent queries cost
  one upstream request.
- Markets for a whole response are one batch (:meth:`GameService.load_markets`):
  one ``GET /markets?series_ticker=...&status=open`` per league (cached for the
  price TTL and shared by every query), plus one ``tickers=`` request for games
  whose events are no longer open (finished games). Games are matched to events
  by exact tickers built from alias tables (:mod:`graph.games.matching`).
- Predictions for a whole response are one batch too
  (:meth:`GameService.load_predictions`): the per-game work (rest days, rating
  lookup, model) runs concurrently under a semaphore, and a failure stays with its
  game.
- Rest days come from the rating store's record of each team's last game when that
  record is known to be complete: the last rating refresh read every day of the
  league's rest window (``rest_window``) up to the day before the game, and every game
  on those days was over. Otherwise (no refresh yet, an outage, a team that already
  played on the game's day) they come from the game's ESPN summary, one request per
  game. Measured (``make bench``): those requests cost ~3 ms of CPU each on loopback,
  so at 200 games they, not the upstream latency, made the cold query ~12 round trips
  whatever the concurrency; from the store it takes 3 (scoreboard + two listing pages).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from graph import teams
from graph.cache import CacheStats, TTLCache
from graph.errors import GraphError, InvalidInput, UnknownMarket, UpstreamError
from graph.espn.parse import eastern_date, rest_days
from graph.games.matching import GameMarkets, event_ticker, market_tickers, match_markets
from graph.model.predict import build_prediction
from graph.models import Game, GameState, League, Market, Prediction, TickerUpdate

if TYPE_CHECKING:
    from graph.espn.client import ScoreboardClient
    from graph.espn.parse import GameSummary
    from graph.kalshi.rest import KalshiRest
    from graph.model.ratings import RatingStore

logger = logging.getLogger(__name__)

# Past days do not change; keep them long.
PAST_SCHEDULE_TTL_S = 3600.0
# Days the rating refresh reads at least (it reads a league's whole rest window if longer).
REFRESH_DAYS = 3
_OVER = frozenset({GameState.FINAL, GameState.POSTPONED, GameState.CANCELED})

_ONE_DAY = timedelta(days=1)

RestDays = tuple[int | None, int | None]


class PredictionFailed(GraphError):
    """One game's prediction could not be made (the other games are unaffected)."""

    code = "PREDICTION_FAILED"


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    prices_ttl_s: float = 5.0
    schedule_ttl_s: float = 60.0
    prediction_concurrency: int = 16
    max_games_per_query: int = 500


def public_id(game: Game) -> str:
    """The GraphQL id of a game: league, its US-Eastern date and the scoreboard id."""
    return f"{game.league}.{eastern_date(game.start_time):%Y%m%d}.{game.id}"


def parse_public_id(value: str) -> tuple[League, date, str]:
    try:
        league, day, raw = value.split(".", 2)
        return League(league), datetime.strptime(day, "%Y%m%d").date(), raw
    except ValueError:
        raise InvalidInput(f"not a game id: {value[:60]!r}") from None


class GameService:
    def __init__(
        self,
        *,
        rest: KalshiRest,
        scoreboard: ScoreboardClient,
        ratings: RatingStore,
        config: ServiceConfig = ServiceConfig(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._rest = rest
        self._scoreboard = scoreboard
        self._ratings = ratings
        self._config = config
        self._clock = clock
        self._schedules: TTLCache[tuple[League, date], list[Game]] = TTLCache()
        self._open_markets: TTLCache[str, dict[str, list[Market]]] = TTLCache()
        self._closed_markets: TTLCache[frozenset[str], dict[str, list[Market]]] = TTLCache()
        self._summaries: TTLCache[tuple[League, str], GameSummary] = TTLCache()
        self._markets: TTLCache[str, Market | None] = TTLCache(max_entries=4096)
        # Per league: (first, last) day of the last refresh's unbroken run of finished days.
        self._complete_days: dict[League, tuple[date, date]] = {}

    # Schedules

    def today(self) -> date:
        return eastern_date(datetime.fromtimestamp(self._clock(), tz=UTC))

    async def games(self, league: League, day: date) -> list[Game]:
        past = day < self.today() - timedelta(days=1)
        ttl = PAST_SCHEDULE_TTL_S if past else self._config.schedule_ttl_s
        return await self._schedules.get(
            (league, day), lambda: self._scoreboard.games(league, day), ttl
        )

    async def game(self, game_id: str) -> Game | None:
        league, day, raw = parse_public_id(game_id)
        return next((g for g in await self.games(league, day) if g.id == raw), None)

    # Markets

    def event_ticker(self, game: Game) -> str | None:
        return event_ticker(game.league, game)

    async def market(self, ticker: str) -> Market | None:
        return await self._markets.get(
            ticker, lambda: self._rest.market(ticker), self._config.prices_ttl_s
        )

    async def _open_events(self, league: League) -> dict[str, list[Market]]:
        async def fetch() -> dict[str, list[Market]]:
            found = await self._rest.markets(series_ticker=teams.SERIES[league], status="open")
            return _by_event(found)

        return await self._open_markets.get(teams.SERIES[league], fetch, self._config.prices_ttl_s)

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
        try:
            listing = await self._open_events(league)
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

    # Predictions

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

    async def load_predictions(
        self, games: Sequence[Game], load_markets: Callable[[Game], Awaitable[GameMarkets]]
    ) -> list[Prediction | BaseException]:
        """DataLoader batch: predict every game concurrently, isolating failures."""
        logger.info("Generating predictions for %d games concurrently...", len(games))
        started = time.perf_counter()
        # Every game's markets are asked for before the first await, so they form one batch,
        # and that batch runs while the per-game summaries are fetched, not before.
        market_loads = [asyncio.ensure_future(load_markets(g)) for g in games]
        semaphore = asyncio.Semaphore(self._config.prediction_concurrency)
        # Each prediction costs an upstream request: aliases over many dates must not fan out
        # without bound. Games past the cap fail alone, with the reason.
        cap = self._config.max_games_per_query

        async def one(index: int, game: Game, market_load: Awaitable[GameMarkets]) -> Prediction:
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
            try:
                found: GameMarkets | None = await market_load
            except Exception:  # no market price is no reason to withhold our own prediction
                found = None
            return self._predict(game, rest, found)

        results = await asyncio.gather(
            *(one(i, g, m) for i, (g, m) in enumerate(zip(games, market_loads, strict=True))),
            return_exceptions=True,
        )
        await asyncio.gather(*market_loads, return_exceptions=True)  # settle the capped ones
        out: list[Prediction | BaseException] = []
        for game, result in zip(games, results, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, GraphError):
                logger.warning("Prediction failed game=%s error=%s", game.id, type(result).__name__)
                failure = PredictionFailed(f"prediction failed for game {public_id(game)}")
                failure.__cause__ = result
                result = failure
            elif isinstance(result, GraphError):
                logger.warning("Prediction failed game=%s error=%s", game.id, result)
                result = PredictionFailed(f"prediction failed for game {public_id(game)}: {result}")
            out.append(result)
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
            # Bets name the exact market: team codes differ between Kalshi and the scoreboard.
            home_code=home_market.ticker if home_market else game.home.code,
            away_code=markets.away.ticker if markets and markets.away else game.away.code,
            home_market=home_market,
            away_market=markets.away if markets else None,
            now_ms=int(self._clock() * 1000),
        )

    # Ratings upkeep

    async def refresh_ratings(self, leagues: Iterable[League], *, days: int | None = None) -> int:
        """Apply completed games of the last ``days`` days to the rating store; returns count.

        By default a league's look-back is ``REFRESH_DAYS`` or its rest window, whichever is
        longer, so that the store can answer rest days (see :meth:`recorded_rest_days`).
        """
        applied = 0
        today = self.today()
        for league in leagues:
            back_days = max(REFRESH_DAYS, self.rest_window(league)) if days is None else days
            run: tuple[date, date] | None = None  # unbroken days whose games were all over
            for back in range(back_days, -1, -1):
                day = today - timedelta(days=back)
                try:
                    games = await self.games(league, day)
                except UpstreamError as exc:
                    logger.warning(
                        "Rating refresh skipped league=%s day=%s error=%s", league, day, exc
                    )
                    run = None
                    continue
                if day < today:
                    over = all(g.state in _OVER for g in games)
                    run = ((run[0] if run else day), day) if over else None
                for g in games:
                    if (
                        g.state is not GameState.FINAL
                        or g.home_score is None
                        or g.away_score is None
                    ):
                        continue
                    applied += await asyncio.to_thread(
                        self._ratings.apply_result,
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
                self._complete_days[league] = run
        return applied

    # Subscriptions

    async def snapshot(self, tickers: Sequence[str]) -> list[TickerUpdate]:
        """Latest known prices for ``tickers`` so a new subscriber sees a price at once.

        Raises:
            UnknownMarket: Kalshi answered and does not list some of the tickers (one
                client must not make the upstream subscription carry markets that do not
                exist). If Kalshi cannot be asked, tickers are let through unchecked.
        """
        missing = [t for t in tickers if not self._markets.fresh(t)]
        if missing:
            try:
                found = {m.ticker: m for m in await self._rest.markets(tickers=missing)}
            except UpstreamError as exc:
                logger.warning(
                    "Initial snapshot unavailable tickers=%d error=%s", len(missing), exc
                )
            else:
                for ticker in missing:
                    # Unknown tickers are remembered too, so repeating them costs no request.
                    ttl = (
                        self._config.prices_ttl_s
                        if ticker in found
                        else self._config.schedule_ttl_s
                    )
                    self._markets.put(ticker, found.get(ticker), ttl)
        unknown = [t for t in tickers if self._markets.fresh(t) and self._markets.peek(t) is None]
        if unknown:
            raise UnknownMarket(f"unknown market ticker: {', '.join(unknown[:5])}")
        now_ms = int(self._clock() * 1000)
        out = []
        for t in tickers:
            cached = self._markets.peek(t)
            if cached is not None:
                seen = cached.observed_at or cached.updated_at
                out.append(
                    TickerUpdate(
                        market_ticker=cached.ticker,
                        ts_ms=int(seen.timestamp() * 1000) if seen else now_ms,
                        price=cached.last_price,
                        yes_bid=cached.yes_bid,
                        yes_ask=cached.yes_ask,
                        volume=cached.volume,
                        open_interest=cached.open_interest,
                    )
                )
        return out

    def cache_stats(self) -> dict[str, CacheStats]:
        """Each cache's counters by name (read by the metrics collector at scrape time)."""
        return {
            "schedules": self._schedules.stats,
            "open_markets": self._open_markets.stats,
            "closed_markets": self._closed_markets.stats,
            "summaries": self._summaries.stats,
            "markets": self._markets.stats,
        }

    def _caches(self) -> tuple[TTLCache[Any, Any], ...]:
        return (
            self._schedules,
            self._open_markets,
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
