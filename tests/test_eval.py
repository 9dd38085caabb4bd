from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from typing import Any

import pytest

from bench.eval import ANCHORS, calibration, evaluate, main, score
from graph.models import League

pytestmark = pytest.mark.bench


@pytest.fixture(scope="module")
def reports() -> dict[League, dict[str, Any]]:
    return {league: evaluate(league) for league in (League.NFL, League.NBA)}


@pytest.mark.parametrize(
    ("league", "brier", "log_loss", "accuracy", "games"),
    [
        pytest.param(League.NFL, 0.2221, 0.6347, 0.644, 2162, id="nfl"),
        pytest.param(League.NBA, 0.2156, 0.6199, 0.653, 11435, id="nba"),
    ],
)
def test_pinned_scores_of_the_shipped_parameters(
    reports: dict[League, dict[str, Any]],
    league: League,
    brier: float,
    log_loss: float,
    accuracy: float,
    games: int,
) -> None:
    """The walk-forward scores of the shipped parameters (a model change must update these)."""
    ours = reports[league]["all"]["ours"]
    assert ours["games"] == games
    assert round(ours["brier"], 4) == brier
    assert round(ours["log_loss"], 4) == log_loss
    assert round(ours["accuracy"], 3) == accuracy


@pytest.mark.parametrize("league", [League.NFL, League.NBA])
def test_we_beat_538_plain_elo(reports: dict[League, dict[str, Any]], league: League) -> None:
    """Below 538's plain-Elo Brier on all games and on the held-out seasons alone."""
    report = reports[league]
    assert report["all"]["ours"]["brier"] < ANCHORS[league]["elo"]
    assert report["held_out"]["ours"]["brier"] < report["held_out"]["538_elo"]["brier"]
    assert (
        report["flat_seed_after_burn_in"]["ours"]["brier"]
        < report["flat_seed_after_burn_in"]["538_elo"]["brier"]
    )


@pytest.mark.parametrize("league", [League.NFL, League.NBA])
def test_538_columns_reproduce_the_published_anchors(
    reports: dict[League, dict[str, Any]], league: League
) -> None:
    """Our scoring code gives 538's published numbers for 538's own columns."""
    report = reports[league]
    assert round(report["all"]["538_elo"]["brier"], 4) == ANCHORS[league]["elo"]
    assert round(report["all"]["538_headline"]["brier"], 4) == ANCHORS[league]["headline"]


def test_ties_are_excluded(reports: dict[League, dict[str, Any]]) -> None:
    """The 9 tied NFL games are not scored."""
    assert reports[League.NFL]["all"]["538_elo"]["games"] == 2171 - 9


def test_fit_seasons_are_reported_apart(reports: dict[League, dict[str, Any]]) -> None:
    """Held-out rows cover only seasons after the fit window."""
    nfl = reports[League.NFL]
    assert nfl["fit_seasons"] == [2015, 2016, 2017]
    held = sum(r["ours"]["games"] for s, r in nfl["seasons"].items() if int(s) >= 2018)
    assert nfl["held_out"]["ours"]["games"] == held


def test_calibration_bins_cover_every_game(reports: dict[League, dict[str, Any]]) -> None:
    """Ten bins whose counts add up to the scored games."""
    bins = reports[League.NBA]["calibration"]["ours"]
    assert len(bins) == 10
    assert sum(b["count"] for b in bins) == 11435


@pytest.mark.parametrize(
    ("pairs", "brier", "log_loss", "accuracy"),
    [
        pytest.param([(0.5, True), (0.5, False)], 0.25, math.log(2), 0.5, id="coin-flip"),
        pytest.param([(1.0, True)], 0.0, -math.log(1 - 1e-6), 1.0, id="certain-right"),
        pytest.param([(0.8, False), (0.8, True)], 0.34, 0.9163, 0.5, id="mixed"),
    ],
)
def test_score(
    pairs: list[tuple[float, bool]], brier: float, log_loss: float, accuracy: float
) -> None:
    """Brier, clipped log loss and accuracy (p = 0.5 counts half)."""
    s = score(pairs)
    assert s.brier == pytest.approx(brier)
    assert s.log_loss == pytest.approx(log_loss, abs=1e-4)
    assert s.accuracy == accuracy


def test_calibration_table() -> None:
    """Forecasts land in equal-width bins; p = 1 falls in the last bin; empty bins are NaN."""
    bins = calibration([(0.05, False), (0.95, True), (1.0, True), (0.91, False)])
    assert [b.count for b in bins] == [1, 0, 0, 0, 0, 0, 0, 0, 0, 3]
    assert bins[9].observed == pytest.approx(2 / 3)
    assert math.isnan(bins[1].predicted)


def test_main_prints_tables_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI prints both leagues, writes strict JSON and skips the plot without matplotlib."""
    out = tmp_path / "eval.json"
    assert main([str(out), "--plot", str(tmp_path / "cal.png")]) == 0
    printed = capsys.readouterr().out
    assert "== NFL" in printed and "== NBA" in printed and "calibration" in printed
    data = json.loads(out.read_text())
    assert [r["league"] for r in data] == ["NFL", "NBA"]
    if importlib.util.find_spec("matplotlib") is None:
        assert "skipping the plot" in printed
        assert not (tmp_path / "cal.png").exists()
    else:
        assert (tmp_path / "cal.png").stat().st_size > 0
