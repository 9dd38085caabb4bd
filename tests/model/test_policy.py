from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, strategies as st

from graph.model.policy import (
    DEFAULT_POLICIES,
    Decision,
    LeaguePolicy,
    Thresholds,
    backtested,
    decide,
    is_fresh,
    kelly_stake,
    not_validated,
)
from graph.models import Bet, BetSide, Evidence, League, Market

NOW = datetime(2025, 1, 5, 18, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
BETTING = LeaguePolicy(Thresholds(min_edge=0.03, max_edge=0.15), Evidence(True, "test"))


def market(code: str, bid: float, ask: float | None, *, age_ms: int | None = 0) -> Market:
    seen = None if age_ms is None else datetime.fromtimestamp((NOW_MS - age_ms) / 1000, UTC)
    return Market(
        ticker=f"KXNFLGAME-25JAN05NYGDAL-{code}",
        event_ticker="KXNFLGAME-25JAN05NYGDAL",
        title="t",
        status="active",
        yes_bid=bid,
        yes_ask=ask,
        observed_at=seen,
    )


def run(
    p_home: float,
    market_home: float | None,
    home: Market | None,
    away: Market | None,
    policy: LeaguePolicy = BETTING,
) -> Decision:
    return decide(
        policy=policy,
        p_home=p_home,
        market_home=market_home,
        home_code="DAL",
        away_code="NYG",
        home_market=home,
        away_market=away,
        now_ms=NOW_MS,
        stale_after_ms=120_000,
    )


def test_bets_the_home_side_at_its_ask_with_fractional_kelly() -> None:
    """Model above the market: YES on home at the ask, 1/4 of (p - a) / (1 - a)."""
    d = run(0.68, 0.60, market("DAL", 0.59, 0.62), market("NYG", 0.38, 0.41))
    assert d.reason is None and d.bet is not None
    assert (d.bet.side, d.bet.code, d.bet.price) == (BetSide.HOME, "DAL", 0.62)
    assert d.bet.stake == pytest.approx(0.25 * (0.68 - 0.62) / (1 - 0.62))
    assert d.bet.text == "BUY YES DAL at <= 0.62 (stake 3.9% of bankroll)"


def test_bets_the_away_side_when_the_model_is_below_the_market() -> None:
    """Model below the market: YES on the away team, judged on the away probability."""
    d = run(0.45, 0.60, market("DAL", 0.59, 0.62), market("NYG", 0.38, 0.41))
    assert d.bet == Bet(BetSide.AWAY, "NYG", 0.41, 0.55, 0.05)  # (0.55 - 0.41) / 0.59 / 4 > cap


@pytest.mark.parametrize(
    ("p_home", "market_home", "home", "away", "reason"),
    [
        pytest.param(0.7, None, None, None, "no market price yet", id="no-price"),
        pytest.param(0.6, 0.6, None, None, "model agrees with the market", id="agrees"),
        pytest.param(0.7, 0.6, None, None, "no ask for home side", id="no-market"),
        pytest.param(0.3, 0.6, None, market("NYG", 0.3, None), "no ask for away side", id="no-ask"),
        pytest.param(
            0.7, 0.6, market("DAL", 0.5, 0.6, age_ms=120_001), None, "price is stale", id="stale"
        ),
        pytest.param(
            0.7, 0.6, market("DAL", 0.5, 0.6, age_ms=None), None, "price is stale", id="no-age"
        ),
        pytest.param(
            0.62,
            0.6,
            market("DAL", 0.59, 0.6),
            None,
            "edge over the ask below 3 points",
            id="small-edge",
        ),
        pytest.param(
            0.80,
            0.6,
            market("DAL", 0.59, 0.6),
            None,
            "edge over the ask above 15 points",
            id="huge-edge",
        ),
    ],
)
def test_no_bet_and_why(
    p_home: float,
    market_home: float | None,
    home: Market | None,
    away: Market | None,
    reason: str,
) -> None:
    """Each way of declining a bet names its reason."""
    assert run(p_home, market_home, home, away) == Decision(None, reason)


def test_a_zero_stake_is_no_bet() -> None:
    """A zero Kelly fraction sizes every bet at nothing, so none is recommended."""
    policy = LeaguePolicy(Thresholds(kelly_fraction=0.0), Evidence(True, "test"))
    d = run(0.7, 0.6, market("DAL", 0.59, 0.6), None, policy)
    assert d == Decision(None, "no stake at this price")


def test_a_league_without_thresholds_never_bets_and_says_why() -> None:
    """No thresholds: the policy's reason, whatever the edge."""
    policy = not_validated(League.NBA)
    d = run(0.9, 0.5, market("DAL", 0.49, 0.5), None, policy)
    assert d == Decision(None, "not validated: no NBA market history to test the model against")
    assert policy.evidence.validated is False and policy.evidence.roi is None


def test_default_policies_recommend_nothing_without_evidence() -> None:
    """Only the NFL was backtested; it showed no edge, so no league has thresholds by default."""
    assert set(DEFAULT_POLICIES) == set(League)
    for league, policy in DEFAULT_POLICIES.items():
        assert policy.thresholds is None
        assert policy.reason
        assert policy.evidence.validated is (league is League.NFL)
    nfl = DEFAULT_POLICIES[League.NFL].evidence
    assert nfl.roi is not None and nfl.roi_ci95 is not None and nfl.bets
    assert nfl.roi_ci95[0] < nfl.roi < nfl.roi_ci95[1]


def test_backtested_evidence_summary() -> None:
    """The one-line summary shows bets, ROI and its interval in percent."""
    e = backtested(tested="t", seasons="NFL 2015-2022", bets=10, roi=-0.024, roi_ci95=(-0.1, 0.05))
    assert e.summary == (
        "backtest NFL 2015-2022 at closing lines, margin included (t): 10 bets, "
        "ROI -2.4% (95% CI -10.0% to +5.0%)"
    )


@pytest.mark.parametrize(
    ("p", "price", "expected"),
    [
        pytest.param(0.6, 0.5, 0.05, id="capped"),
        pytest.param(0.52, 0.5, 0.25 * 0.04, id="quarter-kelly"),
        pytest.param(0.5, 0.5, 0.0, id="no-edge"),
        pytest.param(0.9, 1.0, 0.0, id="price-1"),
        pytest.param(0.9, 0.0, 0.0, id="price-0"),
    ],
)
def test_kelly_stake(p: float, price: float, expected: float) -> None:
    """(p - a) / (1 - a), times the fraction, capped; nothing at the price bounds."""
    assert kelly_stake(p, price, fraction=0.25, cap=0.05) == pytest.approx(expected)


@given(p=st.floats(0, 1), price=st.floats(0, 1), fraction=st.floats(0, 1), cap=st.floats(0, 1))
def test_kelly_stake_is_bounded(p: float, price: float, fraction: float, cap: float) -> None:
    """The stake is always within [0, cap] and zero without an edge."""
    stake = kelly_stake(p, price, fraction=fraction, cap=cap)
    assert 0.0 <= stake <= cap
    if p <= price:
        assert stake == 0.0


def test_freshness_uses_observed_time_then_updated_time() -> None:
    """A price is fresh within the window; without any timestamp it is never fresh."""
    assert is_fresh(market("DAL", 0.5, 0.6, age_ms=1000), NOW_MS, 2000)
    assert not is_fresh(market("DAL", 0.5, 0.6, age_ms=3000), NOW_MS, 2000)
    assert not is_fresh(None, NOW_MS, 2000)
    updated = Market("T-X", "T", "t", "active", updated_at=NOW)
    assert is_fresh(updated, NOW_MS, 0)
