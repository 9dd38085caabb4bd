"""Attempts to beat the closing line: walk-forward Brier on NFL 2019-2022 against the market's.

Every attempt is a ``bench.blend`` logistic combination fitted walk-forward (each season from
earlier seasons only, ridge strength chosen the same way), so none has seen the season it is
scored on. The market's 2019-2022 Brier (ties as half) is 0.20995. ``below_market`` says an
attempt's Brier is lower; ``below_market_beyond_noise`` says the paired bootstrap interval of the
difference lies wholly below zero. QB-Elo is 538's published forecast, an input we do not have
live, tried to see whether quarterback information the market lacks exists at all.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bench.blend import Sample, walk_forward
from bench.closing import LIVE_QBELO_FROM, REPS, SEED, qbelo
from bench.moneylines import Line, Matched
from bench.stats import brier, paired_mean_intervals, score

Input = Callable[[Matched, float], float]  # (game, our model's p) -> a home probability


def shin_home(line: Line) -> float:
    """Home probability by Shin's method: the margin is read as insider trading, which inflates
    longshots more than favourites (bisection on Shin's z; two outcomes)."""
    prices = (line.home_price, line.away_price)
    total = sum(prices)

    def fair(z: float) -> list[float]:
        return [
            (math.sqrt(z * z + 4 * (1 - z) * p * p / total) - z) / (2 * (1 - z)) for p in prices
        ]

    lo, hi = 0.0, 0.5
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if sum(fair(mid)) > 1 else (lo, mid)
    home, away = fair((lo + hi) / 2)
    return home / (home + away)


def _qbelo(m: Matched, _: float) -> float:
    return qbelo(m)


def _model(_: Matched, p: float) -> float:
    return p


def _close(m: Matched, _: float) -> float:
    return m.line.no_vig_home


def _shin(m: Matched, _: float) -> float:
    return shin_home(m.line)


# name -> inputs; the last input is the prior every fit is pulled toward.
ATTEMPTS: Mapping[str, Sequence[Input]] = {
    "blend: our model + close": (_model, _close),
    "close recalibrated (intercept, slope)": (_close,),
    "Shin de-vig, recalibrated": (_shin,),
    "our model + 538 QB-Elo + close": (_model, _qbelo, _close),
    "our model + 538 QB-Elo, no market": (_model, _qbelo),
}


def attempts(games: Sequence[Matched], model: Sequence[float]) -> dict[str, Any]:
    """Each attempt's Brier (all seasons, 2019-2022) and its 2019-2022 gap to the market."""
    late = [i for i, m in enumerate(games) if m.game.season >= LIVE_QBELO_FROM]
    ys = [games[i].outcome for i in late]
    market = [games[i].line.no_vig_home for i in late]
    rows: dict[str, Any] = {}
    diffs = {}
    for name, inputs in ATTEMPTS.items():
        samples = [
            Sample(m.game.season, m.outcome, tuple(f(m, p) for f in inputs))
            for m, p in zip(games, model, strict=True)
        ]
        forecasts, _ = walk_forward(samples)
        mine = [forecasts[i] for i in late]
        diffs[name] = [brier(p, y) - brier(q, y) for p, q, y in zip(mine, market, ys, strict=True)]
        rows[name] = {
            "brier_all": score(zip(forecasts, [m.outcome for m in games], strict=True)).brier,
            "brier_2019_2022": score(zip(mine, ys, strict=True)).brier,
            "minus_market": sum(diffs[name]) / len(ys),
        }
    intervals = paired_mean_intervals(diffs, reps=REPS, seed=SEED)
    for name, row in rows.items():
        row["minus_market_ci95"] = intervals[name]
        row["below_market"] = row["minus_market"] < 0
        row["below_market_beyond_noise"] = intervals[name][1] < 0
    return {
        "market_brier_2019_2022": score(zip(market, ys, strict=True)).brier,
        "attempts": rows,
    }


def render(report: Mapping[str, Any], league: str = "NFL") -> str:
    lines = [
        f"== Stretch: beat the close on {league} 2019-2022 (market Brier "
        f"{report['market_brier_2019_2022']:.5f}); walk-forward, ties count half",
        f"   {'attempt':<40}{'Brier all':>10}{'2019-22':>10}   minus market [95% CI]",
    ]
    for name, r in report["attempts"].items():
        lo, hi = r["minus_market_ci95"]
        lines.append(
            f"   {name:<40}{r['brier_all']:>10.5f}{r['brier_2019_2022']:>10.5f}   "
            f"{r['minus_market']:+.5f} [{lo:+.5f}, {hi:+.5f}]"
        )
    return "\n".join(lines)
