from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, strategies as st

from graph.errors import UpstreamProtocolError
from graph.espn.parse import (
    GameSummary,
    eastern_date,
    parse_scoreboard,
    parse_scoreboard_detailed,
    parse_summary,
    rest_days,
    scoreboard_dates,
)
from graph.models import GameState, League

_DATA = Path(__file__).parents[1] / "data"


def _load(name: str) -> Any:
    return json.loads((_DATA / name).read_text())


def _event(
    *,
    name: str = "STATUS_SCHEDULED",
    state: str = "pre",
    completed: bool = False,
    home_score: object = "0",
    away_score: object = "0",
    date_: object = "2024-11-10T18:00Z",
    event_id: object = "1",
) -> dict[str, Any]:
    status = {"type": {"name": name, "state": state, "completed": completed, "shortDetail": "x"}}
    return {
        "id": event_id,
        "date": date_,
        "competitions": [
            {
                "neutralSite": False,
                "competitors": [
                    {"homeAway": "away", "score": away_score, "team": {"abbreviation": "PIT"}},
                    {"homeAway": "home", "score": home_score, "team": {"abbreviation": "WSH"}},
                ],
            }
        ],
        "status": status,
    }


@pytest.mark.parametrize(
    ("game_id", "state", "away", "home", "away_score", "home_score", "detail"),
    [
        pytest.param("401671617", GameState.FINAL, "NYG", "CAR", 17, 20, "Final/OT", id="final-ot"),
        pytest.param("401671641", GameState.FINAL, "PIT", "WSH", 28, 27, "Final", id="final"),
        pytest.param("401671720", GameState.LIVE, "DEN", "KC", 14, 10, "5:12 - 3rd", id="live"),
        pytest.param(
            "401671800", GameState.SCHEDULED, "DET", "HOU", None, None, "11/10 - 8:20 PM EST",
            id="scheduled",
        ),
        pytest.param(
            "401671661", GameState.POSTPONED, "TEN", "LAC", None, None, "Postponed",
            id="postponed",
        ),
    ],
)  # fmt: skip
def test_nfl_fixture_games(
    game_id: str,
    state: GameState,
    away: str,
    home: str,
    away_score: int | None,
    home_score: int | None,
    detail: str,
) -> None:
    """The recorded NFL slate maps states, sides, scores and details as ESPN meant them."""
    games = {g.id: g for g in parse_scoreboard(League.NFL, _load("espn_scoreboard_nfl.json"))}
    game = games[game_id]
    assert game.league is League.NFL
    assert (game.state, game.away.code, game.home.code) == (state, away, home)
    assert (game.away_score, game.home_score, game.status_detail) == (
        away_score,
        home_score,
        detail,
    )


def test_nfl_fixture_details() -> None:
    """Venue, neutral site, records, team ids and display names are read from the event."""
    games = {g.id: g for g in parse_scoreboard(League.NFL, _load("espn_scoreboard_nfl.json"))}
    munich = games["401671617"]
    assert (munich.venue, munich.neutral_site) == ("Allianz Arena", True)
    assert (munich.home.name, munich.home.record, munich.home.espn_id) == (
        "Carolina Panthers",
        "3-7",
        "29",
    )
    washington = games["401671641"]
    assert (washington.venue, washington.neutral_site) == ("Northwest Stadium", False)
    assert washington.start_time == datetime(2024, 11, 10, 18, 0, tzinfo=UTC)
    no_records = games["401671700"]
    assert (no_records.home.record, no_records.away.record) == (None, None)
    assert len(games) == 6


def test_competitors_are_picked_by_home_away_not_position() -> None:
    """Reversing the competitor list changes nothing."""
    payload = _load("espn_scoreboard_nfl.json")
    flipped = copy.deepcopy(payload)
    for event in flipped["events"]:
        event["competitions"][0]["competitors"].reverse()
    assert parse_scoreboard(League.NFL, flipped) == parse_scoreboard(League.NFL, payload)


@pytest.mark.parametrize(
    ("fixture", "league", "day"),
    [
        pytest.param("espn_scoreboard_nfl.json", League.NFL, date(2024, 11, 10), id="nfl"),
        pytest.param("espn_scoreboard_nba.json", League.NBA, date(2024, 11, 10), id="nba"),
        pytest.param("espn_scoreboard_mlb.json", League.MLB, date(2024, 7, 6), id="mlb"),
    ],
)
def test_fixture_games_file_under_their_eastern_date(
    fixture: str, league: League, day: date
) -> None:
    """Every game of a one-day slate, late West-coast games included, has that ET date."""
    parsed = parse_scoreboard_detailed(league, _load(fixture))
    assert parsed.skipped == ()
    assert parsed.games
    assert {eastern_date(g.start_time) for g in parsed.games} == {day}


