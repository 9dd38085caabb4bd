from __future__ import annotations

import math

import pytest

from bench.stats import (
    calibration,
    cluster_bootstrap,
    interval,
    paired_mean_intervals,
    percentile,
    score,
)


@pytest.mark.parametrize(
    ("pairs", "brier", "log_loss", "accuracy"),
    [
        pytest.param([(0.5, 1.0), (0.5, 0.0)], 0.25, math.log(2), 0.5, id="coin-flip"),
        pytest.param([(1.0, 1.0)], 0.0, -math.log(1 - 1e-6), 1.0, id="certain-right"),
        pytest.param([(0.8, 0.0), (0.8, 1.0)], 0.34, 0.9163, 0.5, id="mixed"),
        pytest.param([(0.8, 0.5)], 0.09, 0.9163, 0.5, id="tie-counts-half"),
    ],
)
def test_score(
    pairs: list[tuple[float, float]], brier: float, log_loss: float, accuracy: float
) -> None:
    """Brier, clipped log loss and accuracy (a coin flip or a tie counts half)."""
    s = score(pairs)
    assert s.brier == pytest.approx(brier)
    assert s.log_loss == pytest.approx(log_loss, abs=1e-4)
    assert s.accuracy == accuracy


def test_score_of_nothing_is_nan() -> None:
    """No games: zero count and NaN scores, not a division error."""
    s = score([])
    assert s.games == 0 and math.isnan(s.brier)


def test_calibration_table() -> None:
    """Forecasts land in equal-width bins; p = 1 falls in the last bin; empty bins are NaN."""
    bins = calibration([(0.05, 0.0), (0.95, 1.0), (1.0, 1.0), (0.91, 0.0)])
    assert [b.count for b in bins] == [1, 0, 0, 0, 0, 0, 0, 0, 0, 3]
    assert bins[9].observed == pytest.approx(2 / 3)
    assert math.isnan(bins[1].predicted)


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
