from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given, strategies as st

from graph.model.policy import LeaguePolicy, Thresholds, not_validated
from graph.model.predict import build_prediction, confidence, market_home_probability
from graph.models import BetSide, Confidence, Evidence, Factor, League, Market, Prediction

NOW = datetime(2025, 1, 5, 18, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
prices = st.floats(min_value=0.01, max_value=0.99, allow_nan=False)
probs = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
EVIDENCE = Evidence(validated=True, summary="backtest: +1.0% ROI")
BETTING = LeaguePolicy(Thresholds(), EVIDENCE)  # edge >= 3 points, 1/4 Kelly, cap 5%


def market(
    code: str,
    bid: float | None,
    ask: float | None,
    *,
    last: float | None = None,
    age_ms: int | None = 0,
) -> Market:
    updated = None if age_ms is None else datetime.fromtimestamp((NOW_MS - age_ms) / 1000, UTC)
    return Market(
        ticker=f"KXNBAGAME-25JAN05NYKBOS-{code}",
        event_ticker="KXNBAGAME-25JAN05NYKBOS",
        title="t",
        status="active",
        yes_bid=bid,
        yes_ask=ask,
        last_price=last,
        updated_at=updated,
    )


def predict(
    p: float, home: Market | None, away: Market | None, policy: LeaguePolicy = BETTING
) -> Prediction:
    return build_prediction(
        p_home=p,
        factors=[Factor("rating_diff", 10.0)],
        model="elo-nba v1",
        policy=policy,
        home_code="BOS",
        home_market=home,
        away_market=away,
        now_ms=NOW_MS,
    )


@pytest.mark.parametrize(
    ("home", "away", "expected"),
    [
        pytest.param(market("BOS", 0.60, 0.64), None, 0.62, id="home-mid"),
        pytest.param(None, market("NYK", 0.30, 0.34), 0.68, id="away-only"),
        pytest.param(
            market("BOS", 0.60, 0.64), market("NYK", 0.40, 0.44), 0.62 / 1.04, id="normalised"
        ),
        pytest.param(market("BOS", None, None, last=0.55), None, 0.55, id="last-trade"),
        pytest.param(market("BOS", None, None), market("NYK", None, None), None, id="no-price"),
        pytest.param(None, None, None, id="no-markets"),
    ],
)
def test_market_home_probability(
    home: Market | None, away: Market | None, expected: float | None
) -> None:
    """Home mid, or the normalised pair, or None without a price."""
    got = market_home_probability(home, away)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected)


def test_recommends_fractional_kelly_on_the_home_side() -> None:
    """Model 0.68 vs ask 0.62: a quarter of Kelly's (0.68 - 0.62) / (1 - 0.62) = 3.9%."""
    pred = predict(0.68, market("BOS", 0.60, 0.62), market("NYK", 0.38, 0.40))
    assert pred.recommendation == "BUY YES BOS at <= 0.62 (stake 3.9% of bankroll)"
    assert pred.market_home_win_probability == pytest.approx(0.61)
    assert pred.edge == pytest.approx(0.07)
    assert pred.bet is not None and pred.bet.side is BetSide.HOME and pred.bet.price == 0.62
    assert (pred.recommendation_reason, pred.evidence) == (None, EVIDENCE)


def test_stake_is_capped_at_max_stake() -> None:
    """A large edge still risks at most max_stake of the bankroll."""
    pred = predict(0.90, market("BOS", 0.60, 0.62), None)
    assert pred.recommendation == "BUY YES BOS at <= 0.62 (stake 5.0% of bankroll)"


def test_recommends_the_away_side_when_the_market_overrates_home() -> None:
    """Negative edge: buy YES on the away team's market at its ask."""
    pred = predict(0.40, market("BOS", 0.58, 0.60), market("NYK", 0.40, 0.42))
    assert pred.recommendation is not None
    assert pred.recommendation.startswith("BUY YES NYK at <= 0.42")
    away_by_code = predict(0.40, market("BOS", 0.58, 0.60), None)
    assert away_by_code.recommendation_reason == "no ask for away side"


@pytest.mark.parametrize(
    ("home", "reason"),
    [
        pytest.param(market("BOS", 0.60, 0.62, age_ms=300_000), "price is stale", id="stale"),
        pytest.param(market("BOS", 0.60, 0.62, age_ms=None), "price is stale", id="no-timestamp"),
        pytest.param(market("BOS", None, None, last=0.5), "no ask for home side", id="no-ask"),
        pytest.param(
            market("BOS", 0.66, 0.68), "edge over the ask below 3 points", id="small-edge"
        ),
    ],
)
def test_no_recommendation(home: Market, reason: str) -> None:
    """No bet on a stale, undated or ask-less market, or below the minimum edge; says why."""
    pred = predict(0.70, home, None)
    assert (pred.recommendation, pred.bet, pred.recommendation_reason) == (None, None, reason)


