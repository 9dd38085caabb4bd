"""Clients nobody on this team wrote, against the real server on loopback with the simulator.

Python's ``gql`` over HTTP and over WebSocket (both subprotocols), and the npm clients run with
Node: ``graphql-ws`` (``graphql-transport-ws``) and Apollo's old ``subscriptions-transport-ws``
(legacy ``graphql-ws``). The Node scripts live in ``tests/clients/``; a missing ``node`` or
``node_modules`` is a failure, never a skip.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport

from graph.live.hub import Hub
from graph.models import League
from graph.sim import Simulator
from tests.e2e import eventually, running_app
from tests.test_subscriptions import SUNDAY, TICKERS, fixed_sim, tickers_of

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = ROOT / "tests" / "clients"
NODE_TIMEOUT_S = 30.0

GAMES = """
query ($league: League!, $date: Date) {
  games(league: $league, date: $date) {
    id home { code } away { code }
    markets { ticker team yesBid yesAsk }
    prediction { homeWinProbability marketHomeWinProbability edge confidence }
  }
}
"""


@pytest.fixture(scope="session")
def node() -> str:
    """The ``node`` binary (Node >= 20) with the npm clients installed next to the repo."""
    found = shutil.which("node")
    if found is None:
        pytest.fail("`node` is not on PATH: the npm client tests need Node >= 20 (and npm)")
    version = subprocess.run([found, "--version"], capture_output=True, text=True, check=True)
    major = int(version.stdout.strip().lstrip("v").split(".")[0])
    if major < 20:
        pytest.fail(f"Node {version.stdout.strip()} is too old: graphql-ws needs Node >= 20")
    for package in ("graphql-ws", "ws", "subscriptions-transport-ws"):
        if not (ROOT / "node_modules" / package).is_dir():
            pytest.fail(f"node_modules/{package} is missing: run `npm ci` (make test does)")
    return found


@asynccontextmanager
async def node_script(
    node: str, script: str, *args: str, token: str | None = None
) -> AsyncIterator[NodeProcess]:
    """Run ``tests/clients/<script>``; kill it on the way out if it is still running."""
    env = {k: v for k, v in os.environ.items() if k != "GRAPH_API_TOKEN"}
    if token is not None:
        env["GRAPH_API_TOKEN"] = token
    process = await asyncio.create_subprocess_exec(
        node,
        str(CLIENTS / script),
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield NodeProcess(process)
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


class NodeProcess:
    """A running client script: its JSON lines on stdout, its exit code and stderr."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def line(self) -> Any:
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(self.process.stdout.readline(), NODE_TIMEOUT_S)
        if not raw:
            code, stderr = await self.finish()
            pytest.fail(f"the client exited ({code}) before printing a line: {stderr}")
        return json.loads(raw)

    async def finish(self) -> tuple[int, str]:
        """Wait for the exit; the exit code and stderr."""
        assert self.process.stderr is not None
        stderr = await asyncio.wait_for(self.process.stderr.read(), NODE_TIMEOUT_S)
        code = await asyncio.wait_for(self.process.wait(), NODE_TIMEOUT_S)
        return code, stderr.decode()


def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://") + "/graphql"


def simulated_game_ids(sim: Simulator) -> set[str]:
    """Our ids of the simulator's NBA games on SUNDAY (league, date, ESPN id)."""
    return {f"NBA.{SUNDAY:%Y%m%d}.{g['id']}" for g in sim.games_for(League.NBA, SUNDAY)}


def assert_sane_update(update: dict[str, Any]) -> None:
    assert 0 <= update["yesBid"] <= update["yesAsk"] <= 1, update
    assert update["ts"], update


# --- gql (Python) -------------------------------------------------------------------------------


