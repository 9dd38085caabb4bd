from __future__ import annotations

import pytest

from bench.moneylines import Line, join, load_lines
from bench.stretch import ATTEMPTS, attempts, render, shin_home
from graph.model.data import load_games
from graph.models import League

pytestmark = pytest.mark.bench


def line(home_odds: int, away_odds: int) -> Line:
    return Line("2019_01_NYG_DAL", 2019, 1, "DAL", "NYG", home_odds, away_odds)


def test_shin_moves_probability_from_the_longshot_to_the_favourite() -> None:
    """Even odds stay 0.5; a favourite gets more than proportional scaling gives it."""
    assert shin_home(line(-110, -110)) == pytest.approx(0.5)
    ln = line(-400, 300)
    assert ln.no_vig_home < shin_home(ln) < 1.0
    assert shin_home(line(300, -400)) == pytest.approx(1 - shin_home(ln), abs=1e-9)


def test_attempts_are_scored_on_2019_on_against_the_market() -> None:
    """Every attempt gets both Briers and a gap to the market with an interval."""
    nfl = [g for g in load_games(League.NFL) if g.season in (2018, 2019)]
    games = join(nfl, load_lines())
    report = attempts(games, [m.game.elo_prob_home for m in games])
    market = report["market_brier_2019_2022"]
    assert set(report["attempts"]) == set(ATTEMPTS)
    for row in report["attempts"].values():
        assert row["minus_market"] == pytest.approx(row["brier_2019_2022"] - market)
        lo, hi = row["minus_market_ci95"]
        assert lo <= row["minus_market"] <= hi
        assert row["below_market"] is (row["minus_market"] < 0)
        assert row["below_market_beyond_noise"] is (hi < 0)
    # In 2019 every attempt is still the prior (one past season: strongest ridge) or close to it.
    recalibrated = report["attempts"]["close recalibrated (intercept, slope)"]
    assert recalibrated["brier_2019_2022"] == pytest.approx(market, abs=2e-3)
    text = render(report)
    assert all(name in text for name in ATTEMPTS) and f"{market:.5f}" in text
