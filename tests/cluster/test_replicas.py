"""Replicas as separate processes on one Redis and one simulator (issue 15's acceptance)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from graph.cluster.local import RedisServer
from graph.espn.parse import eastern_date
from graph.models import League
from graph.sim import Simulator
from tests.cluster.replicas import FAST, Replica
from tests.e2e import GraphQLWebSocket, eventually

pytestmark = pytest.mark.e2e

SUBSCRIBE = "subscription ($t: [String!]!) { tickerUpdates(marketTickers: $t) { marketTicker ts } }"
LEASE_TTL_S = float(FAST["FEED_LEASE_TTL_S"])
EXPIRY_S = 3 * float(FAST["CLUSTER_HEARTBEAT_S"])


class Watcher:
    """One GraphQL subscriber; records (ticker, ts ms, received at) for every update."""

    def __init__(self, ws: GraphQLWebSocket) -> None:
        self.ws = ws
        self.got: list[tuple[str, float, float]] = []
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        with contextlib.suppress(Exception):  # the replica may be killed under it
            while True:
                message = await self.ws.receive(timeout=3600)
                if message["type"] == "next":
                    update = message["payload"]["data"]["tickerUpdates"]
                    ts = datetime.fromisoformat(update["ts"]).timestamp() * 1000
                    self.got.append((update["marketTicker"], ts, time.time() * 1000))

    def after(self, at_ms: float) -> list[tuple[str, float, float]]:
        return [g for g in self.got if g[1] > at_ms]

    def went_back(self, since_ms: float) -> bool:
        """From the first update sent after ``since_ms`` on, did a market's ts ever decrease
        (an update older than one already delivered)? (Before it, a subscription's first
        price may come from a REST read a few ms newer than the next tick.)"""
        start = next((i for i, g in enumerate(self.got) if g[1] > since_ms), len(self.got))
        last: dict[str, float] = {}
        for ticker, ts, _ in self.got[start:]:
            if ts < last.get(ticker, 0):
                return True
            last[ticker] = ts
        return False


class Cluster:
    def __init__(self, sim: Simulator, redis: RedisServer, workdir: Path) -> None:
        self.sim = sim
        self.redis = redis
        self.workdir = workdir
        self.replicas: list[Replica] = []
        self._stack = contextlib.AsyncExitStack()

    async def start(self, count: int) -> list[Replica]:
        names = [f"r{len(self.replicas) + i}" for i in range(count)]
        started = await asyncio.gather(
            *(Replica.start(n, self.sim, self.redis.url, self.workdir) for n in names)
        )
        self.replicas += started
        return list(started)

    async def watch(self, replica: Replica, tickers: list[str]) -> Watcher:
        ws = await self._stack.enter_async_context(GraphQLWebSocket.connect(replica.base))
        await ws.subscribe("1", SUBSCRIBE, {"t": tickers})
        return Watcher(ws)

    async def owner(self, among: list[Replica] | None = None) -> Replica:
        """The replica whose /readyz says it holds the feed (waits for one)."""
        candidates = among or [r for r in self.replicas if r.process.returncode is None]
        async with asyncio.timeout(15):
            while True:
                for replica in candidates:
                    details = (await replica.get("/readyz")).get("details", {})
                    if "this replica holds the feed" in details.get("live", ""):
                        return replica
                await asyncio.sleep(0.05)

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self._stack.aclose()
        await asyncio.gather(*(r.stop() for r in self.replicas))


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(tick_interval_s=None) as sim:
        yield sim


@pytest.fixture
async def cluster(
    sim: Simulator, redis_server: RedisServer, tmp_path: Path
) -> AsyncIterator[Cluster]:
    cluster = Cluster(sim, redis_server, tmp_path)
    try:
        yield cluster
    finally:
        await cluster.aclose()


def nba_tickers(sim: Simulator, day_offset: int = 0) -> list[str]:
    day = eastern_date(datetime.now(UTC)) + timedelta(days=day_offset)
    return [m["ticker"] for m in sim.markets_for(League.NBA, day)]


@contextlib.asynccontextmanager
async def ticking(sim: Simulator, tickers: list[str], every_s: float = 0.05) -> AsyncIterator[None]:
    """The simulator sends a tick for each of ``tickers`` every ``every_s``."""

    async def run() -> None:
        while True:
            for ticker in tickers:
                await sim.publish_tick(ticker)
            await asyncio.sleep(every_s)

    task = asyncio.create_task(run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def counting_connections(sim: Simulator) -> AsyncIterator[list[int]]:
    """Samples the simulator's open upstream WebSockets every 10 ms (the most seen)."""
    most = [0]

    async def run() -> None:
        while True:
            most[0] = max(most[0], sim.ws_connection_count())
            await asyncio.sleep(0.01)

    task = asyncio.create_task(run())
    try:
        yield most
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_one_upstream_socket_and_failover_after_kill_9(cluster: Cluster) -> None:
    """Three replicas, subscribers on each: one upstream WebSocket at a time. The owner
    killed with SIGKILL: ticks resume on the survivors within the lease TTL (+1 s), and
    no subscriber ever gets an update older than one it already had."""
    sim = cluster.sim
    tickers = nba_tickers(sim)[:4]
    replicas = await cluster.start(3)
    async with counting_connections(sim) as most, ticking(sim, tickers):
        watchers = [
            await cluster.watch(r, [*tickers[:2], tickers[2 + i % 2]])
            for i, r in enumerate(replicas)
        ]
        await eventually(lambda: set(tickers) <= sim.ws_subscribed_tickers(), timeout=15)
        live_at = time.time() * 1000
        await eventually(lambda: all(w.after(live_at) for w in watchers), timeout=15)
        assert sim.ws_connection_count() == 1
        owner = await cluster.owner()
        survivors = [w for r, w in zip(replicas, watchers, strict=True) if r is not owner]
        killed_at = time.time() * 1000
        owner.kill()
        await eventually(lambda: all(w.after(killed_at) for w in survivors), timeout=10)
        resumed_ms = max(min(g[2] for g in w.after(killed_at)) for w in survivors)
        assert resumed_ms - killed_at <= (LEASE_TTL_S + 1) * 1000
        await cluster.owner()  # a survivor now says it holds the feed
    assert most[0] == 1
    assert sim.stats.requests["ws_connect"] == 2
    assert not any(w.went_back(killed_at) for w in survivors)


