"""`python -m graph`: what `make serve` runs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

import httpx
import pytest
import uvicorn
import websockets
import websockets.sync.client
from websockets.typing import Subprotocol

from graph.__main__ import GracefulServer, main
from graph.app import create_app, drain
from graph.models import League
from graph.sim import Simulator
from tests.e2e import SUNDAY_NOON_UTC, GraphQLWebSocket, eventually, sim_settings

pytestmark = pytest.mark.e2e

SUNDAY = date(2026, 11, 22)

ROOT = Path(__file__).resolve().parent.parent


def test_a_bad_key_stops_startup_with_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A key id without a key exits 2 with a message naming the variables, before serving."""
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("KALSHI_API_KEY_ID", "0b7c9f3e-1111-2222-3333-444455556666")
    assert main() == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "KALSHI_API_KEY_ID is set but no private key" in err
    assert "KALSHI_PRIVATE_KEY_PATH" in err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_python_m_graph_serves_the_simulator(tmp_path: Path) -> None:
    """A fresh start with no configuration serves /graphql on HOST:PORT from the simulator,
    WebSockets without compression."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KALSHI_", "SCOREBOARD"))}
    env.update(HOST="127.0.0.1", PORT=str(port), RATINGS_DB_PATH=str(tmp_path / "r.sqlite3"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "graph"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=1) as r:
                    assert json.load(r)["status"] == "ok"
                    break
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.05)  # polling a real process's port: there is no event to wait on
        query = json.dumps({"query": "{ games(league: NHL) { markets { ticker yesBid } } }"})
        request = urllib.request.Request(
            base + "/graphql", data=query.encode(), headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as r:
            body = json.load(r)
        with websockets.sync.client.connect(
            base.replace("http", "ws") + "/graphql", subprotocols=[Subprotocol("graphql-ws")]
        ) as ws:
            # The client offers permessage-deflate (it does by default): off unless configured.
            extensions = ws.response.headers.get("Sec-WebSocket-Extensions") if ws.response else "?"
            ws.send("x" * 70_000)  # past MAX_BODY_BYTES (64 KiB): refused while reading it
            with pytest.raises(websockets.ConnectionClosed) as oversized:
                ws.recv(timeout=10)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    assert "errors" not in body
    assert extensions is None  # WS_PER_MESSAGE_DEFLATE is off by default
    markets = [m for g in body["data"]["games"] for m in g["markets"]]
    assert markets and all(m["ticker"].startswith("KXNHLGAME-") for m in markets)
    assert (
        f"GraphiQL at http://127.0.0.1:{port}/graphql, live prices at http://127.0.0.1:{port}/"
        in out
    )
    assert proc.returncode == 0
    # uvicorn's own frame limit, not the view's check after buffering the whole message.
    assert oversized.value.rcvd is not None and oversized.value.rcvd.code == 1009
    assert "larger than" not in oversized.value.rcvd.reason


SUBSCRIBE = "subscription ($t: [String!]!) { tickerUpdates(marketTickers: $t) { marketTicker } }"


async def test_sigterm_completes_100_open_subscriptions_and_exits_within_5_s(
    tmp_path: Path,
) -> None:
    """SIGTERM with 10 sockets x 10 subscriptions: each gets `complete`, then 1001; exit 0 < 5 s."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KALSHI_", "SCOREBOARD"))}
    env.update(
        HOST="127.0.0.1",
        PORT="0",
        LOG_FORMAT="json",
        RATINGS_DB_PATH=str(tmp_path / "r.sqlite3"),
        RATE_LIMIT_PER_S="0",  # 100 subscribes at once from one client: not what this pins
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "graph",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    lines: list[str] = []
    url: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def read_output() -> None:
        assert proc.stdout is not None
        started = False  # the in-process simulator's uvicorn says "running on" first
        async for raw in proc.stdout:  # keep reading: a full pipe would block the server
            line = raw.decode().rstrip("\n")
            lines.append(line)
            started = started or "Application startup complete" in line
            found = re.search(r"Uvicorn running on (http://[\d.:]+)", line)
            if started and found and not url.done():
                url.set_result(found.group(1))
        if not url.done():
            url.set_exception(AssertionError("\n".join(lines)))

    reader = asyncio.create_task(read_output())
    try:
        base = await asyncio.wait_for(url, 60)
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            body = (await http.post("/graphql", json={"query": NHL_TICKERS})).json()
        tickers = [m["ticker"] for g in body["data"]["games"] for m in g["markets"]]
        assert len(tickers) >= 2, body
        async with contextlib.AsyncExitStack() as stack:
            sockets = [
                await stack.enter_async_context(GraphQLWebSocket.connect(base)) for _ in range(10)
            ]
            for s, ws in enumerate(sockets):
                for i in range(10):
                    ticker = tickers[(s * 10 + i) % len(tickers)]
                    await ws.subscribe(f"op{i}", SUBSCRIBE, {"t": [ticker]})
            for ws in sockets:
                # Every operation streams (one may get two updates before another's first).
                streaming: set[str] = set()
                while streaming != {f"op{i}" for i in range(10)}:
                    streaming.add((await ws.receive())["id"])
            sent_at = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            endings = await asyncio.gather(*(_until_closed(ws) for ws in sockets))
            returncode = await asyncio.wait_for(proc.wait(), 5 - (time.monotonic() - sent_at))
        exited_after_s = time.monotonic() - sent_at
        await reader
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    assert returncode == 0, "\n".join(lines)
    assert exited_after_s < 5
    for completed, code in endings:
        assert completed == {f"op{i}" for i in range(10)}
        assert code == 1001
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert all({"ts", "level", "logger", "message"} <= r.keys() for r in records)
    messages = [r["message"] for r in records]
    assert any(m.startswith("Draining connections=10 operations=100") for m in messages)
    assert any(r["logger"] == "uvicorn.error" for r in records)  # uvicorn's lines too


NHL_TICKERS = "{ games(league: NHL) { markets { ticker } } }"


async def _until_closed(ws: GraphQLWebSocket) -> tuple[set[str], int | None]:
    """Every `complete` id a socket receives before it closes, and the close code."""
    completed: set[str] = set()
    try:
        while True:
            message = await ws.receive(timeout=5)
            if message["type"] == "complete":
                completed.add(message["id"])
    except websockets.exceptions.ConnectionClosed as exc:
        return completed, exc.rcvd.code if exc.rcvd else None


async def test_graceful_server_drains_before_uvicorn_closes_sockets(tmp_path: Path) -> None:
    """In-process: a shutdown (what SIGTERM's handler asks for) completes subscriptions first."""
    sim = Simulator(clock=lambda: SUNDAY_NOON_UTC, tick_interval_s=None)
    async with sim:
        app = create_app(
            sim_settings(sim, tmp_path), clock=lambda: SUNDAY_NOON_UTC, ratings_refresh_s=None
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on")
        server = GracefulServer(config, drain=lambda: drain(app, 5.0), timeout_s=5.0)
        serving = asyncio.create_task(server.serve())
        try:
            await eventually(lambda: server.started or serving.done(), timeout=30)
            port = server.servers[0].sockets[0].getsockname()[1]
            ticker = sim.markets_for(League.NBA, SUNDAY)[0]["ticker"]
            async with GraphQLWebSocket.connect(f"http://127.0.0.1:{port}") as ws:
                await ws.subscribe("1", SUBSCRIBE, {"t": [ticker]})
                assert (await ws.receive())["type"] == "next"
                server.should_exit = True  # what uvicorn's SIGTERM handler sets
                ending = await _until_closed(ws)
            await asyncio.wait_for(serving, 10)
        finally:
            server.should_exit = True
            await asyncio.gather(serving, return_exceptions=True)
    assert ending == ({"1"}, 1001)


async def test_a_failing_drain_does_not_stop_the_shutdown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """If draining raises, uvicorn's own shutdown still runs and the server stops."""

    async def broken_drain() -> None:
        raise RuntimeError("drain bug")

    sim = Simulator(clock=lambda: SUNDAY_NOON_UTC, tick_interval_s=None)
    async with sim:
        app = create_app(
            sim_settings(sim, tmp_path), clock=lambda: SUNDAY_NOON_UTC, ratings_refresh_s=None
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on")
        server = GracefulServer(config, drain=broken_drain, timeout_s=5.0)
        serving = asyncio.create_task(server.serve())
        await eventually(lambda: server.started or serving.done(), timeout=30)
        server.should_exit = True
        with caplog.at_level(logging.ERROR, logger="graph.__main__"):
            await asyncio.wait_for(serving, 10)
    assert "Drain failed; shutting down anyway" in caplog.text
