"""GraphQL types of the evidence behind predictions: bets, backtests, the live track record.

Plain mappings from :mod:`graph.models` and :mod:`graph.model.track` (edge; resolvers live in
:mod:`graph.api.schema`).
"""

from __future__ import annotations

from datetime import date

import strawberry

from graph import models
from graph.model.scoring import Bin
from graph.model.track import ForecastScore, TrackSummary

BetSide = strawberry.enum(models.BetSide, description="Which team a bet is on.")


@strawberry.type(name="Bet", description="Buy YES on one market at no more than its ask.")
class BetType:
    side: BetSide  # type: ignore[valid-type]
    market_ticker: str
    price: float = strawberry.field(description="The ask on offer when it was made (dollars).")
    probability: float = strawberry.field(description="Our probability for this side.")
    stake: float = strawberry.field(description="Share of bankroll (fractional Kelly, capped).")

    @classmethod
    def of(cls, bet: models.Bet) -> BetType:
        return cls(
            side=bet.side,
            market_ticker=bet.code,
            price=bet.price,
            probability=bet.probability,
            stake=bet.stake,
        )


@strawberry.type(name="Evidence", description="What a league's recommendations rest on.")
class EvidenceType:
    validated: bool = strawberry.field(
        description="False: no market history to backtest the model against, so no stakes "
        "are recommended."
    )
    summary: str
    backtest_bets: int | None = strawberry.field(description="Bets the backtested policy placed.")
    backtest_roi: float | None = strawberry.field(
        description="Their profit per unit staked at closing prices, margin included (0.05 = +5%)."
    )
    backtest_roi_ci95: list[float] | None = strawberry.field(
        description="95% bootstrap interval of backtestRoi: [low, high]."
    )
    backtest_seasons: str | None

    @classmethod
    def of(cls, e: models.Evidence) -> EvidenceType:
        return cls(
            validated=e.validated,
            summary=e.summary,
            backtest_bets=e.bets,
            backtest_roi=e.roi,
            backtest_roi_ci95=list(e.roi_ci95) if e.roi_ci95 else None,
            backtest_seasons=e.seasons,
        )


@strawberry.type(name="ForecastScore", description="Proper scores of forecasts (lower is better).")
class ForecastScoreType:
    n: int
    brier: float
    log_loss: float

    @classmethod
    def of(cls, s: ForecastScore | None) -> ForecastScoreType | None:
        return None if s is None else cls(n=s.n, brier=s.brier, log_loss=s.log_loss)


@strawberry.type(name="CalibrationBin", description="Forecasts in [lower, upper) and how they did.")
class CalibrationBinType:
    lower: float
    upper: float
    count: int
    predicted: float | None = strawberry.field(description="Mean forecast (null when empty).")
    observed: float | None = strawberry.field(description="Home win share (null when empty).")

    @classmethod
    def of(cls, b: Bin) -> CalibrationBinType:
        empty = b.count == 0
        return cls(
            lower=b.lower,
            upper=b.upper,
            count=b.count,
            predicted=None if empty else b.predicted,
            observed=None if empty else b.observed,
        )


@strawberry.type(name="PaperPnl", description="Recommendations settled at the asks on offer.")
class PaperPnlType:
    bets: int
    wins: int
    staked: float = strawberry.field(description="Sum of stakes, as shares of bankroll.")
    profit: float = strawberry.field(description="Sum of results, as shares of bankroll.")
    roi: float | None = strawberry.field(description="Profit per unit staked.")


@strawberry.type(name="TrackRecord")
class TrackRecordType:
    since: date | None
    simulated: bool = strawberry.field(
        description="True on the built-in simulator: the games and prices are simulated."
    )
    settled: int = strawberry.field(description="Finished games with our pre-game forecast.")
    pending: int = strawberry.field(description="Recorded games not finished yet.")
    unpriced: int = strawberry.field(
        description="Finished games Kalshi had no real price for before the start (not scored)."
    )
    model: ForecastScoreType | None = strawberry.field(
        description="Our model on the games Kalshi priced."
    )
    kalshi: ForecastScoreType | None = strawberry.field(description="Kalshi on the same games.")
    model_calibration: list[CalibrationBinType]
    kalshi_calibration: list[CalibrationBinType]
    pnl: PaperPnlType

    @classmethod
    def of(cls, s: TrackSummary, *, since: date | None, simulated: bool) -> TrackRecordType:
        return cls(
            since=since,
            simulated=simulated,
            settled=s.settled,
            pending=s.pending,
            unpriced=s.unpriced,
            model=ForecastScoreType.of(s.model),
            kalshi=ForecastScoreType.of(s.kalshi),
            model_calibration=[CalibrationBinType.of(b) for b in s.model_calibration],
            kalshi_calibration=[CalibrationBinType.of(b) for b in s.kalshi_calibration],
            pnl=PaperPnlType(
                bets=s.pnl.bets,
                wins=s.pnl.wins,
                staked=s.pnl.staked,
                profit=s.pnl.profit,
                roi=s.pnl.roi,
            ),
        )