async def test_a_paused_ex_owner_cannot_publish_over_the_new_one(cluster: Cluster) -> None:
    """The owner frozen (SIGSTOP) past its lease: another replica takes over. Thawed, the
    old owner's buffered ticks are refused (its fence is old): subscribers never see an
    update older than the new owner's, and the old owner reports the lost lease."""
    sim = cluster.sim
    tickers = nba_tickers(sim)[:2]
    a, b = await cluster.start(2)
    async with ticking(sim, tickers):
        watchers = [await cluster.watch(r, tickers) for r in (a, b)]
        await eventually(lambda: set(tickers) <= sim.ws_subscribed_tickers(), timeout=15)
        owner = await cluster.owner()
        other, watcher = (b, watchers[1]) if owner is a else (a, watchers[0])
        owner.pause()
        paused_at = time.time() * 1000
        try:
            await cluster.owner([other])
            await eventually(lambda: bool(watcher.after(paused_at)), timeout=10)
        finally:
            owner.resume()
        await eventually(
            lambda: (
                "Lost the feed lease" in "\n".join(owner.lines)
                or "Ticks refused" in "\n".join(owner.lines)
            ),
            timeout=10,
        )
        count = len(watcher.got)
        await eventually(lambda: len(watcher.got) > count + 10, timeout=10)
    assert not watcher.went_back(paused_at)


async def test_a_killed_replicas_markets_leave_the_upstream_subscription(
    cluster: Cluster,
) -> None:
    """A replica killed with subscriptions: its markets, wanted by nobody else, are
    unsubscribed upstream within its heartbeat expiry."""
    sim = cluster.sim
    shared, own = nba_tickers(sim)[:2]
    replicas = await cluster.start(2)
    owner = await cluster.owner()
    victim = next(r for r in replicas if r is not owner)
    await cluster.watch(owner, [shared])
    await cluster.watch(victim, [shared, own])
    await eventually(lambda: {shared, own} <= sim.ws_subscribed_tickers(), timeout=10)
    victim.kill()
    killed = time.monotonic()
    await eventually(lambda: own not in sim.ws_subscribed_tickers(), timeout=10)
    assert time.monotonic() - killed <= EXPIRY_S + 0.5
    assert shared in sim.ws_subscribed_tickers()


