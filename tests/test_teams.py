from __future__ import annotations

import csv
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from graph.models import League
from graph.teams import ESPN_PATH, SERIES, Team, by_espn, by_fte, by_kalshi, teams

_ROOT = Path(__file__).resolve().parents[1]
# The 538 CSVs live in the shared data folder next to the checkout; graph/model/data once packaged.
_DATA_DIRS = (_ROOT / "graph" / "model" / "data", _ROOT.parent / "shared" / "data")


def _csv(name: str) -> Path:
    for folder in _DATA_DIRS:
        if (folder / name).is_file():
            return folder / name
    raise AssertionError(f"{name} not found in any of {_DATA_DIRS}")


@pytest.mark.parametrize(
    ("league", "count"),
    [
        pytest.param(League.NFL, 32, id="nfl"),
        pytest.param(League.NBA, 30, id="nba"),
        pytest.param(League.MLB, 30, id="mlb"),
        pytest.param(League.NHL, 32, id="nhl"),
        pytest.param(League.WNBA, 15, id="wnba"),
    ],
)
def test_pro_leagues_have_full_rosters(league: League, count: int) -> None:
    """Every professional league lists all of its current teams."""
    assert len(teams(league)) == count


@pytest.mark.parametrize("league", [League.NCAAF, League.NCAAMB])
def test_college_tables_are_substantial(league: League) -> None:
    """The partial college tables still cover the power conferences (at least 64 teams)."""
    assert len(teams(league)) >= 64


@pytest.mark.parametrize("league", list(League))
@pytest.mark.parametrize("field", ["key", "espn", "kalshi", "fte", "name"])
def test_codes_unique_per_league_and_provider(league: League, field: str) -> None:
    """No two teams of a league share a code of the same provider (or a display name)."""
    values = [getattr(t, field) for t in teams(league)]
    assert len(values) == len(set(values))


@pytest.mark.parametrize("league", list(League))
def test_espn_ids_unique_when_known(league: League) -> None:
    """Known ESPN numeric ids are digits and unique within a league."""
    ids = [t.espn_id for t in teams(league) if t.espn_id]
    assert all(i.isdigit() for i in ids)
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("league", list(League))
def test_lookups_round_trip_every_team(league: League) -> None:
    """Each team is found by its own ESPN, Kalshi and 538 code, and key equals the ESPN code."""
    for team in teams(league):
        assert team.key == team.espn
        assert team.league is league
        assert by_espn(league, team.espn) is team
        assert by_kalshi(league, team.kalshi) is team
        assert by_fte(league, team.fte) is team


@pytest.mark.parametrize("league", list(League))
def test_kalshi_codes_fit_ticker_alphabet(league: League) -> None:
    """Kalshi codes are 2+ upper-case letters/digits (a hyphen inside, as in M-OH) so they can
    sit inside a ticker."""
    for team in teams(league):
        assert re.fullmatch(r"[A-Z0-9][A-Z0-9-]*[A-Z0-9]", team.kalshi), team


@pytest.mark.parametrize("league", list(League))
def test_aliases_never_shadow_a_current_code(league: League) -> None:
    """An older code never equals another team's current ESPN code."""
    current = {t.espn for t in teams(league)}
    for team in teams(league):
        for alias in team.aliases:
            assert alias not in current
            assert by_espn(league, alias) is team


