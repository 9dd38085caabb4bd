from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest

from bench.backtest import (
    NAIVE,
    RULE,
    Placed,
    Rule,
    bankroll,
    books,
    by_day,
    lower_bound,
    place,
    render,
    roi,
    select,
    summarise,
    walk_forward,
)
from bench.moneylines import Line, Matched
from graph.model.data import HistoricalGame
from graph.model.policy import Thresholds
from graph.model.predict import market_home_probability

EVERYTHING = Thresholds(min_edge=0.0, max_edge=1.0)


def matched(
    home_odds: int = -150,
    away_odds: int = 130,
    *,
    score: tuple[int, int] = (24, 17),
    day: date = date(2019, 9, 8),
    season: int = 2019,
) -> Matched:
    game = HistoricalGame(
        day=day,
        season=season,
        home="DAL",
        away="NYG",
        home_score=score[0],
        away_score=score[1],
        neutral=False,
        playoff=False,
        playoff_round="",
        elo_home_pre=1550,
        elo_away_pre=1500,
        elo_prob_home=0.6,
        headline_prob_home=0.6,
    )
    line = Line(f"{season}_01_NYG_DAL_{day}", season, 1, "DAL", "NYG", home_odds, away_odds)
    return Matched(game, line)


def test_a_moneyline_becomes_two_books_with_the_margin_in_the_asks() -> None:
    """-150 / +130: YES home asks 0.60 and bids 1 - 0.4348; the market reads about 0.583."""
    home, away = books(matched().line, datetime(2019, 9, 8, tzinfo=UTC))
    assert home.yes_ask == pytest.approx(0.6) and away.yes_ask == pytest.approx(100 / 230)
    assert home.yes_bid == pytest.approx(1 - 100 / 230) and away.yes_bid == pytest.approx(0.4)
    assert home.ticker.endswith("-DAL") and away.ticker.endswith("-NYG")
    assert market_home_probability(home, away) == pytest.approx((1 + 0.6 - 100 / 230) / 2)


@pytest.mark.parametrize(
    ("p_home", "score", "result"),
    [
        pytest.param(0.75, (24, 17), 1 / 0.6 - 1, id="home-wins"),
        pytest.param(0.75, (17, 24), -1.0, id="home-loses"),
        pytest.param(0.75, (20, 20), 0.0, id="tie-is-a-push"),
        pytest.param(0.30, (17, 24), 1 / (100 / 230) - 1, id="away-wins"),
    ],
)
def test_bets_settle_at_the_price_paid(
    p_home: float, score: tuple[int, int], result: float
) -> None:
    """A win pays 1/price - 1 per unit, a loss costs the stake, a tie refunds it."""
    [bet] = place([matched(score=score)], [p_home], EVERYTHING)
    assert bet.result == pytest.approx(result)
    assert bet.stake > 0 and bet.season == 2019


def test_no_thresholds_or_a_crossed_book_place_nothing() -> None:
    """No policy, no bets; prices summing below 1 are a crossed book, not a price."""
    assert place([matched()], [0.9], None) == []
    assert place([matched(-120, 100)], [0.1], EVERYTHING) != []
    assert place([matched(-124, 134)], [0.1], EVERYTHING) == []  # 2020_01_LV_CAR


def test_days_compound_and_roi_weights_by_stake() -> None:
    """Games of one day share that morning's bankroll; ROI is profit per unit staked."""
    d = date(2019, 9, 8)
    bets = [
        Placed(d, 2019, 0.05, 0.5, 1.0),
        Placed(d, 2019, 0.05, 0.5, -1.0),
        Placed(d + timedelta(7), 2019, 0.10, 0.5, 1.0),
    ]
    days = by_day(bets)
    assert days == [(0.10, 0.0), (0.10, 0.10)]
    assert roi(days) == pytest.approx(0.5)
    assert bankroll(days) == pytest.approx(1.10)
    assert math.isnan(roi([]))


def test_summary_of_no_bets_and_of_some() -> None:
    """No bets: zeros and an unchanged bankroll; bets: hit rate without pushes, intervals."""
    empty = summarise([])
    assert (empty.bets, empty.roi, empty.roi_ci95, empty.final_bankroll) == (
        0,
        0.0,
        (0.0, 0.0),
        1.0,
    )
    d = date(2019, 9, 8)
    bets = [Placed(d + timedelta(i), 2019, 0.02, 0.5, (1.0, -1.0, 0.0)[i % 3]) for i in range(30)]
    s = summarise(bets, reps=200)
    assert s.bets == 30 and s.hit_rate == 0.5
    assert s.roi_ci95[0] <= s.roi <= s.roi_ci95[1]
    assert s.bankroll_ci95[0] <= s.final_bankroll <= s.bankroll_ci95[1]
    pushes = summarise([Placed(d, 2019, 0.02, 0.5, 0.0)], reps=10)
    assert pushes.hit_rate is None