def test_nba_fixture_statuses() -> None:
    """Halftime is live with scores, a pre-game delay is scheduled without scores."""
    games = {g.id: g for g in parse_scoreboard(League.NBA, _load("espn_scoreboard_nba.json"))}
    assert (games["401704870"].state, games["401704870"].home_score) == (GameState.LIVE, 98)
    assert (games["401704871"].state, games["401704871"].home_score) == (
        GameState.SCHEDULED,
        None,
    )
    late = games["401704872"]
    assert late.start_time == datetime(2024, 11, 11, 3, 30, tzinfo=UTC)
    assert (late.home.code, late.away.code) == ("GS", "PHX")


def test_mlb_fixture_doubleheader_and_cancellation() -> None:
    """Both doubleheader games are kept; a rain delay mid-game is live; canceled has no score."""
    games = parse_scoreboard(League.MLB, _load("espn_scoreboard_mlb.json"))
    pair = [g for g in games if (g.away.code, g.home.code) == ("NYY", "BOS")]
    assert [g.state for g in pair] == [GameState.FINAL, GameState.LIVE]
    assert [(g.away_score, g.home_score) for g in pair] == [(5, 3), (2, 1)]
    canceled = next(g for g in games if g.id == "401569003")
    assert (canceled.state, canceled.home_score) == (GameState.CANCELED, None)


@pytest.mark.parametrize(
    ("name", "state", "completed", "expected"),
    [
        pytest.param("STATUS_SCHEDULED", "pre", False, GameState.SCHEDULED, id="scheduled"),
        pytest.param("STATUS_IN_PROGRESS", "in", False, GameState.LIVE, id="in-progress"),
        pytest.param("STATUS_HALFTIME", "in", False, GameState.LIVE, id="halftime"),
        pytest.param("STATUS_END_PERIOD", "in", False, GameState.LIVE, id="end-period"),
        pytest.param("STATUS_FINAL", "post", True, GameState.FINAL, id="final"),
        pytest.param("STATUS_FINAL_OT", "post", True, GameState.FINAL, id="final-ot"),
        pytest.param("STATUS_POSTPONED", "post", False, GameState.POSTPONED, id="postponed"),
        pytest.param("STATUS_POSTPONED", "pre", False, GameState.POSTPONED, id="postponed-pre"),
        pytest.param("STATUS_CANCELED", "post", False, GameState.CANCELED, id="canceled"),
        pytest.param("STATUS_DELAYED", "pre", False, GameState.SCHEDULED, id="delayed-pre"),
        pytest.param("STATUS_DELAYED", "in", False, GameState.LIVE, id="delayed-in"),
        pytest.param("STATUS_SUSPENDED", "post", False, GameState.POSTPONED, id="suspended"),
    ],
)
def test_status_mapping(name: str, state: str, completed: bool, expected: GameState) -> None:
    """ESPN status name/state/completed map onto GameState; post is final only if completed."""
    [game] = parse_scoreboard(
        League.NFL, {"events": [_event(name=name, state=state, completed=completed)]}
    )
    assert game.state is expected


@pytest.mark.parametrize(
    ("state", "completed", "scores"),
    [
        pytest.param("pre", False, (None, None), id="pre-ignores-zero"),
        pytest.param("in", False, (3, 7), id="live"),
        pytest.param("post", True, (3, 7), id="final"),
    ],
)
def test_scores_are_strings_read_only_after_start(
    state: str, completed: bool, scores: tuple[int | None, int | None]
) -> None:
    """String scores become ints once the game started and stay None before."""
    event = _event(state=state, completed=completed, home_score="3", away_score="7")
    [game] = parse_scoreboard(League.NFL, {"events": [event]})
    assert (game.home_score, game.away_score) == scores


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param([], id="list"),
        pytest.param("events", id="string"),
        pytest.param({}, id="no-events"),
        pytest.param({"events": {"id": "1"}}, id="events-not-list"),
    ],
)
def test_malformed_payload_raises(payload: object) -> None:
    """A body that is not a scoreboard raises UpstreamProtocolError naming the league."""
    with pytest.raises(UpstreamProtocolError, match="NBA scoreboard"):
        parse_scoreboard(League.NBA, payload)


