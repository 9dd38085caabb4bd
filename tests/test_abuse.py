"""The attacks of issue 18, replayed against the real service: one test per finding.

Each of these failed before the fixes (see the issue's report). Processes that a test must
be able to block, stall or signal run as ``python -m graph`` in a subprocess, so that a
regression fails the test instead of freezing the test run.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from graph.models import League
from graph.sim import Simulator
from tests.e2e import (
    SUNDAY_NOON_UTC,
    GraphQLWebSocket,
    app_on,
    eventually,
    gql,
    running_app,
)

pytestmark = pytest.mark.e2e

SUNDAY = date(2026, 11, 22)
TICKERS = "subscription ($t: [String!]!) { tickerUpdates(marketTickers: $t) { marketTicker } }"
# What the service answers for refused operations, by limit (graph.api.cost).
COST_CODES = {
    "QUERY_TOO_DEEP",
    "TOO_MANY_ALIASES",
    "TOO_MANY_FIELDS",
    "TOO_MANY_ROOT_FIELDS",
    "TOO_MANY_NODES",
    "QUERY_TOO_EXPENSIVE",
}


def fixed_sim(**kwargs: Any) -> Simulator:
    return Simulator(clock=lambda: SUNDAY_NOON_UTC, tick_interval_s=None, **kwargs)


def bomb(levels: int) -> str:
    """The issue's 917-byte freeze at 22 levels: each fragment spreads the next one twice."""
    chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels))
    return f"query Bomb {{ ...F0 }} {chain} fragment F{levels} on Query {{ __typename }}"


def real_tickers(sim: Simulator, count: int | None = None) -> list[str]:
    """Market tickers the simulator lists for SUNDAY, every league."""
    found = [m["ticker"] for league in League for m in sim.markets_for(league, SUNDAY)]
    return found if count is None else found[:count]


def codes(body: dict[str, Any]) -> set[str]:
    return {e["extensions"]["code"] for e in body.get("errors", [])}


# --- python -m graph in a subprocess --------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def service_env(tmp_path: Path, port: int, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KALSHI_", "SCOREBOARD"))}
    env.update(
        HOST="127.0.0.1",
        PORT=str(port),
        RATINGS_DB_PATH=str(tmp_path / "ratings.sqlite3"),
        **settings,
    )
    return env


class Service:
    """``python -m graph`` (or ``args``) on a free port; its output goes to a file."""

    def __init__(
        self, tmp_path: Path, args: list[str] | None = None, settings: dict[str, str] | None = None
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / f"service-{self.port}.log"
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, *(args or ["-m", "graph"])],
            cwd=tmp_path,
            env=service_env(tmp_path, self.port, **(settings or {})),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()

    def wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1):
                    return
            except OSError:
                assert self.proc.poll() is None, self.log()
                assert time.monotonic() < deadline, "server did not come up\n" + self.log()
                time.sleep(0.05)  # polling a real process's port: there is no event to wait on

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()  # a regression left it spinning: do not hang the test run
                self.proc.wait()
        self._log.close()


@contextmanager
def service(tmp_path: Path, **settings: str) -> Iterator[Service]:
    running = Service(tmp_path, settings=settings)
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


# --- 1. Validation that cannot blow up -----------------------------------------------


async def test_fragment_bombs_are_refused_at_once_while_healthz_answers(tmp_path: Path) -> None:
    """Twenty 22- and 30-level fragment bombs at once (no token needed) are each refused
    with a limit's code, and /healthz answers meanwhile: nothing freezes the process."""
    with service(tmp_path) as svc:
        async with httpx.AsyncClient(base_url=svc.url, timeout=15) as client:
            bombs = [
                asyncio.create_task(client.post("/graphql", json={"query": bomb(levels)}))
                for levels in [22, 30] * 10
            ]
            health = await client.get("/healthz")
            answers = await asyncio.gather(*bombs)
    assert health.status_code == 200
    for answer in answers:
        assert answer.status_code in (200, 400)
        refused = codes(answer.json())
        assert refused and refused <= COST_CODES, answer.text