async def test_gql_over_http_answers_games_with_markets_and_predictions(tmp_path: Path) -> None:
    """gql's HTTPX transport gets every simulated game with its two markets and a prediction."""
    async with fixed_sim() as sim, running_app(sim, tmp_path) as (_, url):
        transport = HTTPXAsyncTransport(url=url + "/graphql", timeout=30)
        async with Client(transport=transport) as session:
            request = GraphQLRequest(GAMES, variable_values={"league": "NBA", "date": "2026-11-22"})
            result = await session.execute(request)
        expected = simulated_game_ids(sim)
    games = result["games"]
    assert {g["id"] for g in games} == expected and expected
    for game in games:
        assert {m["team"] for m in game["markets"]} == {game["home"]["code"], game["away"]["code"]}
        prediction = game["prediction"]
        assert 0 <= prediction["homeWinProbability"] <= 1
        assert 0 <= prediction["marketHomeWinProbability"] <= 1
        assert prediction["edge"] == pytest.approx(
            prediction["homeWinProbability"] - prediction["marketHomeWinProbability"], abs=2e-3
        )


async def test_gql_over_http_raises_the_servers_error(tmp_path: Path) -> None:
    """An unknown league surfaces as gql's TransportQueryError carrying the server's message."""
    async with fixed_sim() as sim, running_app(sim, tmp_path) as (_, url):
        transport = HTTPXAsyncTransport(url=url + "/graphql", timeout=30)
        async with Client(transport=transport) as session:
            with pytest.raises(TransportQueryError) as raised:
                await session.execute(GraphQLRequest("{ games(league: CRICKET) { id } }"))
    assert raised.value.errors is not None
    message = raised.value.errors[0]["message"]
    assert "CRICKET" in message and "League" in message


async def test_gql_over_websocket_runs_a_query(tmp_path: Path) -> None:
    """gql's websockets transport with graphql-transport-ws answers a games query."""
    async with fixed_sim() as sim, running_app(sim, tmp_path) as (_, url):
        transport = WebsocketsTransport(
            url=ws_url(url), subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL]
        )
        async with Client(transport=transport) as session:
            request = GraphQLRequest(GAMES, variable_values={"league": "NBA", "date": "2026-11-22"})
            result = await session.execute(request)
        expected = simulated_game_ids(sim)
    assert transport.subprotocol == "graphql-transport-ws"
    assert {g["id"] for g in result["games"]} == expected and expected
    assert all(g["prediction"] is not None and len(g["markets"]) == 2 for g in result["games"])


@pytest.mark.parametrize(
    "subprotocol",
    [
        pytest.param(WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL, id="graphql-transport-ws"),
        pytest.param(WebsocketsTransport.APOLLO_SUBPROTOCOL, id="legacy-graphql-ws"),
    ],
)
async def test_gql_subscription_streams_updates_then_unsubscribes(
    tmp_path: Path, subprotocol: str
) -> None:
    """gql receives the snapshot and a tick for its tickers; leaving the loop frees the hub."""
    async with fixed_sim() as sim, running_app(sim, tmp_path) as (app, url):
        hub: Hub = app.state.hub
        a, b = tickers_of(sim, 2)
        transport = WebsocketsTransport(url=ws_url(url), subprotocols=[subprotocol])
        received: list[dict[str, Any]] = []
        async with Client(transport=transport) as session:
            request = GraphQLRequest(TICKERS, variable_values={"t": [a, b]})
            async with aclosing(session.subscribe(request)) as stream:
                async for result in stream:
                    received.append(result["tickerUpdates"])
                    if len(received) == 2:
                        await eventually(lambda: sim.ws_subscribed_tickers() == {a, b})
                        await sim.publish_tick()
                    if len(received) == 4:
                        break
            await eventually(lambda: hub.subscriber_count == 0)
            await eventually(lambda: sim.ws_subscribed_tickers() == set())
            assert hub.refcounts() == {}
    assert transport.subprotocol == subprotocol
    assert sorted(u["marketTicker"] for u in received) == sorted([a, b, a, b])
    for update in received:
        assert_sane_update(update)


# --- npm clients, run with Node -----------------------------------------------------------------


# The same script interface in both protocols: graphql-transport-ws and the legacy graphql-ws.
NPM_SUBSCRIBERS = pytest.mark.parametrize(
    "script",
    [
        pytest.param("subscribe.mjs", id="graphql-ws"),
        pytest.param("legacy.mjs", id="subscriptions-transport-ws"),
    ],
)