@pytest.mark.parametrize(
    ("league", "espn", "kalshi", "fte"),
    [
        pytest.param(League.NFL, "WSH", "WAS", "WSH", id="nfl-commanders"),
        pytest.param(League.NFL, "JAX", "JAC", "JAX", id="nfl-jaguars"),
        pytest.param(League.NFL, "LAR", "LAR", "LAR", id="nfl-rams-2026-27"),
        pytest.param(League.NFL, "LAC", "LAC", "LAC", id="nfl-chargers"),
        pytest.param(League.NFL, "LV", "LV", "OAK", id="nfl-raiders"),
        pytest.param(League.NBA, "GS", "GSW", "GSW", id="nba-warriors"),
        pytest.param(League.NBA, "NY", "NYK", "NYK", id="nba-knicks"),
        pytest.param(League.NBA, "SA", "SAS", "SAS", id="nba-spurs"),
        pytest.param(League.NBA, "NO", "NOP", "NOP", id="nba-pelicans"),
        pytest.param(League.NBA, "UTAH", "UTA", "UTA", id="nba-jazz"),
        pytest.param(League.NBA, "WSH", "WAS", "WAS", id="nba-wizards"),
        pytest.param(League.NBA, "PHX", "PHX", "PHO", id="nba-suns"),
        pytest.param(League.NBA, "BKN", "BKN", "BRK", id="nba-nets"),
        pytest.param(League.NBA, "CHA", "CHA", "CHO", id="nba-hornets"),
        pytest.param(League.MLB, "ARI", "AZ", "ARI", id="mlb-dbacks"),
        pytest.param(League.MLB, "CHW", "CWS", "CHW", id="mlb-white-sox"),
        pytest.param(League.MLB, "WSH", "WSH", "WSH", id="mlb-nationals"),
        pytest.param(League.MLB, "ATH", "ATH", "ATH", id="mlb-athletics"),
        pytest.param(League.NHL, "NJ", "NJ", "NJ", id="nhl-devils"),
        pytest.param(League.NHL, "TB", "TB", "TB", id="nhl-lightning"),
        pytest.param(League.NHL, "SJ", "SJ", "SJ", id="nhl-sharks"),
        pytest.param(League.NHL, "LA", "LA", "LA", id="nhl-kings"),
        pytest.param(League.WNBA, "GS", "GS", "GS", id="wnba-valkyries"),
    ],
)
def test_tricky_codes(league: League, espn: str, kalshi: str, fte: str) -> None:
    """The documented provider differences resolve to the same team (Kalshi: the codes of real
    2026-27 listings, sports-data.md §1.5; only a prior for the matcher)."""
    team = by_espn(league, espn)
    assert team is not None
    assert (team.kalshi, team.fte) == (kalshi, fte)
    assert by_kalshi(league, kalshi) is team
    assert by_fte(league, fte) is team


@pytest.mark.parametrize(
    ("league", "lookup", "code"),
    [
        pytest.param(League.NBA, by_espn, "GSW", id="kalshi-code-is-not-espn"),
        pytest.param(League.NBA, by_kalshi, "GS", id="espn-code-is-not-kalshi"),
        pytest.param(League.NBA, by_espn, "gs", id="case-sensitive"),
        pytest.param(League.NBA, by_espn, "G", id="no-prefix"),
        pytest.param(League.NBA, by_espn, "GS ", id="no-strip"),
        pytest.param(League.NFL, by_kalshi, "WSH", id="nfl-wsh-not-kalshi"),
        pytest.param(League.NHL, by_kalshi, "LAK", id="nhl-kings-are-la"),
        pytest.param(League.NFL, by_kalshi, "LAK", id="league-scoped"),
        pytest.param(League.NCAAF, by_espn, "XYZ", id="unknown"),
    ],
)
def test_lookups_are_exact(
    league: League, lookup: Callable[[League, str], Team | None], code: str
) -> None:
    """Lookups are exact per league and provider: no substring, prefix, case or mixing."""
    assert lookup(league, code) is None


def test_same_code_means_different_teams_across_leagues() -> None:
    """A code is scoped by league: WSH is a different franchise in each."""
    found = [by_espn(league, "WSH") for league in (League.NFL, League.NBA, League.MLB)]
    names = {team.name for team in found if team is not None}
    assert names == {"Washington Commanders", "Washington Wizards", "Washington Nationals"}


@pytest.mark.parametrize(
    ("league", "filename"),
    [
        pytest.param(League.NFL, "nfl_games.csv", id="nfl"),
        pytest.param(League.NBA, "nba_games.csv", id="nba"),
    ],
)
def test_every_538_code_in_the_csvs_resolves(league: League, filename: str) -> None:
    """Every 538 code in the CSVs maps to one team, distinct codes to distinct teams."""
    with _csv(filename).open(newline="") as handle:
        codes: set[str] = set()
        for row in csv.DictReader(handle):
            codes.update((row["home_team"], row["away_team"]))
    resolved: dict[str, Team] = {}
    for code in sorted(codes):
        team = by_fte(league, code)
        assert team is not None, code
        resolved[code] = team
    assert len(set(resolved.values())) == len(codes) == len(teams(league))


def test_series_and_paths_cover_every_league() -> None:
    """Every league has a Kalshi series ticker and an ESPN path."""
    assert set(SERIES) == set(League) == set(ESPN_PATH)
    assert SERIES[League.NBA] == "KXNBAGAME"
    assert ESPN_PATH[League.NCAAMB] == "basketball/mens-college-basketball"
