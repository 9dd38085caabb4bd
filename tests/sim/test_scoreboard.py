"""The simulator's ESPN-shaped scoreboard and summary endpoints over a real loopback server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from graph.espn.parse import eastern_date
from graph.models import League
from graph.sim import Simulator
from graph.sim.slate import ET
from graph.sim.teams import ESPN_PATH, teams

pytestmark = pytest.mark.e2e

# 21:00 ET on Monday 2025-11-24.
NOW = datetime(2025, 11, 25, 2, 0, tzinfo=UTC).timestamp()
MONDAY = date(2025, 11, 24)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(seed=11, tick_interval_s=None, clock=lambda: NOW) as simulator:
        yield simulator


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


def _scoreboard(sim: Simulator, league: League) -> str:
    return f"{sim.scoreboard_url}/{ESPN_PATH[league]}/scoreboard"


def _summary(sim: Simulator, league: League) -> str:
    return f"{sim.scoreboard_url}/{ESPN_PATH[league]}/summary"


def _fixed(timestamp: float) -> Callable[[], float]:
    return lambda: timestamp


def _side(event: dict[str, Any], home_away: str) -> dict[str, Any]:
    competitors = event["competitions"][0]["competitors"]
    return next(c for c in competitors if c["homeAway"] == home_away)


@pytest.mark.parametrize("league", list(League))
async def test_scoreboard_per_league_has_espn_shaped_events(
    sim: Simulator, client: httpx.AsyncClient, league: League
) -> None:
    """Every league answers ESPN's shape with real teams, string scores and a status."""
    day = date(2025, 11, 22)  # a Saturday: college football plays too
    params = {"dates": "20251122", "groups": "80"}
    response = await client.get(_scoreboard(sim, league), params=params)
    assert response.status_code == 200
    body = response.json()
    assert body["day"] == {"date": "2025-11-22"}
    assert body["leagues"][0]["abbreviation"] == league.value
    assert body["events"] == sim.games_for(league, day)
    for event in body["events"]:
        away, home = _side(event, "away"), _side(event, "home")
        assert event["name"] == f"{away['team']['displayName']} at {home['team']['displayName']}"
        assert (
            event["shortName"] == f"{away['team']['abbreviation']} @ {home['team']['abbreviation']}"
        )
        known = {(t.espn, t.name) for t in teams(league)}
        assert (home["team"]["abbreviation"], home["team"]["displayName"]) in known
        assert isinstance(home["score"], str) and isinstance(away["score"], str)
        assert datetime.strptime(event["date"], "%Y-%m-%dT%H:%MZ")
        assert event["status"]["type"]["state"] in {"pre", "in", "post"}
        assert home["records"][0]["type"] == "total"


async def test_game_states_follow_the_clock(sim: Simulator, client: httpx.AsyncClient) -> None:
    """Yesterday is final with a winner; tonight is live or scheduled with no winner yet."""
    sunday = (await client.get(_scoreboard(sim, League.NBA), params={"dates": "20251123"})).json()
    finals = [e for e in sunday["events"] if e["status"]["type"]["completed"]]
    assert finals
    for event in finals:
        assert event["status"]["type"]["name"] == "STATUS_FINAL"
        home, away = _side(event, "home"), _side(event, "away")
        assert home["winner"] != away["winner"]
        assert home["winner"] == (int(home["score"]) > int(away["score"]))
    monday = (await client.get(_scoreboard(sim, League.NBA), params={"dates": "20251124"})).json()
    states = {e["status"]["type"]["state"] for e in monday["events"]}
    assert states <= {"pre", "in", "post"} and states & {"pre", "in"}
    for event in monday["events"]:
        if event["status"]["type"]["state"] == "pre":
            assert "winner" not in _side(event, "home")
            assert _side(event, "home")["score"] == "0"
            assert event["status"]["type"]["shortDetail"].startswith("11/24 - ")


async def test_some_games_list_the_away_team_first(sim: Simulator) -> None:
    """Competitor order varies, so clients must read homeAway."""
    firsts = {
        e["competitions"][0]["competitors"][0]["homeAway"]
        for offset in range(5)
        for e in sim.games_for(League.NBA, MONDAY + timedelta(days=offset))
    }
    assert firsts == {"home", "away"}


