"""Prediction math: our probability next to the market's, edge, confidence, and the policy's call.

How it works. The market's home probability is the mid price of the home team's Kalshi market,
or, when both teams' markets are priced, the pair normalised to sum to 1 (removes the spread's
overround). ``edge`` is ours minus the market's. Whether to recommend a bet is the league's
policy's decision (:func:`graph.model.policy.decide`: thresholds, fractional Kelly, caps, or no
stake at all where the backtest gave no evidence); the prediction carries the bet, or the reason
there is none, and the evidence the policy rests on. Core module: pure, time comes in as
``now_ms``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from graph.model.policy import LeaguePolicy, decide
from graph.models import Confidence, Factor, Market, Prediction

# Confidence thresholds on |p - 0.5| and on the model-market disagreement.
HIGH_DISTANCE = 0.20
MEDIUM_DISTANCE = 0.08
DISAGREEMENT = 0.10


def _clamp01(p: float) -> float:
    if math.isnan(p):
        return 0.5
    return min(1.0, max(0.0, p))


def market_home_probability(home: Market | None, away: Market | None) -> float | None:
    """The market's home win probability, or None when neither market has a price."""
    p_home = home.implied_probability if home is not None else None
    p_away = away.implied_probability if away is not None else None
    if p_home is not None and p_away is not None and p_home + p_away > 0:
        return _clamp01(p_home / (p_home + p_away))
    if p_home is not None:
        return _clamp01(p_home)
    if p_away is not None:
        return _clamp01(1.0 - p_away)
    return None


def confidence(p_home: float, market: float | None) -> Confidence:
    """By distance from a coin flip; one level lower when the market clearly disagrees."""
    distance = abs(p_home - 0.5)
    levels = (Confidence.LOW, Confidence.MEDIUM, Confidence.HIGH)
    level = 2 if distance >= HIGH_DISTANCE else 1 if distance >= MEDIUM_DISTANCE else 0
    if market is not None:
        other_side = (p_home - 0.5) * (market - 0.5) < 0
        if other_side or abs(p_home - market) > DISAGREEMENT:
            level = max(0, level - 1)
    return levels[level]


def build_prediction(
    *,
    p_home: float,
    factors: Sequence[Factor],
    model: str,
    policy: LeaguePolicy,
    home_code: str,
    home_market: Market | None,
    away_market: Market | None,
    now_ms: int,
    away_code: str | None = None,
    stale_after_ms: int = 120_000,
) -> Prediction:
    """Our probability, the market's, the edge, a confidence level and at most one bet."""
    home_p = _clamp01(p_home)
    market = market_home_probability(home_market, away_market)
    decision = decide(
        policy=policy,
        p_home=home_p,
        market_home=market,
        home_code=home_code,
        away_code=away_code or (away_market.outcome if away_market is not None else "AWAY"),
        home_market=home_market,
        away_market=away_market,
        now_ms=now_ms,
        stale_after_ms=stale_after_ms,
    )
    return Prediction(
        home_win_probability=home_p,
        away_win_probability=1.0 - home_p,
        confidence=confidence(home_p, market),
        model=model,
        market_home_win_probability=market,
        edge=None if market is None else home_p - market,
        recommendation=decision.bet.text if decision.bet else None,
        factors=tuple(factors),
        recommendation_reason=decision.reason,
        bet=decision.bet,
        evidence=policy.evidence,
    )