async def test_a_fragment_bomb_over_a_websocket_is_an_error_message(tmp_path: Path) -> None:
    """The same bomb as a graphql-transport-ws subscribe gets an `error` message with a
    limit's code; the socket stays open for the next operation."""
    with service(tmp_path) as svc:
        async with GraphQLWebSocket.connect(svc.url) as ws:
            await ws.subscribe("b", bomb(30), {})
            refused = await ws.receive(timeout=15)
            await ws.subscribe("t", "{ __typename }", {})
            typename = await ws.receive(timeout=15)
    assert refused["type"] == "error" and refused["id"] == "b"
    assert {e["extensions"]["code"] for e in refused["payload"]} <= COST_CODES
    assert typename["payload"] == {"data": {"__typename": "Query"}}


# --- 2. Legacy graphql-ws under the same rules ----------------------------------------


async def _silent_legacy(url: str) -> ClientConnection:
    return await connect(
        url.replace("http", "ws") + "/graphql", subprotocols=[Subprotocol("graphql-ws")]
    )


async def _close_code(ws: ClientConnection, timeout: float = 10) -> int | None:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    return closed.value.rcvd.code if closed.value.rcvd else None


async def test_silent_legacy_sockets_are_closed_by_the_init_deadline(tmp_path: Path) -> None:
    """100 legacy sockets that never send connection_init fill MAX_WS_CONNECTIONS only
    until the init deadline: they are closed with 4408, and others get in again."""
    async with (
        fixed_sim() as sim,
        running_app(sim, tmp_path, connection_init_timeout_s=0.5, max_ws_connections=100) as (
            _,
            url,
        ),
    ):
        silent = await asyncio.gather(*(_silent_legacy(url) for _ in range(100)))
        with pytest.raises(InvalidStatus) as full:
            await _silent_legacy(url)
        closed = await asyncio.gather(*(_close_code(ws) for ws in silent))
        ticker = real_tickers(sim, 1)[0]
        async with GraphQLWebSocket.connect(url, "graphql-ws") as late:
            await late.subscribe("t", TICKERS, {"t": [ticker]})
            answer = await late.receive()
    assert full.value.response.status_code == 503
    assert closed == [4408] * 100
    assert answer["payload"]["data"]["tickerUpdates"]["marketTicker"] == ticker


async def test_a_second_legacy_init_closes_the_socket_with_4429(tmp_path: Path) -> None:
    """One connection_init per legacy socket, as graphql-transport-ws: the second closes it."""
    async with fixed_sim() as sim, running_app(sim, tmp_path) as (_, url):
        ws = await _silent_legacy(url)
        for _ in range(2):
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        assert await _close_code(ws) == 4429


async def test_abusive_legacy_sessions_leave_no_task_behind(tmp_path: Path) -> None:
    """1,000 legacy sessions that init three times and vanish leave the task count where it
    was: keep-alive tasks end with their socket (they used to outlive it, forever)."""
    async with fixed_sim() as sim, running_app(sim, tmp_path, ws_keepalive_s=60) as (_, url):

        async def abuse() -> None:
            ws = await _silent_legacy(url)
            for _ in range(3):
                await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            ws.transport.abort()  # gone without a close frame
            await ws.wait_closed()

        baseline = len(asyncio.all_tasks())
        for _ in range(50):
            await asyncio.gather(*(abuse() for _ in range(20)))
        await eventually(lambda: len(asyncio.all_tasks()) <= baseline, timeout=30)


# --- 3. A feed that protects itself ---------------------------------------------------


async def _next_update(ws: GraphQLWebSocket, op_id: str, timeout: float = 10) -> str:
    message = await ws.receive(timeout)
    assert message["type"] == "next" and message["id"] == op_id, message
    assert "errors" not in message["payload"], message
    ticker: str = message["payload"]["data"]["tickerUpdates"]["marketTicker"]
    return ticker


