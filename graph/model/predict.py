"""Prediction math: our probability next to the market's, edge, confidence and a sized bet.

How it works. The market's home probability is the mid price of the home team's Kalshi market,
or, when both teams' markets are priced, the pair normalised to sum to 1 (removes the spread's
overround). ``edge`` is ours minus the market's. A recommendation is made only when one side's
model probability beats that side's *ask* by at least ``min_edge`` and that market's price is
fresh; it is sized by fractional Kelly: a YES contract bought at price a that wins with
probability p has Kelly fraction (p - a) / (1 - a), of which we bet ``kelly_fraction``, capped at
``max_stake`` of the bankroll. Core module: pure, time comes in as ``now_ms``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

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


def is_fresh(market: Market | None, now_ms: int, stale_after_ms: int) -> bool:
    """A price we may trade against: known age, no older than ``stale_after_ms``."""
    seen = market.observed_at or market.updated_at if market is not None else None
    if seen is None:
        return False
    age_ms = now_ms - seen.timestamp() * 1000
    return age_ms <= stale_after_ms


def kelly_stake(p: float, price: float, *, fraction: float, cap: float) -> float:
    """Share of bankroll to put on a YES at ``price`` that wins with probability ``p``."""
    if not 0.0 < price < 1.0 or p <= price:
        return 0.0
    full = (p - price) / (1.0 - price)
    return min(cap, max(0.0, fraction * full))


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


def recommend(
    *,
    p: float,
    code: str,
    market: Market | None,
    now_ms: int,
    stale_after_ms: int,
    kelly_fraction: float,
    min_edge: float,
    max_stake: float,
) -> tuple[str, float] | None:
    """("BUY YES <code> at <= ask (stake x%)", stake) for one side, or None."""
    if market is None or market.yes_ask is None or not is_fresh(market, now_ms, stale_after_ms):
        return None
    ask = market.yes_ask
    if p - ask < min_edge:
        return None
    stake = kelly_stake(p, ask, fraction=kelly_fraction, cap=max_stake)
    if stake <= 0.0:
        return None
    return f"BUY YES {code} at <= {ask:.2f} (stake {100 * stake:.1f}% of bankroll)", stake


def build_prediction(
    *,
    p_home: float,
    factors: Sequence[Factor],
    model: str,
    home_code: str,
    home_market: Market | None,
    away_market: Market | None,
    now_ms: int,
    away_code: str | None = None,
    stale_after_ms: int = 120_000,
    kelly_fraction: float = 0.25,
    min_edge: float = 0.03,
    max_stake: float = 0.05,
) -> Prediction:
    """Our probability, the market's, the edge, a confidence level and at most one bet."""
    home_p = _clamp01(p_home)
    away_p = 1.0 - home_p
    market = market_home_probability(home_market, away_market)
    edge = None if market is None else home_p - market

    def bet(p: float, code: str, market_: Market | None) -> str | None:
        made = recommend(
            p=p,
            code=code,
            market=market_,
            now_ms=now_ms,
            stale_after_ms=stale_after_ms,
            kelly_fraction=kelly_fraction,
            min_edge=min_edge,
            max_stake=max_stake,
        )
        return made[0] if made else None

    recommendation = None
    if edge is not None and edge > 0:
        recommendation = bet(home_p, home_code, home_market)
    elif edge is not None and edge < 0:
        code = away_code or (away_market.outcome if away_market is not None else "AWAY")
        recommendation = bet(away_p, code, away_market)
    return Prediction(
        home_win_probability=home_p,
        away_win_probability=away_p,
        confidence=confidence(home_p, market),
        model=model,
        market_home_win_probability=market,
        edge=edge,
        recommendation=recommendation,
        factors=tuple(factors),
    )
