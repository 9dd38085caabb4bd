"""End to end over HTTP: the real app on uvicorn, talking to the real simulator."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
import websockets
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr

from graph.app import create_app, drain
from graph.games.markets import close_window
from graph.model.policy import LeaguePolicy, Thresholds
from graph.models import Evidence, League
from graph.settings import Settings
from graph.sim import Faults, Simulator
from graph.sim.slate import SimGame, Slates
from tests.e2e import (
    SUNDAY_NOON_UTC,
    GraphQLWebSocket,
    app_on,
    eventually,
    gql,
    running_app,
    serve,
    sim_settings,
)

pytestmark = pytest.mark.e2e

SUNDAY = date(2026, 11, 22)
TUESDAY = date(2026, 11, 24)

GAMES = """
query ($league: League!, $date: Date) {
  games(league: $league, date: $date) {
    id home { code rating } away { code } eventTicker
    markets { ticker team yesBid yesAsk }
    prediction { homeWinProbability awayWinProbability marketHomeWinProbability edge
                 confidence recommendation recommendationReason model factors { name value }
                 bet { side marketTicker price probability stake }
                 evidence { validated summary backtestRoi } }
  }
}
"""


def fixed_sim(**kwargs: object) -> Simulator:
    return Simulator(clock=lambda: SUNDAY_NOON_UTC, tick_interval_s=None, **kwargs)  # type: ignore[arg-type]


async def test_market_query_returns_simulator_prices(tmp_path: Path) -> None:
    """market(ticker) goes through the signed REST client and returns the simulator's prices."""
    async with fixed_sim() as sim, app_on(sim, tmp_path) as client:
        raw = sim.markets_for(League.NBA, SUNDAY)[0]
        body = await gql(
            client,
            "query ($t: String!) { market(ticker: $t) { ticker yesBid yesAsk status } }",
            {"t": raw["ticker"]},
        )
    market = body["data"]["market"]
    assert market["ticker"] == raw["ticker"]
    assert market["yesBid"] == pytest.approx(float(raw["yes_bid_dollars"]))
    assert market["yesAsk"] == pytest.approx(float(raw["yes_ask_dollars"]))
    assert 0 <= market["yesBid"] <= market["yesAsk"] <= 1


async def test_unknown_market_is_null(tmp_path: Path) -> None:
    """A ticker Kalshi does not know resolves to null without an error."""
    async with fixed_sim() as sim, app_on(sim, tmp_path) as client:
        body = await gql(client, '{ market(ticker: "KXNBAGAME-26NOV22AAABBB-AAA") { ticker } }')
    assert body == {"data": {"market": None}}


@pytest.mark.parametrize("n", [10, 50, 200])
async def test_games_query_costs_constant_upstream_requests(tmp_path: Path, n: int) -> None:
    """One games query of N games: one scoreboard request, one markets request (the day's
    listing, narrowed by close time to one page), whatever N."""
    # TTLs far longer than the test, so the second query falls within them however slow the
    # first one was on a loaded machine.
    ttls = {"prices_ttl_s": 3600, "schedule_ttl_s": 3600}
    async with (
        fixed_sim(slate_size={League.NBA: n}) as sim,
        app_on(sim, tmp_path, **ttls) as client,
    ):
        body = await gql(client, GAMES, {"league": "NBA", "date": SUNDAY.isoformat()})
        first = dict(sim.stats.requests)
        queries = list(sim.stats.market_queries)
        again = await gql(client, GAMES, {"league": "NBA", "date": SUNDAY.isoformat()})
        second = dict(sim.stats.requests)
    games = body["data"]["games"]
    assert "errors" not in body
    assert len(games) == n
    assert all(len(g["markets"]) == 2 for g in games)
    assert first["scoreboard"] == 1
    low, high = close_window(SUNDAY)
    assert first["markets"] == 1
    assert queries == [
        {
            "series_ticker": "KXNBAGAME",
            "min_close_ts": str(low),
            "max_close_ts": str(high),
            "limit": "1000",
        }
    ]
    assert first["summary"] == n
    assert again == body
    assert second == first  # within the TTL nothing goes upstream again


