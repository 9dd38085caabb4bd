"""WebSocket cap and drain: over the real app, and the middleware driven directly."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import Message, Receive, Scope, Send
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from graph.models import League
from graph.sim import Simulator
from graph.web.wsadmission import (
    SCOPE_KEY,
    ConnectionGate,
    Operations,
    WebSocketGate,
    _Connection,
)
from tests.e2e import SUNDAY_NOON_UTC, GraphQLWebSocket, eventually, running_app

SUNDAY = date(2026, 11, 22)
SUBSCRIBE = "subscription ($t: [String!]!) { tickerUpdates(marketTickers: $t) { marketTicker } }"
TIMEOUT_S = 5.0


def scrape(text: str) -> dict[str, float]:
    """Every unlabelled sample of a Prometheus exposition, by sample name."""
    return {
        s.name: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if not s.labels
    }


async def test_handshakes_past_the_cap_get_503_while_connected_clients_keep_working(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """MAX_WS_CONNECTIONS=2: a third socket gets 503 + Retry-After, logged and counted."""
    sim = Simulator(clock=lambda: SUNDAY_NOON_UTC, tick_interval_s=None)
    async with sim, running_app(sim, tmp_path, max_ws_connections=2) as (app, url):
        ticker = sim.markets_for(League.NBA, SUNDAY)[0]["ticker"]
        async with GraphQLWebSocket.connect(url) as one, GraphQLWebSocket.connect(url):
            with (
                caplog.at_level(logging.WARNING, logger="graph.web.wsadmission"),
                pytest.raises(InvalidStatus) as refused,
            ):
                async with connect(
                    url.replace("http", "ws") + "/graphql",
                    subprotocols=[Subprotocol("graphql-transport-ws")],
                ):
                    pass
            await one.subscribe("1", SUBSCRIBE, {"t": [ticker]})
            first = await one.receive()
            async with httpx.AsyncClient(base_url=url) as http:
                metrics = scrape((await http.get("/metrics")).text)
        await eventually(lambda: app.state.gate.active == 0)
        async with GraphQLWebSocket.connect(url):  # room again once the others left
            assert app.state.gate.active == 1
    response = refused.value.response
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "connection limit" in json.loads(response.body or b"{}")["errors"][0]["message"]
    assert first["type"] == "next"
    assert first["payload"]["data"]["tickerUpdates"]["marketTicker"] == ticker
    assert metrics["kalshi_graph_websocket_connections"] == 2
    assert metrics["kalshi_graph_websocket_connections_limit"] == 2
    assert metrics["kalshi_graph_websocket_connections_refused_total"] == 1
    assert metrics["kalshi_graph_websocket_operations"] == 1
    assert [r.getMessage() for r in caplog.records if r.name == "graph.web.wsadmission"] == [
        "Refused WebSocket connection reason=connection_limit_reached active=2 limit=2 "
        "refused_total=1"
    ]


class FakeSocketApp:
    """A WebSocket ASGI app whose messages a test sends and reads through queues; like the
    GraphQL view, it reports operations opening and ending to the scope's record."""

    def __init__(self) -> None:
        self.outbox: asyncio.Queue[Message] = asyncio.Queue()  # what the app will send
        self.received: asyncio.Queue[Message] = asyncio.Queue()  # what the app received

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ops: Operations = scope[SCOPE_KEY]
        await send({"type": "websocket.accept"})

        async def reading() -> None:
            while True:
                message = await receive()
                kind, op_id = _kind_and_id(message)
                if kind in ("subscribe", "start"):
                    ops.opened(op_id)
                elif kind in ("complete", "stop"):
                    ops.ended(op_id)
                await self.received.put(message)
                if message["type"] == "websocket.disconnect":
                    return

        reader = asyncio.create_task(reading())
        try:
            while not reader.done():
                getter = asyncio.ensure_future(self.outbox.get())
                await asyncio.wait([getter, reader], return_when=asyncio.FIRST_COMPLETED)
                if getter.done():
                    await send(getter.result())
                    kind, op_id = _kind_and_id(getter.result())
                    if kind in ("complete", "error"):
                        ops.ended(op_id)
                else:
                    getter.cancel()
        finally:
            reader.cancel()


def _kind_and_id(message: Message) -> tuple[str, str]:
    decoded = json.loads(message.get("text") or "{}")
    return decoded.get("type", ""), decoded.get("id", "")


class FakeClient:
    """The server side of one connection: what the client sends in, what goes out."""

    def __init__(self) -> None:
        self.incoming: asyncio.Queue[Message] = asyncio.Queue()
        self.sent: list[Message] = []
        self.changed = asyncio.Event()

    async def receive(self) -> Message:
        return await self.incoming.get()

    async def send(self, message: Message) -> None:
        self.sent.append(message)
        self.changed.set()
        if message["type"] == "websocket.close":
            await self.incoming.put({"type": "websocket.disconnect", "code": message["code"]})

    def text(self, **message: Any) -> Message:
        return {"type": "websocket.receive", "text": json.dumps(message)}

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(TIMEOUT_S):
            while len(self.sent) < count:
                self.changed.clear()
                await self.changed.wait()