async def _refusal(ws: GraphQLWebSocket, op_id: str, timeout: float = 10) -> dict[str, Any]:
    """The error that ends ``op_id`` (skipping updates of other operations)."""
    while True:
        message = await ws.receive(timeout)
        if message["id"] != op_id:
            continue
        errors = message["payload"] if message["type"] == "error" else None
        if message["type"] == "next":
            errors = message["payload"].get("errors")
        if errors:
            return dict(errors[0])


async def _tick_delivered(
    sim: Simulator, ws: GraphQLWebSocket, op_id: str, tickers: list[str], timeout: float = 10
) -> None:
    """One tick, and every one of ``tickers`` updated for ``op_id`` before it returns."""
    await sim.publish_tick()
    seen: set[str] = set()
    while not seen >= set(tickers):
        seen.add(await _next_update(ws, op_id, timeout))


async def _ticks_reach(
    sim: Simulator, ws: GraphQLWebSocket, op_id: str, tickers: list[str], ticks: int
) -> None:
    """``ticks`` ticks in a row, each delivered in full before the next is sent."""
    for _ in range(ticks):
        await _tick_delivered(sim, ws, op_id, tickers)


@asynccontextmanager
async def subscribed(
    url: str, tickers: list[str], op_id: str = "s"
) -> AsyncIterator[GraphQLWebSocket]:
    """A socket subscribed to ``tickers``, past their snapshot (one price per ticker)."""
    async with GraphQLWebSocket.connect(url) as ws:
        await ws.subscribe(op_id, TICKERS, {"t": tickers})
        for _ in tickers:
            await _next_update(ws, op_id)
        yield ws


async def test_the_upstream_ticker_cap_refuses_the_newest_and_prices_keep_flowing(
    tmp_path: Path,
) -> None:
    """Past MAX_UPSTREAM_TICKERS distinct tickers the newest subscription is refused with a
    clear, coded error; upstream never holds more; the existing subscriber keeps its prices."""
    async with fixed_sim() as sim, running_app(sim, tmp_path, max_upstream_tickers=6) as (_, url):
        tickers = real_tickers(sim, 7)
        async with subscribed(url, tickers[:2]) as legit:
            await eventually(lambda: sim.ws_subscribed_tickers() == set(tickers[:2]))
            async with GraphQLWebSocket.connect(url) as attacker:
                await attacker.subscribe("a", TICKERS, {"t": tickers[2:]})
                error = await _refusal(attacker, "a")
                assert sim.ws_subscribed_tickers() == set(tickers[:2])
                await _ticks_reach(sim, legit, "s", tickers[:2], 3)
    assert error["extensions"]["code"] == "TOO_MANY_UPSTREAM_TICKERS"
    assert "6" in error["message"]


async def _metric(url: str, name: str) -> float:
    async with httpx.AsyncClient(base_url=url) as client:
        text = (await client.get("/metrics")).text
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


async def test_kalshis_market_limit_sheds_the_newest_without_a_reconnect_loop(
    tmp_path: Path,
) -> None:
    """When Kalshi refuses more markets (error 26) the newest subscription is refused and
    the feed stays on its connection: no reconnect, the older subscriber's ticks go on."""
    async with fixed_sim() as sim, running_app(sim, tmp_path) as (_, url):
        sim.faults.ws_market_limit = 4
        tickers = real_tickers(sim, 6)
        async with subscribed(url, tickers[:2]) as legit:
            async with GraphQLWebSocket.connect(url) as attacker:
                await attacker.subscribe("a", TICKERS, {"t": tickers[2:]})
                error = await _refusal(attacker, "a")
                await _ticks_reach(sim, legit, "s", tickers[:2], 3)
                assert sim.ws_subscribed_tickers() == set(tickers[:2])
            connects = await _metric(url, "kalshi_graph_feed_connects_total")
            refusals = await _metric(url, 'kalshi_graph_feed_errors_total{code="26"}')
    assert error["extensions"]["code"] == "TOO_MANY_UPSTREAM_TICKERS"
    assert connects == 1
    assert refusals >= 1


