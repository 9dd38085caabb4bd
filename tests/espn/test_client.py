from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from graph.errors import (
    UpstreamAuthError,
    UpstreamHTTPError,
    UpstreamProtocolError,
    UpstreamUnavailable,
)
from graph.espn.client import ScoreboardClient
from graph.http import RetryPolicy
from graph.models import GameState, League
from graph.teams import ESPN_PATH

_DATA = Path(__file__).parents[1] / "data"
_BASE = "http://127.0.0.1:9/apis/site/v2/sports"


def _fixture(name: str) -> Any:
    return json.loads((_DATA / name).read_text())


class _Recorder:
    """A MockTransport handler that records requests and answers from a script."""

    def __init__(self, *answers: httpx.Response | Callable[[httpx.Request], httpx.Response]):
        self.requests: list[httpx.Request] = []
        self._answers = list(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self._answers.pop(0) if len(self._answers) > 1 else self._answers[0]
        return answer(request) if callable(answer) else answer


class _Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def _client(
    recorder: _Recorder, sleeps: _Sleeps | None = None, base: str = _BASE
) -> tuple[httpx.AsyncClient, ScoreboardClient]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    board = ScoreboardClient(
        http,
        base,
        policy=RetryPolicy(attempts=3, base_delay_s=0.01, max_delay_s=0.02),
        sleep=sleeps or _Sleeps(),
        rng=lambda: 1.0,
    )
    return http, board


@pytest.mark.parametrize(
    ("league", "extra"),
    [
        pytest.param(League.NFL, {}, id="nfl"),
        pytest.param(League.NBA, {}, id="nba"),
        pytest.param(League.MLB, {}, id="mlb"),
        pytest.param(League.NHL, {}, id="nhl"),
        pytest.param(League.WNBA, {}, id="wnba"),
        pytest.param(League.NCAAF, {"groups": "80"}, id="ncaaf-fbs"),
        pytest.param(League.NCAAMB, {"groups": "50"}, id="ncaamb-d1"),
    ],
)
async def test_games_requests_one_day_per_league(league: League, extra: dict[str, str]) -> None:
    """One GET of {base}/{sport}/{league}/scoreboard?dates=YYYYMMDD (+groups for college)."""
    recorder = _Recorder(httpx.Response(200, json={"events": []}))
    http, board = _client(recorder, base=_BASE + "/")
    async with http:
        assert await board.games(league, date(2024, 11, 10)) == []
    [request] = recorder.requests
    assert request.method == "GET"
    assert request.url.host == "127.0.0.1"
    assert request.url.path == f"/apis/site/v2/sports/{ESPN_PATH[league]}/scoreboard"
    assert dict(request.url.params) == {"dates": "20241110", **extra}


async def test_games_parses_the_slate() -> None:
    """The scoreboard body is parsed into games with states and teams."""
    recorder = _Recorder(httpx.Response(200, json=_fixture("espn_scoreboard_nba.json")))
    http, board = _client(recorder)
    async with http:
        games = await board.games(League.NBA, date(2024, 11, 10))
    assert [g.id for g in games] == ["401704870", "401704871", "401704872", "401704873"]
    assert games[0].state is GameState.LIVE
    assert (games[2].away.code, games[2].home.code) == ("PHX", "GS")


async def test_bad_event_is_dropped_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    """An unreadable event is left out and logged with its id; the others are returned."""
    payload = _fixture("espn_scoreboard_nfl.json")
    payload["events"][0]["competitions"] = []
    recorder = _Recorder(httpx.Response(200, json=payload))
    http, board = _client(recorder)
    with caplog.at_level(logging.WARNING, logger="graph.espn.client"):
        async with http:
            games = await board.games(League.NFL, date(2024, 11, 10))
    assert len(games) == 5
    assert "event=401671617" in caplog.text


async def test_server_errors_exhaust_retries_then_unavailable() -> None:
    """Repeated 500s are retried within the policy, then raise UpstreamUnavailable."""
    recorder = _Recorder(httpx.Response(500))
    sleeps = _Sleeps()
    http, board = _client(recorder, sleeps)
    async with http:
        with pytest.raises(UpstreamUnavailable, match="NFL scoreboard"):
            await board.games(League.NFL, date(2024, 11, 10))
    assert len(recorder.requests) == 3
    assert len(sleeps.delays) == 2


async def test_transient_error_then_success() -> None:
    """A 503 followed by a good answer succeeds after one backoff sleep."""
    recorder = _Recorder(httpx.Response(503), httpx.Response(200, json={"events": []}))
    sleeps = _Sleeps()
    http, board = _client(recorder, sleeps)
    async with http:
        assert await board.games(League.NHL, date(2024, 11, 10)) == []
    assert (len(recorder.requests), len(sleeps.delays)) == (2, 1)


async def test_client_error_is_not_retried() -> None:
    """A 400 (e.g. a rejected date) raises UpstreamHTTPError at once with its status."""
    recorder = _Recorder(httpx.Response(400, json={"code": 400}))
    http, board = _client(recorder)
    async with http:
        with pytest.raises(UpstreamHTTPError) as caught:
            await board.games(League.NFL, date(2024, 11, 10))
    assert caught.value.status_code == 400
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    "response",
    [
        pytest.param(httpx.Response(200, text="<html>"), id="not-json"),
        pytest.param(httpx.Response(200, json={"events": "none"}), id="not-a-scoreboard"),
    ],
)
async def test_malformed_body_is_a_protocol_error(response: httpx.Response) -> None:
    """A 200 that is not JSON or not a scoreboard raises UpstreamProtocolError."""
    http, board = _client(_Recorder(response))
    async with http:
        with pytest.raises(UpstreamProtocolError):
            await board.games(League.NBA, date(2024, 11, 10))


async def test_summary_requests_event_and_parses() -> None:
    """summary() GETs {base}/{path}/summary?event=ID and returns the parsed last-game dates."""
    recorder = _Recorder(httpx.Response(200, json=_fixture("espn_summary_nba.json")))
    http, board = _client(recorder)
    async with http:
        summary = await board.summary(League.NBA, "401704872")
    [request] = recorder.requests
    assert request.url.path == "/apis/site/v2/sports/basketball/nba/summary"
    assert dict(request.url.params) == {"event": "401704872"}
    assert summary.game_id == "401704872"
    assert set(summary.last_game_dates) == {"GS", "PHX"}


async def test_summary_not_found_keeps_status() -> None:
    """An unknown game id answers 404, surfaced as UpstreamHTTPError(status_code=404)."""
    http, board = _client(_Recorder(httpx.Response(404)))
    async with http:
        with pytest.raises(UpstreamHTTPError) as caught:
            await board.summary(League.NFL, "0")
    assert caught.value.status_code == 404


async def test_a_refusal_does_not_blame_kalshi_settings() -> None:
    """A 403 from the scoreboard says so without pointing at the Kalshi key."""
    transport = httpx.MockTransport(lambda _: httpx.Response(403, json={}))
    async with httpx.AsyncClient(transport=transport) as http:
        client = ScoreboardClient(http, "https://example.test/apis/site/v2/sports")
        with pytest.raises(UpstreamAuthError) as info:
            await client.games(League.NBA, date(2026, 11, 22))
    assert "HTTP 403" in str(info.value)
    assert "KALSHI" not in str(info.value)
