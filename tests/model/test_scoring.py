from __future__ import annotations

import math

import pytest

from graph.model.scoring import calibration, score


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
