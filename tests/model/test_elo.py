from __future__ import annotations

import math
from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given, strategies as st

from graph.model.data import load_games
from graph.model.elo import (
    PARAMS,
    EloModel,
    EloParams,
    GameResult,
    MovForm,
    classic_538,
    mov_multiplier,
    season_of,
    win_probability,
)
from graph.models import League

ratings = st.floats(min_value=1000, max_value=2000, allow_nan=False)


def test_plain_elo_reproduces_538_nfl_probabilities() -> None:
    """538's classic parameters, seeded once per team, reproduce elo_prob_home within 0.01."""
    model = EloModel(classic_538(League.NFL))
    seen: set[str] = set()
    close = total = 0
    for game in load_games(League.NFL):
        for team, pre in ((game.home, game.elo_home_pre), (game.away, game.elo_away_pre)):
            if team not in seen:
                seen.add(team)
                model.ratings[team] = pre
        if model.season is None:
            model.season = game.season
        p = model.update(game.result())
        total += 1
        close += abs(p - game.elo_prob_home) < 0.01
    assert total == 2171
    assert close / total >= 0.95


def test_plain_elo_matches_538_ratings_exactly_through_2016() -> None:
    """Before 538's 2021 Super Bowl quirk our pre-game ratings equal theirs to the cent."""
    model = EloModel(classic_538(League.NFL))
    seen: set[str] = set()
    for game in load_games(League.NFL):
        if game.season > 2016:
            break
        for team, pre in ((game.home, game.elo_home_pre), (game.away, game.elo_away_pre)):
            if team not in seen:
                seen.add(team)
                model.ratings[team] = pre
        model.start_season(game.season)
        assert model.rating(game.home) == pytest.approx(game.elo_home_pre, abs=0.01)
        assert model.rating(game.away) == pytest.approx(game.elo_away_pre, abs=0.01)
        model.update(game.result())


@pytest.mark.parametrize(
    ("diff", "expected"),
    [
        pytest.param(0.0, 0.5, id="even"),
        pytest.param(400.0, 10 / 11, id="400-points-is-10-to-1"),
        pytest.param(-400.0, 1 / 11, id="underdog"),
        pytest.param(1e9, 1.0, id="huge-gap-does-not-overflow"),
    ],
)
def test_win_probability(diff: float, expected: float) -> None:
    """The logistic curve on the 400-point scale."""
    assert win_probability(diff) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("mov", "margin", "edge", "expected"),
    [
        pytest.param(MovForm.LOG, 7, 0.0, math.log(8), id="nfl-even"),
        pytest.param(MovForm.LOG, 7, 100.0, math.log(8) * 2.2 / 2.3, id="nfl-favourite-damped"),
        pytest.param(MovForm.LOG, 0, 50.0, math.log(2) * 2.2, id="nfl-tie"),
        pytest.param(MovForm.POWER, 10, 0.0, 13**0.8 / 7.5, id="nba-even"),
        pytest.param(MovForm.POWER, 10, -100.0, 13**0.8 / 6.9, id="nba-underdog-boosted"),
        pytest.param(MovForm.NONE, 30, 0.0, 1.0, id="plain"),
    ],
)
def test_mov_multiplier(mov: MovForm, margin: int, edge: float, expected: float) -> None:
    """538's margin-of-victory multipliers with autocorrelation damping."""
    params = EloParams(mov=mov)
    assert mov_multiplier(params, margin, edge) == pytest.approx(expected)


def test_update_is_zero_sum_and_rewards_the_winner() -> None:
    """Both teams move by the same amount in opposite directions."""
    model = EloModel(classic_538(League.NFL), ratings={"A": 1550.0, "B": 1500.0})
    model.update(GameResult("A", "B", 17, 20))
    assert model.rating("A") < 1550.0
    assert model.rating("A") + model.rating("B") == pytest.approx(3050.0)


def test_neutral_site_drops_home_advantage() -> None:
    """At a neutral site equal teams are a coin flip; at home the home edge applies."""
    model = EloModel(classic_538(League.NFL))
    assert model.probability("A", "B", neutral=True) == 0.5
    assert model.probability("A", "B") == pytest.approx(win_probability(65.0))


