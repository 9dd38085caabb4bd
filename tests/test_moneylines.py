from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from bench.moneylines import (
    Line,
    Matched,
    first_playoff_week,
    implied_probability,
    join,
    load_lines,
)
from graph.model.data import HistoricalGame, load_games
from graph.models import League


def line(home: str = "NE", away: str = "PIT", *, season: int = 2015, week: int = 1) -> Line:
    return Line(f"{season}_{week:02d}_{away}_{home}", season, week, home, away, -350, 305)


def game(home: str = "NE", away: str = "PIT", *, playoff: bool = False) -> HistoricalGame:
    return HistoricalGame(
        day=date(2015, 9, 10),
        season=2015,
        home=home,
        away=away,
        home_score=28,
        away_score=28,
        neutral=False,
        playoff=playoff,
        playoff_round="",
        elo_home_pre=1600,
        elo_away_pre=1550,
        elo_prob_home=0.7,
        headline_prob_home=0.7,
    )


@pytest.mark.parametrize(
    ("odds", "p"),
    [(150, 0.4), (-170, 170 / 270), (100, 0.5), (-100, 0.5), (305, 100 / 405)],
)
def test_implied_probability(odds: int, p: float) -> None:
    """American odds to the break-even probability, margin included."""
    assert implied_probability(odds) == pytest.approx(p)


@pytest.mark.parametrize("odds", [0, 50, -99])
def test_invalid_odds_are_refused(odds: int) -> None:
    """Odds between -100 and +100 are not American odds (the source has 0s)."""
    with pytest.raises(ValueError, match="not American odds"):
        implied_probability(odds)


def test_line_prices_margin_and_no_vig() -> None:
    """Both prices include the margin; the no-vig probability scales them to sum to 1."""
    ln = line()
    assert ln.home_price == pytest.approx(350 / 450)
    assert ln.overround == pytest.approx(350 / 450 + 100 / 405 - 1)
    assert ln.no_vig_home == pytest.approx(ln.home_price / (ln.home_price + ln.away_price))


@pytest.mark.parametrize(
    ("season", "week", "playoff"),
    [(2020, 17, False), (2020, 18, True), (2021, 18, False), (2021, 19, True)],
)
def test_playoff_weeks(season: int, week: int, playoff: bool) -> None:
    """The 17-game season (2021 on) moved the wild card round from week 18 to 19."""
    assert line(season=season, week=week).playoff is playoff
    assert first_playoff_week(season) in (18, 19)


def test_join_pairs_by_season_teams_and_playoff() -> None:
    """Same teams twice in a season (regular and playoff) join to the right lines; ties half."""
    regular, playoff = game(), game(playoff=True)
    lines = [line(week=19), line(week=3)]
    joined = join([regular, playoff, game("KC", "DEN")], lines)
    assert [(m.game.playoff, m.line.week) for m in joined] == [(False, 3), (True, 19)]
    assert joined[0].outcome == 0.5
    assert Matched(replace(regular, home_score=30), lines[1]).outcome == 1.0


def test_duplicate_keys_are_an_error() -> None:
    """Two lines for one key would silently overwrite each other: refused."""
    with pytest.raises(ValueError, match="duplicate line key"):
        join([game()], [line(week=1), line(week=2)])
    with pytest.raises(ValueError, match="duplicate game key"):
        join([game(), game()], [line()])


def test_shipped_file_joins_to_538s_games() -> None:
    """2,172 lines with nflverse codes mapped to 538's; 2,170 of 538's 2,171 games match."""
    lines = load_lines()
    assert len(lines) == 2172
    assert {ln.home for ln in lines} >= {"LAR", "LAC", "OAK", "WSH"}
    assert not {ln.home for ln in lines} & {"LA", "STL", "SD", "LV", "WAS"}
    games = load_games(League.NFL)
    joined = join(games, lines)
    assert len(joined) == 2170
    matched = {m.game for m in joined}
    missing = [g for g in games if g not in matched]
    assert [(g.season, g.away, g.home) for g in missing] == [(2017, "CHI", "GB")]
    # The result in the line file agrees with 538's score on every matched game.
    csv_won = {row.split(",")[0]: row.rsplit(",", 1)[1] for row in _rows()}
    assert all(float(csv_won[m.line.game_id]) == m.outcome for m in joined)


def _rows() -> list[str]:
    path = Path(__file__).resolve().parent.parent / "bench" / "data"
    return (path / "nfl_schedule_moneylines.csv").read_text().splitlines()[1:]