def test_lower_bound() -> None:
    """Fewer than two days prove nothing; steady profit gives a positive bound."""
    assert lower_bound([(0.1, 0.01)], 2.0) == -math.inf
    steady = [(0.1, 0.01 + 0.001 * (i % 2)) for i in range(40)]
    assert lower_bound(steady, 2.8) > 0
    assert lower_bound([(0.1, 0.05), (0.1, -0.05)], 2.0) < 0


def _run(season: int, n: int, result: float, start: date) -> list[Placed]:
    return [Placed(start + timedelta(i), season, 0.02, 0.5, result) for i in range(n)]


def _noisy(season: int, n: int, mean: float) -> list[Placed]:
    start = date(season, 9, 1)
    return [
        Placed(start + timedelta(i), season, 0.02, 0.5, mean + (1.0 if i % 2 else -1.0))
        for i in range(n)
    ]


def test_selection_needs_seasons_bets_and_a_corrected_bound() -> None:
    """The rule refuses one season, too few bets, or a bound at zero; else picks the best bound."""
    good, better, thin = Thresholds(0.02), Thresholds(0.04), Thresholds(0.06)
    placements = {
        good: _noisy(2015, 200, 0.3) + _noisy(2016, 200, 0.3),
        better: _noisy(2015, 200, 0.5) + _noisy(2016, 200, 0.5),
        thin: _noisy(2015, 20, 0.9) + _noisy(2016, 20, 0.9),
        Thresholds(0.08): _noisy(2015, 200, 0.0) + _noisy(2016, 200, 0.0),
    }
    pick, rows = select(placements, {2015, 2016})
    assert pick == better
    assert [r["qualifies"] for r in rows] == [True, True, False, False]
    assert select(placements, {2015})[0] is None  # one season is not enough ...
    assert select(placements, {2015}, rule=NAIVE)[0] == better  # ... except for the naive rule
    assert select(placements, {2015, 2016}, rule=Rule(min_bets=1000))[0] is None


def test_family_wise_correction_widens_the_bound() -> None:
    """Correcting for 20 settings needs more z than a plain 95% interval."""
    assert RULE.z(20) == pytest.approx(2.807, abs=1e-3)
    assert NAIVE.z(20) == pytest.approx(1.96, abs=1e-3)


def test_walk_forward_chooses_each_season_from_earlier_seasons_only() -> None:
    """A season's own results never decide whether it is bet; its bets come from its pick."""
    t = Thresholds(0.02)
    placements = {t: _noisy(2015, 200, 0.5) + _noisy(2016, 200, 0.5) + _noisy(2017, 200, -0.9)}
    bets, chosen = walk_forward(placements, [2015, 2016, 2017])
    assert chosen == {2015: None, 2016: None, 2017: t}
    assert {b.season for b in bets} == {2017}
    flipped = {t: _noisy(2015, 200, 0.5) + _noisy(2016, 200, 0.5) + _noisy(2017, 200, 0.9)}
    assert walk_forward(flipped, [2015, 2016, 2017])[1] == chosen


def test_render_names_the_default_and_every_season() -> None:
    """The printed table states the rule, the default policy and one row per season."""
    season = {"bets": 0, "hit_rate": None, "roi": 0.0}
    betting = {
        "bets": 3,
        "hit_rate": 0.5,
        "roi": 0.1,
        "roi_ci95": (-0.1, 0.3),
        "final_bankroll": 1.1,
        "bankroll_ci95": (0.9, 1.3),
    }
    run = {**betting, "seasons": {"2015": season, "2016": betting}}
    chosen = {"2015": None, "2016": {"min_edge": 0.02, "max_edge": 1.0}}
    report = {
        "rule": {"min_seasons": 2, "min_bets": 50, "z": 2.81, "settings": 20},
        "policy": {"min_edge": 0.02, "max_edge": 1.0, "kelly_fraction": 0.25, "max_stake": 0.05},
        "games": 10,
        "bets": 3,
        "roi": 0.1,
        "walk_forward": {**run, "chosen": chosen},
        "naive_walk_forward": {**run, "chosen": {"2015": None, "2016": None}},
        "former_default": run,
    }
    text = render(report)
    assert "default policy: edge 0.02-1.00, kelly 0.25, cap 0.05" in text
    assert "2016    edge 0.02-1.00" in text and "+10.0% [-10.0%, +30.0%]" in text
    assert "bets on: none" in text
    no_default = render({**report, "policy": None})
    assert "no setting qualifies: recommends nothing" in no_default
