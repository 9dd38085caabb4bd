"""The recommendation policy: whether to suggest a bet, on which side, and how much.

How it works. A league's :class:`LeaguePolicy` holds its :class:`Thresholds` and the
:class:`Evidence` they rest on. ``thresholds`` is None where the backtest against real closing
lines found no setting with a positive return beyond doubt, or where there is no market history
to backtest at all ("not validated"): such a league never gets a stake recommendation, only the
reason why. Otherwise :func:`decide` takes the side the model favours against the market's
probability (edge = ours minus the market's), buys that side's YES only at its *ask* (the price
actually on offer, spread or margin included), only when the price is fresh and the model beats
the ask by at least ``min_edge`` but by no more than ``max_edge`` (a disagreement that large
says more about what the model misses than about the price), and sizes it by fractional Kelly
capped at ``max_stake`` of the bankroll. ``bench/backtest.py`` runs this same function over
2,170 NFL games at their closing moneylines; the defaults below come from that backtest
(``make eval``). Core module: pure, time comes in as ``now_ms``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from graph.models import Bet, BetSide, Evidence, League, Market


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When and how much to bet; the defaults are the service's historical settings."""

    min_edge: float = 0.03  # our probability minus the ask, on the side bought
    max_edge: float = 1.0  # larger disagreements are not bet on
    kelly_fraction: float = 0.25
    max_stake: float = 0.05  # share of bankroll


NO_PRICE = "no market price yet"  # neither team's market has traded or has a two-sided book


@dataclass(frozen=True, slots=True)
class LeaguePolicy:
    thresholds: Thresholds | None  # None: never recommend a stake in this league
    evidence: Evidence
    reason: str = ""  # why there are no thresholds, shown instead of a recommendation


@dataclass(frozen=True, slots=True)
class Decision:
    """A bet, or None and the short reason why not."""

    bet: Bet | None
    reason: str | None


def is_fresh(market: Market | None, now_ms: int, stale_after_ms: int) -> bool:
    """A price we may trade against: known age, no older than ``stale_after_ms``."""
    seen = market.observed_at or market.updated_at if market is not None else None
    if seen is None:
        return False
    age_ms = now_ms - seen.timestamp() * 1000
    return age_ms <= stale_after_ms


def kelly_stake(p: float, price: float, *, fraction: float, cap: float) -> float:
    """Share of bankroll to put on a YES at ``price`` that wins with probability ``p``.

    A YES bought at a wins 1 - a per contract with probability p and loses a otherwise, so the
    Kelly fraction is (p - a) / (1 - a); we bet ``fraction`` of it, at most ``cap``.
    """
    if not 0.0 < price < 1.0 or p <= price:
        return 0.0
    full = (p - price) / (1.0 - price)
    return min(cap, max(0.0, fraction * full))


def decide(
    *,
    policy: LeaguePolicy,
    p_home: float,
    market_home: float | None,
    home_code: str,
    away_code: str,
    home_market: Market | None,
    away_market: Market | None,
    now_ms: int,
    stale_after_ms: int,
) -> Decision:
    """At most one bet for a game, or the reason there is none (see the module docstring)."""
    if market_home is None:  # first: with no price there is nothing to decide (issue 14)
        return Decision(None, NO_PRICE)
    limits = policy.thresholds
    if limits is None:
        return Decision(None, policy.reason)
    edge = p_home - market_home
    if edge == 0:
        return Decision(None, "model agrees with the market")
    if edge > 0:
        side, p, code, market = BetSide.HOME, p_home, home_code, home_market
    else:
        side, p, code, market = BetSide.AWAY, 1.0 - p_home, away_code, away_market
    if market is None or market.yes_ask is None:
        return Decision(None, f"no ask for {side} side")
    if not is_fresh(market, now_ms, stale_after_ms):
        return Decision(None, "price is stale")
    ask = market.yes_ask
    if p - ask < limits.min_edge:
        return Decision(None, f"edge over the ask below {100 * limits.min_edge:.0f} points")
    if p - ask > limits.max_edge:
        return Decision(None, f"edge over the ask above {100 * limits.max_edge:.0f} points")
    stake = kelly_stake(p, ask, fraction=limits.kelly_fraction, cap=limits.max_stake)
    if stake <= 0.0:
        return Decision(None, "no stake at this price")
    return Decision(Bet(side, code, ask, p, stake), None)


def not_validated(league: League) -> LeaguePolicy:
    """No market history, so no stake recommendations: the model is unproven against prices."""
    reason = f"not validated: no {league} market history to test the model against"
    return LeaguePolicy(None, Evidence(validated=False, summary=reason), reason)


def backtested(
    *, tested: str, seasons: str, bets: int, roi: float, roi_ci95: tuple[float, float]
) -> Evidence:
    """Evidence from a backtest at real closing prices, with its one-line summary."""
    lo, hi = roi_ci95
    return Evidence(
        validated=True,
        summary=(
            f"backtest {seasons} at closing lines, margin included ({tested}): {bets} bets, "
            f"ROI {100 * roi:+.1f}% (95% CI {100 * lo:+.1f}% to {100 * hi:+.1f}%)"
        ),
        bets=bets,
        roi=roi,
        roi_ci95=roi_ci95,
        seasons=seasons,
    )


# From `make eval` (bench/results/eval.json: backtest.nfl.policy is null, i.e. no setting of the
# grid qualified; the numbers are backtest.nfl.former_default, the thresholds the service used
# before). tests/test_eval.py checks them against a fresh backtest, so they cannot drift.
NFL = LeaguePolicy(
    thresholds=None,
    evidence=backtested(
        tested="edge >= 3 points over the ask, 1/4 Kelly, cap 5%",
        seasons="NFL 2015-2022",
        bets=1400,
        roi=-0.0242,
        roi_ci95=(-0.1018, 0.0539),
    ),
    reason="no evidence of an edge over the closing line (NFL backtest)",
)

DEFAULT_POLICIES: Mapping[League, LeaguePolicy] = {
    league: NFL if league is League.NFL else not_validated(league) for league in League
}
