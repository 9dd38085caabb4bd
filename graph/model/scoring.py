"""Proper scoring rules and reliability bins for win probabilities (core: pure).

Outcomes are floats: 1 the home team won, 0 it lost, 0.5 a tie (scored as half a win, as the
evaluation does; callers that exclude ties leave them out). Used by the live track record and
by ``make eval``, so both score forecasts the same way.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

CLIP = 1e-6  # log loss clips p to [CLIP, 1 - CLIP]
Pair = tuple[float, float]  # (forecast, outcome)


@dataclass(frozen=True, slots=True)
class Scores:
    games: int
    brier: float
    log_loss: float
    accuracy: float


@dataclass(frozen=True, slots=True)
class Bin:
    lower: float
    upper: float
    count: int
    predicted: float  # mean forecast in the bin (nan when empty)
    observed: float  # mean outcome in the bin (nan when empty)


def brier(p: float, y: float) -> float:
    return (p - y) ** 2


def log_loss(p: float, y: float) -> float:
    q = min(max(p, CLIP), 1 - CLIP)
    return -(y * math.log(q) + (1 - y) * math.log(1 - q))


def hit(p: float, y: float) -> float:
    """1 when the favoured side won; a coin-flip forecast or a tie counts half."""
    if p == 0.5 or y == 0.5:
        return 0.5
    return float((p > 0.5) == (y > 0.5))


def score(pairs: Iterable[Pair]) -> Scores:
    """Brier, log loss (p clipped to [1e-6, 1 - 1e-6]) and accuracy."""
    n = 0
    b = loss = hits = 0.0
    for p, y in pairs:
        y = float(y)
        n += 1
        b += brier(p, y)
        loss += log_loss(p, y)
        hits += hit(p, y)
    if n == 0:
        return Scores(0, math.nan, math.nan, math.nan)
    return Scores(n, b / n, loss / n, hits / n)


def calibration(pairs: Iterable[Pair], bins: int = 10) -> list[Bin]:
    """Equal-width bins of the forecast: mean forecast vs observed frequency and count."""
    sums = [[0, 0.0, 0.0] for _ in range(bins)]
    for p, y in pairs:
        i = min(int(p * bins), bins - 1)
        sums[i][0] += 1
        sums[i][1] += p
        sums[i][2] += float(y)
    out = []
    for i, (count, total_p, total_y) in enumerate(sums):
        c = int(count)
        out.append(
            Bin(
                lower=i / bins,
                upper=(i + 1) / bins,
                count=c,
                predicted=total_p / c if c else math.nan,
                observed=total_y / c if c else math.nan,
            )
        )
    return out
