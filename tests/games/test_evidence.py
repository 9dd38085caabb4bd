"""Team identity evidence: names, code tiers and how an outcome resolves to candidate teams."""

from __future__ import annotations

import pytest

from graph.games.evidence import (
    Identity,
    Resolver,
    normalize,
    scoreboard_identity,
    team_identity,
    title_name,
)
from graph.models import League, TeamRef
from graph.teams import by_espn, teams


def _identity(league: League, code: str, learned: str | None = None) -> Identity:
    team = by_espn(league, code)
    assert team is not None
    return team_identity(team, learned)


@pytest.mark.parametrize(
    ("text", "normal"),
    [("Miami (OH)", "miami oh"), ("  Los Angeles R ", "los angeles r"), ("Texas A&M", "texas a m")],
)
def test_normalize_folds_case_and_punctuation(text: str, normal: str) -> None:
    """Case and punctuation never decide whether two names agree."""
    assert normalize(text) == normal


@pytest.mark.parametrize(
    ("league", "code", "name"),
    [
        (League.NFL, "LAR", "Los Angeles R"),
        (League.NFL, "NYG", "New York G"),
        (League.MLB, "CHW", "Chicago WS"),
        (League.MLB, "TOR", "Toronto Blue Jays"),
        (League.NHL, "VGK", "Vegas"),
        (League.NBA, "LAC", "Los Angeles C"),
        (League.WNBA, "POR", "Portland"),
        (League.NFL, "WSH", "WSH"),
    ],
)
def test_identities_answer_to_kalshis_short_labels(league: League, code: str, name: str) -> None:
    """Location, nickname initial(s), other place names and the ESPN code are all names."""
    assert normalize(name) in _identity(league, code).names


def test_sub_title_decides_over_a_code_that_names_another_team() -> None:
    """One name hit wins even when the code is another team's (codes are only a prior)."""
    resolver = Resolver(_identity(League.NFL, t.key) for t in teams(League.NFL))
    assert resolver.resolve("LAC", "Los Angeles R") == {"LAR"}


def test_a_shared_city_is_narrowed_by_the_most_trusted_code() -> None:
    """ "Los Angeles" names two teams; the learned code beats the table's, which beats ESPN's."""
    identities = [_identity(League.NFL, t.key) for t in teams(League.NFL)]
    resolver = Resolver(identities)
    assert resolver.resolve("LAR", "Los Angeles") == {"LAR"}  # the table's Kalshi code
    assert resolver.resolve("LAC", "Los Angeles") == {"LAC"}
    assert resolver.resolve("LA", "Los Angeles") == {"LAR", "LAC"}  # undecided
    learned = [
        _identity(League.NFL, t.key, "LA" if t.key == "LAR" else None) for t in teams(League.NFL)
    ]
    assert Resolver(learned).resolve("LA", "Los Angeles") == {"LAR"}
    swapped = [
        _identity(League.NFL, t.key, {"LAR": "LAC", "LAC": "LAR"}.get(t.key))
        for t in teams(League.NFL)
    ]
    assert Resolver(swapped).resolve("LAC", "Los Angeles") == {"LAR"}  # learned beats the table


def test_without_a_name_the_code_tiers_decide_in_order() -> None:
    """No name hit: learned code, then the table's Kalshi code, then the ESPN abbreviation."""
    learned = [
        _identity(League.NBA, t.key, "GS" if t.key == "GS" else None) for t in teams(League.NBA)
    ]
    resolver = Resolver(learned)
    assert resolver.resolve("GS", "Golden St.") == {"GS"}
    assert resolver.resolve("GSW", "") == {"GS"}
    assert resolver.resolve("NY", "") == {"NY"}  # ESPN's code, Kalshi's table says NYK
    assert resolver.resolve("QQQ", "Nowhere") == frozenset()


def test_a_wins_title_stands_in_for_a_missing_sub_title() -> None:
    """ "Vegas wins" names the YES team when the sub-title is empty."""
    resolver = Resolver(_identity(League.NHL, t.key) for t in teams(League.NHL))
    assert title_name("Vegas wins") == "Vegas"
    assert title_name("Vegas at Los Angeles Winner?") == ""
    assert resolver.resolve("XX", "", "Vegas wins") == {"VGK"}


def test_scoreboard_teams_missing_from_the_tables_answer_to_leading_words() -> None:
    """ "Miami (OH) RedHawks" answers to "Miami (OH)" and to its ESPN code."""
    identity = scoreboard_identity(TeamRef(code="M-OH", name="Miami (OH) RedHawks"))
    assert {"miami", "miami oh", "miami oh redhawks", "m oh"} == identity.names
    resolver = Resolver([identity, _identity(League.NCAAF, "MIA")])
    assert resolver.resolve("M-OH", "Miami (OH)") == {"M-OH"}
    assert resolver.resolve("M-OH", "Miami") == {"M-OH"}
    assert resolver.resolve("MIA", "Miami") == {"MIA"}
    assert resolver.resolve("MIA", "Miami (FL)") == {"MIA"}
