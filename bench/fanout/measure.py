"""One measured window of a fan-out session: offered, delivered, latency, CPU.

A session is a server with S subscribers and ticks flowing (after a second of warm-up).
For a window [t0, t1) the offered load is every (subscriber, tick) pair with a tick of
one of its markets sent in the window; delivered is what clients received with ``ts``
in the window; latency is receive time minus ``ts`` (one clock: one host). Updates our
hub conflated (a newer price replaced an unsent one) are its ``dropped`` counter; the
peers have no such counter.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bench.fanout.clients import Clients
from bench.fanout.driver import Driver, assignments
from bench.servers import Server
from graph.sim import Simulator

WARM_UP_S = 1.0


@dataclass(frozen=True, slots=True)
class Window:
    seconds: float
    offered: int
    delivered: int
    latencies_ms: list[float]
    hub_dropped: int | None
    hub_delivered: int | None
    cpu_percent: float
    clients_cpu_percent: float
    rss_mb: float
    errors: list[str]


@dataclass(frozen=True, slots=True)
class Session:
    server: Server
    clients: Clients
    driver: Driver
    subs: list[list[str]]


async def _wait_subscribed(sim: Simulator, wanted: set[str], timeout: float = 60) -> None:
    async with asyncio.timeout(timeout):
        while not wanted <= sim.ws_subscribed_tickers():
            await asyncio.sleep(0.05)


@asynccontextmanager
async def session(
    sim: Simulator,
    server: Server,
    tickers: Sequence[str],
    subscribers: int,
    *,
    per_sub: int,
    rate: float,
) -> AsyncIterator[Session]:
    """``subscribers`` clients of ``server`` with ticks flowing, warmed up."""
    subs = assignments(subscribers, tickers, per_sub)
    clients, failed = await Clients.start(server.ws_url, subs)
    driver = Driver(sim, tickers, rate)
    try:
        if failed:
            raise RuntimeError(f"{failed} subscribers of {server.contender.name} failed to start")
        await _wait_subscribed(sim, {t for sub in subs for t in sub})
        driver.start()
        await asyncio.sleep(WARM_UP_S)
        yield Session(server, clients, driver, subs)
    finally:
        await driver.stop()
        await clients.stop()


async def measure(s: Session, seconds: float) -> Window:
    server, clients = s.server, s.clients
    await clients.report()  # forget the warm-up
    stats0 = await server.stats()
    cpu0, clients0, t0 = server.cpu_s(), clients.cpu_s(), time.time() * 1000
    await asyncio.sleep(seconds)
    t1, cpu1, clients1 = time.time() * 1000, server.cpu_s(), clients.cpu_s()
    stats1 = await server.stats()
    await asyncio.sleep(0.5)  # let messages sent before t1 arrive
    rss = server.rss_mb()
    rows, errors = await clients.report()
    in_window = [(recv, ts) for recv, ts, _ in rows if t0 <= ts < t1]
    watchers: dict[str, int] = defaultdict(int)
    for tickers in s.subs:
        for ticker in tickers:
            watchers[ticker] += 1
    offered = sum(watchers[ticker] for at, ticker in s.driver.sent if t0 <= at < t1)
    elapsed = (t1 - t0) / 1000
    return Window(
        seconds=elapsed,
        offered=offered,
        delivered=len(in_window),
        latencies_ms=[recv - ts for recv, ts in in_window],
        hub_dropped=stats1["dropped"] - stats0["dropped"] if stats0 else None,
        hub_delivered=stats1["delivered"] - stats0["delivered"] if stats0 else None,
        cpu_percent=(cpu1 - cpu0) / elapsed * 100,
        clients_cpu_percent=(clients1 - clients0) / elapsed * 100,
        rss_mb=rss,
        errors=errors,
    )
