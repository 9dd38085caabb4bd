from __future__ import annotations

import pytest

from bench.closing import MARKET, NAMES, compare, render, table
from bench.moneylines import Matched, join, load_lines
from graph.model.data import load_games
from graph.models import League

pytestmark = pytest.mark.bench


@pytest.fixture(scope="module")
def games() -> list[Matched]:
    """Real NFL games with their closing lines, 2018-2019 (one season each side of 2019)."""
    nfl = [g for g in load_games(League.NFL) if g.season in (2018, 2019)]
    return join(nfl, load_lines())


def test_table_reports_gaps_to_the_market_with_intervals() -> None:
    """A forecast worse than the market on every game has a positive gap and interval."""
    outcomes = [1.0, 0.0] * 50
    forecasts = {
        MARKET: [0.7 if y else 0.3 for y in outcomes],
        "worse": [0.6 if y else 0.4 for y in outcomes],
    }
    rows = table(forecasts, outcomes, reps=100, seed=1)
    assert rows[MARKET]["brier"] == pytest.approx(0.09)
    assert "brier_minus_market" not in rows[MARKET]
    worse = rows["worse"]
    assert worse["brier_minus_market"] == pytest.approx(0.16 - 0.09)
    assert worse["brier_minus_market_ci95"] == pytest.approx((0.07, 0.07))
    assert worse["log_loss_minus_market"] > 0 and worse["n"] == 100


def test_compare_scores_every_column_on_the_same_games(games: list[Matched]) -> None:
    """Five forecasts, the same n, per-season rows, the 2019+ block and calibration bins."""
    model = [m.game.elo_prob_home for m in games]
    report = compare(games, model)
    assert {report[k]["n"] for k in NAMES} == {len(games)}
    assert report["from_2019"]["market"]["n"] == sum(m.game.season == 2019 for m in games)
    assert list(report["by_season"]) == ["2018", "2019"]
    # Our "model" here is 538's Elo column, so the two must score identically.
    assert report["model"]["brier"] == report["elo538"]["brier"]
    assert report["blend"]["brier_minus_market"] == pytest.approx(
        report["blend"]["brier"] - report["market"]["brier"]
    )
    assert all(
        sum(b["count"] for b in bins) == len(games) for bins in report["calibration"].values()
    )
    assert [f["season"] for f in report["blend_fits"]] == [2018, 2019]
    text = render(report)
    assert text.count("no-vig close") == 2 and "2019-2019 (QB-Elo" in text
    assert "blend weights" in text and "calibration, per bin" in text