async def stream_through_node(
    node: str, script: str, sim: Simulator, url: str, hub: Hub
) -> tuple[list[dict[str, Any]], int, str]:
    """Two tickers' snapshot, one tick, then the script's exit: (updates, exit code, stderr)."""
    a, b = tickers_of(sim, 2)
    async with node_script(node, script, ws_url(url), f"{a},{b}", "4") as client:
        updates = [await client.line(), await client.line()]
        assert {u["marketTicker"] for u in updates} == {a, b}
        await eventually(lambda: sim.ws_subscribed_tickers() == {a, b})
        await sim.publish_tick()
        updates += [await client.line(), await client.line()]
        code, stderr = await client.finish()
    await eventually(lambda: hub.subscriber_count == 0)
    await eventually(lambda: sim.ws_subscribed_tickers() == set())
    assert sorted(u["marketTicker"] for u in updates) == sorted([a, b, a, b])
    return updates, code, stderr


@pytest.mark.npm
@NPM_SUBSCRIBERS
async def test_npm_client_streams_ticker_updates(node: str, tmp_path: Path, script: str) -> None:
    """The npm client prints the snapshot and a tick of its tickers, exits 0 and unsubscribes."""
    async with fixed_sim() as sim, running_app(sim, tmp_path) as (app, url):
        updates, code, stderr = await stream_through_node(node, script, sim, url, app.state.hub)
    assert (code, stderr) == (0, "")
    for update in updates:
        assert_sane_update(update)


@pytest.mark.npm
@NPM_SUBSCRIBERS
async def test_npm_client_exits_non_zero_with_the_servers_error(
    node: str, tmp_path: Path, script: str
) -> None:
    """A refused ticker makes the client script fail with the server's message."""
    async with fixed_sim() as sim, running_app(sim, tmp_path) as (_, url):
        async with node_script(node, script, ws_url(url), "not a ticker", "1") as client:
            code, stderr = await client.finish()
        assert sim.ws_connection_count() == 0
    assert code == 1
    assert "not a Kalshi market ticker" in stderr


@pytest.mark.npm
@pytest.mark.parametrize(
    ("token", "accepted"),
    [pytest.param("s3cret-token", True, id="right-token"), pytest.param("nope", False, id="wrong")],
)
async def test_graphql_ws_npm_client_sends_the_api_token(
    node: str, tmp_path: Path, token: str, accepted: bool
) -> None:
    """With GRAPH_API_TOKENS set, the README's connectionParams get the client in, or not."""
    async with (
        fixed_sim() as sim,
        running_app(sim, tmp_path, graph_api_tokens=["s3cret-token"]) as (_, url),
    ):
        (ticker,) = [m["ticker"] for m in sim.markets_for(League.NBA, SUNDAY)[:1]]
        async with node_script(node, "subscribe.mjs", ws_url(url), ticker, "1", token=token) as c:
            printed = [await c.line()] if accepted else []
            code, stderr = await c.finish()
    if accepted:
        assert (code, stderr) == (0, "") and printed[0]["marketTicker"] == ticker
    else:
        assert code == 1 and "4403" in stderr and token not in stderr


@pytest.mark.npm
async def test_graphql_ws_npm_client_runs_a_query(node: str, tmp_path: Path) -> None:
    """A query over graphql-ws from Node returns the simulated games with predictions."""
    query = '{ games(league: NBA, date: "2026-11-22") { id prediction { edge } } }'
    async with fixed_sim() as sim, running_app(sim, tmp_path) as (_, url):
        async with node_script(node, "query.mjs", ws_url(url), query) as client:
            result = await client.line()
            code, stderr = await client.finish()
        expected = simulated_game_ids(sim)
    assert (code, stderr) == (0, "")
    assert "errors" not in result
    assert {g["id"] for g in result["data"]["games"]} == expected and expected
    assert all(g["prediction"] is not None for g in result["data"]["games"])


def test_readme_graphql_ws_example_is_the_tested_script() -> None:
    """The README's plain graphql-ws example is, verbatim, the core of subscribe.mjs."""
    script = (CLIENTS / "subscribe.mjs").read_text()
    core = re.search(r"// README example: begin\n(.*?)// README example: end\n", script, re.S)
    assert core is not None
    readme = (ROOT / "README.md").read_text()
    assert core.group(1) in readme
