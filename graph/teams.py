"""Per-league team tables (data: ``teams.csv``) and exact-code lookups for ESPN, Kalshi and 538.

How it works: ``teams.csv`` holds one row per team and league: ESPN's abbreviation (our key) and
team id, location, nickname, the display name where it is not "<location> <nickname>", the Kalshi
code we expect, 538's code where it differs from ESPN's, older ESPN codes of the franchise
(``aliases``, ``|``-separated) and other names of the place a listing may use (``places``, e.g.
"Los Angeles" for ESPN's "LA" Clippers). It is read once, at import, into dicts keyed by exact
code; lookups never use substrings, prefixes or case folding, because short codes collide across
leagues and providers (``WSH``, ``LA``, ``NY``). Aliases answer :func:`by_espn` and
:func:`by_fte` only when no current code matches.

The Kalshi column is a prior, not the truth: Kalshi's codes are undocumented and change between
seasons, so the matcher learns the codes each listing actually uses and judges teams by the names
a listing shows (:mod:`graph.games.matching`). College tables are partial (power conferences and
other prominent programmes); the matcher identifies other schools from the scoreboard.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType

from graph.models import League

__all__ = ["ESPN_PATH", "SERIES", "Team", "by_espn", "by_fte", "by_kalshi", "teams"]

SERIES: Mapping[League, str] = MappingProxyType({lg: f"KX{lg.value}GAME" for lg in League})
ESPN_PATH: Mapping[League, str] = MappingProxyType(
    {
        League.NFL: "football/nfl",
        League.NBA: "basketball/nba",
        League.MLB: "baseball/mlb",
        League.NHL: "hockey/nhl",
        League.WNBA: "basketball/wnba",
        League.NCAAF: "football/college-football",
        League.NCAAMB: "basketball/mens-college-basketball",
    }
)


@dataclass(frozen=True, slots=True)
class Team:
    league: League
    key: str
    name: str
    location: str
    nickname: str
    espn: str
    kalshi: str
    fte: str
    espn_id: str
    aliases: tuple[str, ...] = ()
    places: tuple[str, ...] = ()


def _split(value: str) -> tuple[str, ...]:
    return tuple(part for part in value.split("|") if part)


def _load() -> Mapping[League, tuple[Team, ...]]:
    text = resources.files("graph").joinpath("teams.csv").read_text("utf-8")
    rows: dict[League, list[Team]] = {league: [] for league in League}
    for row in csv.DictReader(text.splitlines()):
        league, espn = League(row["league"]), row["espn"]
        location, nickname = row["location"], row["nickname"]
        rows[league].append(
            Team(
                league=league,
                key=espn,
                name=row["name"] or f"{location} {nickname}",
                location=location,
                nickname=nickname,
                espn=espn,
                kalshi=row["kalshi"] or espn,
                fte=row["fte"] or espn,
                espn_id=row["espn_id"],
                aliases=_split(row["aliases"]),
                places=_split(row["places"]),
            )
        )
    return {league: tuple(found) for league, found in rows.items()}


def _index(code_of: str, aliases: bool) -> Mapping[League, Mapping[str, Team]]:
    index: dict[League, dict[str, Team]] = {}
    for league, rows in _TEAMS.items():
        table = {old: team for team in rows for old in (team.aliases if aliases else ())}
        table.update((getattr(team, code_of), team) for team in rows)  # current codes win
        index[league] = table
    return index


_TEAMS = _load()
_BY_ESPN = _index("espn", aliases=True)
_BY_KALSHI = _index("kalshi", aliases=False)
_BY_FTE = _index("fte", aliases=True)


def teams(league: League) -> tuple[Team, ...]:
    """Every team we know in ``league`` (college tables are partial)."""
    return _TEAMS[league]


def by_espn(league: League, code: str) -> Team | None:
    """The team whose ESPN abbreviation (or older ESPN code) is exactly ``code``."""
    return _BY_ESPN[league].get(code)


def by_kalshi(league: League, code: str) -> Team | None:
    """The team whose expected Kalshi code (the table's prior) is exactly ``code``."""
    return _BY_KALSHI[league].get(code)


def by_fte(league: League, code: str) -> Team | None:
    """The team whose FiveThirtyEight code (or older code) is exactly ``code``."""
    return _BY_FTE[league].get(code)
