"""NFL closing moneylines (nflverse) joined to FiveThirtyEight's games: the market benchmark.

How it works. ``load_lines`` reads ``bench/data/nfl_schedule_moneylines.csv`` (see the README
there for source and columns). Each line's American odds become the price of each side *with*
the bookmaker's margin (what a bettor pays) and the no-vig home probability (each side divided
by their sum: the market's forecast). ``join`` pairs 538's games with their lines on
(season, home, away, playoff) after mapping nflverse's team codes to 538's; the key is unique in
both files, so a duplicate is an error, never a silent overwrite.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from graph.model.data import HistoricalGame

DEFAULT_PATH = Path(__file__).resolve().parent / "data" / "nfl_schedule_moneylines.csv"
# nflverse -> 538 codes (538 keeps franchise codes across relocations and renames).
CODE_TO_538 = {"STL": "LAR", "LA": "LAR", "SD": "LAC", "LV": "OAK", "WAS": "WSH"}
Key = tuple[int, str, str, bool]  # (season, home, away, playoff)


def implied_probability(odds: int) -> float:
    """The break-even probability of American odds, margin included (+150 -> 0.4, -170 -> 0.63)."""
    if odds >= 100:
        return 100.0 / (odds + 100.0)
    if odds <= -100:
        return -odds / (-odds + 100.0)
    raise ValueError(f"not American odds: {odds}")


def first_playoff_week(season: int) -> int:
    """2021 added a 17th game, so the wild card moved from week 18 to 19."""
    return 18 if season <= 2020 else 19


@dataclass(frozen=True, slots=True)
class Line:
    """One game's closing moneyline, teams in 538's codes."""

    game_id: str
    season: int
    week: int
    home: str
    away: str
    home_odds: int
    away_odds: int

    @property
    def playoff(self) -> bool:
        return self.week >= first_playoff_week(self.season)

    @property
    def key(self) -> Key:
        return (self.season, self.home, self.away, self.playoff)

    @property
    def home_price(self) -> float:
        """What one dollar of 'home wins' costs at this line (margin included)."""
        return implied_probability(self.home_odds)

    @property
    def away_price(self) -> float:
        return implied_probability(self.away_odds)

    @property
    def overround(self) -> float:
        return self.home_price + self.away_price - 1.0

    @property
    def no_vig_home(self) -> float:
        """The market's home win probability: both prices scaled to sum to 1."""
        return self.home_price / (self.home_price + self.away_price)


@dataclass(frozen=True, slots=True)
class Matched:
    """A 538 game with its closing line."""

    game: HistoricalGame
    line: Line

    @property
    def outcome(self) -> float:
        """1 home win, 0 home loss, 0.5 tie (ties are scored as half, as the data README does)."""
        return 0.5 if self.game.tie else float(self.game.home_won)


def load_lines(path: Path = DEFAULT_PATH) -> tuple[Line, ...]:
    with path.open(newline="", encoding="utf-8") as f:
        return tuple(
            Line(
                game_id=row["alt_game_id"],
                season=int(row["season"]),
                week=int(row["week"]),
                home=CODE_TO_538.get(row["home"], row["home"]),
                away=CODE_TO_538.get(row["away"], row["away"]),
                home_odds=int(row["home_moneyline"]),
                away_odds=int(row["away_moneyline"]),
            )
            for row in csv.DictReader(f)
        )


def _unique(keys: Iterable[tuple[Key, str]], what: str) -> None:
    seen: dict[Key, str] = {}
    for key, name in keys:
        if key in seen:
            raise ValueError(f"duplicate {what} key {key}: {seen[key]} and {name}")
        seen[key] = name


def join(games: Sequence[HistoricalGame], lines: Sequence[Line]) -> list[Matched]:
    """Every game that has a line, in the games' (date) order."""
    _unique(((line.key, line.game_id) for line in lines), "line")
    _unique(((_game_key(g), f"{g.day} {g.away}@{g.home}") for g in games), "game")
    by_key = {line.key: line for line in lines}
    return [Matched(game, by_key[_game_key(game)]) for game in games if _game_key(game) in by_key]


def _game_key(game: HistoricalGame) -> Key:
    return (game.season, game.home, game.away, game.playoff)