async def test_predictions_run_concurrently_under_the_semaphore(tmp_path: Path) -> None:
    """Per-game summaries are in flight together, up to the limit and never past it."""
    release = asyncio.Event()
    faults = Faults(held={"summary": release})
    async with (
        fixed_sim(slate_size={League.NBA: 24}, faults=faults) as sim,
        app_on(sim, tmp_path, prediction_concurrency=8) as client,
    ):
        query = asyncio.create_task(
            gql(client, GAMES, {"league": "NBA", "date": SUNDAY.isoformat()})
        )
        # The simulator holds every summary in flight: the limit's worth arrive, no more.
        await eventually(lambda: sim.stats.in_flight["summary"] == 8, timeout=60)
        release.set()
        body = await query
    assert all(g["prediction"] is not None for g in body["data"]["games"])
    assert sim.stats.requests["summary"] == 24
    assert sim.stats.max_in_flight["summary"] == 8


async def test_one_failing_game_does_not_fail_the_others(tmp_path: Path) -> None:
    """A game whose per-game data fails gets prediction null and an error with its path."""
    async with fixed_sim(slate_size={League.NBA: 6}) as sim, app_on(sim, tmp_path) as client:
        bad = sim.games_for(League.NBA, SUNDAY)[3]["id"]
        sim.faults.failing_summaries.add(bad)
        body = await gql(client, GAMES, {"league": "NBA", "date": SUNDAY.isoformat()})
    games = body["data"]["games"]
    index = next(i for i, g in enumerate(games) if g["id"].endswith("." + bad))
    assert games[index]["prediction"] is None
    assert [e["path"] for e in body["errors"]] == [["games", index, "prediction"]]
    assert "prediction failed for game" in body["errors"][0]["message"]
    assert all(g["prediction"] is not None for i, g in enumerate(games) if i != index)


async def test_concurrent_identical_queries_share_one_scoreboard_request(tmp_path: Path) -> None:
    """50 identical queries at once cause one scoreboard request and one markets listing."""
    async with fixed_sim(faults=Faults(latency_s=0.02)) as sim, app_on(sim, tmp_path) as client:
        bodies = await asyncio.gather(
            *(gql(client, GAMES, {"league": "NBA", "date": SUNDAY.isoformat()}) for _ in range(50))
        )
    assert all(b == bodies[0] for b in bodies)
    assert sim.stats.requests["scoreboard"] == 1
    assert sim.stats.requests["markets"] == 1


async def test_prediction_fields_are_consistent(tmp_path: Path) -> None:
    """Probabilities are complementary, edge is model minus market, the model is named."""
    async with fixed_sim() as sim, app_on(sim, tmp_path) as client:
        body = await gql(client, GAMES, {"league": "NBA", "date": SUNDAY.isoformat()})
    games = body["data"]["games"]
    assert games
    for g in games:
        p = g["prediction"]
        assert p["homeWinProbability"] + p["awayWinProbability"] == pytest.approx(1)
        assert 0 <= p["marketHomeWinProbability"] <= 1
        assert p["edge"] == pytest.approx(p["homeWinProbability"] - p["marketHomeWinProbability"])
        assert p["model"].startswith("elo-nba")
        assert {"rating_diff", "home_advantage"} <= {f["name"] for f in p["factors"]}
        assert isinstance(g["home"]["rating"], float)
        assert g["eventTicker"].startswith("KXNBAGAME-26NOV22")
        assert [m["team"] for m in g["markets"]] == [g["away"]["code"], g["home"]["code"]]
        # NBA has no market history: no stake, the reason, and the evidence saying so.
        assert p["recommendation"] is None and p["bet"] is None
        assert p["recommendationReason"].startswith("not validated: no NBA market history")
        assert p["evidence"]["validated"] is False and p["evidence"]["backtestRoi"] is None