def test_start_season_regresses_toward_mean_once() -> None:
    """A new season keeps 2/3 (NFL) of the distance to 1505; the same season is a no-op."""
    model = EloModel(classic_538(League.NFL), ratings={"A": 1805.0}, season=2020)
    model.start_season(2020)
    assert model.rating("A") == 1805.0
    model.start_season(2021)
    assert model.rating("A") == pytest.approx(1705.0)
    model.start_season(2023)  # two seasons later: regressed twice
    assert model.rating("A") == pytest.approx(1505.0 + 200 * (2 / 3) ** 2)


def test_update_starts_the_new_season_first() -> None:
    """A game from a new season triggers the regression before it is rated."""
    model = EloModel(classic_538(League.NBA), ratings={"A": 1705.0, "B": 1505.0}, season=2022)
    p = model.update(GameResult("A", "B", 100, 90, season=2023, neutral=True))
    assert p == pytest.approx(win_probability(150.0))
    assert model.season == 2023


def test_back_to_back_and_rest_adjust_the_gap() -> None:
    """A team on a back-to-back loses b2b_penalty; extra rest days count up to the cap."""
    params = EloParams(home_advantage=0.0, b2b_penalty=20.0, rest_per_day=5.0, rest_cap_days=3)
    model = EloModel(params)
    _, factors = model.explain("A", "B", home_rest_days=1, away_rest_days=10)
    rest = {f.name: f.value for f in factors}["rest_adjustment"]
    assert rest == pytest.approx(-20.0 + 5.0 * (1 - 3))


def test_rest_days_come_from_the_last_game_played() -> None:
    """With ``day`` given, rest days are derived from the model's record of past games."""
    model = EloModel(replace(PARAMS[League.NBA], home_advantage=0.0))
    model.update(GameResult("A", "C", 100, 90, day=date(2024, 1, 1)))
    model.update(GameResult("B", "D", 100, 90, day=date(2023, 12, 28)))
    assert model.rest_days("A", date(2024, 1, 2)) == 1
    _, factors = model.explain("A", "B", day=date(2024, 1, 2))
    named = {f.name: f.value for f in factors}
    assert named["home_rest_days"] == 1.0
    assert named["away_rest_days"] == 5.0
    assert named["rest_adjustment"] < 0


def test_explain_names_the_factors() -> None:
    """Factors name ratings, their difference, home advantage and rest."""
    model = EloModel(PARAMS[League.NFL], ratings={"A": 1600.0, "B": 1500.0})
    p, factors = model.explain("A", "B", playoff=True)
    names = [f.name for f in factors]
    assert names[:5] == [
        "rating_home",
        "rating_away",
        "rating_diff",
        "home_advantage",
        "rest_adjustment",
    ]
    assert "playoff_multiplier" in names
    assert p == pytest.approx(win_probability((100 + 50) * 1.2))


def test_every_league_has_parameters() -> None:
    """PARAMS covers all seven leagues with a description."""
    assert set(PARAMS) == set(League)
    assert all(p.description for p in PARAMS.values())


@pytest.mark.parametrize(
    ("league", "day", "season"),
    [
        pytest.param(League.NFL, date(2024, 9, 8), 2024, id="nfl-september"),
        pytest.param(League.NFL, date(2025, 2, 9), 2024, id="nfl-super-bowl"),
        pytest.param(League.NBA, date(2024, 10, 22), 2025, id="nba-opening-night"),
        pytest.param(League.NBA, date(2025, 6, 10), 2025, id="nba-finals"),
        pytest.param(League.MLB, date(2025, 4, 1), 2025, id="mlb"),
    ],
)
def test_season_of(league: League, day: date, season: int) -> None:
    """Season labels follow 538: NFL by start year, NBA by end year."""
    assert season_of(league, day) == season


@given(home=ratings, away=ratings, neutral=st.booleans())
def test_probabilities_are_complementary(home: float, away: float, neutral: bool) -> None:
    """P(A beats B) + P(B beats A) = 1 at a neutral site, and every P lies in [0, 1]."""
    model = EloModel(PARAMS[League.NBA], ratings={"A": home, "B": away})
    p = model.probability("A", "B", neutral=neutral)
    assert 0.0 <= p <= 1.0
    if neutral:
        assert p + model.probability("B", "A", neutral=True) == pytest.approx(1.0)
