"""Kalshi markets for games: listings, matching, learned codes, unmatched reports (adapter).

How it works: a batch of games is split by (league, US-Eastern date). For each day, the league's
markets that close with the day's games (one ``GET /markets?series_ticker=...`` narrowed by
Kalshi's ``min_close_ts``/``max_close_ts`` to :func:`close_window`, so it fits one page; cached
for the price TTL and shared by every query; a query that wants markets starts it together with
the scoreboard, :meth:`MarketBook.prefetch`) are matched against *all* of the day's scoreboard
games, not just the ones asked for: whether an event fits one game only is a question about the
whole day (:func:`graph.games.matching.match_day`). If no event of today or a later day
closes in its window, Kalshi's close times may have moved: the open listing is read instead.
A market closes early once its game's result is known, which takes it out of the window; for
those still unmatched, one ``tickers=`` request asks for the tickers their events likely have
(:func:`~graph.games.matching.guess_tickers`), and, if some are still missing (a code not
learned yet), the day's closed and settled listings are read (``min_close_ts`` /
``min_settled_ts`` from the day's start); the day is matched again with what came back.

What a match shows is remembered: the outcome codes of both teams go to the rating store's file
per league and season (:meth:`graph.model.ratings.RatingStore.learn_kalshi_codes`) when they
differ from what we knew, with one log line per change. A game left unmatched is counted and
logged once per reason, naming the candidate events; the share of today's games that matched is
kept per league. Both are read by ``/metrics`` through :meth:`MarketBook.stats`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from graph import teams
from graph.cache import CacheStats, TTLCache
from graph.cluster.cache import Cache
from graph.errors import UpstreamError
from graph.espn.parse import EASTERN, eastern_date
from graph.games.ids import public_id
from graph.games.listing import MONTHS
from graph.games.matching import (
    AMBIGUOUS,
    NOT_LISTED,
    DayMatch,
    GameMarkets,
    guess_tickers,
    match_day,
    outcome_team,
)
from graph.kalshi.rest import GAME_MARKET_CLOSE_AFTER_START
from graph.model.elo import season_of
from graph.models import Game, GameState, League, Market

if TYPE_CHECKING:
    from graph.kalshi.rest import KalshiRest
    from graph.model.ratings import RatingStore

logger = logging.getLogger(__name__)

KALSHI_UNAVAILABLE = "kalshi_unavailable"
_SERIES_LEAGUE = {series: league for league, series in teams.SERIES.items()}

Schedule = Callable[[League, date], Awaitable[list[Game]]]
# A close time taken from a late game's expected end rather than its start still counts for
# the game's day.
CLOSE_SLACK = timedelta(hours=6)
# Makes a named cache holding values of a declared type: in process, or shared through Redis
# by the service (:meth:`graph.games.service.GameService._cache`).
CacheFactory = Callable[[str, Any], Any]


def _local_cache(name: str, kind: Any) -> TTLCache[Any, Any]:
    return TTLCache()


@dataclass(slots=True)
class MatchStats:
    """Read by the metrics collector: games left unmatched, and today's match rate."""

    unmatched: Counter[tuple[League, str]] = field(default_factory=Counter)
    rate: dict[League, float] = field(default_factory=dict)


def event_day(event_ticker: str) -> date | None:
    """The Eastern date in a game event ticker (``SERIES-YYMONDD...``), if it has one."""
    _, _, rest = event_ticker.partition("-")
    try:
        return date(2000 + int(rest[:2]), MONTHS.index(rest[2:5]) + 1, int(rest[5:7]))
    except ValueError:
        return None


def close_window(day: date) -> tuple[int, int]:
    """Kalshi's ``min_close_ts``/``max_close_ts`` for the game markets of ET ``day``."""
    midnight = datetime.combine(day, time(), EASTERN).astimezone(UTC)
    low = midnight + GAME_MARKET_CLOSE_AFTER_START
    high = low + timedelta(days=1) + CLOSE_SLACK
    return int(low.timestamp()), int(high.timestamp())


