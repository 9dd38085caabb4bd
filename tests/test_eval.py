from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from bench.eval import ANCHORS, main
from graph.model.policy import DEFAULT_POLICIES, Thresholds
from graph.models import League

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.bench


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str, str]:
    """One full `make eval` (about half a minute): its JSON, what it printed, its SVG."""
    out = tmp_path_factory.mktemp("eval")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main([str(out / "eval.json"), "--svg", str(out / "cal.svg")]) == 0
    return (
        json.loads((out / "eval.json").read_text()),
        printed.getvalue(),
        (out / "cal.svg").read_text(),
    )


@pytest.fixture(scope="module")
def reports(run: tuple[dict[str, Any], str, str]) -> dict[League, dict[str, Any]]:
    """The 538 comparison of each league, as `make eval` wrote it."""
    return {league: run[0]["model"][league.value.lower()] for league in (League.NFL, League.NBA)}


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
    ("column", "brier", "log_loss", "brier_2019"),
    [
        pytest.param("model", 0.2213, 0.6353, 0.2239, id="model"),
        pytest.param("market", 0.2122, 0.6144, 0.2100, id="market"),
        pytest.param("blend", 0.2125, 0.6150, 0.2100, id="blend"),
        pytest.param("elo538", 0.2227, 0.6386, 0.2249, id="elo538"),
        pytest.param("qbelo538", 0.2164, 0.6231, 0.2190, id="qbelo538"),
    ],
)
def test_pinned_market_table(
    run: tuple[dict[str, Any], str, str],
    column: str,
    brier: float,
    log_loss: float,
    brier_2019: float,
) -> None:
    """market.nfl on the same 2,170 games (ties half); market and 538 match the data README."""
    market = run[0]["market"]["nfl"]
    row = market[column]
    assert row["n"] == 2170 and market["from_2019"][column]["n"] == 1103
    assert row["brier"] == pytest.approx(brier, abs=1e-4)
    assert row["log_loss"] == pytest.approx(log_loss, abs=1e-4)
    assert market["from_2019"][column]["brier"] == pytest.approx(brier_2019, abs=1e-4)


def test_the_model_loses_to_the_market_beyond_noise(run: tuple[dict[str, Any], str, str]) -> None:
    """Our Elo's Brier gap to the close has an interval wholly above zero; the blend's straddles."""
    market = run[0]["market"]["nfl"]
    lo, hi = market["model"]["brier_minus_market_ci95"]
    assert 0 < lo < market["model"]["brier_minus_market"] < hi
    lo, hi = market["blend"]["brier_minus_market_ci95"]
    assert lo < 0 < hi


def test_pinned_backtest(run: tuple[dict[str, Any], str, str]) -> None:
    """The default policy bets nothing in the NFL; the former default lost 2.4% over 1,400 bets."""
    bt = run[0]["backtest"]["nfl"]
    assert (bt["bets"], bt["roi"], bt["roi_ci95"], bt["policy"]) == (0, 0.0, [0.0, 0.0], None)
    assert bt["walk_forward"]["bets"] == 0
    former = bt["former_default"]
    assert former["bets"] == 1400
    assert former["roi"] == pytest.approx(-0.0242, abs=1e-4)
    assert former["roi_ci95"] == pytest.approx([-0.1018, 0.0539], abs=1e-4)
    assert former["final_bankroll"] == pytest.approx(0.0543, abs=1e-4)
    assert list(former["seasons"]) == [str(s) for s in range(2015, 2023)]
    assert sum(s["bets"] for s in former["seasons"].values()) == 1400
    naive = bt["naive_walk_forward"]
    assert naive["bets"] == 140 and naive["roi"] == pytest.approx(-0.2220, abs=1e-4)


def test_default_policies_are_the_backtests_choice(run: tuple[dict[str, Any], str, str]) -> None:
    """graph.model.policy's NFL thresholds and evidence are what this backtest says."""
    bt = run[0]["backtest"]["nfl"]
    nfl = DEFAULT_POLICIES[League.NFL]
    expected = None if bt["policy"] is None else Thresholds(**bt["policy"])
    assert nfl.thresholds == expected
    former = bt["former_default"]
    assert Thresholds(**former["policy"]) == Thresholds()
    assert nfl.evidence.bets == former["bets"]
    assert nfl.evidence.roi == pytest.approx(former["roi"], abs=5e-5)
    assert nfl.evidence.roi_ci95 == pytest.approx(former["roi_ci95"], abs=5e-5)


def test_pinned_stretch(run: tuple[dict[str, Any], str, str]) -> None:
    """No attempt beats the close on 2019-2022 beyond noise (market Brier 0.20995)."""
    stretch = run[0]["stretch"]["nfl"]
    assert stretch["market_brier_2019_2022"] == pytest.approx(0.20995, abs=1e-5)
    rows = stretch["attempts"]
    assert not any(r["below_market_beyond_noise"] for r in rows.values())
    assert rows["blend: our model + close"]["brier_2019_2022"] == pytest.approx(0.20995, abs=1e-5)


def test_main_prints_every_section_and_writes_json_and_svg(
    run: tuple[dict[str, Any], str, str],
) -> None:
    """The CLI prints all tables and writes strict JSON and an SVG reliability diagram."""
    report, printed, svg = run
    assert list(report) == ["model", "market", "backtest", "stretch"]
    assert list(report["model"]) == ["nfl", "nba"]
    for title in ("== NFL", "== NBA", "against the market", "policy backtest", "Stretch"):
        assert title in printed
    assert svg.startswith("<svg") and "538 QB-Elo" in svg


def test_committed_results_are_a_fresh_run(run: tuple[dict[str, Any], str, str]) -> None:
    """bench/results/eval.json and docs/calibration-nfl.svg are what `make eval` writes now."""
    report, _, svg = run
    committed = json.loads((ROOT / "bench/results/eval.json").read_text())
    assert _difference(committed, report) is None
    assert (ROOT / "docs/calibration-nfl.svg").read_text() == svg


def _difference(a: Any, b: Any, path: str = "") -> str | None:
    """The first path where a and b differ (floats to 1e-9: the run is deterministic)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return f"{path}: keys {sorted(a)} != {sorted(b)}"
        found = (_difference(a[k], b[k], f"{path}.{k}") for k in a)
        return next((d for d in found if d), None)
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        found = (
            _difference(x, y, f"{path}[{i}]") for i, (x, y) in enumerate(zip(a, b, strict=True))
        )
        return next((d for d in found if d), None)
    if isinstance(a, float) and isinstance(b, float) and a == pytest.approx(b, rel=1e-9):
        return None
    return None if a == b else f"{path}: {a!r} != {b!r}"
