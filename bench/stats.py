"""Bootstrap intervals for the evaluation (pure Python); the scoring rules themselves are the
service's own (``graph.model.scoring``, re-exported here).

Every random draw comes from a ``random.Random`` seeded by the caller, so a run is reproducible
to the last digit.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence

from graph.model.scoring import CLIP, Bin, Pair, Scores, brier, calibration, hit, log_loss, score

__all__ = [
    "CLIP",
    "Bin",
    "Pair",
    "Scores",
    "brier",
    "calibration",
    "cluster_bootstrap",
    "hit",
    "interval",
    "log_loss",
    "paired_mean_intervals",
    "percentile",
    "score",
]


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
