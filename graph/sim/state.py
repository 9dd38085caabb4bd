"""What every part of the simulator shares: clock, randomness, slates, prices, faults, stats."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from graph.models import League
from graph.sim.auth import Verifier
from graph.sim.faults import Faults, Stats
from graph.sim.listing import Listed, Listing, listed
from graph.sim.prices import PriceBook
from graph.sim.slate import SimGame, Slates, et_date

# GET /markets and /events without an event or ticker filter list this window of ET days;
# with a close- or settle-time filter they look at most SINCE_MAX_DAYS back.
LIST_WINDOW_DAYS = (-1, 0, 1, 2, 3)
SINCE_MAX_DAYS = 60


@dataclass
class SimState:
    rng: random.Random
    clock: Callable[[], float]
    slates: Slates
    prices: PriceBook
    faults: Faults
    stats: Stats
    verifier: Verifier
    require_auth: bool
    listing: Listing

    def listed(self, game: SimGame) -> Listed:
        """``game``'s tickers as listed now (code renames applied)."""
        return listed(game, self.faults)

    def find_event(self, event_ticker: str) -> Listed | None:
        return self.listing.event(event_ticker, self.faults)

    def find_market(self, ticker: str) -> tuple[Listed, bool] | None:
        """The listed game of a market ticker and whether it is the home side."""
        return self.listing.market(ticker, self.faults)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def today(self) -> date:
        """Today's US-Eastern date by the simulator's clock."""
        return et_date(self.now())

    def window_games(self, leagues: Iterable[League]) -> list[SimGame]:
        """Every game of ``leagues`` from yesterday to three days ahead (ET), in order."""
        today = self.today()
        return [
            game
            for league in leagues
            for offset in LIST_WINDOW_DAYS
            for game in self.slates.games(league, today + timedelta(days=offset))
        ]
