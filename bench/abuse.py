"""What the attacks of issue 18 cost the service now: refusal times, liveness, leftovers.

How it works: the app runs alone in a child process (``python -m bench.server``, as the
fan-out benchmark runs it), pointed at the simulator in this process; the attacking and the
measuring clients run here, so the server's numbers are its own.

- Fragment bombs (each fragment spreads the next one twice): the time to the refusal of a
  22- and a 30-level one, one at a time (target: under 50 ms each).
- Liveness: 20 bombs sent at once while ``/healthz`` is asked in a loop; the slowest
  ``/healthz`` answer (target: under 100 ms).
- Legacy ``graphql-ws`` abuse: sessions that send ``connection_init`` three times and
  vanish; the server's resident memory after a warm-up of twice as many and after the
  sessions (target: where it was; the task count is pinned by ``tests/test_abuse.py``).
- The shared feed under attack: five clients asking for 1,000 made-up or excess tickers
  each while the simulator ticks; the most tickers subscribed upstream (target: the cap),
  the longest pause between two updates of a legitimate subscriber's ticker, first without
  and then under the attack (target: one tick period; the simulator's ticks and all the
  clients share this process, so the control says what the machine adds), and the server's
  CPU time while it refuses the attack.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from bench.query import NOON_UTC
from bench.report import Row, percentile
from bench.servers import OURS, Server
from graph.models import League
from graph.sim import Simulator

DAY = date(2026, 11, 22)
TICKERS = "subscription ($t: [String!]!) { tickerUpdates(marketTickers: $t) { marketTicker } }"


# The server signs with the real clock; the simulator's slate is a fixed Sunday: no window.
_REAL_TIME_SIGNER: dict[str, Any] = {"timestamp_window_ms": None}


@dataclass(frozen=True, slots=True)
class AbuseConfig:
    bomb_repeat: int = 10
    concurrent_bombs: int = 20
    legacy_sessions: int = 1_000
    attackers: int = 5
    tickers_per_attacker: int = 1_000
    upstream_cap: int = 40
    tick_s: float = 0.25
    feed_seconds: float = 6.0


def bomb(levels: int) -> str:
    chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels))
    return f"query Bomb {{ ...F0 }} {chain} fragment F{levels} on Query {{ __typename }}"


@asynccontextmanager
async def _server(sim: Simulator, workdir: Path, **settings: str) -> AsyncIterator[Server]:
    env = {"RATE_LIMIT_PER_S": "0", **settings}
    server = await Server.start(OURS, sim, (), workdir, env=env)
    try:
        yield server
    finally:
        await server.stop()


async def _timed_post(client: httpx.AsyncClient, query: str) -> float:
    started = time.perf_counter()
    response = await client.post("/graphql", json={"query": query})
    elapsed = (time.perf_counter() - started) * 1000
    errors = response.json().get("errors", [])
    assert errors and all(e["extensions"]["code"] != "INTERNAL_SERVER_ERROR" for e in errors)
    return elapsed


async def bombs(server: Server, config: AbuseConfig) -> tuple[list[Row], dict[str, Any]]:
    rows: list[Row] = []
    notes: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=server.url, timeout=600) as client:
        # The first request of a fresh process pays its lazy imports and first calls (~75 ms
        # here, whatever the query): measured apart, so the rows below are the bombs' cost.
        started = time.perf_counter()
        (await client.post("/graphql", json={"query": "{ __typename }"})).raise_for_status()
        notes["first_request_ms"] = (time.perf_counter() - started) * 1000
        for levels in (22, 30):
            times = [await _timed_post(client, bomb(levels)) for _ in range(config.bomb_repeat)]
            notes[f"bomb_{levels}_ms"] = times
            rows.append(Row.of(f"{levels}-level fragment bomb refused, max", max(times), "ms", 50))
        done = asyncio.Event()
        health: list[float] = []

        async def probe() -> None:
            while not done.is_set():
                started = time.perf_counter()
                (await client.get("/healthz")).raise_for_status()
                health.append((time.perf_counter() - started) * 1000)

        prober = asyncio.create_task(probe())
        cpu_before = server.cpu_s()
        started = time.perf_counter()
        flood = [
            _timed_post(client, bomb(22 if i % 2 else 30)) for i in range(config.concurrent_bombs)
        ]
        await asyncio.gather(*flood)
        flood_ms = (time.perf_counter() - started) * 1000
        flood_cpu_ms = (server.cpu_s() - cpu_before) * 1000
        done.set()
        await prober
    notes["healthz_ms_during_bombs"] = health
    rows.append(
        Row.of(f"/healthz during {config.concurrent_bombs} bombs, max", max(health), "ms", 100)
    )
    rows.append(Row.of(f"{config.concurrent_bombs} concurrent bombs, all refused", flood_ms, "ms"))
    rows.append(Row.of("server CPU for them (and the /healthz probes)", flood_cpu_ms, "ms"))
    rows.append(Row.of("/healthz during bombs, p50", percentile(health, 50), "ms"))
    return rows, notes


async def legacy_abuse(server: Server, sessions: int) -> tuple[list[Row], dict[str, Any]]:
    ws_url = server.url.replace("http", "ws") + "/graphql"

    async def one() -> None:
        ws = await connect(ws_url, subprotocols=[Subprotocol("graphql-ws")])
        for _ in range(3):
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        ws.transport.abort()
        await ws.wait_closed()

    async def run(count: int) -> None:
        for start in range(0, count, 50):
            await asyncio.gather(*(one() for _ in range(min(50, count - start))))

    # Warm-up: the first thousands raise the allocator's high-water mark (50 sessions at
    # once); a leak shows as growth after it, session after session.
    await run(2 * sessions)
    await asyncio.sleep(1.0)
    before = server.rss_mb()
    await run(sessions)
    await asyncio.sleep(1.0)  # the server notices vanished peers on its own time
    after = server.rss_mb()
    rows = [Row.of(f"server RSS after {sessions} abusive legacy sessions", after, "MB", before)]
    return rows, {"rss_mb": [before, after]}


async def feed_attack(
    sim: Simulator, server: Server, config: AbuseConfig
) -> tuple[list[Row], dict[str, Any]]:
    url = server.url
    real = [m["ticker"] for league in League for m in sim.markets_for(league, DAY)]
    legit, excess = real[:2], real[2:]
    ws_url = url.replace("http", "ws") + "/graphql"
    gaps_quiet: list[float] = []
    gaps: list[float] = []
    peak = 0
    refused = 0

    async def session(subscribes: list[list[str]]) -> AsyncIterator[dict[str, Any]]:
        async with connect(ws_url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            await ws.recv()
            for i, tickers in enumerate(subscribes):
                payload = {"query": TICKERS, "variables": {"t": tickers}}
                await ws.send(json.dumps({"id": str(i), "type": "subscribe", "payload": payload}))
            async for raw in ws:
                yield json.loads(raw)

    async def attacker(n: int) -> None:
        nonlocal refused
        per = 50
        subs = []
        for i in range(config.tickers_per_attacker // per):
            if n % 2:
                subs.append([f"KXNBAGAME-26NOV22Z{n}{i:02d}{k:02d}-ZZZ" for k in range(per)])
            else:
                subs.append([excess[(i * per + k) % len(excess)] for k in range(per)])
        async for message in session(subs):
            if message["type"] == "error" or message.get("payload", {}).get("errors"):
                refused += 1

    phase: list[float] = gaps_quiet

    async def legitimate(stop: asyncio.Event) -> None:
        last: dict[str, float] = {}
        async for message in session([legit]):
            now = time.perf_counter()
            if message["type"] != "next" or message["payload"].get("errors"):
                raise RuntimeError(f"the legitimate subscription failed: {message}")
            ticker = message["payload"]["data"]["tickerUpdates"]["marketTicker"]
            if ticker in last:
                phase.append((now - last[ticker]) * 1000)
            last[ticker] = now
            if stop.is_set():
                return

    async def watch_upstream(seconds: float) -> None:
        nonlocal peak
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            peak = max(peak, len(sim.ws_subscribed_tickers()))
            await asyncio.sleep(0.01)

    stop = asyncio.Event()
    watcher = asyncio.create_task(legitimate(stop))
    # The control: the same subscriber, the same ticks, no attack (the pause the machine
    # itself causes: the simulator's ticks and the clients share this process).
    await watch_upstream(config.feed_seconds / 2)
    phase = gaps
    attackers = [asyncio.create_task(attacker(n)) for n in range(config.attackers)]
    cpu_before = server.cpu_s()
    await watch_upstream(config.feed_seconds)
    attack_cpu_s = server.cpu_s() - cpu_before
    stop.set()
    for task in attackers:
        task.cancel()
    await asyncio.gather(*attackers, return_exceptions=True)
    await asyncio.wait_for(watcher, 10)
    tick_ms = config.tick_s * 1000
    rows = [
        Row.of("upstream tickers under attack, peak", peak, "tickers", config.upstream_cap),
        Row.of("legitimate subscriber's longest pause, no attack", max(gaps_quiet), "ms", tick_ms),
        Row.of("legitimate subscriber's longest pause, under attack", max(gaps), "ms", tick_ms),
        Row.of("attackers' subscriptions refused", refused, "subscriptions"),
        Row.of("server CPU during the attack", attack_cpu_s * 1000, "ms"),
    ]
    return rows, {
        "gaps_ms_p50": percentile(gaps, 50),
        "gaps": len(gaps),
        "gaps_quiet": len(gaps_quiet),
        "attack_cpu_s": attack_cpu_s,
    }


async def abuse_section(config: AbuseConfig, workdir: Path) -> tuple[list[Row], dict[str, Any]]:
    rows: list[Row] = []
    notes: dict[str, Any] = {}
    async with Simulator(clock=lambda: NOON_UTC, tick_interval_s=None, **_REAL_TIME_SIGNER) as sim:
        async with _server(sim, workdir) as server:
            section, notes["bombs"] = await bombs(server, config)
            rows += section
            section, notes["legacy"] = await legacy_abuse(server, config.legacy_sessions)
            rows += section
    async with Simulator(
        clock=lambda: NOON_UTC, tick_interval_s=config.tick_s, **_REAL_TIME_SIGNER
    ) as sim:
        cap = str(config.upstream_cap)
        async with _server(
            sim, workdir, MAX_UPSTREAM_TICKERS=cap, MAX_SUBSCRIPTIONS_PER_CONNECTION="20"
        ) as server:
            section, notes["feed"] = await feed_attack(sim, server, config)
            rows += section
    return rows, notes
