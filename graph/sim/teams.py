"""The simulator's own team catalogue and Kalshi listing conventions (data, no service code).

How it works: ``data/teams.csv`` holds one row per team and league: ESPN's abbreviation, id,
location and nickname (what the scoreboard shows), and how Kalshi lists the team: its outcome
code and its ``yes_sub_title``. The simulator never reads the service's tables, so a test that
passes on the simulator does not pass because both sides share one assumption.

Kalshi conventions written down here follow real listings (sports-data.md §1.5), not ESPN:

- codes are Kalshi's own and differ from ESPN's for some teams (NHL ``LA``/``NJ``/``SJ``/``TB``,
  MLB ``WSH``/``AZ``/``CWS``, NFL ``WAS``/``JAC``), may contain a hyphen (``M-OH``), and change
  between seasons without notice: the ``kalshi`` column reads ``LA|2026:LAR`` for "``LA``, and
  ``LAR`` from the 2026 season on";
- ``yes_sub_title`` abbreviates a shared location with the nickname's initial ("Los Angeles R",
  "New York G") and otherwise shows the location ("Vegas", "Portland");
- market titles come in three styles per series: ``"Buffalo at Houston Winner?"``,
  ``"Indiana vs Phoenix winner?"`` and ``"Vegas wins"``;
- MLB tickers carry the start time (``HHMM``) only from 2026; 2025 tickers have none.

College tables hold schools the service's tables do not know (the Mid-American Conference), so
some listed events name teams that are missing on the service's side.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from importlib import resources
from types import MappingProxyType

from graph.models import League

SERIES: Mapping[League, str] = MappingProxyType(
    {
        League.NFL: "KXNFLGAME",
        League.NBA: "KXNBAGAME",
        League.MLB: "KXMLBGAME",
        League.NHL: "KXNHLGAME",
        League.WNBA: "KXWNBAGAME",
        League.NCAAF: "KXNCAAFGAME",
        League.NCAAMB: "KXNCAAMBGAME",
    }
)
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
# Month a season starts in: a January NFL game belongs to the season that began in August.
SEASON_START_MONTH: Mapping[League, int] = MappingProxyType(
    {
        League.NFL: 8,
        League.NBA: 10,
        League.MLB: 3,
        League.NHL: 10,
        League.WNBA: 5,
        League.NCAAF: 8,
        League.NCAAMB: 11,
    }
)
TITLE_STYLES = ("at", "vs", "wins")
# Market title style per series (real listings use all three).
TITLE_STYLE: Mapping[League, str] = MappingProxyType(
    {
        League.NFL: "at",
        League.NBA: "at",
        League.MLB: "vs",
        League.NHL: "wins",
        League.WNBA: "vs",
        League.NCAAF: "at",
        League.NCAAMB: "at",
    }
)
# First date whose event tickers carry HHMM (MLB only: 2025 tickers had none).
TICKER_TIME_FROM: Mapping[League, date] = MappingProxyType({League.MLB: date(2026, 1, 1)})


def season(league: League, day: date) -> int:
    """The season ``day`` belongs to, named by the year it started."""
    return day.year if day.month >= SEASON_START_MONTH[league] else day.year - 1


@dataclass(frozen=True, slots=True)
class SimTeam:
    league: League
    key: str  # ESPN abbreviation
    espn_id: str
    location: str
    nickname: str
    name: str
    sub_title: str  # Kalshi's yes_sub_title
    codes: tuple[tuple[int, str], ...]  # (first season, Kalshi code), oldest first

    @property
    def espn(self) -> str:
        return self.key

    def kalshi(self, day: date) -> str:
        """Kalshi's outcome code for this team on ``day``."""
        year = season(self.league, day)
        current = self.codes[0][1]
        for first, code in self.codes:
            if year >= first:
                current = code
        return current


def _codes(raw: str) -> tuple[tuple[int, str], ...]:
    codes: list[tuple[int, str]] = []
    for part in raw.split("|"):
        first, sep, code = part.rpartition(":")
        codes.append((int(first) if sep else 0, code))
    return tuple(codes)


def _load() -> Mapping[League, tuple[SimTeam, ...]]:
    text = resources.files("graph.sim").joinpath("data/teams.csv").read_text("utf-8")
    rows: dict[League, list[SimTeam]] = {league: [] for league in League}
    for row in csv.DictReader(text.splitlines()):
        league = League(row["league"])
        rows[league].append(
            SimTeam(
                league=league,
                key=row["espn"],
                espn_id=row["espn_id"],
                location=row["location"],
                nickname=row["nickname"],
                name=row["name"] or f"{row['location']} {row['nickname']}",
                sub_title=row["sub_title"],
                codes=_codes(row["kalshi"]),
            )
        )
    return MappingProxyType({league: tuple(teams) for league, teams in rows.items()})


_TEAMS = _load()


def teams(league: League) -> tuple[SimTeam, ...]:
    """Every team the simulator schedules in ``league``."""
    return _TEAMS[league]