async def test_a_resubscribe_after_a_reconnect_goes_in_chunks(tmp_path: Path) -> None:
    """After the upstream drops, the feed subscribes its 150 tickers again in commands of
    at most 100 markets each, not in one command naming all of them."""
    async with fixed_sim() as sim, running_app(sim, tmp_path) as (_, url):
        tickers = real_tickers(sim, 150)
        assert len(tickers) == 150
        async with (
            subscribed(url, tickers[:50], "a") as a,
            subscribed(url, tickers[50:100], "b"),
            subscribed(url, tickers[100:], "c"),
        ):
            await eventually(lambda: len(sim.ws_subscribed_tickers()) == 150)
            sim.stats.ws_commands.clear()
            await sim.drop_ws_connections()
            await eventually(lambda: len(sim.ws_subscribed_tickers()) == 150, timeout=20)
            await sim.publish_tick(tickers[0])
            assert await _next_update(a, "a") == tickers[0]
            sizes = [markets for _, markets in sim.stats.ws_commands]
    assert sum(sizes) == 150 and len(sizes) >= 2
    assert max(sizes) <= 100


async def test_a_slow_consumer_overflow_sheds_the_newest_and_recovers(tmp_path: Path) -> None:
    """Kalshi's buffer overflow (error 25, connection closed) does not become a reconnect
    loop that starves everyone: the feed backs off, sheds the newest subscription, says so
    in the log and metrics, and the older subscriber's prices come back."""
    async with fixed_sim() as sim, running_app(sim, tmp_path) as (_, url):
        sim.faults.ws_queue_limit = 3  # read at connect: 3 frames per tick at most
        tickers = real_tickers(sim, 8)
        async with subscribed(url, tickers[:2]) as legit:
            async with GraphQLWebSocket.connect(url) as attacker:
                await attacker.subscribe("a", TICKERS, {"t": tickers[2:]})
                await eventually(lambda: len(sim.ws_subscribed_tickers()) == 8)
                await sim.publish_tick()  # 8 frames at once: overflow, error 25, closed
                error = await _refusal(attacker, "a", timeout=30)

            async def legit_ticks() -> None:
                while True:
                    try:
                        await _tick_delivered(sim, legit, "s", tickers[:2], timeout=0.5)
                        return
                    except TimeoutError:
                        continue  # still backing off, or reconnecting: that tick is lost

            await asyncio.wait_for(legit_ticks(), 30)
            overflows = await _metric(url, 'kalshi_graph_feed_errors_total{code="25"}')
    assert error["extensions"]["code"] == "FEED_OVERLOADED"
    assert overflows >= 1