def _broken(kind: str) -> object:
    event = _event(event_id="bad", state="in")
    competition = event["competitions"][0]
    if kind == "not-object":
        return ["bad"]
    if kind == "no-competitions":
        event["competitions"] = []
    elif kind == "no-home":
        competition["competitors"][1]["homeAway"] = "neutral"
    elif kind == "two-home":
        competition["competitors"][0]["homeAway"] = "home"
    elif kind == "no-abbreviation":
        del competition["competitors"][0]["team"]["abbreviation"]
    elif kind == "bad-date":
        event["date"] = "next sunday"
    elif kind == "no-date":
        del event["date"]
    elif kind == "unknown-state":
        event["status"]["type"]["state"] = "weird"
    elif kind == "bad-score":
        competition["competitors"][0]["score"] = "seven"
    elif kind == "no-status":
        del event["status"]
    elif kind == "no-id":
        del event["id"]
    elif kind == "numeric-id":
        event["id"] = 401
    elif kind == "competitors-not-list":
        competition["competitors"] = {"home": {}}
    elif kind == "naive-date":
        event["date"] = "2026-11-22T18:00:00"
    elif kind == "date-not-string":
        event["date"] = 1_764_000_000
    return event


@pytest.mark.parametrize(
    "kind",
    [
        "not-object",
        "no-competitions",
        "no-home",
        "two-home",
        "no-abbreviation",
        "bad-date",
        "no-date",
        "unknown-state",
        "bad-score",
        "no-status",
        "no-id",
        "competitors-not-list",
        "date-not-string",
    ],
)
def test_one_malformed_event_is_skipped_and_counted(kind: str) -> None:
    """A bad event is skipped with a reason; the rest of the slate still parses."""
    payload = {"events": [_event(event_id="ok1"), _broken(kind), _event(event_id="ok2")]}
    parsed = parse_scoreboard_detailed(League.NFL, payload)
    assert [g.id for g in parsed.games] == ["ok1", "ok2"]
    assert len(parsed.skipped) == 1
    assert parsed.skipped[0].reason
    assert parse_scoreboard(League.NFL, payload) == list(parsed.games)


def test_start_time_without_seconds_is_utc() -> None:
    """ESPN's minute-precision 'Z' timestamps parse as aware UTC datetimes."""
    [game] = parse_scoreboard(League.NFL, {"events": [_event(date_="2024-11-11T02:30Z")]})
    assert game.start_time == datetime(2024, 11, 11, 2, 30, tzinfo=UTC)
    assert game.start_time.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("moment", "day"),
    [
        pytest.param(datetime(2024, 11, 11, 2, 30, tzinfo=UTC), date(2024, 11, 10), id="est"),
        pytest.param(datetime(2024, 11, 11, 5, 0, tzinfo=UTC), date(2024, 11, 11), id="est-mid"),
        pytest.param(datetime(2024, 7, 7, 3, 59, tzinfo=UTC), date(2024, 7, 6), id="edt"),
        pytest.param(datetime(2024, 7, 7, 4, 0, tzinfo=UTC), date(2024, 7, 7), id="edt-mid"),
        pytest.param(datetime(2024, 11, 11, 2, 30), date(2024, 11, 10), id="naive-is-utc"),
    ],
)
def test_eastern_date(moment: datetime, day: date) -> None:
    """Games file under their US-Eastern calendar date, DST included."""
    assert eastern_date(moment) == day


@given(st.datetimes(timezones=st.just(UTC)))
def test_eastern_date_is_four_or_five_hours_behind(moment: datetime) -> None:
    """The Eastern date is always the date at UTC-4 or UTC-5."""
    candidates = {moment.astimezone(timezone(timedelta(hours=h))).date() for h in (-4, -5)}
    assert eastern_date(moment) in candidates


def test_scoreboard_dates() -> None:
    """The dates= value is YYYYMMDD with zero padding."""
    assert scoreboard_dates(date(2024, 7, 6)) == "20240706"


def test_parse_summary_fixture() -> None:
    """lastFiveGames gives each team's latest earlier game, in both timestamp formats."""
    summary = parse_summary(_load("espn_summary_nba.json"))
    assert summary.game_id == "401704872"
    assert summary.last_game_dates == {
        "GS": datetime(2024, 11, 9, 3, 0, tzinfo=UTC),
        "PHX": datetime(2024, 11, 9, 4, 0, tzinfo=UTC),
    }


def test_rest_days_from_summary() -> None:
    """Rest days are US-Eastern calendar days since the last game; unknown teams give None."""
    summary = parse_summary(_load("espn_summary_nba.json"))
    start = datetime(2024, 11, 11, 3, 30, tzinfo=UTC)  # Nov 10, 10:30 pm ET
    assert rest_days(summary, "GS", start) == 2  # last: Nov 8, 10 pm ET
    assert rest_days(summary, "PHX", start) == 2  # last: Nov 8, 11 pm ET
    assert rest_days(summary, "LAL", start) is None
    assert rest_days(summary, "GS", datetime(2024, 11, 8, tzinfo=UTC)) is None


