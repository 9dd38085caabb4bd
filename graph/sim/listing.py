"""Kalshi tickers of simulated games as listed right now (pure), with the rename fault applied.

How it works: the slate names every event under the catalogue's codes for its season
(:attr:`SimGame.event_ticker`). A rename fault (``Faults.code_renames``, from
``Faults.renames_from`` on) swaps a code in the teams part of the event ticker and in the
market suffix, the way Kalshi changes a code mid-season; prices and results stay with the game.
Resolving a ticker back to its game builds one index per (league, date, renames in force).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from graph.models import League
from graph.sim.faults import Faults
from graph.sim.slate import SimGame, Slates, parse_event_ticker


@dataclass(frozen=True, slots=True)
class Listed:
    """One game as Kalshi lists it: its event ticker and both outcome codes."""

    game: SimGame
    event_ticker: str
    away_code: str
    home_code: str

    def code(self, home: bool) -> str:
        return self.home_code if home else self.away_code

    def ticker(self, home: bool) -> str:
        """The market ticker of one side: ``<event>-<code>``."""
        return f"{self.event_ticker}-{self.code(home)}"


def _renames(faults: Faults, league: League, day: date) -> Mapping[str, str]:
    if faults.renames_from is not None and day < faults.renames_from:
        return {}
    return faults.code_renames.get(league, {})


def listed(game: SimGame, faults: Faults) -> Listed:
    """``game`` under the renames in force for its league and date."""
    renames = _renames(faults, game.league, game.et_date)
    if not renames:
        return Listed(game, game.event_ticker, game.away_code, game.home_code)
    away = renames.get(game.away_code, game.away_code)
    home = renames.get(game.home_code, game.home_code)
    suffix = f"G{game.game_number}" if game.game_number else ""
    prefix = game.event_ticker[: -len(game.away_code + game.home_code + suffix)]
    return Listed(game, f"{prefix}{away}{home}{suffix}", away, home)


_IndexKey = tuple[League, date, tuple[tuple[str, str], ...]]


class Listing:
    """Ticker -> game lookups for the listing as it stands under ``faults``."""

    def __init__(self, slates: Slates) -> None:
        self._slates = slates
        self._events: dict[_IndexKey, dict[str, Listed]] = {}
        self._markets: dict[_IndexKey, dict[str, tuple[Listed, bool]]] = {}

    def _index(self, ticker: str, faults: Faults) -> _IndexKey | None:
        parsed = parse_event_ticker(ticker)
        if parsed is None:
            return None
        league, day = parsed
        key = (league, day, tuple(sorted(_renames(faults, league, day).items())))
        if key not in self._events:
            games = [listed(game, faults) for game in self._slates.games(league, day)]
            self._events[key] = {entry.event_ticker: entry for entry in games}
            self._markets[key] = {
                entry.ticker(home): (entry, home) for entry in games for home in (False, True)
            }
        return key

    def event(self, event_ticker: str, faults: Faults) -> Listed | None:
        """The listed game behind an event ticker, or ``None``."""
        key = self._index(event_ticker, faults)
        return None if key is None else self._events[key].get(event_ticker)

    def market(self, ticker: str, faults: Faults) -> tuple[Listed, bool] | None:
        """The listed game behind a market ticker and whether it is the home side."""
        key = self._index(ticker, faults)
        return None if key is None else self._markets[key].get(ticker)
