"""End to end over WebSockets: GraphQL subscribers <- our hub/feed <- the simulator's Kalshi WS."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin, Subprotocol

from graph.app import create_app
from graph.kalshi.feed import FeedState
from graph.live.hub import Hub
from graph.models import League
from graph.settings import load_settings
from graph.sim import Simulator
from graph.sim.slate import Slates
from tests.e2e import SUNDAY_NOON_UTC, GraphQLWebSocket, eventually, running_app, serve

pytestmark = pytest.mark.e2e

SUNDAY = date(2026, 11, 22)
TICKERS = """
subscription ($t: [String!]!) {
  tickerUpdates(marketTickers: $t) { marketTicker price yesBid yesAsk volume ts }
}
"""


def fixed_sim(**kwargs: Any) -> Simulator:
    return Simulator(clock=lambda: SUNDAY_NOON_UTC, tick_interval_s=None, **kwargs)


def tickers_of(sim: Simulator, count: int) -> list[str]:
    return [m["ticker"] for m in sim.markets_for(League.NBA, SUNDAY)[:count]]


async def drain(client: GraphQLWebSocket, op_id: str, count: int) -> list[dict[str, Any]]:
    """The next ``count`` data payloads of operation ``op_id``."""
    out: list[dict[str, Any]] = []
    while len(out) < count:
        message = await client.receive()
        assert message["id"] == op_id, message
        assert message["type"] in ("next", "data"), message
        out.append(message["payload"]["data"]["tickerUpdates"])
    return out


async def test_overlapping_subscribers_get_their_tickers_and_upstream_is_the_union(
    tmp_path: Path,
) -> None:
    """Each subscriber receives only its tickers; upstream follows the union down to empty."""
    async with fixed_sim() as sim, running_app(sim, tmp_path) as (app, url):
        a, b, c = tickers_of(sim, 3)
        async with GraphQLWebSocket.connect(url) as one, GraphQLWebSocket.connect(url) as two:
            await one.subscribe("1", TICKERS, {"t": [a, b]})
            await two.subscribe("1", TICKERS, {"t": [b, c]})
            # The initial snapshot: one update per ticker, at once.
            assert {u["marketTicker"] for u in await drain(one, "1", 2)} == {a, b}
            assert {u["marketTicker"] for u in await drain(two, "1", 2)} == {b, c}
            await eventually(lambda: sim.ws_subscribed_tickers() == {a, b, c})

            await sim.publish_tick()
            assert {u["marketTicker"] for u in await drain(one, "1", 2)} == {a, b}
            assert {u["marketTicker"] for u in await drain(two, "1", 2)} == {b, c}

            await one.complete("1")
            await eventually(lambda: sim.ws_subscribed_tickers() == {b, c})
            hub: Hub = app.state.hub
            assert hub.refcounts() == {b: 1, c: 1}
        await eventually(lambda: sim.ws_subscribed_tickers() == set())
        assert hub.refcounts() == {}


@pytest.mark.parametrize("fault", ["drop", "malformed"])
async def test_subscribers_survive_upstream_faults(tmp_path: Path, fault: str) -> None:
    """A dropped or garbled upstream is a pause for subscribers, then updates flow again."""
    async with fixed_sim() as sim, running_app(sim, tmp_path) as (app, url):
        (a,) = tickers_of(sim, 1)
        async with GraphQLWebSocket.connect(url) as client:
            await client.subscribe("s", TICKERS, {"t": [a]})
            await drain(client, "s", 1)
            await eventually(lambda: sim.ws_subscribed_tickers() == {a})
            feed = app.state.feed
            if fault == "drop":
                connects = feed.stats.connects
                await sim.drop_ws_connections()
                await eventually(lambda: feed.stats.connects > connects)
            else:
                malformed = feed.stats.malformed
                await sim.send_raw_ws('{"type": "ticker", "msg": {"market_ticker": 5}}')
                await sim.send_raw_ws("not json at all")
                await eventually(lambda: feed.stats.malformed == malformed + 2)
            await eventually(lambda: sim.ws_subscribed_tickers() == {a})
            await sim.publish_tick()
            (update,) = await drain(client, "s", 1)
    assert update["marketTicker"] == a
    assert 0 <= update["yesBid"] <= update["yesAsk"] <= 1


async def test_a_refused_key_ends_the_subscription_with_a_clear_error(tmp_path: Path) -> None:
    """With a key the upstream refuses, the subscription errors clearly (the tickers cannot be
    checked against Kalshi's listing: it refuses the key), /readyz says so, and queries that
    need no upstream still work."""
    other = Simulator()  # its key is unknown to `sim`
    async with (
        fixed_sim() as sim,
        running_app(
            sim,
            tmp_path,
            kalshi_api_key_id=other.key_id,
            kalshi_private_key=other.private_key_pem.decode(),
        ) as (_, url),
    ):
        (a,) = tickers_of(sim, 1)
        async with GraphQLWebSocket.connect(url) as client:
            await client.subscribe("s", TICKERS, {"t": [a]})
            messages = [await client.receive()]
            while messages[-1]["type"] != "complete":
                messages.append(await client.receive())
        async with httpx.AsyncClient(base_url=url) as http:
            answer = await http.post("/graphql", json={"query": "{ __typename }"})
            ready = await http.get("/readyz")
    errors = [e for m in messages if m["type"] == "next" for e in m["payload"].get("errors") or []]
    assert len(errors) == 1
    text = errors[0]["message"]
    assert "HTTP 401" in text and "KALSHI_API_KEY_ID" in text
    assert "PRIVATE KEY" not in text
    assert errors[0]["extensions"]["code"] == "UPSTREAM_AUTH_FAILED"
    assert answer.json() == {"data": {"__typename": "Query"}}
    assert ready.status_code == 503 and "401" in ready.json()["checks"]["kalshi_rest"]


async def test_invalid_tickers_are_refused_before_going_upstream(tmp_path: Path) -> None:
    """Bad tickers end the operation with an error; nothing is subscribed upstream."""
    async with fixed_sim() as sim, running_app(sim, tmp_path) as (_, url):
        async with GraphQLWebSocket.connect(url) as client:
            await client.subscribe("s", TICKERS, {"t": ["not a ticker"]})
            message = await client.receive()
            assert (await client.receive())["type"] == "complete"
    assert message["type"] == "next"
    assert "not a Kalshi market ticker" in message["payload"]["errors"][0]["message"]
    assert sim.ws_connection_count() == 0


async def test_legacy_graphql_ws_protocol_works(tmp_path: Path) -> None:
    """Old clients speaking `graphql-ws` subscribe too."""
    async with fixed_sim() as sim, running_app(sim, tmp_path) as (_, url):
        (a,) = tickers_of(sim, 1)
        async with GraphQLWebSocket.connect(url, protocol="graphql-ws") as client:
            await client.subscribe("s", TICKERS, {"t": [a]})
            (snapshot,) = await drain(client, "s", 1)
            await eventually(lambda: sim.ws_subscribed_tickers() == {a})
            await sim.publish_tick()
            (update,) = await drain(client, "s", 1)
    assert snapshot["marketTicker"] == update["marketTicker"] == a


async def test_subscription_cycles_leave_nothing_behind(tmp_path: Path) -> None:
    """Hundreds of subscribe/complete cycles leave no hub refs, subscribers or tasks."""
    # 300 subscribes from one client: past its rate limit, which is not what this pins.
    async with fixed_sim() as sim, running_app(sim, tmp_path, rate_limit_per_s=0) as (app, url):
        a, b = tickers_of(sim, 2)
        hub: Hub = app.state.hub
        async with GraphQLWebSocket.connect(url) as client:
            await client.subscribe("warm", TICKERS, {"t": [a]})
            await drain(client, "warm", 1)
            await client.complete("warm")
            await eventually(lambda: hub.subscriber_count == 0)
            # The first price came from the REST snapshot: the upstream connection (its reader,
            # writer and keep-alive tasks) may still be opening. Count tasks once it is up.
            await eventually(lambda: app.state.feed.state is FeedState.CONNECTED)
            tasks_before = len(asyncio.all_tasks())
            for i in range(300):
                await client.subscribe(str(i), TICKERS, {"t": [a, b]})
                await drain(client, str(i), 2)
                await client.complete(str(i))
            await eventually(lambda: hub.subscriber_count == 0)
            assert hub.refcounts() == {}
            await eventually(lambda: len(asyncio.all_tasks()) <= tasks_before)
        await eventually(lambda: sim.ws_subscribed_tickers() == set())


async def test_per_connection_subscription_limit(tmp_path: Path) -> None:
    """A socket cannot hold more subscriptions than configured."""
    async with (
        fixed_sim() as sim,
        running_app(sim, tmp_path, max_subscriptions_per_connection=2) as (_, url),
    ):
        (a,) = tickers_of(sim, 1)
        async with GraphQLWebSocket.connect(url) as client:
            for op in ("1", "2", "3"):
                await client.subscribe(op, TICKERS, {"t": [a]})
            seen: dict[str, str] = {}
            while len(seen) < 3:
                message = await client.receive()
                seen.setdefault(message["id"], message["type"])
    assert seen["3"] == "error"
    assert seen["1"] == seen["2"] == "next"


async def test_old_variable_name_and_env_relative_key_path_authenticate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The seed's 401 bug: KALSHI_API_KEY plus a key path relative to .env's folder works."""
    config = tmp_path / "config"
    (config / "keys").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    async with fixed_sim() as sim:
        (config / "keys" / "kalshi.pem").write_bytes(sim.private_key_pem)
        (config / ".env").write_text(
            f"KALSHI_API_KEY={sim.key_id}\n"
            "KALSHI_PRIVATE_KEY_PATH=keys/kalshi.pem\n"
            "KALSHI_ENV=demo\n"
            f"KALSHI_REST_URL={sim.rest_url}\n"
            f"KALSHI_WS_URL={sim.ws_url}\n"
            f"SCOREBOARD_URL={sim.scoreboard_url}\n"
            f"RATINGS_DB_PATH={tmp_path / 'ratings.sqlite3'}\n"
        )
        monkeypatch.chdir(elsewhere)  # the key is not next to the working directory
        settings = load_settings(config / ".env")
        app = create_app(settings, clock=lambda: SUNDAY_NOON_UTC, ratings_refresh_s=None)
        (a,) = tickers_of(sim, 1)
        async with serve(app) as url, GraphQLWebSocket.connect(url) as client:
            await client.subscribe("s", TICKERS, {"t": [a]})
            await drain(client, "s", 1)
            await eventually(lambda: sim.ws_subscribed_tickers() == {a})
            await sim.publish_tick()
            (update,) = await drain(client, "s", 1)
    assert update["marketTicker"] == a
    assert sim.stats.requests["ws_auth_failed"] == 0
    assert sim.stats.requests["ws_connect"] == 1


async def test_queries_over_one_websocket_do_not_share_cached_failures(tmp_path: Path) -> None:
    """A failed prediction in one operation is retried by the next one on the same socket."""
    query = '{ games(league: NBA, date: "2026-11-22") { id prediction { edge } } }'
    async with fixed_sim() as sim, running_app(sim, tmp_path) as (_, url):
        bad = sim.games_for(League.NBA, SUNDAY)[0]["id"]
        sim.faults.failing_summaries.add(bad)
        async with GraphQLWebSocket.connect(url) as client:
            await client.subscribe("1", query, {})
            first = await client.receive()
            assert (await client.receive())["type"] == "complete"
            sim.faults.failing_summaries.clear()
            await client.subscribe("2", query, {})
            second = await client.receive()
    assert [e["path"][0] for e in first["payload"]["errors"]] == ["games"]
    assert "errors" not in second["payload"]
    assert all(g["prediction"] for g in second["payload"]["data"]["games"])


async def test_cross_origin_sockets_are_refused_unless_allowed(tmp_path: Path) -> None:
    """A page from another origin cannot open the socket unless ALLOWED_ORIGINS lists it."""
    async with fixed_sim() as sim:
        async with running_app(sim, tmp_path) as (_, url):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(
                    url.replace("http", "ws") + "/graphql",
                    subprotocols=[Subprotocol("graphql-transport-ws")],
                    origin=Origin("https://evil.example"),
                ):
                    pass
        async with running_app(sim, tmp_path, cors_origins=["https://app.example"]) as (
            _,
            url,
        ):
            async with connect(
                url.replace("http", "ws") + "/graphql",
                subprotocols=[Subprotocol("graphql-transport-ws")],
                origin=Origin("https://app.example"),
            ) as ws:
                assert ws.subprotocol == "graphql-transport-ws"
    assert refused.value.response.status_code == 403


async def test_a_socket_that_never_initialises_is_closed(tmp_path: Path) -> None:
    """Without connection_init within the deadline the server closes with 4408."""
    async with (
        fixed_sim() as sim,
        running_app(sim, tmp_path, connection_init_timeout_s=0.2) as (_, url),
        connect(
            url.replace("http", "ws") + "/graphql",
            subprotocols=[Subprotocol("graphql-transport-ws")],
        ) as ws,
    ):
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4408


async def _closed_with(ws: ClientConnection) -> int:
    """Read until the server closes the socket; its close code."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), timeout=10)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


@asynccontextmanager
async def raw_socket(url: str, protocol: str = "graphql-transport-ws") -> AsyncIterator[Any]:
    """A socket past connection_ack, for sending whatever a test likes."""
    async with connect(
        url.replace("http", "ws") + "/graphql",
        subprotocols=[Subprotocol(protocol)],
        max_size=None,
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
        yield ws


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_a_syntax_error_in_subscribe_is_answered_with_an_error(
    tmp_path: Path, protocol: str
) -> None:
    """The client gets an error with GRAPHQL_PARSE_FAILED (not a bare complete or a close),
    and the socket stays usable."""
    start = "subscribe" if protocol == "graphql-transport-ws" else "start"
    async with fixed_sim() as sim, running_app(sim, tmp_path) as (_, url):
        (a,) = tickers_of(sim, 1)
        async with raw_socket(url, protocol) as ws:
            bad = {"query": "subscription { tickerUpdates(", "variables": {}}
            await ws.send(json.dumps({"id": "bad", "type": start, "payload": bad}))
            while (error := json.loads(await asyncio.wait_for(ws.recv(), 10)))["type"] == "ka":
                pass
            good = {"query": TICKERS, "variables": {"t": [a]}}
            await ws.send(json.dumps({"id": "good", "type": start, "payload": good}))
            while (update := json.loads(await asyncio.wait_for(ws.recv(), 10)))["type"] == "ka":
                pass
    assert error["type"] == "error" and error["id"] == "bad"
    payload = error["payload"]
    first = payload[0] if isinstance(payload, list) else payload
    assert first["message"].startswith("Syntax Error")
    assert first["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert (
        update["id"] == "good" and update["payload"]["data"]["tickerUpdates"]["marketTicker"] == a
    )


MALFORMED = [
    pytest.param("graphql-transport-ws", "not json", 4400, id="transport-not-json"),
    pytest.param("graphql-transport-ws", "[1, 2]", 4400, id="transport-array"),
    pytest.param("graphql-transport-ws", '{"type": 7}', 4400, id="transport-numeric-type"),
    pytest.param("graphql-transport-ws", '{"type": "bogus"}', 4400, id="transport-unknown-type"),
    pytest.param(
        "graphql-transport-ws",
        '{"type": "subscribe", "id": 1, "payload": {"query": "{ __typename }"}}',
        4400,
        id="transport-numeric-id",
    ),
    pytest.param(
        "graphql-transport-ws", '{"type": "subscribe", "id": "1"}', 4400, id="transport-no-payload"
    ),
    pytest.param(
        "graphql-transport-ws",
        '{"type": "subscribe", "id": "1", "payload": {"query": "{ __typename }", '
        '"variables": [1]}}',
        4400,
        id="transport-variables-list",
    ),
    pytest.param("graphql-transport-ws", '{"type": "connection_init"}', 4429, id="second-init"),
    pytest.param("graphql-transport-ws", "x" * 70_000, 1009, id="transport-huge"),
    pytest.param("graphql-ws", "[1]", 4400, id="legacy-array"),
    pytest.param("graphql-ws", '{"type": "start", "id": "1"}', 4400, id="legacy-no-payload"),
    pytest.param("graphql-ws", '{"type": "stop", "id": null}', 4400, id="legacy-null-id"),
    pytest.param("graphql-ws", "y" * 70_000, 1009, id="legacy-huge"),
]


@pytest.mark.parametrize(("protocol", "raw", "code"), MALFORMED)
async def test_malformed_messages_close_only_their_socket(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, protocol: str, raw: str, code: int
) -> None:
    """A malformed message closes that socket with a protocol code, logs no error, and a
    concurrent subscriber keeps getting updates."""
    async with fixed_sim() as sim, running_app(sim, tmp_path) as (app, url):
        (a,) = tickers_of(sim, 1)
        async with GraphQLWebSocket.connect(url) as good:
            await good.subscribe("s", TICKERS, {"t": [a]})
            await drain(good, "s", 1)
            async with raw_socket(url, protocol) as ws:
                await ws.send(raw)
                closed = await _closed_with(ws)
            await eventually(lambda: sim.ws_subscribed_tickers() == {a})
            await sim.publish_tick()
            (update,) = await drain(good, "s", 1)
    assert closed == code
    assert update["marketTicker"] == a
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_reused_live_id_closes_with_4409(tmp_path: Path) -> None:
    """Subscribing twice under one live id is a protocol violation (4409)."""
    async with fixed_sim() as sim, running_app(sim, tmp_path) as (_, url):
        (a,) = tickers_of(sim, 1)
        async with raw_socket(url) as ws:
            message = {
                "id": "x",
                "type": "subscribe",
                "payload": {"query": TICKERS, "variables": {"t": [a]}},
            }
            await ws.send(json.dumps(message))
            await ws.send(json.dumps(message))
            assert await _closed_with(ws) == 4409


def operation_tasks() -> int:
    """Server tasks running a GraphQL operation (one per live subscription)."""
    return sum(
        getattr(t.get_coro(), "__qualname__", "").endswith("run_operation")
        for t in asyncio.all_tasks()
    )


async def test_a_subscribe_flood_cannot_grow_server_state(tmp_path: Path) -> None:
    """5,000 subscribes (huge, reused-id and over-the-cap ones) hold at most the cap of hub
    subscribers and operation tasks, every refusal is an error message, and another client keeps
    getting updates throughout."""
    cap = 5
    async with (
        fixed_sim() as sim,
        # No rate limit: this flood is about the per-socket cap (the limit has its own tests).
        running_app(sim, tmp_path, max_subscriptions_per_connection=cap, rate_limit_per_s=0) as (
            app,
            url,
        ),
    ):
        hub: Hub = app.state.hub
        tickers = tickers_of(sim, 2)
        async with GraphQLWebSocket.connect(url) as good:
            await good.subscribe("s", TICKERS, {"t": tickers[:1]})
            await drain(good, "s", 1)
            peak = {"subscribers": 0, "operations": 0}
            stop = asyncio.Event()

            async def sample() -> None:
                while not stop.is_set():
                    peak["subscribers"] = max(peak["subscribers"], hub.subscriber_count)
                    peak["operations"] = max(peak["operations"], operation_tasks())
                    await asyncio.sleep(0.001)

            sampler = asyncio.create_task(sample())
            refused: list[str] = []
            async with raw_socket(url) as flood:

                async def read() -> None:
                    async for raw in flood:
                        message = json.loads(raw)
                        if message["type"] == "error":
                            refused.append(message["payload"][0]["extensions"]["code"])

                reader = asyncio.create_task(read())
                huge = ["KX" + "A" * 98] * 590  # just under the 64 KiB message limit
                for i in range(5_000):
                    variables = {"t": huge} if i % 1000 == 999 else {"t": tickers}
                    payload = {"query": TICKERS, "variables": variables}
                    # Ids repeat, but only ids whose subscribe was refused (a live one is 4409).
                    op_id = str(i) if i < cap else str(cap + i % 3_000)
                    await flood.send(
                        json.dumps({"id": op_id, "type": "subscribe", "payload": payload})
                    )
                await eventually(lambda: len(refused) >= 5_000 - cap, timeout=60)
                # The flood's first `cap` subscriptions are live: that is all it holds.
                await eventually(lambda: hub.subscriber_count == operation_tasks() == cap + 1)
                await sim.publish_tick()
                assert {u["marketTicker"] for u in await drain(good, "s", 1)} == {tickers[0]}
                reader.cancel()
            stop.set()
            await sampler
            await eventually(lambda: hub.subscriber_count == 1)
            await eventually(lambda: operation_tasks() == 1)
    assert peak["subscribers"] <= cap + 1
    assert peak["operations"] <= cap + 1
    assert set(refused) == {"TOO_MANY_SUBSCRIPTIONS"}


@pytest.mark.parametrize(
    ("protocol", "code"), [("graphql-transport-ws", 4400), ("graphql-ws", 1002)]
)
async def test_binary_frames_close_the_socket(tmp_path: Path, protocol: str, code: int) -> None:
    """Both protocols are text-only: a binary frame closes the socket."""
    async with fixed_sim() as sim, running_app(sim, tmp_path) as (_, url):
        async with raw_socket(url, protocol) as ws:
            await ws.send(b"\x00\x01binary")
            assert await _closed_with(ws) == code


async def test_legacy_protocol_answers_what_it_cannot_run(tmp_path: Path) -> None:
    """On legacy graphql-ws: non-JSON is ignored, a query is refused with a validation code,
    a too-large query and a start past the cap get coded errors; the socket stays usable."""
    async with (
        fixed_sim() as sim,
        running_app(sim, tmp_path, max_subscriptions_per_connection=1, max_query_bytes=256) as (
            _,
            url,
        ),
    ):
        (a,) = tickers_of(sim, 1)
        async with raw_socket(url, "graphql-ws") as ws:

            async def start(op_id: str, query: str, variables: dict[str, Any]) -> None:
                payload = {"query": query, "variables": variables}
                await ws.send(json.dumps({"id": op_id, "type": "start", "payload": payload}))

            async def next_message() -> dict[str, Any]:
                while (m := json.loads(await asyncio.wait_for(ws.recv(), 10)))["type"] == "ka":
                    pass
                return m  # type: ignore[no-any-return]

            await ws.send("not json")
            await start("q", "{ __typename }", {})
            query = await next_message()
            await start("big", "subscription { __typename # " + "x" * 300 + "\n}", {})
            big = await next_message()
            await start("s", TICKERS, {"t": [a]})
            data = await next_message()
            await start("over", TICKERS, {"t": [a]})
            over = await next_message()
    assert (query["id"], query["payload"]["extensions"]["code"]) == (
        "q",
        "GRAPHQL_VALIDATION_FAILED",
    )
    assert (big["id"], big["payload"]["extensions"]["code"]) == ("big", "QUERY_TOO_LARGE")
    assert data["type"] == "data" and data["id"] == "s"
    assert (over["id"], over["payload"]["extensions"]["code"]) == ("over", "TOO_MANY_SUBSCRIPTIONS")


async def test_a_too_large_query_over_graphql_transport_ws_is_an_error_message(
    tmp_path: Path,
) -> None:
    """MAX_QUERY_BYTES applies to WebSocket operations too, as an error for that id."""
    async with (
        fixed_sim() as sim,
        running_app(sim, tmp_path, max_query_bytes=256) as (_, url),
        GraphQLWebSocket.connect(url) as client,
    ):
        await client.subscribe("big", "{ __typename # " + "x" * 300 + "\n}", {})
        message = await client.receive()
        await client.subscribe("ok", "{ __typename }", {})
        ok = await client.receive()
    assert message["type"] == "error" and message["id"] == "big"
    assert message["payload"][0]["extensions"]["code"] == "QUERY_TOO_LARGE"
    assert ok["payload"] == {"data": {"__typename": "Query"}}


async def test_a_slow_query_over_a_socket_times_out_while_its_subscription_goes_on(
    tmp_path: Path,
) -> None:
    """QUERY_TIMEOUT_S holds for queries sent over a WebSocket too; subscriptions are exempt."""
    async with fixed_sim() as sim, running_app(sim, tmp_path, query_timeout_s=0.5) as (_, url):
        (ticker,) = tickers_of(sim, 1)
        async with GraphQLWebSocket.connect(url) as client:
            await client.subscribe("s", TICKERS, {"t": [ticker]})
            assert len(await drain(client, "s", 1)) == 1
            sim.faults.latency_s = 2.0
            await client.subscribe("q", '{ games(league: NFL, date: "2026-11-22") { id } }', {})
            answer, end = await client.receive(), await client.receive()
            sim.faults.latency_s = 0.0
            await sim.publish_tick()
            (update,) = await drain(client, "s", 1)
    assert answer["id"] == "q" and answer["type"] == "next"
    (error,) = answer["payload"]["errors"]
    assert error["extensions"]["code"] == "TIMEOUT"
    assert end == {"id": "q", "type": "complete"}
    assert update["marketTicker"] == ticker


@pytest.mark.parametrize("sort_by", ["EDGE", "CONFIDENCE"])
async def test_sorting_by_prediction_over_a_socket_predicts_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, sort_by: str
) -> None:
    """Over a WebSocket (loaders without cache) sorting reuses the predictions it loaded:
    one batch, and a failed game's one error, last in the order."""
    query = (
        f'{{ games(league: NBA, date: "2026-11-22", sortBy: {sort_by}) '
        "{ id prediction { edge } } }"
    )
    async with fixed_sim() as sim, running_app(sim, tmp_path) as (_, url):
        bad = sim.games_for(League.NBA, SUNDAY)[0]["id"]
        sim.faults.failing_summaries.add(bad)
        caplog.set_level(logging.INFO, logger="graph.games")
        async with GraphQLWebSocket.connect(url) as client:
            await client.subscribe("1", query, {})
            answer = await client.receive()
    batches = [r for r in caplog.records if r.getMessage().startswith("Generating predictions")]
    assert len(batches) == 1
    games = answer["payload"]["data"]["games"]
    (error,) = answer["payload"]["errors"]
    assert error["path"] == ["games", len(games) - 1, "prediction"]
    assert games[-1]["id"].endswith(f".{bad}") and games[-1]["prediction"] is None
    assert all(g["prediction"] is not None for g in games[:-1])


async def test_never_traded_markets_stream_no_probability(tmp_path: Path) -> None:
    """Over the subscription too, a never-traded market's updates carry impliedProbability
    null (snapshot and live ticks alike), while a traded market's carry its probability."""
    slates = Slates(0)
    untraded = next(
        g
        for offset in range(120)
        for g in slates.games(League.NBA, SUNDAY + timedelta(days=offset))
        if g.never_traded
    )
    traded = next(g for g in slates.games(League.NBA, SUNDAY) if not g.never_traded)
    wanted = [untraded.home_ticker, traded.home_ticker]
    query = """
    subscription ($t: [String!]!) {
      tickerUpdates(marketTickers: $t) { marketTicker price volume impliedProbability }
    }
    """
    async with fixed_sim() as sim, running_app(sim, tmp_path) as (_, url):
        async with GraphQLWebSocket.connect(url) as client:
            await client.subscribe("1", query, {"t": wanted})
            snapshot = await drain(client, "1", 2)
            await eventually(lambda: sim.ws_subscribed_tickers() == set(wanted))
            await sim.publish_tick()
            live = await drain(client, "1", 2)
    for updates in (snapshot, live):
        by_ticker = {u["marketTicker"]: u for u in updates}
        assert by_ticker[untraded.home_ticker]["impliedProbability"] is None
        assert by_ticker[untraded.home_ticker]["volume"] == 0.0
        assert 0 < by_ticker[traded.home_ticker]["impliedProbability"] < 1