GAMES = "query ($d: Date) { games(league: NBA, date: $d) { id markets { ticker yesBid } } }"


async def test_identical_queries_over_two_replicas_cost_one_request_each(
    cluster: Cluster,
) -> None:
    """100 identical games queries spread over two replicas: one scoreboard and one
    market listing request upstream, whichever replica asked first."""
    sim = cluster.sim
    replicas = await cluster.start(2)
    day = (eastern_date(datetime.now(UTC)) + timedelta(days=1)).isoformat()
    sim.stats.reset()
    clients = [httpx.AsyncClient(base_url=r.base, timeout=30) for r in replicas]
    try:
        answers = await asyncio.gather(
            *(
                clients[i % 2].post("/graphql", json={"query": GAMES, "variables": {"d": day}})
                for i in range(100)
            )
        )
    finally:
        for client in clients:
            await client.aclose()
    bodies = [a.json() for a in answers]
    assert all("errors" not in b and b["data"]["games"] for b in bodies)
    assert len({str(b["data"]) for b in bodies}) == 1
    assert sim.stats.requests["scoreboard"] == 1
    assert sim.stats.requests["markets"] == 1, sim.stats.market_queries


async def _query_forever(replicas: list[Replica], failures: list[str]) -> None:
    clients = [httpx.AsyncClient(base_url=r.base, timeout=30) for r in replicas]
    try:
        i = 0
        while True:
            i += 1
            response = await clients[i % len(clients)].post("/graphql", json={"query": GAMES})
            body: dict[str, Any] = response.json()
            if response.status_code != 200 or "errors" in body or not body["data"]["games"]:
                failures.append(str(body)[:300])
            await asyncio.sleep(0.02)
    finally:
        for client in clients:
            await client.aclose()


async def _during(coro: Awaitable[None], body: Callable[[], Awaitable[None]]) -> None:
    task = asyncio.ensure_future(coro)
    try:
        await body()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_redis_stopped_and_restarted_mid_run(cluster: Cluster) -> None:
    """Redis gone, then back (empty): queries never fail, subscriptions keep receiving
    ticks (from replica-local feeds meanwhile), /readyz stays ready and says why, the
    shared path returns to one upstream connection, each transition is logged once."""
    sim, redis = cluster.sim, cluster.redis
    tickers = nba_tickers(sim)[:2]
    replicas = await cluster.start(2)
    failures: list[str] = []

    async def scenario() -> None:
        watchers = [await cluster.watch(r, tickers) for r in replicas]
        await eventually(lambda: set(tickers) <= sim.ws_subscribed_tickers(), timeout=15)
        redis.stop()
        stopped_at = time.time() * 1000
        await eventually(lambda: all(len(w.after(stopped_at)) > 5 for w in watchers), timeout=15)
        readyz = await replicas[0].get("/readyz")
        assert readyz["status"] == "ready" and "unavailable" in readyz["details"]["redis"]
        assert sim.ws_connection_count() == 2  # each replica on its own feed
        redis.start()
        back_at = time.time() * 1000
        await eventually(lambda: sim.ws_connection_count() == 1, timeout=15)
        await eventually(lambda: all(len(w.after(back_at)) > 5 for w in watchers), timeout=15)
        for replica in replicas:
            details = (await replica.get("/readyz"))["details"]
            assert details["redis"] == "ok" and details["live"].startswith("shared")

    async with ticking(sim, tickers):
        await _during(_query_forever(replicas, failures), scenario)
    assert failures == []
    for replica in replicas:
        log = "\n".join(replica.lines)
        assert log.count("Redis unavailable url=") == 1, replica.log()
        assert log.count("Redis available again") == 1
        assert log.count("fall back to a replica-local Kalshi feed") == 1
        assert log.count("back on the shared feed") == 1
        metrics = await replica.get("/metrics")
        assert 'kalshi_graph_redis_transitions_total{to="down"} 1.0' in metrics
        assert "kalshi_graph_live_fallbacks_total 1.0" in metrics
