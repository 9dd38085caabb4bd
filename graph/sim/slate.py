"""Deterministic game slates for the simulator (pure: the caller passes the time).

How it works: every (seed, league, US-Eastern date) seeds its own ``random.Random``,
so a day's slate is the same whenever and in whatever order it is asked for, and
markets can be resolved lazily from a ticker's date alone. A slate pairs real teams
(the simulator's own catalogue, :mod:`graph.sim.teams`): first a perfect matching of
a shuffled team list (nobody plays twice), then, only when ``slate_size`` asks for
more games than that, further distinct (away, home) pairs so event tickers stay unique.

Game counts per day (the simulator ignores seasons, every league plays all year):
NFL 13 on Sundays, 1 on Mondays and Thursdays, none otherwise; NBA and NHL 4-12;
MLB 8-15 plus a doubleheader (same teams, 13:05 and 18:40 ET, tickers suffixed ``G1``
and ``G2`` after the teams and both carrying the first game's HHMM) on about one day in
seven; WNBA 2-6; college football 25-38 on Saturdays, 1-3 on Thursdays/Fridays;
men's college basketball 8-30. Start times are typical US-Eastern slots, so late
games fall on the next UTC day. About 1 game in 50 is postponed; a few are played
at a neutral site.

Each game also gets a pre-game fair home win probability from Elo-like team
ratings (deterministic from the seed) and a pre-decided result, revealed by the
clock: scheduled before the start, live for three hours with partial scores,
final afterwards. About one event in twelve never trades (no last price, no volume,
an empty or 0.01/0.99 book).

``event_ticker`` is the ticker under the catalogue's codes for the game's season;
:mod:`graph.sim.listing` applies the code-rename fault on top of it.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from graph.models import GameState, League
from graph.sim.teams import SERIES, TICKER_TIME_FROM, SimTeam, teams

ET = ZoneInfo("America/New_York")
GAME_LENGTH = timedelta(hours=3)
MAX_GAMES_PER_DAY = 999  # the ESPN id keeps three digits for the index

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_LEAGUE_DIGIT: Mapping[League, int] = {league: i for i, league in enumerate(League)}
_SERIES_LEAGUE: Mapping[str, League] = {series: league for league, series in SERIES.items()}
NEVER_TRADED_STYLES = ("empty", "penny")  # book bid 0 / ask 1, or 0.01 / 0.99

# (rating spread, home advantage) on an Elo scale, per league.
_RATING: Mapping[League, tuple[float, float]] = {
    League.NFL: (90, 55),
    League.NBA: (110, 90),
    League.MLB: (50, 24),
    League.NHL: (50, 35),
    League.WNBA: (100, 70),
    League.NCAAF: (150, 70),
    League.NCAAMB: (130, 90),
}
# Final scores: (loser low, loser high, margin low, margin high).
_SCORES: Mapping[League, tuple[int, int, int, int]] = {
    League.NFL: (3, 27, 1, 21),
    League.NBA: (92, 118, 1, 22),
    League.MLB: (0, 6, 1, 6),
    League.NHL: (0, 4, 1, 3),
    League.WNBA: (68, 90, 1, 18),
    League.NCAAF: (7, 31, 1, 28),
    League.NCAAMB: (55, 80, 1, 20),
}
_SLOTS: Mapping[League, tuple[str, ...]] = {
    League.NFL: ("13:00", "13:00", "13:00", "16:05", "16:25", "20:20"),
    League.NBA: ("19:00", "19:00", "19:30", "20:00", "20:30", "21:00", "22:00", "22:30"),
    League.MLB: ("13:05", "16:05", "18:40", "19:05", "19:10", "19:40", "20:10", "21:40", "22:10"),
    League.NHL: ("19:00", "19:00", "19:30", "20:00", "21:00", "22:00", "22:30"),
    League.WNBA: ("19:00", "19:30", "20:00", "22:00"),
    League.NCAAF: ("12:00", "15:30", "19:00", "19:30", "22:30"),
    League.NCAAMB: ("12:00", "14:00", "18:30", "19:00", "20:00", "21:00", "22:30"),
}
_VENUE_WORD: Mapping[League, str] = {
    League.NFL: "Stadium",
    League.NCAAF: "Stadium",
    League.MLB: "Ballpark",
}
_NEUTRAL: Mapping[League, tuple[str, str]] = {
    League.NFL: ("Tottenham Hotspur Stadium", "London"),
    League.NBA: ("Arena CDMX", "Mexico City"),
    League.MLB: ("Estadio Alfredo Harp Helu", "Mexico City"),
    League.NHL: ("Nokia Arena", "Tampere"),
    League.WNBA: ("Footprint Center", "Phoenix"),
    League.NCAAF: ("Mercedes-Benz Stadium", "Atlanta"),
    League.NCAAMB: ("Madison Square Garden", "New York"),
}


@dataclass(frozen=True, slots=True)
class SimGame:
    """One simulated game: everything the scoreboard and the markets derive from."""

    league: League
    espn_id: str
    et_date: date
    start: datetime  # UTC, aware
    away: SimTeam
    home: SimTeam
    neutral_site: bool
    venue: str
    city: str
    home_win_prob: float  # pre-game fair value
    home_wins: bool
    final_away: int
    final_home: int
    postponed: bool
    away_listed_first: bool  # ESPN does not always list the home team first
    event_ticker: str  # under the catalogue's codes, before any rename fault
    away_code: str
    home_code: str
    game_number: int = 0  # 1 or 2 in a doubleheader
    never_traded: str = ""  # "", or how its empty book looks (NEVER_TRADED_STYLES)

    @property
    def away_ticker(self) -> str:
        return f"{self.event_ticker}-{self.away_code}"

    @property
    def home_ticker(self) -> str:
        return f"{self.event_ticker}-{self.home_code}"

    def phase(self, now: datetime) -> tuple[GameState, float]:
        """The game's state at ``now`` and how far it has progressed (0..1)."""
        if self.postponed:
            return GameState.POSTPONED, 0.0
        if now < self.start:
            return GameState.SCHEDULED, 0.0
        if now >= self.start + GAME_LENGTH:
            return GameState.FINAL, 1.0
        return GameState.LIVE, (now - self.start) / GAME_LENGTH

    def scores(self, now: datetime) -> tuple[int, int]:
        """(away, home) points at ``now``: 0-0 before the start, partial while live."""
        _, progress = self.phase(now)
        return int(self.final_away * progress), int(self.final_home * progress)


