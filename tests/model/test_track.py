from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from graph.model.track import TrackEntry, summarise
from graph.models import BetSide, League

START = datetime(2026, 11, 22, 18, tzinfo=UTC)


def entry(
    game_id: str,
    p_model: float,
    p_market: float | None,
    outcome: float | None,
    **bet: object,
) -> TrackEntry:
    return TrackEntry(
        league=League.NFL,
        game_id=game_id,
        start_time=START,
        recorded_at=START,
        model="elo-nfl v1",
        p_model=p_model,
        p_market=p_market,
        outcome=outcome,
        **bet,  # type: ignore[arg-type]
    )


def home_bet(price: float, stake: float = 0.02) -> dict[str, object]:
    return {
        "bet_side": BetSide.HOME,
        "bet_ticker": "T-HOME",
        "bet_price": price,
        "bet_stake": stake,
    }


@pytest.mark.parametrize(
    ("side", "outcome", "expected"),
    [
        pytest.param(BetSide.HOME, 1.0, 1 / 0.4 - 1, id="home-wins"),
        pytest.param(BetSide.HOME, 0.0, -1.0, id="home-loses"),
        pytest.param(BetSide.AWAY, 0.0, 1 / 0.4 - 1, id="away-wins"),
        pytest.param(BetSide.HOME, 0.5, 0.0, id="tie-refunds"),
        pytest.param(BetSide.HOME, None, None, id="not-final"),
    ],
)
def test_bet_return(side: BetSide, outcome: float | None, expected: float | None) -> None:
    """A winning YES bought at 0.40 returns 1.5 per unit; a loss costs the stake."""
    e = entry("g", 0.5, 0.5, outcome, bet_side=side, bet_price=0.4, bet_stake=0.02)
    assert e.bet_return() == (None if expected is None else pytest.approx(expected))
    assert entry("g", 0.5, 0.5, 1.0).bet_return() is None


def test_summary_scores_both_on_the_games_kalshi_priced() -> None:
    """Model and Kalshi share their games; unpriced and pending games are counted apart."""
    entries = [
        entry("a", 0.8, 0.6, 1.0, **home_bet(0.62)),
        entry("b", 0.3, 0.4, 0.0),
        entry("c", 0.7, None, 1.0),
        entry("d", 0.5, 0.5, None, **home_bet(0.5)),
    ]
    s = summarise(entries)
    assert (s.settled, s.pending, s.unpriced) == (3, 1, 1)
    assert s.model is not None and s.kalshi is not None
    assert s.model.n == s.kalshi.n == 2
    assert s.model.brier == pytest.approx((0.2**2 + 0.3**2) / 2)
    assert s.kalshi.brier == pytest.approx((0.4**2 + 0.4**2) / 2)
    assert [b.count for b in s.model_calibration] == [0, 1, 0, 0, 1]
    assert sum(b.count for b in s.kalshi_calibration) == 2
    assert (s.pnl.bets, s.pnl.wins) == (1, 1)
    assert s.pnl.profit == pytest.approx(0.02 * (1 / 0.62 - 1))
    assert s.pnl.roi == pytest.approx(1 / 0.62 - 1)


def test_an_empty_record() -> None:
    """Nothing settled: no scores, no ROI, empty bins."""
    s = summarise([entry("d", 0.5, 0.5, None)])
    assert (s.settled, s.pending, s.model, s.kalshi, s.pnl.roi) == (0, 1, None, None, None)
    assert all(b.count == 0 for b in s.model_calibration)


def test_a_losing_bet_counts_against_the_profit() -> None:
    """Two bets, one lost: the profit nets them; only the win counts as a win."""
    won = entry("a", 0.8, 0.6, 1.0, **home_bet(0.5, 0.04))
    lost = replace(won, game_id="b", outcome=0.0)
    s = summarise([won, lost])
    assert (s.pnl.bets, s.pnl.wins) == (2, 1)
    assert s.pnl.profit == pytest.approx(0.04 - 0.04)
    assert s.pnl.staked == pytest.approx(0.08)