async def test_a_betting_policy_names_a_market_at_its_ask(tmp_path: Path) -> None:
    """Given thresholds, a recommendation buys one of the game's markets at its ask, and the
    bet carries what the text says."""
    policies = {league: LeaguePolicy(Thresholds(), Evidence(True, "test")) for league in League}
    async with fixed_sim() as sim, app_on(sim, tmp_path, policies=policies) as client:
        body = await gql(client, GAMES, {"league": "NBA", "date": SUNDAY.isoformat()})
    bets = [g for g in body["data"]["games"] if g["prediction"]["bet"]]
    assert bets
    for g in bets:
        p, bet = g["prediction"], g["prediction"]["bet"]
        market = next(m for m in g["markets"] if m["ticker"] == bet["marketTicker"])
        assert bet["price"] == market["yesAsk"]
        assert p["recommendation"].startswith(
            f"BUY YES {market['ticker']} at <= {bet['price']:.2f}"
        )
        assert p["recommendationReason"] is None and 0 < bet["stake"] <= 0.05
        side = p["homeWinProbability"] if bet["side"] == "HOME" else p["awayWinProbability"]
        assert bet["probability"] == pytest.approx(side)


async def test_sorting_and_state_filter(tmp_path: Path) -> None:
    """sortBy EDGE puts the largest |edge| first; state filters; game(id) finds a game again,
    with the same prediction."""
    async with fixed_sim() as sim, app_on(sim, tmp_path) as client:
        body = await gql(
            client,
            '{ games(league: NBA, date: "2026-11-22", sortBy: EDGE)'
            " { id state prediction { edge } } }",
        )
        edges = [abs(g["prediction"]["edge"]) for g in body["data"]["games"]]
        first = body["data"]["games"][0]["id"]
        one = await gql(client, "query ($id: ID!) { game(id: $id) { id } }", {"id": first})
        priced = await gql(
            client, "query ($id: ID!) { game(id: $id) { prediction { edge } } }", {"id": first}
        )
        live = await gql(client, '{ games(league: NBA, date: "2026-11-22", state: FINAL) { id } }')
        conf = await gql(
            client,
            '{ games(league: NBA, date: "2026-11-22", sortBy: CONFIDENCE)'
            " { prediction { confidence } } }",
        )
    assert edges == sorted(edges, reverse=True)
    assert one["data"]["game"]["id"] == first
    assert abs(priced["data"]["game"]["prediction"]["edge"]) == edges[0]
    assert live["data"]["games"] == []  # the clock says no NBA game has finished yet
    ranks = {"HIGH": 0, "MEDIUM": 1, "LOW": 2}
    order = [ranks[g["prediction"]["confidence"]] for g in conf["data"]["games"]]
    assert order == sorted(order)


async def test_a_day_without_games_is_an_empty_list(tmp_path: Path) -> None:
    """Unknown dates (no games that day) return [], not an error."""
    async with fixed_sim() as sim, app_on(sim, tmp_path) as client:
        body = await gql(client, '{ games(league: NFL, date: "2026-11-24") { id } }')
    assert body == {"data": {"games": []}}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        pytest.param("{ games(league: NBA", "Syntax Error", id="malformed"),
        pytest.param("{ games(league: XFL) { id } }", "XFL", id="unknown-league"),
        pytest.param(
            '{ market(ticker: "no spaces!") { ticker } }',
            "not a Kalshi market ticker",
            id="bad-ticker",
        ),
        pytest.param('{ game(id: "garbage") { id } }', "not a game id", id="bad-game-id"),
        pytest.param("{ " + "a " * 2100 + "}", "token", id="huge"),
        pytest.param(
            "{ " + " ".join(f"a{i}: __typename" for i in range(40)) + " }", "alias", id="aliases"
        ),
    ],
)
async def test_bad_input_gets_a_clear_error(tmp_path: Path, query: str, message: str) -> None:
    """Bad input gets an error naming the problem, and the server keeps answering."""
    async with fixed_sim() as sim, app_on(sim, tmp_path) as client:
        body = await gql(client, query)
        healthy = await gql(client, "{ __typename }")
    assert body.get("data") in (None, {"market": None}, {"game": None})
    assert message.lower() in body["errors"][0]["message"].lower()
    assert healthy == {"data": {"__typename": "Query"}}