def final_score(league: League, rng: random.Random) -> tuple[int, int]:
    """A plausible (winner, loser) final score for ``league``."""
    low, high, margin_low, margin_high = _SCORES[league]
    loser = rng.randint(low, high)
    return loser + rng.randint(margin_low, margin_high), loser


def event_date_code(day: date) -> str:
    """Kalshi's ``YYMONDD`` date part, e.g. ``25NOV24``."""
    return f"{day:%y}{_MONTHS[day.month - 1]}{day:%d}"


def parse_event_ticker(event_ticker: str) -> tuple[League, date] | None:
    """League and ET date of a game-winner event ticker, or ``None`` if it is not one."""
    series, _, rest = event_ticker.partition("-")
    league = _SERIES_LEAGUE.get(series)
    if league is None or len(rest) < 7:
        return None
    try:
        month = _MONTHS.index(rest[2:5]) + 1
        return league, date(2000 + int(rest[:2]), month, int(rest[5:7]))
    except ValueError:
        return None


def et_date(moment: datetime) -> date:
    """The US-Eastern calendar date of an aware datetime (how ESPN files games)."""
    return moment.astimezone(ET).date()


class Slates:
    """Builds and caches slates; resolves ESPN ids and Kalshi tickers back to games."""

    def __init__(self, seed: int, slate_size: Mapping[League, int] | None = None) -> None:
        self._seed = seed
        self._slate_size = dict(slate_size or {})
        self._cache: dict[tuple[League, date], tuple[SimGame, ...]] = {}
        self._by_event: dict[tuple[League, date], dict[str, SimGame]] = {}
        self._by_market: dict[tuple[League, date], dict[str, SimGame]] = {}

    @property
    def seed(self) -> int:
        return self._seed

    def rating(self, league: League, team: SimTeam) -> float:
        """The team's strength on an Elo-like scale (deterministic from the seed)."""
        spread, _ = _RATING[league]
        return random.Random(f"{self._seed}|rating|{league}|{team.key}").gauss(1500.0, spread)

    def home_win_probability(
        self, league: League, home: SimTeam, away: SimTeam, *, neutral: bool = False
    ) -> float:
        """Elo-style probability that ``home`` beats ``away`` (no edge at a neutral site)."""
        _, home_edge = _RATING[league]
        diff = self.rating(league, home) - self.rating(league, away) + (0 if neutral else home_edge)
        return 1.0 / (1.0 + 10 ** (-diff / 400.0))

    def games(self, league: League, day: date) -> tuple[SimGame, ...]:
        """Every game of ``league`` on US-Eastern date ``day``, by start time."""
        key = (league, day)
        if key not in self._cache:
            games = self._build(league, day)
            self._cache[key] = games
            self._by_event[key] = {game.event_ticker: game for game in games}
            self._by_market[key] = {
                ticker: game for game in games for ticker in (game.away_ticker, game.home_ticker)
            }
        return self._cache[key]

    def event(self, event_ticker: str) -> SimGame | None:
        """The game behind a Kalshi event ticker, for any date."""
        parsed = parse_event_ticker(event_ticker)
        if parsed is None:
            return None
        self.games(*parsed)
        return self._by_event[parsed].get(event_ticker)

    def market(self, ticker: str) -> SimGame | None:
        """The game behind a Kalshi market ticker (``<event>-<CODE>``; codes may hold a ``-``)."""
        parsed = parse_event_ticker(ticker)
        if parsed is None:
            return None
        self.games(*parsed)
        return self._by_market[parsed].get(ticker)

    def by_espn_id(self, espn_id: str) -> SimGame | None:
        """The game behind an ESPN event id made by this class."""
        if len(espn_id) != 11 or not espn_id.isdigit() or espn_id[0] != "4":
            return None
        leagues = list(League)
        digit, ordinal, index = int(espn_id[1]), int(espn_id[2:8]), int(espn_id[8:])
        if digit >= len(leagues) or ordinal < 1:
            return None
        games = self.games(leagues[digit], date.fromordinal(ordinal))
        return games[index] if index < len(games) and games[index].espn_id == espn_id else None

    def _count(self, league: League, day: date, rng: random.Random) -> int:
        if league in self._slate_size:
            return self._slate_size[league]
        weekday = day.weekday()  # Monday = 0
        match league:
            case League.NFL:
                return {6: 13, 0: 1, 3: 1}.get(weekday, 0)
            case League.NCAAF:
                return (
                    rng.randint(25, 38)
                    if weekday == 5
                    else (rng.randint(1, 3) if weekday in (3, 4) else 0)
                )
            case League.MLB:
                return rng.randint(8, 15)
            case League.WNBA:
                return rng.randint(2, 6)
            case League.NCAAMB:
                return rng.randint(8, 30)
            case _:
                return rng.randint(4, 12)

    def _pairs(
        self, league: League, count: int, rng: random.Random
    ) -> list[tuple[SimTeam, SimTeam]]:
        roster = list(teams(league))
        rng.shuffle(roster)
        pairs = [(roster[i], roster[i + 1]) for i in range(0, len(roster) - 1, 2)][:count]
        if count > len(pairs):
            used = set(pairs)
            extra = [(a, b) for a in roster for b in roster if a is not b and (a, b) not in used]
            rng.shuffle(extra)
            pairs += extra[: count - len(pairs)]
        return pairs

    def _build(self, league: League, day: date) -> tuple[SimGame, ...]:
        rng = random.Random(f"{self._seed}|slate|{league}|{day.isoformat()}")
        count = min(self._count(league, day, rng), MAX_GAMES_PER_DAY)
        # (away, home, slot, game number, slot named in the ticker)
        slots: list[tuple[SimTeam, SimTeam, str, int, str]] = []
        for away, home in self._pairs(league, count, rng):
            slot = self._slot(league, day, rng)
            slots.append((away, home, slot, 0, slot))
        overridden = league in self._slate_size
        if league is League.MLB and not overridden and slots and rng.random() < 1 / 7:
            away, home, *_ = slots[0]
            # Both games of a doubleheader name the first one's start and differ by G1/G2.
            slots[0] = (away, home, "13:05", 1, "13:05")
            if len(slots) < MAX_GAMES_PER_DAY:
                slots.append((away, home, "18:40", 2, "13:05"))
        drafts: dict[str, tuple[datetime, SimTeam, SimTeam, bool, int]] = {}
        for away, home, slot, number, named in slots:
            hour, minute = (int(part) for part in slot.split(":"))
            start = datetime.combine(day, time(hour, minute), ET).astimezone(UTC)
            ticker = self._event_ticker(league, day, named, away, home, number)
            neutral = rng.random() < (0.1 if league in (League.NCAAF, League.NCAAMB) else 0.03)
            drafts.setdefault(ticker, (start, away, home, neutral, number))
        ordered = sorted(drafts.items(), key=lambda item: (item[1][0], item[0]))
        return tuple(
            self._game(league, day, index, ticker, *draft)
            for index, (ticker, draft) in enumerate(ordered)
        )

    def _slot(self, league: League, day: date, rng: random.Random) -> str:
        if league is League.NFL and day.weekday() in (0, 3):
            return "20:15"
        return rng.choice(_SLOTS[league])

    def _event_ticker(
        self, league: League, day: date, slot: str, away: SimTeam, home: SimTeam, number: int
    ) -> str:
        timed = league in TICKER_TIME_FROM and day >= TICKER_TIME_FROM[league]
        hhmm = slot.replace(":", "") if timed else ""
        suffix = f"G{number}" if number else ""
        teams_part = f"{away.kalshi(day)}{home.kalshi(day)}"
        return f"{SERIES[league]}-{event_date_code(day)}{hhmm}{teams_part}{suffix}"

    def _game(
        self,
        league: League,
        day: date,
        index: int,
        ticker: str,
        start: datetime,
        away: SimTeam,
        home: SimTeam,
        neutral: bool,
        number: int,
    ) -> SimGame:
        rng = random.Random(f"{self._seed}|game|{ticker}")
        prob = self.home_win_probability(league, home, away, neutral=neutral)
        home_wins = rng.random() < prob
        winner, loser = final_score(league, rng)
        venue, city = (
            _NEUTRAL[league]
            if neutral
            else (f"{home.location} {_VENUE_WORD.get(league, 'Arena')}", home.location)
        )
        return SimGame(
            league=league,
            espn_id=f"4{_LEAGUE_DIGIT[league]}{day.toordinal():06d}{index:03d}",
            et_date=day,
            start=start,
            away=away,
            home=home,
            neutral_site=neutral,
            venue=venue,
            city=city,
            home_win_prob=prob,
            home_wins=home_wins,
            final_away=loser if home_wins else winner,
            final_home=winner if home_wins else loser,
            postponed=rng.random() < 0.02,
            away_listed_first=rng.random() < 0.3,
            event_ticker=ticker,
            away_code=away.kalshi(day),
            home_code=home.kalshi(day),
            game_number=number,
            never_traded=rng.choice(NEVER_TRADED_STYLES) if rng.random() < 1 / 12 else "",
        )
