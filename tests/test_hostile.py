"""Hostile input end to end: fuzzed GraphQL over HTTP, garbled upstream data, a skewed
clock, and no secret in any log line or response."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from graph.app import create_app
from graph.models import League
from graph.settings import Settings
from graph.sim import Simulator
from graph.sim.faults import MISSING
from tests.e2e import (
    SUNDAY_NOON_UTC,
    GraphQLWebSocket,
    app_on,
    eventually,
    gql,
    running_app,
    serve,
)

pytestmark = pytest.mark.e2e

SUNDAY = date(2026, 11, 22)
GAMES = (
    '{ games(league: NBA, date: "2026-11-22") { id markets { ticker yesBid yesAsk lastPrice '
    "volume updatedAt } prediction { edge marketHomeWinProbability } } }"
)
TICKERS = "subscription ($t: [String!]!) { tickerUpdates(marketTickers: $t) { marketTicker } }"


def fixed_sim() -> Simulator:
    return Simulator(clock=lambda: SUNDAY_NOON_UTC, tick_interval_s=None)


def assert_well_formed(body: Any) -> None:
    """A GraphQL response: data and/or errors, every error coded, none unexpected."""
    assert isinstance(body, dict) and ("data" in body or "errors" in body), body
    assert set(body) <= {"data", "errors", "extensions"}
    for error in body.get("errors", []):
        assert isinstance(error["message"], str) and error["message"]
        assert error["extensions"]["code"] != "INTERNAL_SERVER_ERROR", error
        assert "Traceback" not in error["message"]


@pytest.mark.parametrize(
    "override",
    [
        pytest.param({"yes_bid_dollars": "abc"}, id="price-not-a-number"),
        pytest.param({"yes_ask_dollars": "7.5"}, id="price-out-of-range"),
        pytest.param({"yes_bid_dollars": "NaN"}, id="price-nan"),
        pytest.param({"last_price_dollars": ["0.5"]}, id="price-wrong-type"),
        pytest.param({"ticker": MISSING}, id="no-ticker"),
        pytest.param({"title": MISSING, "status": 5}, id="missing-and-wrong-fields"),
        pytest.param({"updated_time": "yesterday"}, id="bad-time"),
        pytest.param({"ticker": "KXNBAGAME-26NOV22ZZZYYY-ZZZ"}, id="unknown-ticker"),
    ],
)
async def test_garbled_upstream_markets_give_coded_errors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, override: dict[str, Any]
) -> None:
    """A market the upstream garbles never becomes an unexpected error or a crash; the
    service keeps answering once the upstream is sane again."""
    async with fixed_sim() as sim, app_on(sim, tmp_path) as client:
        victim = sim.markets_for(League.NBA, SUNDAY)[0]["ticker"]
        sim.faults.market_overrides[victim] = override
        body = await gql(client, GAMES)
        single = await gql(client, f'{{ market(ticker: "{victim}") {{ ticker yesBid }} }}')
        sim.faults.market_overrides.clear()
        healthy = await gql(
            client, '{ games(league: NHL, date: "2026-11-22") { markets { ticker } } }'
        )
    assert_well_formed(body)
    assert_well_formed(single)
    assert "errors" not in healthy and healthy["data"]["games"]
    # Only the garbled market's own game may lose prices; every other game keeps both.
    games = body["data"]["games"]
    assert len(games) > 2 and sum(len(g["markets"]) == 2 for g in games) == len(games) - 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    codes = {e["extensions"]["code"] for b in (body, single) for e in b.get("errors", [])}
    assert codes <= {"UPSTREAM_ERROR"}


async def test_unknown_tickers_in_a_subscription_are_refused_with_their_code(
    tmp_path: Path,
) -> None:
    """Well-formed tickers Kalshi does not list end the subscription with UNKNOWN_MARKET."""
    async with fixed_sim() as sim, running_app(sim, tmp_path) as (_, url):
        async with GraphQLWebSocket.connect(url) as client:
            await client.subscribe("s", TICKERS, {"t": ["KXNBAGAME-26NOV22ZZZYYY-ZZZ"]})
            message = await client.receive()
    assert message["type"] == "next"
    (error,) = message["payload"]["errors"]
    assert error["extensions"]["code"] == "UNKNOWN_MARKET"
    assert "KXNBAGAME-26NOV22ZZZYYY-ZZZ" in error["message"]


@pytest.mark.parametrize("skew_s", [-300.0, 300.0])
async def test_a_skewed_clock_gets_a_clear_upstream_auth_error(
    tmp_path: Path, skew_s: float
) -> None:
    """Signatures stamped minutes off the upstream's clock are refused, and the error says
    to check the clock."""
    async with (
        fixed_sim() as sim,
        running_app(sim, tmp_path, clock=lambda: SUNDAY_NOON_UTC + skew_s) as (_, url),
        httpx.AsyncClient(base_url=url) as client,
    ):
        ticker = sim.markets_for(League.NBA, SUNDAY)[0]["ticker"]
        body = await gql(client, f'{{ market(ticker: "{ticker}") {{ ticker }} }}')
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "UPSTREAM_AUTH_FAILED"
    assert "HTTP 401" in error["message"] and "system clock" in error["message"]
    assert sim.stats.requests["market"] >= 1


async def test_no_key_material_in_any_log_line_or_response(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A whole session at DEBUG (queries, errors, a subscription, upstream faults) never logs
    or answers the private key, the key id, or a signature."""
    async with fixed_sim() as sim:
        pem = sim.private_key_pem.decode()
        secrets = [sim.key_id, *(line for line in pem.splitlines() if "-----" not in line)]
        caplog.clear()  # the simulator's own start-up line names its key id; the service's must not
        caplog.set_level(logging.DEBUG)
        texts: list[str] = []
        async with running_app(sim, tmp_path) as (_, url):
            async with httpx.AsyncClient(base_url=url) as client:
                texts.append(json.dumps(await gql(client, GAMES)))
                sim.faults.scripted_statuses.extend([401, 500, 500])
                texts.append(
                    json.dumps(await gql(client, '{ market(ticker: "KXA-1") { ticker } }'))
                )
                texts.append(
                    json.dumps(await gql(client, '{ market(ticker: "KXA-2") { ticker } }'))
                )
                texts.append((await client.get("/healthz")).text)
            (a,) = [m["ticker"] for m in sim.markets_for(League.NBA, SUNDAY)[:1]]
            async with GraphQLWebSocket.connect(url) as ws:
                await ws.subscribe("s", TICKERS, {"t": [a]})
                texts.append(json.dumps(await ws.receive()))
                await eventually(lambda: sim.ws_subscribed_tickers() == {a})
                await sim.publish_tick()
                texts.append(json.dumps(await ws.receive()))
    logged = "\n".join(
        r.getMessage() + repr(r.args) + (caplog.text if r.exc_info else "") for r in caplog.records
    )
    everything = logged + caplog.text + "\n".join(texts)
    assert "Connected to Kalshi WebSocket" in caplog.text  # the session did sign requests
    assert "PRIVATE KEY" not in everything
    leaked = [s[:8] + "..." for s in secrets if s in everything]
    assert leaked == []
    assert "kalshi-access-signature" not in everything.lower()  # no header was logged


