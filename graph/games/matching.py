"""Game <-> Kalshi market matching through the team tables.

How it works: a game's Kalshi event ticker is computed, never searched for:

    SERIES "-" YY MON DD [HHMM] AWAY HOME      e.g. KXNFLGAME-25NOV23BUFHOU

with the date (and, for MLB only, the start time) in US-Eastern time and the Kalshi codes of
ESPN's away and home teams (neutral-site games keep ESPN's order). A market belongs to the game
when its event ticker is exactly that ticker; which side it pays on comes from its outcome code
(the text after the last ``-``) through :func:`graph.teams.by_kalshi`, compared with the teams
the scoreboard named through :func:`graph.teams.by_espn`. Nothing is matched by substring.

One tolerant fallback, used only when no market carries the exact ticker: a single other event
of the same series, Eastern date and team pair (either order for neutral sites) whose HHMM is
absent or within 90 minutes of the game's start. This absorbs a listed start time that moved a
little or a neutral-site game listed the other way round, while an MLB doubleheader (two events,
hours apart) never falls back onto the wrong game.

The teams blob of a parsed ticker is split by trying every cut point and keeping the one where
both halves are known Kalshi codes of the league; an ambiguous or unknown blob does not parse.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from graph.espn.parse import EASTERN, eastern
from graph.models import Game, League, Market
from graph.teams import SERIES, Team, by_espn, by_kalshi

__all__ = [
    "EASTERN",
    "EventKey",
    "GameMarkets",
    "event_ticker",
    "market_tickers",
    "match_markets",
    "outcome_team",
    "parse_event_ticker",
]


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


@dataclass(frozen=True, slots=True)
class GameMarkets:
    """The Kalshi markets of one game; ``None`` where no market matched.

    ``event_ticker`` is the event the markets came from, or the ticker we expected when nothing
    matched (``None`` when a team is missing from our tables).
    """

    home: Market | None = None
    away: Market | None = None
    event_ticker: str | None = None

    @property
    def markets(self) -> tuple[Market, ...]:
        """The matched markets, home first."""
        return tuple(m for m in (self.home, self.away) if m is not None)

    @property
    def matched(self) -> bool:
        return self.home is not None or self.away is not None


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


def market_tickers(league: League, game: Game) -> tuple[str, str] | None:
    """The (away, home) game-winner market tickers Kalshi would list for ``game``."""
    event = event_ticker(league, game)
    pair = _teams_of(league, game)
    if event is None or pair is None:
        return None
    away, home = pair
    return f"{event}-{away.kalshi}", f"{event}-{home.kalshi}"


def outcome_team(market_ticker: str) -> Team | None:
    """The team a game-winner market's YES pays on, or ``None`` for any other market."""
    event, _, outcome = market_ticker.rpartition("-")
    key = parse_event_ticker(event) if event else None
    if key is None:
        return None
    team = by_kalshi(key.league, outcome)
    return team if team in (key.away, key.home) else None


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