def test_a_back_to_back_is_one_day_though_under_24_hours() -> None:
    """8 pm ET one night, 7 pm ET the next: 1 rest day, as the model was fitted (not 0)."""
    summary = GameSummary(
        game_id="1", last_game_dates={"BOS": datetime(2024, 11, 9, 1, 0, tzinfo=UTC)}
    )
    assert rest_days(summary, "BOS", datetime(2024, 11, 10, 0, 0, tzinfo=UTC)) == 1


def test_summary_ignores_games_at_or_after_this_one() -> None:
    """A listed game at or after this game's start is not a previous game; no games -> None."""
    payload = {
        "header": {"id": 7, "competitions": [{"date": "2024-11-11T03:30Z"}]},
        "lastFiveGames": [
            {
                "team": {"abbreviation": "GS"},
                "events": [
                    {"gameDate": "2024-11-11T03:30Z"},
                    {"gameDate": "2024-11-08T03:00Z"},
                    {"gameDate": None},
                ],
            },
            {"team": {"abbreviation": "PHX"}, "events": []},
            "junk",
        ],
    }
    summary = parse_summary(payload)
    assert summary == GameSummary(
        game_id="7",
        last_game_dates={"GS": datetime(2024, 11, 8, 3, 0, tzinfo=UTC), "PHX": None},
    )


@pytest.mark.parametrize(
    "payload",
    [pytest.param([], id="list"), pytest.param({"lastFiveGames": []}, id="no-id")],
)
def test_malformed_summary_raises(payload: object) -> None:
    """A summary body without an object shape or a game id raises UpstreamProtocolError."""
    with pytest.raises(UpstreamProtocolError, match="game summary"):
        parse_summary(payload)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("21", 21, id="string"),
        pytest.param(21, 21, id="int"),
        pytest.param({"value": 21.0, "displayValue": "21"}, 21, id="wrapped"),
        pytest.param(None, None, id="missing"),
    ],
)
def test_score_shapes(raw: object, expected: int | None) -> None:
    """Scores are read from strings, numbers or ESPN's wrapped {value, displayValue} form."""
    event = _event(state="in", home_score=raw)
    [game] = parse_scoreboard(League.NFL, {"events": [event]})
    assert game.home_score == expected


def test_status_may_live_on_the_competition() -> None:
    """Without an event-level status the competition's status is used."""
    event = _event(state="post", completed=True, home_score="3")
    event["competitions"][0]["status"] = event.pop("status")
    [game] = parse_scoreboard(League.NFL, {"events": [event]})
    assert (game.state, game.home_score) == (GameState.FINAL, 3)


def test_numeric_ids_and_naive_dates_are_read_as_espn_means_them() -> None:
    """An integer event id is its string; a start time without an offset is UTC."""
    payload = {"events": [_broken("numeric-id"), _broken("naive-date")]}
    numeric, naive = parse_scoreboard(League.NFL, payload)
    assert numeric.id == "401"
    assert naive.start_time == datetime(2026, 11, 22, 18, tzinfo=UTC)


@pytest.mark.parametrize(
    "records",
    [None, "10-2", [{"type": "home", "summary": "5-1"}], ["10-2"]],
    ids=["missing", "not-a-list", "no-total", "not-objects"],
)
def test_a_record_without_a_total_is_unknown(records: object) -> None:
    """Only the competitor's 'total' record is shown; other shapes give no record."""
    event = _event(event_id="r")
    event["competitions"][0]["competitors"][0]["records"] = records
    (game,) = parse_scoreboard(League.NFL, {"events": [event]})
    assert game.home.record is None or game.away.record is None


@pytest.mark.parametrize(
    "competitions",
    [None, [], ["x"], [{"date": "soon"}]],
    ids=["missing", "empty", "not-an-object", "bad-date"],
)
def test_a_summary_without_a_readable_start_keeps_every_earlier_game(competitions: object) -> None:
    """No usable start time in the header: no game is dropped as 'at or after this one'."""
    payload = {
        "header": {"id": "9", "competitions": competitions},
        "lastFiveGames": [
            {"team": {"abbreviation": ""}, "events": [{"gameDate": "2024-11-08T03:00Z"}]},
            {"team": {"abbreviation": "GS"}, "events": [{"gameDate": "2024-11-08T03:00Z"}]},
        ],
    }
    summary = parse_summary(payload)
    assert summary.last_game_dates == {"GS": datetime(2024, 11, 8, 3, 0, tzinfo=UTC)}