async def test_late_game_is_filed_under_its_eastern_date(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    """A 10 pm ET start is next-day in UTC but listed under the ET date, not the UTC one."""
    for offset in range(14):
        day = MONDAY + timedelta(days=offset)
        late = [e for e in sim.games_for(League.NBA, day) if not e["date"].startswith(str(day))]
        if late:
            break
    assert late
    event = late[0]
    start = datetime.strptime(event["date"], "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)
    assert start.astimezone(ET).date() == day and start.date() == day + timedelta(days=1)
    et_body = (
        await client.get(_scoreboard(sim, League.NBA), params={"dates": f"{day:%Y%m%d}"})
    ).json()
    utc_day = day + timedelta(days=1)
    utc_body = (
        await client.get(_scoreboard(sim, League.NBA), params={"dates": f"{utc_day:%Y%m%d}"})
    ).json()
    assert event["id"] in {e["id"] for e in et_body["events"]}
    assert event["id"] not in {e["id"] for e in utc_body["events"]}


async def test_scoreboard_without_dates_is_today_in_eastern_time(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    """No dates= means the ET date of the simulator's clock (here still Monday)."""
    body = (await client.get(_scoreboard(sim, League.NHL))).json()
    assert body["day"] == {"date": "2025-11-24"}


@pytest.mark.parametrize(
    "dates",
    [
        pytest.param("20251123-20251124", id="range"),
        pytest.param("20251124-20251124", id="one-day-range"),
        pytest.param("2025-11-24", id="iso"),
        pytest.param("20251332", id="no-such-day"),
    ],
)
async def test_date_ranges_and_bad_dates_are_espn_400s(
    sim: Simulator, client: httpx.AsyncClient, dates: str
) -> None:
    """The range form answers ESPN's current 400 body."""
    response = await client.get(_scoreboard(sim, League.NBA), params={"dates": dates})
    assert response.status_code == 400
    assert response.json() == {"code": 400, "message": "Failed to get events endpoint."}


async def test_college_without_groups_is_a_featured_subset(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    """Like ESPN, a college scoreboard needs groups= to list every game."""
    url = _scoreboard(sim, League.NCAAMB)
    featured = (await client.get(url, params={"dates": "20251124"})).json()["events"]
    full = (await client.get(url, params={"dates": "20251124", "groups": "50"})).json()["events"]
    assert len(featured) == 6 < len(full)
    assert featured == full[:6]


async def test_unknown_league_is_404(sim: Simulator, client: httpx.AsyncClient) -> None:
    """Paths ESPN does not serve answer 404."""
    response = await client.get(f"{sim.scoreboard_url}/cricket/ipl/scoreboard")
    assert response.status_code == 404
    response = await client.get(f"{sim.scoreboard_url}/cricket/ipl/summary", params={"event": "1"})
    assert response.status_code == 404


async def test_summary_has_header_and_both_teams_last_five_games(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    """lastFiveGames lists both teams' five latest games of earlier scoreboards, newest first."""
    event = sim.games_for(League.NBA, MONDAY)[0]
    response = await client.get(_summary(sim, League.NBA), params={"event": event["id"]})
    assert response.status_code == 200
    body = response.json()
    assert body["header"]["id"] == event["id"]
    assert (
        body["header"]["competitions"][0]["competitors"] == event["competitions"][0]["competitors"]
    )
    codes = [entry["team"]["abbreviation"] for entry in body["lastFiveGames"]]
    assert codes == [
        _side(event, "away")["team"]["abbreviation"],
        _side(event, "home")["team"]["abbreviation"],
    ]
    start = datetime.strptime(event["date"], "%Y-%m-%dT%H:%MZ")
    for entry in body["lastFiveGames"]:
        games = entry["events"]
        assert len(games) == 5
        dates = [
            datetime.strptime(g["gameDate"], "%Y-%m-%dT%H:%MZ")
            for g in [{"gameDate": event["date"]}, *games]
        ]
        assert dates == sorted(dates, reverse=True)
        assert eastern_date(dates[1]) < eastern_date(start)
        code = entry["team"]["abbreviation"]
        for game in games:
            day = eastern_date(datetime.strptime(game["gameDate"], "%Y-%m-%dT%H:%MZ"))
            (listed,) = [e for e in sim.games_for(League.NBA, day) if e["id"] == game["id"]]
            sides = {_side(listed, s)["team"]["abbreviation"] for s in ("home", "away")}
            assert code in sides and game["opponent"]["abbreviation"] in sides - {code}
            assert game["atVs"] in {"vs", "@"}
            assert game["gameResult"] in {"W", "L"}
            ours, theirs = (int(x) for x in game["score"].split("-"))
            assert (ours > theirs) == (game["gameResult"] == "W")


async def test_summary_is_deterministic(sim: Simulator, client: httpx.AsyncClient) -> None:
    """Asking twice gives the same history."""
    event_id = sim.games_for(League.NHL, MONDAY)[0]["id"]
    first = (await client.get(_summary(sim, League.NHL), params={"event": event_id})).json()
    second = (await client.get(_summary(sim, League.NHL), params={"event": event_id})).json()
    assert first == second


async def test_failing_summary_answers_500_and_others_still_work(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    """An id in faults.failing_summaries fails; the rest of the slate is unaffected."""
    first, second = (e["id"] for e in sim.games_for(League.NBA, MONDAY)[:2])
    sim.faults.failing_summaries.add(first)
    failing = await client.get(_summary(sim, League.NBA), params={"event": first})
    assert failing.status_code == 500
    assert failing.json()["code"] == 500
    working = await client.get(_summary(sim, League.NBA), params={"event": second})
    assert working.status_code == 200
    assert sim.stats.requests["summary"] == 2


@pytest.mark.parametrize(
    ("params", "status"),
    [
        pytest.param({}, 400, id="missing-event"),
        pytest.param({"event": "123"}, 404, id="unknown-id"),
    ],
)
async def test_bad_summary_requests(
    sim: Simulator, client: httpx.AsyncClient, params: dict[str, str], status: int
) -> None:
    """A summary needs a known event id."""
    response = await client.get(_summary(sim, League.NBA), params=params)
    assert response.status_code == status


async def test_summary_of_another_leagues_game_is_404(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    """An NHL game id is not an NBA summary."""
    event_id = sim.games_for(League.NHL, MONDAY)[0]["id"]
    response = await client.get(_summary(sim, League.NBA), params={"event": event_id})
    assert response.status_code == 404


async def test_scoreboard_faults_and_concurrency(sim: Simulator, client: httpx.AsyncClient) -> None:
    """Latency keeps concurrent scoreboard calls in flight; error_rate gives ESPN-shaped 500s."""
    sim.faults.latency_s = 0.4
    days = [f"202511{d:02d}" for d in range(20, 26)]
    responses = await asyncio.gather(
        *(client.get(_scoreboard(sim, League.NBA), params={"dates": d}) for d in days)
    )
    assert {r.status_code for r in responses} == {200}
    assert sim.stats.max_in_flight["scoreboard"] == len(days)
    sim.faults.latency_s = 0.0
    sim.faults.error_rate = 1.0
    response = await client.get(_scoreboard(sim, League.NBA))
    assert response.status_code == 500 and response.json()["code"] == 500
    sim.faults.error_rate = 0.0
    sim.faults.rate_limit_rate = 1.0
    response = await client.get(_scoreboard(sim, League.NBA))
    assert response.status_code == 429 and response.json()["code"] == 429


async def test_scripted_statuses_do_not_touch_the_scoreboard(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    """Scripted statuses are for Kalshi REST paths only."""
    sim.faults.scripted_statuses.append(500)
    assert (await client.get(_scoreboard(sim, League.NBA))).status_code == 200
    assert list(sim.faults.scripted_statuses) == [500]


@pytest.mark.parametrize(
    ("league", "suffixes"),
    [
        pytest.param(League.NHL, ("1st", "2nd", "3rd"), id="nhl-periods"),
        pytest.param(League.NBA, ("Quarter",), id="nba-quarters"),
        pytest.param(League.NCAAMB, ("Half",), id="college-halves"),
        pytest.param(
            League.MLB,
            tuple(f"{n}th" for n in range(4, 10)) + ("1st", "2nd", "3rd"),
            id="mlb-innings",
        ),
    ],
)
def test_live_games_show_progress(league: League, suffixes: tuple[str, ...]) -> None:
    """Mid-game: state 'in', a period, and partial scores no higher than the final ones."""
    game = next(
        e
        for e in Simulator(seed=11).games_for(league, MONDAY)
        if e["status"]["type"]["name"] != "STATUS_POSTPONED"
    )
    start = datetime.strptime(game["date"], "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)
    final = Simulator(seed=11, clock=_fixed((start + timedelta(hours=5)).timestamp()))
    done = next(e for e in final.games_for(league, MONDAY) if e["id"] == game["id"])
    for minutes in (30, 100, 170):
        moment = (start + timedelta(minutes=minutes)).timestamp()
        sim = Simulator(seed=11, clock=_fixed(moment))
        live = next(e for e in sim.games_for(league, MONDAY) if e["id"] == game["id"])
        status = live["status"]
        assert status["type"]["state"] == "in"
        assert status["type"]["name"] == "STATUS_IN_PROGRESS"
        assert status["period"] >= 1
        assert status["type"]["shortDetail"].endswith(suffixes)
        for side in ("home", "away"):
            assert int(_side(live, side)["score"]) <= int(_side(done, side)["score"])
