"""Scoring rules, reliability tables and bootstrap intervals for the evaluation (pure Python).

Outcomes are floats: 1 the home team won, 0 it lost, 0.5 a tie (scored as half, as the data
README does; callers that exclude ties simply leave them out). Every random draw comes from a
``random.Random`` seeded by the caller, so a run is reproducible to the last digit.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
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


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in [0, 1]) of already sorted values."""
    if not sorted_values:
        return math.nan
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def interval(samples: Iterable[float], level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` percentile interval of bootstrap replicates (NaNs dropped)."""
    values = sorted(s for s in samples if not math.isnan(s))
    tail = (1 - level) / 2
    return percentile(values, tail), percentile(values, 1 - tail)


def paired_mean_intervals(
    columns: Mapping[str, Sequence[float]], *, reps: int, seed: int, level: float = 0.95
) -> dict[str, tuple[float, float]]:
    """Bootstrap intervals of the mean of each column, resampling rows (games) jointly.

    Columns are per-game differences (say, the model's Brier minus the market's on the same
    game); one set of resampled rows per replicate serves every column, so the intervals of
    different columns come from the same replicates.
    """
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1:
        raise ValueError("columns differ in length")
    n = lengths.pop()
    rng = random.Random(seed)
    rows = range(n)
    draws: dict[str, list[float]] = {name: [] for name in columns}
    for _ in range(reps):
        idx = rng.choices(rows, k=n)
        for name, values in columns.items():
            draws[name].append(sum(map(values.__getitem__, idx)) / n)
    return {name: interval(d, level) for name, d in draws.items()}


def cluster_bootstrap(
    clusters: Sequence[tuple[float, ...]],
    statistic: Callable[[Sequence[tuple[float, ...]]], float],
    *,
    reps: int,
    seed: int,
    level: float = 0.95,
) -> tuple[float, float]:
    """Interval of ``statistic`` over clusters (e.g. betting days) resampled with replacement."""
    if not clusters:
        return (math.nan, math.nan)
    rng = random.Random(seed)
    n = len(clusters)
    return interval((statistic(rng.choices(clusters, k=n)) for _ in range(reps)), level)
