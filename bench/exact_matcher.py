"""The exact-ticker matcher as it was before issue 14: the matching benchmark's baseline.

A copy of what ``graph/matching.py`` then ran for the service (its unused helpers dropped), plus the
service's loop that fed it (:func:`match_league`, from ``GameService._league_markets``). Each
game's event ticker was computed from the team tables' Kalshi codes and looked up in the listing
grouped by event. Kept only to be timed: it cannot match codes the tables get wrong, doubleheader
suffixes or hyphenated codes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from graph.espn.parse import eastern
from graph.games.matching import GameMarkets  # the same result type as then
from graph.models import Game, League, Market
from graph.teams import SERIES, Team, by_espn, by_kalshi

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_LEAGUE_OF_SERIES = {series: league for league, series in SERIES.items()}
_EVENT_RE = re.compile(r"(\d{2})([A-Z]{3})(\d{2})(\d{4})?([A-Z][A-Z0-9]*)")
_FALLBACK_WINDOW_MIN = 90


@dataclass(frozen=True, slots=True)
class EventKey:
    """A parsed Kalshi game event ticker."""

    series: str
    league: League
    date: date
    hhmm: str | None
    away: Team
    home: Team


def _teams_of(league: League, game: Game) -> tuple[Team, Team] | None:
    away = by_espn(league, game.away.code)
    home = by_espn(league, game.home.code)
    if away is None or home is None or away is home:
        return None
    return away, home


def event_ticker(league: League, game: Game) -> str | None:
    """The Kalshi event ticker of ``game``, or ``None`` if a team is not in our tables."""
    pair = _teams_of(league, game)
    if pair is None:
        return None
    away, home = pair
    et = eastern(game.start_time)
    hhmm = f"{et:%H%M}" if league is League.MLB else ""
    return f"{SERIES[league]}-{et:%y}{_MONTHS[et.month - 1]}{et:%d}{hhmm}{away.kalshi}{home.kalshi}"


def _split_teams(league: League, blob: str) -> tuple[Team, Team] | None:
    found: list[tuple[Team, Team]] = []
    for cut in range(1, len(blob)):
        away = by_kalshi(league, blob[:cut])
        home = by_kalshi(league, blob[cut:])
        if away is not None and home is not None and away is not home:
            found.append((away, home))
    return found[0] if len(found) == 1 else None


def parse_event_ticker(ticker: str) -> EventKey | None:
    """Split a game event ticker into its parts; ``None`` if it does not parse.

    Market tickers (with an ``-OUTCOME`` suffix) are not event tickers and do not parse.
    """
    series, sep, rest = ticker.partition("-")
    league = _LEAGUE_OF_SERIES.get(series)
    if not sep or league is None:
        return None
    m = _EVENT_RE.fullmatch(rest)
    if m is None or m[2] not in _MONTHS:
        return None
    try:
        day = date(2000 + int(m[1]), _MONTHS.index(m[2]) + 1, int(m[3]))
    except ValueError:
        return None
    hhmm = m[4]
    if hhmm is not None and (int(hhmm[:2]) > 23 or int(hhmm[2:]) > 59):
        return None
    pair = _split_teams(league, m[5])
    if pair is None:
        return None
    return EventKey(series, league, day, hhmm, away=pair[0], home=pair[1])


def _event_of(market: Market) -> str:
    return market.event_ticker or market.ticker.rsplit("-", 1)[0]


def _close_enough(key: EventKey, start: datetime) -> bool:
    if key.hhmm is None:
        return True
    listed = int(key.hhmm[:2]) * 60 + int(key.hhmm[2:])
    actual = start.hour * 60 + start.minute
    return abs(listed - actual) <= _FALLBACK_WINDOW_MIN


def match_markets(league: League, game: Game, markets: Iterable[Market]) -> GameMarkets:
    """Pick ``game``'s home and away markets out of ``markets`` (see module docstring)."""
    expected = event_ticker(league, game)
    pair = _teams_of(league, game)
    if expected is None or pair is None:
        return GameMarkets()
    away, home = pair
    start = eastern(game.start_time)
    wanted = {(away, home), (home, away)} if game.neutral_site else {(away, home)}

    exact: list[Market] = []
    nearby: dict[str, list[Market]] = {}
    for market in markets:
        event = _event_of(market)
        if event == expected:
            exact.append(market)
            continue
        if not event.startswith(SERIES[league] + "-"):
            continue
        key = parse_event_ticker(event)
        if (
            key is not None
            and key.date == start.date()
            and (key.away, key.home) in wanted
            and _close_enough(key, start)
        ):
            nearby.setdefault(event, []).append(market)

    chosen, ticker = exact, expected
    if not exact and len(nearby) == 1:
        ticker, chosen = next(iter(nearby.items()))

    home_market: Market | None = None
    away_market: Market | None = None
    for market in chosen:
        side = by_kalshi(league, market.outcome)
        if side is home and home_market is None:
            home_market = market
        elif side is away and away_market is None:
            away_market = market
    if home_market is None and away_market is None:
        ticker = expected
    return GameMarkets(home=home_market, away=away_market, event_ticker=ticker)


def match_league(league: League, games: Iterable[Game], markets: Iterable[Market]) -> int:
    """The old service loop over one league's games; returns how many matched."""
    listing: dict[str, list[Market]] = {}
    for market in markets:
        listing.setdefault(market.event_ticker, []).append(market)
    matched = 0
    everything: list[Market] | None = None
    for game in games:
        ticker = event_ticker(league, game)
        candidates = listing.get(ticker) if ticker else None
        if candidates is None:
            if everything is None:
                everything = [m for ms in listing.values() for m in ms]
            candidates = everything
        matched += match_markets(league, game, candidates).matched
    return matched
