"""Pairing one day's scoreboard games with that day's listed Kalshi events (pure).

How it works, per league and US-Eastern date (:func:`match_day`):

1. Identities: every table team, with the code learned for it this season, plus an identity
   from the scoreboard for each of the day's teams the tables lack (:mod:`.evidence`).
2. Events: the listing's events of that date, each side resolved to the teams its evidence
   allows (:mod:`.listing`).
3. Fit: an event fits a game when one side can be the game's away team and the other its home
   team, in the ticker's order (away first); at a neutral site either order, but then only one
   order may fit. Its start must agree: within :data:`START_TOLERANCE` of the scoreboard's, or,
   with no start listed, an expected expiration at most :data:`MAX_GAME_SPAN` after it. A
   ``Gn`` event is not held to its time: a doubleheader's second game is often listed with the
   first one's.
4. Decision: a game and an event that fit only each other match. Games of one team pair that
   share their fitting events (a doubleheader) take them by G number (the earlier game is G1),
   else in start-time order when every event has a distinct start. Anything else stays
   unmatched: ``ambiguous`` (with the candidate events named) or ``not_listed``. Wrong is worse
   than missing.
5. Each match teaches both teams' outcome codes (:attr:`DayMatch.codes`), which the caller may
   remember as this season's learned codes.

Also here: :func:`guess_tickers`, the tickers a finished game's event likely has (for events
that left the open listing), and :func:`outcome_team`, the team one market pays on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import product

from graph.espn.parse import eastern
from graph.games.evidence import Identity, Resolver, scoreboard_identity, team_identity
from graph.games.listing import ListedEvent, Side, day_code, read_events
from graph.models import Game, League, Market, TeamRef
from graph.teams import SERIES, by_espn, teams

START_TOLERANCE = timedelta(hours=2)
MAX_GAME_SPAN = timedelta(hours=8)
NOT_LISTED = "not_listed"
AMBIGUOUS = "ambiguous"


@dataclass(frozen=True, slots=True)
class GameMarkets:
    """The Kalshi markets of one game; ``None`` where no market matched."""

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


@dataclass(frozen=True, slots=True)
class Unmatched:
    """Why a game has no markets, and the events that came closest."""

    reason: str
    candidates: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DayMatch:
    """Every game of a day: its markets, or why it has none, and the codes matches showed."""

    markets: dict[str, GameMarkets] = field(default_factory=dict)  # by game id
    unmatched: dict[str, Unmatched] = field(default_factory=dict)  # by game id
    codes: dict[str, str] = field(default_factory=dict)  # team key -> outcome code

    @property
    def rate(self) -> float | None:
        """Share of the day's games that matched (None for a day without games)."""
        total = len(self.markets)
        return None if total == 0 else (total - len(self.unmatched)) / total


def team_key(league: League, ref: TeamRef) -> str:
    """Our key for a scoreboard team: the table's, or the scoreboard's code for others."""
    team = by_espn(league, ref.code)
    return team.key if team is not None else ref.code


def resolver(league: League, learned: Mapping[str, str], extra: Iterable[TeamRef] = ()) -> Resolver:
    """The league's identities with their learned codes, plus teams our tables lack: those of
    the scoreboard's ``extra`` teams, and, by code alone, those a listing taught us earlier."""
    found = {t.key: team_identity(t, learned.get(t.key)) for t in teams(league)}
    for ref in extra:
        if by_espn(league, ref.code) is None:
            found[ref.code] = scoreboard_identity(ref, learned.get(ref.code))
    for key, code in learned.items():
        found.setdefault(key, Identity(key, frozenset(), code, None, key))
    return Resolver(found.values())


def _fit(event: ListedEvent, away: str, home: str, neutral: bool) -> tuple[Side, Side] | None:
    first, second = event.sides
    forward = away in first.teams and home in second.teams
    if not neutral:
        return (first, second) if forward else None
    backward = away in second.teams and home in first.teams
    if forward == backward:
        return None  # neither order fits, or both do and the sides are unknown
    return (first, second) if forward else (second, first)


def _on_time(event: ListedEvent, start: datetime) -> bool:
    if event.game_number:
        return True
    if event.start is not None:
        return abs(event.start - start) <= START_TOLERANCE
    if event.latest is not None:
        return timedelta(0) <= event.latest - start <= MAX_GAME_SPAN
    return True


_Fit = tuple[int, tuple[Side, Side]]


def _doubleheader(
    pair_games: list[Game], fits: Mapping[str, list[_Fit]], events: Sequence[ListedEvent]
) -> dict[str, _Fit]:
    """Assign a team pair's shared events to its games by G number, else by start order."""
    order = sorted(pair_games, key=lambda g: (g.start_time, g.id))
    shared = sorted({index for g in order for index, _ in fits[g.id]})
    numbers = [events[i].game_number for i in shared]
    starts = [events[i].start for i in shared]
    if all(numbers) and len(set(numbers)) == len(numbers):
        ranked = [(n - 1, i) for n, i in zip(numbers, shared, strict=True)]
    elif len(shared) == len(order) and None not in starts and len(set(starts)) == len(starts):
        by_start = sorted(shared, key=lambda i: events[i].start or order[0].start_time)
        ranked = list(enumerate(by_start))
    else:
        return {}
    found: dict[str, _Fit] = {}
    for position, index in ranked:
        if position >= len(order):
            return {}
        game = order[position]
        fit = next((f for f in fits[game.id] if f[0] == index), None)
        if fit is None:
            return {}
        found[game.id] = fit
    return found