@pytest.fixture(scope="module")
def fuzz_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real app (on its in-process simulator) served by uvicorn in a thread of its own,
    so hypothesis can drive it from a plain synchronous test."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        ratings_db_path=str(tmp_path_factory.mktemp("fuzz") / "ratings.sqlite3"),
        http_attempts=1,
    )
    app = create_app(settings, clock=lambda: SUNDAY_NOON_UTC, ratings_refresh_s=None)
    started = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        stop = asyncio.Event()
        box["loop"], box["stop"] = asyncio.get_running_loop(), stop
        async with serve(app) as url:
            box["url"] = url
            started.set()
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(main(),), name="fuzz-server")
    thread.start()
    assert started.wait(60), "the fuzz server did not start"
    try:
        yield box["url"]
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(60)
        assert not thread.is_alive()


NAMES = st.sampled_from(
    [
        "games", "game", "market", "id", "home", "away", "code", "name", "rating", "markets",
        "ticker", "yesBid", "prediction", "edge", "factors", "value", "tickerUpdates",
        "__typename", "__schema", "types", "fields", "type", "ofType", "kind", "nope",
    ]
)  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(["NBA", "NFL", "XFL", "null", "true", "EDGE", "$v", "$w", "[]", "{}"]),
    st.integers(-(2**40), 2**40).map(str),
    st.floats(allow_nan=False).map(repr),
    st.sampled_from(["2026-11-22", "2026-02-30", "x", "", "KXNBAGAME-26NOV22ATLTOR-ATL"]).map(
        json.dumps
    ),
    st.text(max_size=20).map(json.dumps),
)
ARGS = st.sampled_from(["league", "date", "id", "ticker", "sortBy", "state", "marketTickers", "x"])


def _selection(depth: int) -> st.SearchStrategy[str]:
    field = st.builds(
        lambda alias, name, args: f"{alias}{name}{args}",
        st.sampled_from(["", "a: ", "b: ", "_9: "]),
        NAMES,
        st.lists(st.tuples(ARGS, VALUES), max_size=3).map(
            lambda pairs: "(" + ", ".join(f"{k}: {v}" for k, v in pairs) + ")" if pairs else ""
        ),
    )
    if depth == 0:
        return field
    inner = _selection(depth - 1)
    nested = st.builds(
        lambda f, subs: f + " { " + " ".join(subs) + " }",
        field,
        st.lists(inner, min_size=1, max_size=3),
    )
    return st.one_of(field, nested, inner.map(lambda s: "... on Query { " + s + " }"))


DOCUMENTS = st.one_of(
    st.builds(
        lambda op, subs: f"{op}{{ {' '.join(subs)} }}",
        st.sampled_from(
            ["", "query ", "query Q($v: League!, $w: Date) ", "subscription ", "mutation "]
        ),
        st.lists(_selection(4), min_size=1, max_size=4),
    ),
    st.text(max_size=200),
    st.text(alphabet="{}()[]:$@!.,=| \n\"'#abc_0-9", max_size=300),
    st.integers(1, 40).map(lambda n: "{ games(league: NBA) " * n + "}" * n),
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
BODIES = st.fixed_dictionaries(
    {"query": DOCUMENTS},
    optional={
        "variables": st.none() | st.dictionaries(st.sampled_from(["v", "w", "x"]), JSON_VALUES),
        "operationName": st.none() | st.sampled_from(["Q", "nope"]) | st.text(max_size=5),
    },
)


@pytest.mark.fuzz
@settings(max_examples=1_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=BODIES, accept=st.sampled_from(["application/json", "application/graphql-response+json"])
)
def test_fuzzed_documents_get_well_formed_answers(fuzz_url: str, body: Any, accept: str) -> None:
    """Whatever the document and variables: a GraphQL-shaped answer, 200 or 400, within
    seconds, and never an unexpected (masked) error."""
    with httpx.Client(base_url=fuzz_url, timeout=10) as client:
        response = client.post("/graphql", json=body, headers={"accept": accept})
    assert response.status_code in (200, 400), response.text
    assert_well_formed(response.json())