async def test_made_up_tickers_are_refused_while_kalshi_cannot_be_asked(tmp_path: Path) -> None:
    """With Kalshi's REST down, a ticker nobody has seen listed is refused (it cannot be
    checked) instead of going straight into the upstream subscription."""
    async with fixed_sim() as sim, running_app(sim, tmp_path, http_attempts=1) as (_, url):
        sim.faults.error_rate = 1.0
        async with GraphQLWebSocket.connect(url) as ws:
            await ws.subscribe("s", TICKERS, {"t": ["KXNBAGAME-26NOV22ZZZYYY-ZZZ"]})
            error = await _refusal(ws, "s")
        assert sim.ws_subscribed_tickers() == set()
    assert error["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"


async def test_five_attackers_with_a_thousand_tickers_each_cannot_stall_a_subscriber(
    tmp_path: Path,
) -> None:
    """Five clients asking for 1,000 made-up or excess tickers each: upstream stays within
    MAX_UPSTREAM_TICKERS at every tick, and a legitimate subscriber gets every tick (its
    updates never pause for more than one tick period)."""
    cap = 40
    async with (
        fixed_sim() as sim,
        running_app(
            sim, tmp_path, max_upstream_tickers=cap, max_subscriptions_per_connection=20
        ) as (_, url),
    ):
        real = real_tickers(sim)
        legit_tickers = real[:2]
        excess = real[2:]
        refused: list[str] = []

        async def attacker(n: int) -> None:
            """20 subscriptions x 50 tickers; returns once each was refused or started."""
            async with GraphQLWebSocket.connect(url) as ws:
                for i in range(20):
                    if n % 2:
                        batch = [f"KXNBAGAME-26NOV22Z{n}{i:02d}{k:02d}-ZZZ" for k in range(50)]
                    else:
                        batch = [excess[(i * 50 + k) % len(excess)] for k in range(50)]
                    await ws.subscribe(f"{n}-{i}", TICKERS, {"t": batch})
                answered: set[str] = set()
                while len(answered) < 20:
                    message = await ws.receive(timeout=30)
                    answered.add(message["id"])
                    errors = message["payload"] if message["type"] == "error" else None
                    if message["type"] == "next":
                        errors = message["payload"].get("errors")
                    if errors:
                        refused.append(errors[0]["extensions"]["code"])

        async with subscribed(url, legit_tickers) as legit:
            await eventually(lambda: sim.ws_subscribed_tickers() == set(legit_tickers))
            attackers = [asyncio.create_task(attacker(n)) for n in range(5)]
            ticks = 0
            while not all(task.done() for task in attackers) or ticks < 5:
                assert len(sim.ws_subscribed_tickers()) <= cap
                # Event-driven: a tick the feed misses (a reconnect, a backoff) never arrives;
                # the timeout only bounds how long the attack's CPU may delay its delivery.
                await _tick_delivered(sim, legit, "s", legit_tickers, timeout=15)
                ticks += 1
            await asyncio.gather(*attackers)
    assert len(sim.ws_subscribed_tickers()) <= cap
    assert refused and set(refused) <= {"TOO_MANY_UPSTREAM_TICKERS", "UNKNOWN_MARKET"}


# --- 4. The transport edge ------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"\xff\xfe{", id="invalid-utf-8"),
        pytest.param(b"\xc3\x28", id="invalid-utf-8-sequence"),
        pytest.param(b"42", id="a-number"),
        pytest.param(b"null", id="null"),
        pytest.param(b'"query"', id="a-string"),
        pytest.param(b"[" * 30_000 + b"]" * 30_000, id="30000-deep-array"),
        pytest.param(b'{"query": ' + b'{"a": ' * 30_000 + b"1" + b"}" * 30_001, id="deep-object"),
    ],
)
async def test_malformed_bodies_get_a_coded_400_without_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    """Bodies that are not a JSON object (or not even UTF-8) get 400 with a GraphQL-shaped
    BAD_REQUEST error and no traceback in the log."""
    async with fixed_sim() as sim, app_on(sim, tmp_path, max_body_bytes=300_000) as client:
        response = await client.post(
            "/graphql", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == 400, response.text
    assert codes(response.json()) == {"BAD_REQUEST"}
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_subscription_over_http_is_a_validation_error(tmp_path: Path) -> None:
    """A subscription POSTed over HTTP is refused as the README says: a validation error,
    not an unexpected one."""
    async with fixed_sim() as sim, app_on(sim, tmp_path) as client:
        body = await gql(client, 'subscription { tickerUpdates(marketTickers: ["A"]) { ts } }')
        strict = await client.post(
            "/graphql",
            json={"query": "subscription { tickerUpdates(marketTickers: []) { ts } }"},
            headers={"accept": "application/graphql-response+json"},
        )
    assert codes(body) == {"GRAPHQL_VALIDATION_FAILED"}
    assert strict.status_code == 400 and codes(strict.json()) == {"GRAPHQL_VALIDATION_FAILED"}


def _raw(port: int, data: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if data:
        sock.sendall(data)
    return sock


def _closed_by_server(sock: socket.socket) -> bytes:
    """What the server sends before closing (b"" if nothing); fails if it never closes."""
    received = b""
    with sock:
        while chunk := sock.recv(65536):  # socket timeout: 10 s, then the test fails
            received += chunk
    return received


def test_slow_headers_slow_bodies_and_idle_sockets_are_timed_out(tmp_path: Path) -> None:
    """A socket that never sends, one that stops mid-headers and one that stops mid-body
    are each closed by the server within its header or body timeout."""
    with service(tmp_path, HTTP_HEADER_TIMEOUT_S="1", HTTP_BODY_TIMEOUT_S="1") as svc:
        idle = _raw(svc.port, b"")
        slow_headers = _raw(svc.port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        slow_body = _raw(
            svc.port,
            b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            b'content-length: 100\r\n\r\n{"query":',
        )
        assert _closed_by_server(idle) == b""
        assert not _closed_by_server(slow_headers).startswith(b"HTTP/1.1 200")
        answer = _closed_by_server(slow_body)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b'"REQUEST_TIMEOUT"' in answer


def test_connections_past_the_cap_get_503(tmp_path: Path) -> None:
    """With MAX_CONNECTIONS open (idle) connections, the next request is answered 503."""
    with service(tmp_path, MAX_CONNECTIONS="4", HTTP_HEADER_TIMEOUT_S="30") as svc:
        held = [_raw(svc.port, b"") for _ in range(4)]
        try:
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(svc.url + "/healthz", timeout=10)
        finally:
            for sock in held:
                sock.close()
        deadline = time.monotonic() + 10
        while True:  # the server notices the closed sockets on its own time
            try:
                with urllib.request.urlopen(svc.url + "/healthz", timeout=10) as again:
                    assert again.status == 200
                    break
            except urllib.error.HTTPError as busy:
                busy.close()
                assert time.monotonic() < deadline
                time.sleep(0.05)  # a real process: there is no event to wait on
    status = refused.value.code
    refused.value.close()  # the error holds the response's socket
    assert status == 503


def _handshake(port: int, host: str, origin: str) -> bytes:
    request = (
        f"GET /graphql HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
    )
    with _raw(port, request.encode()) as sock:
        return sock.recv(4096)


async def test_a_foreign_host_is_refused_over_http_and_websocket(tmp_path: Path) -> None:
    """DNS rebinding: a page on evil.example resolving to us sends Host: evil.example; the
    service answers only the hosts it is allowed to be (ALLOWED_HOSTS)."""
    async with fixed_sim() as sim, running_app(sim, tmp_path) as (_, url):
        port = int(url.rsplit(":", 1)[1])
        async with httpx.AsyncClient(base_url=url) as client:
            foreign = await client.get("/healthz", headers={"host": "evil.example"})
            local = await client.get("/healthz", headers={"host": f"localhost:{port}"})
        rebound = await asyncio.to_thread(
            _handshake, port, f"evil.example:{port}", f"http://evil.example:{port}"
        )
        same = await asyncio.to_thread(
            _handshake, port, f"127.0.0.1:{port}", f"http://127.0.0.1:{port}"
        )
    assert foreign.status_code == 400 and codes(foreign.json()) == {"HOST_NOT_ALLOWED"}
    assert local.status_code == 200
    assert not rebound.startswith(b"HTTP/1.1 101"), rebound[:100]
    assert same.startswith(b"HTTP/1.1 101")


async def test_query_strings_never_reach_the_access_log(tmp_path: Path) -> None:
    """Tokens in a query string (a WebSocket's ?token=, a GET query) are not logged; the
    access lines are there, with the query replaced."""
    with service(tmp_path) as svc:
        async with httpx.AsyncClient(base_url=svc.url) as client:
            await client.get("/graphql", params={"query": "{ __typename }", "token": "SECRET1"})
        ws = await connect(
            svc.url.replace("http", "ws") + "/graphql?token=SECRET2",
            subprotocols=[Subprotocol("graphql-transport-ws")],
        )
        await ws.close()
        svc.stop()
        log = svc.log()
    assert "SECRET1" not in log and "SECRET2" not in log
    assert re.search(r'"GET /graphql\?\S* HTTP/1.1" 200', log), log
    assert re.search(r"WebSocket /graphql\?", log), log


def test_access_lines_are_logged_in_the_default_simulator_mode(tmp_path: Path) -> None:
    """`python -m graph` on its embedded simulator logs an access line per request (the
    simulator's server used to switch the process-wide access logger off)."""
    with service(tmp_path) as svc:
        with urllib.request.urlopen(svc.url + "/healthz", timeout=10):
            pass
        with urllib.request.urlopen(svc.url + "/readyz", timeout=10):
            pass
        svc.stop()
        log = svc.log()
    assert '"GET /healthz HTTP/1.1" 200' in log, log
    assert '"GET /readyz HTTP/1.1" 200' in log


async def test_readyz_fails_kalshi_rest_while_kalshi_refuses_the_key(tmp_path: Path) -> None:
    """A key Kalshi refuses (401) makes /readyz 503 with kalshi_rest failing: an instance
    whose every market request fails is not ready."""
    async with fixed_sim() as sim:
        async with app_on(sim, tmp_path, kalshi_api_key_id="not-the-simulators-key") as client:
            response = await client.get("/readyz")
    assert response.status_code == 503
    assert "401" in response.json()["checks"]["kalshi_rest"]


async def test_aliased_market_lookups_cost_one_upstream_request(tmp_path: Path) -> None:
    """30 aliased market() calls cost no 30 GETs: past MAX_QUERY_ROOT_FIELDS (20) they are
    refused before any request, and the 20 that fit are one batched Kalshi request."""
    async with fixed_sim() as sim, app_on(sim, tmp_path) as client:
        tickers = real_tickers(sim, 30)
        sim.stats.reset()
        thirty = await gql(client, "{" + _aliased_markets(tickers) + "}")
        refused_upstream = sim.stats.requests["market"] + sim.stats.requests["markets"]
        sim.stats.reset()
        twenty = await gql(client, "{" + _aliased_markets(tickers[:20]) + "}")
        upstream = sim.stats.requests["market"] + sim.stats.requests["markets"]
    assert codes(thirty) == {"TOO_MANY_ROOT_FIELDS"} and refused_upstream == 0
    assert "errors" not in twenty, twenty
    assert [twenty["data"][f"m{i}"]["ticker"] for i in range(20)] == tickers[:20]
    assert upstream == 1


def _aliased_markets(tickers: list[str]) -> str:
    return " ".join(
        f'm{i}: market(ticker: "{t}") {{ ticker yesBid }}' for i, t in enumerate(tickers)
    )


async def test_max_games_per_query_counts_the_whole_operation(tmp_path: Path) -> None:
    """MAX_GAMES_PER_QUERY bounds the predictions of an operation, not of one loader batch:
    two aliased leagues that each fit, but not together, are held to it (NBA's schedule is
    cached, NHL's is not, so their predictions are two batches)."""
    async with fixed_sim() as sim:
        nba, nhl = (len(sim.games_for(league, SUNDAY)) for league in (League.NBA, League.NHL))
        cap = max(nba, nhl)
        assert nba + nhl > cap
        async with app_on(sim, tmp_path, max_games_per_query=cap) as client:
            await gql(client, '{ games(league: NBA, date: "2026-11-22") { id } }')
            body = await gql(
                client,
                '{ a: games(league: NBA, date: "2026-11-22") { prediction { edge } } '
                'b: games(league: NHL, date: "2026-11-22") { prediction { edge } } }',
            )
    predictions = [g["prediction"] for key in ("a", "b") for g in body["data"][key]]
    assert sum(p is not None for p in predictions) == cap
    assert len(body["errors"]) == nba + nhl - cap


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MAX_QUERY_DEPTH", "deep"),
        ("PORT", "eighty"),
        ("LOG_FORMAT", "xml"),
        ("CORS_ORIGINS", "example.com/path"),
    ],
)
def test_invalid_settings_are_one_line_naming_the_variable(
    tmp_path: Path, variable: str, value: str
) -> None:
    """A bad value stops `python -m graph` with status 2 and one line that names the
    variable (not a 21-line pydantic traceback)."""
    env = {**service_env(tmp_path, free_port()), variable: value}
    done = subprocess.run(
        [sys.executable, "-m", "graph"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert variable in done.stderr and "Traceback" not in done.stderr
    assert done.stderr.startswith("kalshi-graph: configuration error: ")


BLOCKING_SERVER = """
import asyncio, sys, time
import graph.__main__ as entry
from starlette.routing import Route
from starlette.responses import PlainTextResponse

make = entry.create_app

async def block(request):
    print("blocking", flush=True)
    time.sleep(60)  # the event loop stops here, as under a CPU-bound request
    return PlainTextResponse("done")

def create_app(settings, **kwargs):
    app = make(settings, **kwargs)
    app.router.routes.insert(0, Route("/block", block))
    return app

entry.create_app = create_app
sys.exit(entry.main())
"""


def test_sigterm_exits_by_the_deadline_while_the_loop_is_blocked(tmp_path: Path) -> None:
    """SIGTERM while a request blocks the event loop still ends the process soon after
    SHUTDOWN_TIMEOUT_S (it used to wait for the loop, however long that took)."""
    script = tmp_path / "blocking_server.py"
    script.write_text(BLOCKING_SERVER)
    svc = Service(tmp_path, [str(script)], {"SHUTDOWN_TIMEOUT_S": "1"})
    try:
        svc.wait_ready()
        sock = _raw(svc.port, b"GET /block HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        deadline = time.monotonic() + 30
        while "blocking" not in svc.log():
            assert time.monotonic() < deadline, svc.log()
            time.sleep(0.05)  # a real process's output: there is no event to wait on
        sent_at = time.monotonic()
        svc.proc.send_signal(signal.SIGTERM)
        try:
            svc.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail("still running 10 s after SIGTERM with SHUTDOWN_TIMEOUT_S=1")
        exited_after_s = time.monotonic() - sent_at
        sock.close()
    finally:
        svc.stop()
    assert exited_after_s < 1 + 3
    assert svc.proc.returncode != 0  # a forced exit says so
    assert "deadline" in svc.log()


async def test_a_client_leaving_mid_request_is_logged_at_debug(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A client that sends half a body and leaves is a DEBUG line, not an ERROR traceback."""
    caplog.set_level(logging.DEBUG, logger="graph")
    async with fixed_sim() as sim, running_app(sim, tmp_path) as (_, url):
        port = int(url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            b'content-length: 100\r\n\r\n{"query":'
        )
        await writer.drain()
        await asyncio.sleep(0)
        writer.transport.abort()
        await eventually(lambda: "disconnect" in caplog.text.lower())
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert any(
        r.levelno == logging.DEBUG and "disconnect" in r.getMessage().lower()
        for r in caplog.records
    )


async def test_a_subscriber_vanishing_mid_stream_logs_no_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A WebSocket client that drops its connection while updates flow leaves no WARNING
    or ERROR behind (asyncio's "socket.send() raised exception." included)."""
    async with fixed_sim() as sim, running_app(sim, tmp_path) as (_, url):
        tickers = real_tickers(sim, 20)
        for _ in range(3):
            async with subscribed(url, tickers) as ws:
                await sim.publish_tick()
                ws.ws.transport.abort()
                await sim.publish_tick()
                await sim.publish_tick()
        await eventually(lambda: sim.ws_subscribed_tickers() == set(), timeout=20)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


async def test_graphiql_and_the_live_page_forbid_framing(tmp_path: Path) -> None:
    """Both HTML pages carry a Content-Security-Policy with frame-ancestors 'none'."""
    async with fixed_sim() as sim, app_on(sim, tmp_path) as client:
        graphiql = await client.get("/graphql", headers={"accept": "text/html"})
        live = await client.get("/", headers={"accept": "text/html"})
    for page in (graphiql, live):
        assert page.status_code == 200
        policy = page.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in policy, page.url
        assert "default-src" in policy