def match_day(
    league: League,
    day: date,
    games: Sequence[Game],
    markets: Iterable[Market],
    learned: Mapping[str, str] | None = None,
) -> DayMatch:
    """Match every game of ``league`` on Eastern date ``day`` to at most one listed event."""
    refs = [ref for g in games for ref in (g.away, g.home)]
    events = read_events(SERIES[league], day, markets, resolver(league, learned or {}, refs))
    by_team: dict[str, set[int]] = defaultdict(set)
    for index, event in enumerate(events):
        for side in event.sides:
            for key in side.teams:
                by_team[key].add(index)
    keys = {g.id: (team_key(league, g.away), team_key(league, g.home)) for g in games}
    fits: dict[str, list[_Fit]] = {}
    takers: dict[int, list[str]] = defaultdict(list)
    for game in games:
        away, home = keys[game.id]
        found = []
        for index in sorted(by_team[away] & by_team[home]):
            event = events[index]
            sides = _fit(event, away, home, game.neutral_site)
            if sides is not None and _on_time(event, game.start_time):
                found.append((index, sides))
                takers[index].append(game.id)
        fits[game.id] = found

    chosen: dict[str, _Fit] = {}
    contested: dict[frozenset[str], list[Game]] = defaultdict(list)
    for game in games:
        found = fits[game.id]
        if len(found) == 1 and takers[found[0][0]] == [game.id]:
            chosen[game.id] = found[0]
        elif found:
            contested[frozenset(keys[game.id])].append(game)
    for pair_games in contested.values():
        ids = {g.id for g in pair_games}
        if all(set(takers[i]) <= ids for g in pair_games for i, _ in fits[g.id]):
            chosen.update(_doubleheader(pair_games, fits, events))

    result = DayMatch()
    for game in games:
        away, home = keys[game.id]
        fit = chosen.get(game.id)
        if fit is None:
            found = fits[game.id]
            if found:
                named = sorted(events[i].ticker for i, _ in found)
                result.unmatched[game.id] = Unmatched(AMBIGUOUS, tuple(named))
            else:  # the events naming one of its teams, if any: where to look
                named = sorted(events[i].ticker for i in by_team[away] | by_team[home])
                result.unmatched[game.id] = Unmatched(NOT_LISTED, tuple(named[:5]))
            result.markets[game.id] = GameMarkets()
            continue
        index, (away_side, home_side) = fit
        result.markets[game.id] = GameMarkets(
            home=home_side.market, away=away_side.market, event_ticker=events[index].ticker
        )
        result.codes[away] = away_side.code
        result.codes[home] = home_side.code
    return result


def guess_tickers(league: League, games: Sequence[Game], learned: Mapping[str, str]) -> list[str]:
    """Market tickers the games' events may have, for events no longer in the open listing.

    Built from the best codes we know (this season's learned code, else the table's; the
    scoreboard's code too when it differs), with and without HHMM for MLB, and with ``G1``/``G2``
    where a team pair plays twice. Only a guess: whatever comes back is matched on its evidence.
    """
    pairs = [frozenset((g.away.code, g.home.code)) for g in games]
    out: dict[str, None] = {}
    for game, pair in zip(games, pairs, strict=True):
        start = eastern(game.start_time)
        times = ("", f"{start:%H%M}") if league is League.MLB else ("",)
        numbers = ("G1", "G2") if pairs.count(pair) > 1 else ("",)
        prefix = f"{SERIES[league]}-{day_code(start.date())}"
        away_codes, home_codes = (_codes(league, ref, learned) for ref in (game.away, game.home))
        for away, home, hhmm, number in product(away_codes, home_codes, times, numbers):
            event = f"{prefix}{hhmm}{away}{home}{number}"
            out[f"{event}-{away}"] = out[f"{event}-{home}"] = None
    return list(out)


def _codes(league: League, ref: TeamRef, learned: Mapping[str, str]) -> list[str]:
    team = by_espn(league, ref.code)
    key = team.key if team is not None else ref.code
    best = learned.get(key) or (team.kalshi if team is not None else ref.code)
    return list(dict.fromkeys((best, ref.code)))


def outcome_team(league: League, market: Market, learned: Mapping[str, str]) -> str | None:
    """Our key for the team a game-winner market's YES pays on, when its evidence names one."""
    found = resolver(league, learned).resolve(market.outcome, market.yes_sub_title, market.title)
    return next(iter(found)) if len(found) == 1 else None
