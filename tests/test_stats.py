from __future__ import annotations

import math

import pytest

from bench.stats import cluster_bootstrap, interval, paired_mean_intervals, percentile


def test_percentile_and_interval() -> None:
    """Linear interpolation between order statistics; NaNs are ignored."""
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert math.isnan(percentile([], 0.5))
    assert interval([math.nan, *map(float, range(101))], 0.9) == pytest.approx((5.0, 95.0))


def test_paired_intervals_are_reproducible_and_cover_the_mean() -> None:
    """Same seed, same intervals; each contains its column's mean; a constant has no width."""
    columns = {"a": [float(i % 7) for i in range(200)], "b": [1.0] * 200}
    first = paired_mean_intervals(columns, reps=300, seed=1)
    assert first == paired_mean_intervals(columns, reps=300, seed=1)
    lo, hi = first["a"]
    assert lo < sum(columns["a"]) / 200 < hi
    assert first["b"] == (1.0, 1.0)
    with pytest.raises(ValueError, match="differ in length"):
        paired_mean_intervals({"a": [1.0], "b": [1.0, 2.0]}, reps=1, seed=1)


def test_cluster_bootstrap() -> None:
    """Resamples whole clusters; nothing to resample gives NaN bounds."""
    clusters = [(1.0, float(i)) for i in range(50)]
    lo, hi = cluster_bootstrap(
        clusters, lambda cs: sum(c[1] for c in cs) / len(cs), reps=200, seed=3
    )
    assert lo < 24.5 < hi
    assert all(math.isnan(x) for x in cluster_bootstrap([], len, reps=10, seed=3))
