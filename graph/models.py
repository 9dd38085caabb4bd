"""Plain data shared by core, adapters and the schema.

Frozen dataclasses and enums only: no I/O, no behaviour beyond derived values.
Prices are dollars in [0, 1] (Kalshi's ``*_dollars`` strings); counts are floats
(Kalshi's ``*_fp`` strings allow fractional contracts).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class League(enum.StrEnum):
    NFL = "NFL"
    NBA = "NBA"
    MLB = "MLB"
    NHL = "NHL"
    WNBA = "WNBA"
    NCAAF = "NCAAF"
    NCAAMB = "NCAAMB"


class GameState(enum.StrEnum):
    SCHEDULED = "SCHEDULED"
    LIVE = "LIVE"
    FINAL = "FINAL"
    POSTPONED = "POSTPONED"
    CANCELED = "CANCELED"


class Confidence(enum.StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


# Widest bid/ask spread (dollars) whose mid we still read as the market's probability.
WIDE_SPREAD = 0.25


def implied_probability(
    yes_bid: float | None,
    yes_ask: float | None,
    last_price: float | None,
    volume: float | None,
) -> float | None:
    """The probability a Kalshi YES price implies, or ``None`` when the market gives none.

    The one owner of the "no price is not a price" rule, for REST markets, WebSocket ticker
    updates and anyone else reading Kalshi's probability:

    1. a real two-sided book (a bid above 0, an ask below 1, not crossed, no wider than
       :data:`WIDE_SPREAD`) gives its mid;
    2. otherwise the last trade, if there was one: some volume (or, volume unknown, a last
       price above 0);
    3. otherwise nothing. A never-traded market says ``last_price_dollars: "0.0000"`` with no
       volume and an empty (bid 0 / ask 1) or 0.01 / 0.99 book: that is no information, not a
       0% (or 50%) probability.
    """
    # Prices sit on a cent grid; the tolerance keeps float rounding off the boundary.
    if (
        yes_bid is not None
        and yes_ask is not None
        and 0.0 < yes_bid <= yes_ask < 1.0
        and yes_ask - yes_bid <= WIDE_SPREAD + 1e-9
    ):
        return (yes_bid + yes_ask) / 2
    if last_price is None:
        return None
    traded = volume > 0 if volume is not None else last_price > 0
    return last_price if traded else None


@dataclass(frozen=True, slots=True)
class Market:
    """One Kalshi market as our service sees it (a subset of Kalshi's fields)."""

    ticker: str
    event_ticker: str
    title: str
    status: str
    yes_sub_title: str = ""
    no_sub_title: str = ""
    yes_bid: float | None = None
    yes_ask: float | None = None
    last_price: float | None = None
    volume: float | None = None
    open_interest: float | None = None
    updated_at: datetime | None = None
    close_time: datetime | None = None
    # When this service read the price (Kalshi's updated_time tracks metadata, not prices).
    observed_at: datetime | None = None
    # When the game starts (occurrence_datetime) and when its result is expected.
    occurs_at: datetime | None = None
    expected_expiration: datetime | None = None

    @property
    def outcome(self) -> str:
        """The code after the event ticker (a game-winner's team; it may hold a ``-``: ``M-OH``)."""
        prefix = self.event_ticker + "-"
        if self.event_ticker and self.ticker.startswith(prefix):
            return self.ticker[len(prefix) :]
        return self.ticker.rsplit("-", 1)[-1]

    @property
    def implied_probability(self) -> float | None:
        """The market's probability by :func:`implied_probability`, or ``None`` without a price."""
        return implied_probability(self.yes_bid, self.yes_ask, self.last_price, self.volume)


@dataclass(frozen=True, slots=True)
class TeamRef:
    """A team as one scoreboard listed it for one game."""

    code: str
    name: str
    record: str | None = None
    espn_id: str | None = None


@dataclass(frozen=True, slots=True)
class Game:
    """One game from the scoreboard source (ESPN-shaped)."""

    id: str
    league: League
    start_time: datetime
    state: GameState
    home: TeamRef
    away: TeamRef
    home_score: int | None = None
    away_score: int | None = None
    venue: str | None = None
    neutral_site: bool = False
    status_detail: str | None = None


@dataclass(frozen=True, slots=True)
class TickerUpdate:
    """One live ``ticker`` message from the Kalshi feed, parsed."""

    market_ticker: str
    ts_ms: int
    price: float | None = None
    yes_bid: float | None = None
    yes_ask: float | None = None
    volume: float | None = None
    open_interest: float | None = None

    @property
    def implied_probability(self) -> float | None:
        """The same rule as for REST markets (:func:`implied_probability`)."""
        return implied_probability(self.yes_bid, self.yes_ask, self.price, self.volume)


@dataclass(frozen=True, slots=True)
class Factor:
    name: str
    value: float


class BetSide(enum.StrEnum):
    HOME = "home"
    AWAY = "away"


@dataclass(frozen=True, slots=True)
class Bet:
    """Buy YES on ``code`` at no more than ``price``, staking ``stake`` of the bankroll."""

    side: BetSide
    code: str
    price: float
    probability: float  # ours, for this side
    stake: float

    @property
    def text(self) -> str:
        stake = f"{100 * self.stake:.1f}% of bankroll"
        return f"BUY YES {self.code} at <= {self.price:.2f} (stake {stake})"


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a league's recommendations rest on, for a frontend to show beside them."""

    validated: bool  # False: no market history to test the model against
    summary: str
    bets: int | None = None  # bets the backtested policy placed
    roi: float | None = None  # their return per unit staked (0.05 = +5%)
    roi_ci95: tuple[float, float] | None = None
    seasons: str | None = None


@dataclass(frozen=True, slots=True)
class Prediction:
    """Our model's view of one game next to the market's."""

    home_win_probability: float
    away_win_probability: float
    confidence: Confidence
    model: str
    market_home_win_probability: float | None = None
    edge: float | None = None
    recommendation: str | None = None
    factors: tuple[Factor, ...] = field(default_factory=tuple)
    # Why there is no recommendation (None when there is one), the bet behind the text, and
    # what the league's recommendations rest on (graph.model.policy).
    recommendation_reason: str | None = None
    bet: Bet | None = None
    evidence: Evidence | None = None
