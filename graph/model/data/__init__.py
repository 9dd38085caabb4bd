"""The shipped historical data set (FiveThirtyEight game files, CC BY 4.0; see ATTRIBUTION.md).

``load_games(league)`` reads ``nfl_games.csv`` / ``nba_games.csv`` from the installed package
(importlib.resources), in file order: by date, then home team.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from importlib import resources

from graph.model.elo import GameResult
from graph.models import League

FILES: dict[League, str] = {League.NFL: "nfl_games.csv", League.NBA: "nba_games.csv"}
# The last column holds 538's headline model: QB-adjusted Elo (NFL) or RAPTOR (NBA).
HEADLINE_COLUMN: dict[League, str] = {
    League.NFL: "qbelo_prob_home",
    League.NBA: "raptor_prob_home",
}


@dataclass(frozen=True, slots=True)
class HistoricalGame:
    """One row of 538's game file: the result plus 538's own pre-game numbers."""

    day: date
    season: int
    home: str  # 538 team code
    away: str
    home_score: int
    away_score: int
    neutral: bool
    playoff: bool
    playoff_round: str
    elo_home_pre: float
    elo_away_pre: float
    elo_prob_home: float
    headline_prob_home: float | None  # qbelo (NFL) / raptor (NBA); None when not published

    @property
    def tie(self) -> bool:
        return self.home_score == self.away_score

    @property
    def home_won(self) -> bool:
        return self.home_score > self.away_score

    def result(self) -> GameResult:
        return GameResult(
            home=self.home,
            away=self.away,
            home_score=self.home_score,
            away_score=self.away_score,
            day=self.day,
            season=self.season,
            neutral=self.neutral,
            playoff=self.playoff,
        )


def load_games(league: League) -> tuple[HistoricalGame, ...]:
    """Every shipped game of ``league`` in date order; empty for leagues without history."""
    name = FILES.get(league)
    if name is None:
        return ()
    text = resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
    headline = HEADLINE_COLUMN[league]
    games = []
    for row in csv.DictReader(io.StringIO(text)):
        games.append(
            HistoricalGame(
                day=date.fromisoformat(row["date"]),
                season=int(row["season"]),
                home=row["home_team"],
                away=row["away_team"],
                home_score=int(row["home_score"]),
                away_score=int(row["away_score"]),
                neutral=row["neutral"] == "1",
                playoff=row["playoff"] == "1",
                playoff_round=row["playoff_round"],
                elo_home_pre=float(row["elo_home_pre"]),
                elo_away_pre=float(row["elo_away_pre"]),
                elo_prob_home=float(row["elo_prob_home"]),
                headline_prob_home=float(row[headline]) if row[headline] else None,
            )
        )
    return tuple(games)