def test_a_league_without_evidence_gets_no_stake_and_its_evidence() -> None:
    """Not validated: no recommendation however large the edge, the reason and the evidence."""
    policy = not_validated(League.NBA)
    pred = predict(0.95, market("BOS", 0.40, 0.42), None, policy)
    assert pred.recommendation is None and pred.bet is None
    assert pred.recommendation_reason == policy.reason
    assert pred.evidence == policy.evidence and pred.evidence.validated is False


@pytest.mark.parametrize(
    ("bid", "ask"), [pytest.param(0.0, 1.0, id="empty-book"), pytest.param(0.01, 0.99, id="penny")]
)
def test_never_traded_markets_are_no_market_price(bid: float, ask: float) -> None:
    """Both markets never traded (last 0.00, no volume, no two-sided book): no market
    probability, no edge and no bet, however sure our model is (it was max stake before)."""

    def untraded(code: str) -> Market:
        return replace(market(code, bid, ask), last_price=0.0, volume=0.0)

    pred = predict(0.9, untraded("BOS"), untraded("NYK"))
    assert (pred.market_home_win_probability, pred.edge, pred.recommendation) == (None,) * 3
    assert pred.recommendation_reason == "no market price yet"
    unproven = predict(0.9, untraded("BOS"), untraded("NYK"), not_validated(League.NBA))
    assert unproven.recommendation_reason == "no market price yet"  # before the policy's reason
    half = predict(0.9, untraded("BOS"), market("NYK", 0.30, 0.34))
    assert half.market_home_win_probability == pytest.approx(0.68)  # the priced side speaks


def test_no_recommendation_without_market() -> None:
    """Without any market there is no market probability, edge or bet."""
    pred = predict(0.9, None, None)
    assert (pred.market_home_win_probability, pred.edge, pred.recommendation) == (None,) * 3
    assert pred.recommendation_reason == "no market price yet"
    assert pred.confidence is Confidence.HIGH


@pytest.mark.parametrize(
    ("p", "market_p", "expected"),
    [
        pytest.param(0.75, None, Confidence.HIGH, id="strong"),
        pytest.param(0.60, None, Confidence.MEDIUM, id="lean"),
        pytest.param(0.52, None, Confidence.LOW, id="coin-flip"),
        pytest.param(0.75, 0.72, Confidence.HIGH, id="market-agrees"),
        pytest.param(0.75, 0.45, Confidence.MEDIUM, id="market-disagrees"),
        pytest.param(0.60, 0.40, Confidence.LOW, id="market-other-side"),
    ],
)
def test_confidence(p: float, market_p: float | None, expected: Confidence) -> None:
    """Distance from 0.5, one level down when the market disagrees."""
    assert confidence(p, market_p) is expected


@given(p=st.floats(allow_nan=True, allow_infinity=True), bid=prices, ask=prices)
def test_probabilities_are_valid(p: float, bid: float, ask: float) -> None:
    """Home and away probabilities lie in [0, 1] and sum to 1, whatever comes in."""
    pred = predict(p, market("BOS", min(bid, ask), max(bid, ask)), None)
    assert 0.0 <= pred.home_win_probability <= 1.0
    assert 0.0 <= pred.away_win_probability <= 1.0
    assert pred.home_win_probability + pred.away_win_probability == pytest.approx(1.0, abs=1e-12)
    if pred.market_home_win_probability is not None:
        assert 0.0 <= pred.market_home_win_probability <= 1.0


@given(bid=prices, spread=st.floats(0, 0.1))
def test_no_recommendation_at_zero_edge(bid: float, spread: float) -> None:
    """When the model equals the market there is nothing to buy."""
    ask = min(0.99, bid + spread)
    home = market("BOS", bid, ask)
    p_market = market_home_probability(home, None)
    assert p_market is not None
    assert predict(p_market, home, None).recommendation is None


@given(p=probs, bid=prices, age=st.integers(120_001, 10**9))
def test_no_recommendation_on_stale_markets(p: float, bid: float, age: int) -> None:
    """A price older than stale_after_ms is never traded against."""
    home = market("BOS", bid, min(0.99, bid + 0.02), age_ms=age)
    away = market("NYK", 1 - bid - 0.02, 1 - bid, age_ms=age)
    assert predict(p, home, away).recommendation is None


def test_a_freshly_read_price_counts_as_fresh_whatever_its_metadata_time() -> None:
    """Kalshi's updated_time tracks metadata; what we just read is a fresh price."""
    old_metadata = datetime.fromtimestamp(NOW_MS / 1000 - 7 * 86400, UTC)
    just_read = datetime.fromtimestamp(NOW_MS / 1000 - 1, UTC)
    long_ago = datetime.fromtimestamp(NOW_MS / 1000 - 3600, UTC)
    home = market("BOS", 0.40, 0.42)
    fresh = replace(home, updated_at=old_metadata, observed_at=just_read)
    stale = replace(home, updated_at=old_metadata, observed_at=long_ago)
    assert predict(0.60, fresh, None).recommendation is not None
    assert predict(0.60, stale, None).recommendation is None