SCOPE: Scope = {"type": "websocket", "path": "/graphql", "headers": []}


async def test_drain_closes_only_after_every_operation_sent_its_complete() -> None:
    """The 1001 close follows the last `complete`, and new handshakes are refused meanwhile."""
    gate = ConnectionGate(10)
    app = FakeSocketApp()
    client = FakeClient()
    task = asyncio.create_task(WebSocketGate(app, gate=gate)(SCOPE, client.receive, client.send))
    for message in (
        client.text(type="connection_init"),
        client.text(type="subscribe", id="a", payload={}),
        client.text(type="subscribe", id="b", payload={}),
    ):
        await client.incoming.put(message)
        await asyncio.wait_for(app.received.get(), TIMEOUT_S)
    await client.wait_for(1)  # accept
    assert (gate.active, gate.open_operations) == (1, 2)
    loop = asyncio.get_running_loop()
    draining = asyncio.create_task(gate.drain(loop.time() + TIMEOUT_S))
    await app.outbox.put(
        {"type": "websocket.send", "text": json.dumps({"id": "a", "type": "complete"})}
    )
    await client.wait_for(2)
    assert not draining.done() and gate.open_operations == 1
    error = {"id": "b", "type": "error", "payload": [{"message": "x"}]}
    await app.outbox.put({"type": "websocket.send", "text": json.dumps(error)})
    await asyncio.wait_for(draining, TIMEOUT_S)
    await asyncio.wait_for(task, TIMEOUT_S)
    assert [m["type"] for m in client.sent] == [
        "websocket.accept",
        "websocket.send",
        "websocket.send",
        "websocket.close",
    ]
    assert client.sent[-1]["code"] == 1001
    assert gate.active == 0
    # Draining: a new handshake is refused before the app sees it (no denial extension: 1013).
    refused = FakeClient()
    await WebSocketGate(app, gate=gate)(SCOPE, refused.receive, refused.send)
    assert refused.sent == [{"type": "websocket.close", "code": 1013, "reason": "shutting down"}]
    assert gate.refused == 1


async def test_drain_closes_anyway_at_the_deadline(caplog: pytest.LogCaptureFixture) -> None:
    """An operation that never ends delays the close only until the deadline."""
    gate = ConnectionGate(10)
    app = FakeSocketApp()
    client = FakeClient()
    task = asyncio.create_task(WebSocketGate(app, gate=gate)(SCOPE, client.receive, client.send))
    await client.incoming.put(client.text(type="start", id="legacy", payload={}))
    await asyncio.wait_for(app.received.get(), TIMEOUT_S)
    loop = asyncio.get_running_loop()
    with caplog.at_level(logging.WARNING, logger="graph.web.wsadmission"):
        await gate.drain(loop.time() + 0.05)
    await asyncio.wait_for(task, TIMEOUT_S)
    assert client.sent[-1] == {
        "type": "websocket.close",
        "code": 1001,
        "reason": "server shutting down",
    }
    assert "operations still open operations=1" in caplog.text


async def test_a_close_that_hangs_is_cancelled_at_the_deadline() -> None:
    """A peer that never finishes the closing handshake cannot hold up the drain."""
    gate = ConnectionGate(10)
    hang = asyncio.Event()
    sent: list[Message] = []

    async def stuck_send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "websocket.close":
            await hang.wait()

    conn = _Connection(stuck_send, gate._notify)
    gate._connections.add(conn)
    loop = asyncio.get_running_loop()
    await asyncio.wait_for(gate.drain(loop.time() + 0.05), TIMEOUT_S)
    await conn.send({"type": "websocket.send", "text": "after the close"})
    assert conn.closed
    assert [m["type"] for m in sent] == ["websocket.close"]  # nothing after it


def test_operations_record_opens_ends_and_reports_idle() -> None:
    """Ids open and end as reported; unknown ends are ignored; the last end reports idle."""
    idle: list[bool] = []
    ops = Operations(lambda: idle.append(True))
    ops.opened("1")
    ops.opened("2")
    ops.ended("1")
    ops.ended("unknown")
    assert (ops.ids, idle) == ({"2"}, [])
    ops.ended("2")
    assert (ops.ids, idle) == (set(), [True])


def test_refusals_are_logged_at_most_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    """A flood of refused handshakes is counted in full but logged once per second."""
    now = [0.0]
    gate = ConnectionGate(1, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="graph.web.wsadmission"):
        for t in (0.0, 0.5, 0.9, 1.0, 1.5):
            now[0] = t
            gate._refused("connection limit reached")
    assert gate.refused == 5
    assert [
        r.getMessage().rsplit(" ", 1)[-1]
        for r in caplog.records
        if r.name == "graph.web.wsadmission"
    ] == [
        "refused_total=1",
        "refused_total=4",
    ]


async def test_other_scopes_pass_through() -> None:
    """HTTP requests are not the gate's business."""
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def receive() -> Message:
        raise AssertionError

    async def send(message: Message) -> None:
        raise AssertionError

    await WebSocketGate(app, gate=ConnectionGate(1))({"type": "http"}, receive, send)
    assert seen == ["http"]