async def test_graphiql_is_served_with_local_assets(tmp_path: Path) -> None:
    """A browser GET of /graphql gets GraphiQL whose scripts come from this server."""
    async with fixed_sim() as sim, app_on(sim, tmp_path) as client:
        page = await client.get("/graphql", headers={"accept": "text/html"})
        script = await client.get("/graphiql-assets/graphiql/graphiql.min.js")
        health = await client.get("/healthz")
    assert page.status_code == 200
    assert "unpkg.com" not in page.text
    assert "/graphiql-assets/graphiql/graphiql.min.js" in page.text
    assert script.status_code == 200
    assert health.json()["status"] == "ok"


async def test_no_secret_reaches_logs_or_responses(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The private key never appears in a log line or a response."""
    caplog.set_level(logging.DEBUG)
    async with fixed_sim() as sim, app_on(sim, tmp_path) as client:
        body = await gql(client, GAMES, {"league": "NBA", "date": SUNDAY.isoformat()})
        pem = sim.private_key_pem.decode()
    secret_lines = [line for line in pem.splitlines() if "-----" not in line]
    text = caplog.text + str(body)
    assert "PRIVATE KEY" not in text
    assert not any(line in text for line in secret_lines)
    assert "Generating predictions for" in caplog.text
    assert "Successfully generated" in caplog.text


async def test_default_settings_run_on_the_in_process_simulator(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With nothing configured the app starts its own simulator, answers, and keeps ratings."""
    caplog.set_level(logging.INFO)
    settings = Settings(_env_file=None, ratings_db_path=str(tmp_path / "r.sqlite3"))  # type: ignore[call-arg]
    assert settings.environment == "sim"
    app = create_app(settings, clock=lambda: SUNDAY_NOON_UTC, ratings_refresh_s=3600)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        body = await gql(
            client,
            '{ games(league: NBA, date: "2026-11-22") { markets { ticker } prediction { edge } } }',
        )
        await eventually(lambda: "Ratings refreshed applied=" in caplog.text)
    games = body["data"]["games"]
    assert games and all(len(g["markets"]) == 2 and g["prediction"] for g in games)
    assert "Simulator running" in caplog.text
    assert "env=sim" in caplog.text and "signed=True" in caplog.text


async def test_sim_mode_signs_with_the_simulators_key_even_when_one_is_configured(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """KALSHI_ENV=sim with an operator's key still gets prices: the simulator's key is used."""
    stranger = Simulator()  # a key the in-process simulator has never seen
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        kalshi_env="sim",
        kalshi_api_key_id=stranger.key_id,
        kalshi_private_key=SecretStr(stranger.private_key_pem.decode()),
        ratings_db_path=str(tmp_path / "r.sqlite3"),
    )
    app = create_app(settings, clock=lambda: SUNDAY_NOON_UTC, ratings_refresh_s=None)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        body = await gql(
            client, '{ games(league: NHL, date: "2026-11-22") { markets { ticker } } }'
        )
    assert body["data"]["games"] and all(len(g["markets"]) == 2 for g in body["data"]["games"])
    assert "using the simulator's key, not yours" in caplog.text


async def test_cors_lets_listed_origins_query(tmp_path: Path) -> None:
    """A frontend on an allowed origin passes the preflight; others do not."""
    async with (
        fixed_sim() as sim,
        app_on(sim, tmp_path, cors_origins=["http://localhost:5173"]) as client,
    ):
        headers = {
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        }
        allowed = await client.options(
            "/graphql", headers={"origin": "http://localhost:5173", **headers}
        )
        refused = await client.options(
            "/graphql", headers={"origin": "https://evil.example", **headers}
        )
        query = await client.post(
            "/graphql",
            json={"query": "{ __typename }"},
            headers={"origin": "http://localhost:5173"},
        )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert refused.status_code == 400
    assert query.headers["access-control-allow-origin"] == "http://localhost:5173"


async def test_oversized_requests_get_413(tmp_path: Path) -> None:
    """A body over MAX_BODY_BYTES is refused before GraphQL sees it."""
    async with fixed_sim() as sim, app_on(sim, tmp_path, max_body_bytes=4096) as client:
        response = await client.post(
            "/graphql", json={"query": "{ __typename }", "variables": {"x": "y" * 5000}}
        )
    assert response.status_code == 413


async def test_readyz_reports_every_check_and_probes_upstreams_once_per_period(
    tmp_path: Path,
) -> None:
    """/readyz is 200 on the simulator; repeated scrapes reuse the upstream probes."""
    async with fixed_sim() as sim, app_on(sim, tmp_path) as client:
        responses = [await client.get("/readyz") for _ in range(5)]
        health = await client.get("/healthz")
    assert [r.status_code for r in responses] == [200] * 5
    assert responses[0].json() == {
        "status": "ready",
        "checks": {"lifecycle": "ok", "feed": "ok", "kalshi_rest": "ok", "scoreboard": "ok"},
    }
    # The simulator has no /exchange/status and no page at the scoreboard base: a 404 each,
    # which proves reachability. Neither counts as a data request.
    assert "scoreboard" not in sim.stats.requests
    assert health.json() == {"status": "ok", "feed": "idle", "feedError": None}


async def test_readyz_is_503_naming_an_unreachable_upstream(tmp_path: Path) -> None:
    """A scoreboard nobody answers at makes /readyz 503 and say which check failed."""
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{unused.getsockname()[1]}/apis/site/v2/sports"
    async with fixed_sim() as sim, app_on(sim, tmp_path, scoreboard_url=dead) as client:
        response = await client.get("/readyz")
        health = await client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert body["checks"]["scoreboard"] == "unreachable (ConnectError)"
    assert body["checks"]["kalshi_rest"] == "ok"
    assert health.status_code == 200  # alive all the same


SUBSCRIBE = "subscription ($t: [String!]!) { tickerUpdates(marketTickers: $t) { marketTicker } }"


async def test_drain_completes_subscriptions_then_closes_sockets(tmp_path: Path) -> None:
    """drain(): every open subscription gets `complete`, then 1001; not ready, no new sockets."""
    async with fixed_sim() as sim, running_app(sim, tmp_path) as (app, url):
        tickers = [m["ticker"] for m in sim.markets_for(League.NBA, SUNDAY)[:3]]
        async with (
            httpx.AsyncClient(base_url=url) as http,
            GraphQLWebSocket.connect(url) as ws,
            GraphQLWebSocket.connect(url, "graphql-ws") as legacy,
        ):
            for n, ticker in enumerate(tickers):
                await ws.subscribe(str(n), SUBSCRIBE, {"t": [ticker]})
            await legacy.subscribe("old", SUBSCRIBE, {"t": tickers[:1]})
            assert {(await ws.receive())["id"] for _ in tickers} == {"0", "1", "2"}
            assert (await legacy.receive())["type"] == "data"
            await drain(app, 5.0)
            ready = await http.get("/readyz")
            messages = [await ws.receive(), await ws.receive(), await ws.receive()]
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.receive()
            legacy_end = await legacy.receive()
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with GraphQLWebSocket.connect(url):
                    pass
    assert {(m["type"], m["id"]) for m in messages} == {("complete", n) for n in ("0", "1", "2")}
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert legacy_end == {"type": "complete", "id": "old"}
    assert refused.value.response.status_code == 503
    assert ready.status_code == 503
    assert ready.json()["checks"]["lifecycle"] == "draining"
    assert app.state.hub.subscriber_count == 0


WELL_BEHAVED = '{ games(league: NBA, date: "2026-11-22") { id markets { ticker } } }'
DEEP = '{ games(league: NBA, date: "2026-11-22") { prediction { factors { name } } } }'


@pytest.mark.parametrize(
    ("body", "status", "code", "overrides"),
    [
        pytest.param(
            {"query": DEEP},
            200,
            "QUERY_TOO_DEEP",
            {"max_query_depth": 3},  # fields on the longest path: WELL_BEHAVED has 3
            id="depth",
        ),
        pytest.param(
            {"query": "{ " + "__typename " * 60 + "}"},
            200,
            "TOO_MANY_TOKENS",
            {"max_query_tokens": 50},
            id="tokens",
        ),
        pytest.param(
            {"query": "{ a: __typename b: __typename c: __typename }"},
            200,
            "TOO_MANY_ALIASES",
            {"max_query_aliases": 2},
            id="aliases",
        ),
        pytest.param(
            {"query": "{ __typename # " + "x" * 400 + "\n}"},
            200,
            "QUERY_TOO_LARGE",
            {"max_query_bytes": 256},
            id="query-bytes",
        ),
        pytest.param(
            {"query": "{ __schema { types { name } } }"},
            200,
            "INTROSPECTION_DISABLED",
            {"introspection": False},
            id="introspection",
        ),
        pytest.param(
            {"query": "{ __typename }", "variables": {"x": "y" * 5000}},
            413,
            "REQUEST_TOO_LARGE",
            {"max_body_bytes": 4096},
            id="body",
        ),
        pytest.param(
            [{"query": "{ __typename }"}, {"query": "{ __typename }"}],
            400,
            "BATCHING_NOT_SUPPORTED",
            {},
            id="batching",
        ),
    ],
)
async def test_each_limit_refuses_while_well_behaved_clients_are_answered(
    tmp_path: Path, body: object, status: int, code: str, overrides: dict[str, object]
) -> None:
    """20 requests crossing a limit get its code; a concurrent ordinary query gets its games."""
    async with fixed_sim() as sim, app_on(sim, tmp_path, **overrides) as client:

        async def offend() -> httpx.Response:
            return await client.post("/graphql", json=body)

        results = await asyncio.gather(
            *(offend() for _ in range(20)),
            gql(client, WELL_BEHAVED),
            *(offend() for _ in range(20)),
        )
    good = results[20]
    refused = [r for r in results if isinstance(r, httpx.Response)]
    assert isinstance(good, dict) and "errors" not in good
    assert len(good["data"]["games"]) > 0
    assert {r.status_code for r in refused} == {status}
    for response in refused:
        errors = response.json()["errors"]
        assert {e["extensions"]["code"] for e in errors} == {code}
        assert all(e["message"] for e in errors)


async def test_a_slow_operation_times_out_while_others_are_answered(tmp_path: Path) -> None:
    """Past QUERY_TIMEOUT_S an operation gets TIMEOUT; a concurrent cached one is unaffected."""
    async with fixed_sim() as sim, app_on(sim, tmp_path, query_timeout_s=0.5) as client:
        warm = await gql(client, WELL_BEHAVED)
        sim.faults.latency_s = 2.0
        slow, fast = await asyncio.gather(
            gql(client, '{ games(league: NFL, date: "2026-11-22") { id } }'),
            gql(client, WELL_BEHAVED),
        )
        sim.faults.latency_s = 0.0
    assert fast == warm
    assert slow["data"] is None
    (error,) = slow["errors"]
    assert error["extensions"] == {"code": "TIMEOUT"}
    assert "longer than 0.5 s" in error["message"]


@pytest.mark.parametrize(
    ("body", "accept", "status", "media"),
    [
        pytest.param(
            {"query": "{ __typename }"}, "application/json", 200, "application/json", id="ok-json"
        ),
        pytest.param(
            {"query": "{ __typename }"},
            "application/graphql-response+json",
            200,
            "application/graphql-response+json",
            id="ok-graphql-response",
        ),
        pytest.param(
            {"query": "{ nope"}, "application/json", 200, "application/json", id="parse-json"
        ),
        pytest.param(
            {"query": "{ nope"},
            "application/graphql-response+json",
            400,
            "application/graphql-response+json",
            id="parse-graphql-response",
        ),
        pytest.param(
            {"query": "{ nope }"},
            "application/graphql-response+json, application/json;q=0.9",
            400,
            "application/graphql-response+json",
            id="validation-graphql-response",
        ),
        pytest.param(
            {"query": '{ market(ticker: "bad one") { ticker } }'},
            "application/graphql-response+json",
            200,
            "application/graphql-response+json",
            id="field-error-is-200",
        ),
        pytest.param({"query": 5}, "application/json", 400, "application/json", id="not-a-string"),
        pytest.param({"variables": {}}, "application/json", 400, "application/json", id="no-query"),
    ],
)
async def test_status_codes_follow_graphql_over_http(
    tmp_path: Path, body: object, accept: str, status: int, media: str
) -> None:
    """application/json answers GraphQL errors with 200; graphql-response+json uses 400."""
    async with fixed_sim() as sim, app_on(sim, tmp_path) as client:
        response = await client.post("/graphql", json=body, headers={"accept": accept})
    assert response.status_code == status
    assert response.headers["content-type"].split(";")[0] == media
    errors = response.json().get("errors", [])
    assert all(e["extensions"]["code"] for e in errors)


async def test_a_body_that_is_not_json_gets_a_graphql_shaped_400(tmp_path: Path) -> None:
    """Unparseable JSON and other content types get a JSON error, not plain text."""
    async with fixed_sim() as sim, app_on(sim, tmp_path) as client:
        garbled = await client.post(
            "/graphql", content=b"{nope", headers={"content-type": "application/json"}
        )
        text = await client.post("/graphql", content=b"{ __typename }")
        put = await client.put("/graphql", json={"query": "{ __typename }"})
    assert garbled.status_code == text.status_code == 400
    assert garbled.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert "content type" in text.json()["errors"][0]["message"].lower()
    assert put.status_code == 405
    assert put.json()["errors"][0]["message"]


TICKER_UPDATES = (
    "subscription ($t: [String!]!) { tickerUpdates(marketTickers: $t) { marketTicker } }"
)


async def test_a_client_past_its_rate_limit_gets_429_and_its_sockets_an_error(
    tmp_path: Path,
) -> None:
    """RATE_LIMIT_BURST requests pass, the next is 429 with Retry-After and a coded body; a
    WebSocket subscribe from the same client is refused with retryAfter (legacy graphql-ws
    too); /metrics counts them; other routes are not limited."""
    async with (
        fixed_sim() as sim,
        running_app(sim, tmp_path, rate_limit_per_s=0.1, rate_limit_burst=3) as (_, url),
        httpx.AsyncClient(base_url=url) as http,
    ):
        answers = [await http.post("/graphql", json={"query": "{ __typename }"}) for _ in range(4)]
        ticker = sim.markets_for(League.NBA, SUNDAY)[0]["ticker"]
        async with GraphQLWebSocket.connect(url) as ws:
            await ws.subscribe("s", TICKER_UPDATES, {"t": [ticker]})
            refused = await ws.receive()
        async with GraphQLWebSocket.connect(url, "graphql-ws") as legacy:
            await legacy.subscribe("s", TICKER_UPDATES, {"t": [ticker]})
            legacy_refused = await legacy.receive()
        health = await http.get("/healthz")
        metrics = (await http.get("/metrics")).text
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert int(answers[-1].headers["retry-after"]) >= 1
    assert answers[-1].json()["errors"][0]["extensions"]["code"] == "TOO_MANY_REQUESTS"
    assert refused["type"] == "error"
    (error,) = refused["payload"]
    assert error["extensions"]["code"] == "TOO_MANY_REQUESTS"
    assert error["extensions"]["retryAfter"] >= 1
    assert legacy_refused["type"] == "error"
    assert legacy_refused["payload"]["extensions"]["code"] == "TOO_MANY_REQUESTS"
    assert health.status_code == 200
    assert 'kalshi_graph_rate_limited_total{kind="http"} 1.0' in metrics
    assert 'kalshi_graph_rate_limited_total{kind="subscribe"} 2.0' in metrics


async def test_an_operation_past_its_upstream_budget_is_refused_the_rest(tmp_path: Path) -> None:
    """MAX_UPSTREAM_REQUESTS=3: a cold games query with predictions (a summary per game)
    makes at most 3 upstream requests; the fields that needed more fail alone with
    UPSTREAM_BUDGET_EXCEEDED, and /metrics counts the refusals."""
    async with fixed_sim() as sim, app_on(sim, tmp_path, max_upstream_requests=3) as client:
        sim.stats.reset()
        body = await gql(
            client, '{ games(league: NBA, date: "2026-11-22") { id prediction { edge } } }'
        )
        made = sum(sim.stats.requests.values())
        metrics = (await client.get("/metrics")).text
    assert made <= 3
    assert body["data"]["games"], body
    assert {e["extensions"]["code"] for e in body["errors"]} == {"UPSTREAM_BUDGET_EXCEEDED"}
    assert "kalshi_graph_upstream_budget_refusals_total" in metrics


async def test_traces_cover_the_operation_its_upstream_requests_and_batches(
    tmp_path: Path,
) -> None:
    """With a tracer provider (as OTEL_EXPORTER_OTLP_ENDPOINT makes one), a games query is
    one trace: the operation's span, its resolvers, the DataLoader-style batches and every
    upstream request, all in one trace."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    async with fixed_sim() as sim:
        app = create_app(
            sim_settings(sim, tmp_path),
            clock=lambda: SUNDAY_NOON_UTC,
            ratings_refresh_s=None,
            tracer_provider=provider,
        )
        async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
            body = await gql(
                client,
                'query TodaysGames { games(league: NBA, date: "2026-11-22") '
                "{ markets { ticker } prediction { edge } } }",
            )
    assert "errors" not in body
    spans = exporter.get_finished_spans()
    names = [s.name for s in spans]
    assert "GraphQL Query: TodaysGames" in names
    assert {"DataLoader batch markets", "DataLoader batch predictions"} <= set(names)
    assert "GET scoreboard" in names and "GET kalshi" in names
    assert len({s.context.trace_id for s in spans}) == 1


def _sim_game(league: League, wanted: Callable[[SimGame], bool]) -> SimGame:
    """The first game from SUNDAY on (the default seed's slates) that is wanted."""
    slates = Slates(0)
    for offset in range(180):
        for game in slates.games(league, SUNDAY + timedelta(days=offset)):
            if wanted(game):
                return game
    raise AssertionError("no such game")


async def test_never_traded_markets_have_no_probability_end_to_end(tmp_path: Path) -> None:
    """A never-traded event's markets imply nothing (impliedProbability null), so its prediction
    has no market probability, edge or recommendation; our own probability stands."""
    untraded = _sim_game(League.NBA, lambda g: bool(g.never_traded) and not g.postponed)
    query = """
    query ($date: Date) { games(league: NBA, date: $date) {
      eventTicker markets { ticker impliedProbability lastPrice volume }
      prediction { homeWinProbability marketHomeWinProbability edge recommendation
                   recommendationReason } } }
    """
    async with fixed_sim() as sim, app_on(sim, tmp_path) as client:
        body = await gql(client, query, {"date": untraded.et_date.isoformat()})
    games = {g["eventTicker"]: g for g in body["data"]["games"]}
    game = games.pop(untraded.event_ticker)
    assert [m["impliedProbability"] for m in game["markets"]] == [None, None]
    assert [(m["lastPrice"], m["volume"]) for m in game["markets"]] == [(0.0, 0.0)] * 2
    prediction = game["prediction"]
    assert (prediction["marketHomeWinProbability"], prediction["edge"]) == (None, None)
    assert prediction["recommendation"] is None
    assert prediction["recommendationReason"] == "no market price yet"
    assert 0 < prediction["homeWinProbability"] < 1
    traded = [g for g in games.values() if g["markets"][0]["impliedProbability"] is not None]
    assert traded and all(g["prediction"]["edge"] is not None for g in traded)


async def test_a_doubleheader_is_two_games_with_two_events(tmp_path: Path) -> None:
    """Both games of an MLB doubleheader get their own event (G1 the earlier, G2 the later)."""
    first = _sim_game(League.MLB, lambda g: g.game_number == 1)
    query = """
    query ($date: Date) { games(league: MLB, date: $date) {
      startTime away { code } home { code } eventTicker markets { ticker team } } }
    """
    async with fixed_sim() as sim, app_on(sim, tmp_path) as client:
        body = await gql(client, query, {"date": first.et_date.isoformat()})
    pair = (first.away.espn, first.home.espn)
    twins = [g for g in body["data"]["games"] if (g["away"]["code"], g["home"]["code"]) == pair]
    assert len(twins) == 2
    early, late = sorted(twins, key=lambda g: g["startTime"])
    assert early["eventTicker"] == first.event_ticker and early["eventTicker"].endswith("G1")
    assert late["eventTicker"] == first.event_ticker[:-1] + "2"
    for game in twins:
        assert [m["ticker"].rsplit("-", 1)[0] for m in game["markets"]] == [game["eventTicker"]] * 2
        assert [m["team"] for m in game["markets"]] == list(pair)
