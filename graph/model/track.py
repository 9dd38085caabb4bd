"""The live track record: our forecasts and Kalshi's, scored against results (core: pure).

How it works. Before a game starts the service keeps one :class:`TrackEntry` per game: our home
win probability, Kalshi's (the market's home probability from real prices, or None), and the
recommendation the policy made then, if any, with the ask it was made at. Each later pre-game
pass replaces the snapshot, so the entry holds the last view before the start; from the start on
it is frozen. When the game is final the entry gets its outcome (1, 0, 0.5 for a tie).
:func:`summarise` scores the settled entries: Brier and log loss of the model and of Kalshi on
the same games (those where Kalshi had a price; the others are counted as ``unpriced``),
reliability bins for both, and the paper profit and loss of the recommendations: each bet pays
1/price - 1 per unit staked when its side wins, loses the stake otherwise, a tie refunds it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from graph.model.scoring import Bin, calibration, score
from graph.models import BetSide, League

BINS = 5  # a day's games are few: 0.2-wide reliability bins


@dataclass(frozen=True, slots=True)
class TrackEntry:
    league: League
    game_id: str
    start_time: datetime
    recorded_at: datetime
    model: str
    p_model: float  # our home win probability
    p_market: float | None  # Kalshi's, None without a real price
    bet_side: BetSide | None = None
    bet_ticker: str | None = None
    bet_price: float | None = None  # the ask the recommendation was made at
    bet_stake: float | None = None  # share of bankroll
    outcome: float | None = None  # None until final

    def bet_return(self) -> float | None:
        """Profit per unit staked once settled; None without a bet or a result."""
        if self.outcome is None or self.bet_side is None or self.bet_price is None:
            return None
        won = self.outcome if self.bet_side is BetSide.HOME else 1.0 - self.outcome
        if won == 0.5:
            return 0.0
        return 1.0 / self.bet_price - 1.0 if won else -1.0


@dataclass(frozen=True, slots=True)
class ForecastScore:
    n: int
    brier: float
    log_loss: float


@dataclass(frozen=True, slots=True)
class PaperPnl:
    """The recommendations' results, as shares of the bankroll at the asks on offer."""

    bets: int
    wins: int
    staked: float
    profit: float

    @property
    def roi(self) -> float | None:
        return self.profit / self.staked if self.staked else None


@dataclass(frozen=True, slots=True)
class TrackSummary:
    settled: int  # final games with our forecast
    pending: int  # recorded, not final yet
    unpriced: int  # settled, but Kalshi had no real price before the start
    model: ForecastScore | None  # on the games Kalshi priced (None: no such game)
    kalshi: ForecastScore | None
    model_calibration: list[Bin]
    kalshi_calibration: list[Bin]
    pnl: PaperPnl


def _score(pairs: list[tuple[float, float]]) -> ForecastScore | None:
    if not pairs:
        return None
    s = score(pairs)
    return ForecastScore(s.games, s.brier, s.log_loss)


def summarise(entries: Iterable[TrackEntry], *, bins: int = BINS) -> TrackSummary:
    settled = pending = 0
    ours: list[tuple[float, float]] = []
    theirs: list[tuple[float, float]] = []
    bets = wins = 0
    staked = profit = 0.0
    for e in entries:
        if e.outcome is None:
            pending += 1
            continue
        settled += 1
        if e.p_market is not None:
            ours.append((e.p_model, e.outcome))
            theirs.append((e.p_market, e.outcome))
        r = e.bet_return()
        if r is not None and e.bet_stake:
            bets += 1
            wins += r > 0
            staked += e.bet_stake
            profit += e.bet_stake * r
    return TrackSummary(
        settled=settled,
        pending=pending,
        unpriced=settled - len(ours),
        model=_score(ours),
        kalshi=_score(theirs),
        model_calibration=calibration(ours, bins),
        kalshi_calibration=calibration(theirs, bins),
        pnl=PaperPnl(bets, wins, staked, profit),
    )