class MarketBook:
    """Markets for batches of games, and what matching them taught (see the module docstring)."""

    def __init__(
        self,
        *,
        rest: KalshiRest,
        ratings: RatingStore,
        schedule: Schedule,
        today: Callable[[], date],
        ttl_s: float,
        max_reported: int = 20_000,
        cache: CacheFactory = _local_cache,
    ) -> None:
        self._rest = rest
        self._ratings = ratings
        self._schedule = schedule
        self._today = today
        self._ttl_s = ttl_s
        self._caches: dict[str, Cache[Any, list[Market]]] = {
            name: cache(name, list[Market])
            for name in ("listings", "open_markets", "closed_markets", "finished_markets")
        }
        self._days: Cache[tuple[str, date], list[Market]] = self._caches["listings"]
        self._open: Cache[str, list[Market]] = self._caches["open_markets"]
        self._closed: Cache[frozenset[str], list[Market]] = self._caches["closed_markets"]
        self._finished_days: Cache[tuple[str, date], list[Market]] = self._caches[
            "finished_markets"
        ]
        self._stats = MatchStats()
        # Games whose unmatched reason was logged; past days are forgotten beyond max_reported.
        self._reported: dict[tuple[League, str], tuple[date, str]] = {}
        self._max_reported = max_reported

    @property
    def stats(self) -> MatchStats:
        return self._stats

    def cache_stats(self) -> dict[str, CacheStats]:
        return {name: cache.stats for name, cache in self._caches.items()}

    def named_caches(self) -> dict[str, Cache[Any, list[Market]]]:
        """The listing caches by name (the service clears, closes and reports them)."""
        return dict(self._caches)

    def learned(self, league: League, day: date) -> dict[str, str]:
        """The Kalshi codes learned for ``league`` in the season of ``day``."""
        return self._ratings.kalshi_codes(league, season_of(league, day))

    def team_of(self, market: Market) -> str | None:
        """Our code for the team a game-winner market pays on, when its evidence names one."""
        league = _SERIES_LEAGUE.get(market.event_ticker.split("-", 1)[0])
        day = event_day(market.event_ticker)
        if league is None or day is None:
            return None
        return outcome_team(league, market, self.learned(league, day))

    async def load(self, games: Sequence[Game]) -> list[GameMarkets]:
        """Every game's markets, one batch (one listing per league, shared by all its days)."""
        by_day: dict[tuple[League, date], list[Game]] = defaultdict(list)
        for game in games:
            by_day[(game.league, eastern_date(game.start_time))].append(game)
        found: dict[str, GameMarkets] = {}
        await asyncio.gather(
            *(self._day(*key, day_games, found) for key, day_games in by_day.items())
        )
        return [found[g.id] for g in games]

    def prefetch(self, league: League, day: date) -> None:
        """Start reading the day's listing (a schedule request is on its way); never waits."""
        self._days.prefetch(*self._day_listing(league, day))

    def _day_listing(
        self, league: League, day: date
    ) -> tuple[tuple[str, date], Callable[[], Awaitable[list[Market]]], float]:
        """The cache key, load and TTL of the league's markets closing with ``day``'s games."""
        series = teams.SERIES[league]

        async def fetch() -> list[Market]:
            low, high = close_window(day)
            found = await self._rest.markets(
                series_ticker=series, min_close_ts=low, max_close_ts=high
            )
            if day >= self._today() and not any(event_day(m.event_ticker) == day for m in found):
                # No event of the day closes in the window: no games on Kalshi that day, or its
                # close-time convention moved. Every open market tells the two apart.
                logger.info("No Kalshi markets close with the day league=%s day=%s", league, day)
                found = await self._open_listing(series)
            return found

        return (series, day), fetch, self._ttl_s

    async def _listing(self, league: League, day: date) -> list[Market]:
        return await self._days.get(*self._day_listing(league, day))

    async def _open_listing(self, series: str) -> list[Market]:
        async def fetch() -> list[Market]:
            return await self._rest.markets(series_ticker=series, status="open")

        return await self._open.get(series, fetch, self._ttl_s)

    async def _guessed(
        self, league: League, day: date, games: list[Game], learned: Mapping[str, str]
    ) -> list[Market]:
        tickers = guess_tickers(league, games, learned)

        async def fetch() -> list[Market]:
            return await self._rest.markets(tickers=tickers)

        return await self._closed.get(frozenset(tickers), fetch, self._ttl_s)

    async def _finished(
        self, league: League, day: date, games: list[Game], learned: Mapping[str, str]
    ) -> list[Market]:
        series = teams.SERIES[league]
        since = int(datetime.combine(day, time(), EASTERN).timestamp())

        async def fetch() -> list[Market]:
            closed = await self._rest.markets(
                series_ticker=series, status="closed", min_close_ts=since
            )
            settled = await self._rest.markets(
                series_ticker=series, status="settled", min_settled_ts=since
            )
            return [*closed, *settled]

        return await self._finished_days.get((series, day), fetch, self._ttl_s)

    async def _day(
        self, league: League, day: date, games: list[Game], out: dict[str, GameMarkets]
    ) -> None:
        try:
            listing = await self._listing(league, day)
        except UpstreamError as exc:
            # Kalshi being down must not take the schedule with it: no markets, logged.
            logger.warning("Kalshi markets unavailable league=%s error=%s", league, exc)
            for game in games:
                out[game.id] = GameMarkets()
            self._count(league, [(g, KALSHI_UNAVAILABLE, ()) for g in games], day)
            return
        try:
            everyone = {g.id: g for g in await self._schedule(league, day)}
        except UpstreamError:
            everyone = {}
        everyone.update((g.id, g) for g in games)
        day_games = list(everyone.values())
        learned = self.learned(league, day)
        result = match_day(league, day, day_games, listing, learned)
        # Finished games have left the open listing: first ask for the tickers their events
        # likely have; if that misses some (a code we have not learned yet), read the day's
        # closed and settled listings.
        for more in (self._guessed, self._finished):
            gone = [
                g
                for g in day_games
                if g.state is not GameState.SCHEDULED
                and g.id in result.unmatched
                and result.unmatched[g.id].reason == NOT_LISTED
            ]
            if not gone:
                break
            try:
                extra = await more(league, day, gone, learned)
            except UpstreamError as exc:
                logger.warning("Kalshi closed markets unavailable league=%s error=%s", league, exc)
                break
            listing = [*listing, *extra]
            result = match_day(league, day, day_games, listing, learned)
        await self._learn(league, day, result, learned)
        self._report(league, day, day_games, result)
        for game in games:
            out[game.id] = result.markets[game.id]
        logger.info(
            "Matched Kalshi markets league=%s day=%s games=%d unmatched=%d",
            league,
            day,
            len(day_games),
            len(result.unmatched),
        )

    async def _learn(
        self, league: League, day: date, result: DayMatch, learned: Mapping[str, str]
    ) -> None:
        """Remember codes that differ from what we knew; log each change once."""

        def prior(key: str) -> str | None:
            team = teams.by_espn(league, key)
            return team.kalshi if team is not None else None

        fresh = {k: c for k, c in result.codes.items() if c != learned.get(k, prior(k))}
        if not fresh:
            return
        season = season_of(league, day)
        changes = await asyncio.to_thread(self._ratings.learn_kalshi_codes, league, season, fresh)
        for key, code, previous in changes:
            logger.log(
                logging.INFO if prior(key) is not None else logging.DEBUG,
                "Kalshi code learned league=%s team=%s code=%s previous=%s",
                league,
                key,
                code,
                previous or prior(key) or "-",
            )

    def _report(self, league: League, day: date, games: Sequence[Game], result: DayMatch) -> None:
        """Keep today's match rate; count and log each game's unmatched reason once."""
        if day == self._today() and result.rate is not None:
            self._stats.rate[league] = result.rate
        misses = []
        for game in games:
            miss = result.unmatched.get(game.id)
            if miss is None:
                self._reported.pop((league, game.id), None)
            else:
                misses.append((game, miss.reason, miss.candidates))
        self._count(league, misses, day)

    def _count(
        self, league: League, misses: Sequence[tuple[Game, str, Sequence[str]]], day: date
    ) -> None:
        if len(self._reported) > self._max_reported:
            today = self._today()
            self._reported = {k: v for k, v in self._reported.items() if v[0] >= today}
        for game, reason, candidates in misses:
            key = (league, game.id)
            if self._reported.get(key, (day, ""))[1] == reason:
                continue
            self._reported[key] = (day, reason)
            self._stats.unmatched[(league, reason)] += 1
            logger.log(
                logging.WARNING if reason == AMBIGUOUS else logging.INFO,
                "Kalshi game unmatched league=%s game=%s away=%s home=%s reason=%s candidates=%s",
                league,
                public_id(game),
                game.away.code,
                game.home.code,
                reason,
                ",".join(candidates) or "-",
            )
