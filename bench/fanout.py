"""Subscription fan-out, server memory over time, and recovery after an upstream drop.

How it works: three kinds of process share the machine.

- This process runs the simulator (real clock) and drives its feed: every 10 ms it
  publishes the ticks due so that each of M markets ticks ``rate`` times a second,
  and remembers when each tick was sent.
- The app runs alone in a child process (``python -m bench.server``), pointed at the
  simulator like any deployment; we read its CPU time and RSS from ``/proc`` and its
  hub counters from ``GET /bench/stats``.
- S subscribers are real ``graphql-transport-ws`` WebSocket clients spread over
  ``CLIENT_PROCESSES`` processes (so the clients are not the bottleneck of the server
  they measure); each subscribes to K markets and records, per message, its receive
  time and the ``ts`` it carries (the simulator's send time, from Kalshi's ``ts_ms``).

For a measured window [t0, t1) the offered load is every (subscriber, tick) pair with
a tick of one of its markets sent in the window; delivered is what clients received
with ``ts`` in the window; latency is receive time minus ``ts`` (one clock: one host).
Updates the hub conflated (a newer price replaced an unsent one) are its ``dropped``
counter. Recovery: with ticks flowing, the simulator drops the feed's connection; for
each subscriber we take the first message sent after the drop and report the wait in
multiples of the feed's backoff base (0.5 s; full jitter, doubling per attempt).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from array import array
from asyncio import FIRST_COMPLETED
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from bench.report import Row, percentile
from graph.espn.parse import eastern_date
from graph.models import League
from graph.sim import Simulator

SUBSCRIPTION = (
    "subscription ($t: [String!]!) "
    "{ tickerUpdates(marketTickers: $t) { marketTicker price yesBid yesAsk ts } }"
)
CLIENT_PROCESSES = 2
TICK_EVERY_S = 0.01
BACKOFF_BASE_S = 0.5  # KalshiFeed's default, which the app uses
P99_TARGET_MS = 50.0
THROUGHPUT_TARGET = 10_000.0


# Client processes


@dataclass
class _Record:
    recv_ms: array[float] = field(default_factory=lambda: array("d"))
    ts_ms: array[float] = field(default_factory=lambda: array("d"))
    sub: array[int] = field(default_factory=lambda: array("i"))
    errors: list[str] = field(default_factory=list)


async def _subscriber(
    url: str, index: int, tickers: list[str], record: _Record, ready: asyncio.Event
) -> None:
    ws: ClientConnection
    async with connect(
        url, subprotocols=[Subprotocol("graphql-transport-ws")], ping_interval=None, max_queue=None
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        ack = json.loads(await ws.recv())
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"no connection_ack: {ack}")
        payload = {"query": SUBSCRIPTION, "variables": {"t": tickers}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        async for raw in ws:
            now_ms = time.time() * 1000
            message = json.loads(raw)
            kind = message.get("type")
            if kind == "next":
                data = message["payload"].get("data")
                if data is None:
                    record.errors.append(str(message["payload"])[:200])
                    continue
                ts = datetime.fromisoformat(data["tickerUpdates"]["ts"]).timestamp() * 1000
                record.recv_ms.append(now_ms)
                record.ts_ms.append(ts)
                record.sub.append(index)
                ready.set()
            elif kind == "ping":
                await ws.send(json.dumps({"type": "pong"}))
            elif kind in ("error", "complete"):
                record.errors.append(str(message)[:200])
                return


async def _client(url: str, subs: list[tuple[int, list[str]]], conn: Connection) -> None:
    record = _Record()
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[str] = asyncio.Queue()

    def on_command() -> None:
        try:
            commands.put_nowait(conn.recv())
        except EOFError:  # the benchmark went away: stop too
            loop.remove_reader(conn.fileno())
            commands.put_nowait("stop")

    loop.add_reader(conn.fileno(), on_command)
    readies = [asyncio.Event() for _ in subs]
    gate = asyncio.Semaphore(50)  # do not open hundreds of handshakes in the same instant

    async def one(i: int, tickers: list[str], ready: asyncio.Event) -> None:
        try:
            async with gate:
                task = asyncio.ensure_future(_subscriber(url, i, tickers, record, ready))
                waiter = asyncio.ensure_future(ready.wait())
                await asyncio.wait([task, waiter], timeout=60, return_when=FIRST_COMPLETED)
                waiter.cancel()
            await task
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            record.errors.append(f"subscriber {i}: {type(exc).__name__}: {exc}"[:200])
        finally:
            ready.set()  # ended or failed: nothing more to wait for

    tasks = [asyncio.create_task(one(i, t, r)) for (i, t), r in zip(subs, readies, strict=True)]
    await asyncio.gather(*(r.wait() for r in readies))
    conn.send(("ready", len(record.errors)))
    while (command := await commands.get()) != "stop":
        if command == "report":
            conn.send(
                (
                    record.recv_ms.tobytes(),
                    record.ts_ms.tobytes(),
                    record.sub.tobytes(),
                    list(record.errors),
                )
            )
            record.recv_ms, record.ts_ms, record.sub = array("d"), array("d"), array("i")
    loop.remove_reader(conn.fileno())  # a no-op when already removed
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    with contextlib.suppress(OSError):
        conn.send("bye")


def client_main(url: str, subs: list[tuple[int, list[str]]], conn: Connection) -> None:
    """Entry point of one client process."""
    asyncio.run(_client(url, subs, conn))


@dataclass
class Clients:
    """The client processes of one measurement and their pipes."""

    processes: Sequence[multiprocessing.process.BaseProcess]
    pipes: list[Connection]

    @classmethod
    async def start(cls, url: str, assignments: Sequence[list[str]]) -> tuple[Clients, int]:
        ctx = multiprocessing.get_context("spawn")
        count = min(CLIENT_PROCESSES, len(assignments))
        shares: list[list[tuple[int, list[str]]]] = [[] for _ in range(count)]
        for i, tickers in enumerate(assignments):
            shares[i % count].append((i, tickers))
        processes, pipes = [], []
        for share in shares:
            ours, theirs = ctx.Pipe()
            process = ctx.Process(target=client_main, args=(url, share, theirs), daemon=True)
            process.start()
            theirs.close()
            processes.append(process)
            pipes.append(ours)
        clients = cls(processes, pipes)
        replies = await asyncio.gather(*(clients._recv(p, 120) for p in pipes))
        return clients, sum(failed for _, failed in replies)

    @staticmethod
    async def _recv(pipe: Connection, timeout: float) -> Any:
        ready = await asyncio.to_thread(pipe.poll, timeout)
        if not ready:
            raise TimeoutError("client process did not answer")
        return pipe.recv()

    async def report(self) -> tuple[list[tuple[float, float, int]], list[str]]:
        """Every (recv_ms, ts_ms, subscriber) recorded since the last report."""
        for pipe in self.pipes:
            pipe.send("report")
        rows: list[tuple[float, float, int]] = []
        errors: list[str] = []
        for pipe in self.pipes:
            recv_b, ts_b, sub_b, errs = await self._recv(pipe, 60)
            recv, ts, sub = array("d"), array("d"), array("i")
            recv.frombytes(recv_b)
            ts.frombytes(ts_b)
            sub.frombytes(sub_b)
            rows += zip(recv, ts, sub, strict=True)
            errors += errs
        return rows, errors

    async def stop(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send("stop")
        for pipe in self.pipes:
            with contextlib.suppress(Exception):
                await self._recv(pipe, 30)
            pipe.close()
        for process in self.processes:
            await asyncio.to_thread(process.join, 10)
            if process.is_alive():
                process.kill()
                await asyncio.to_thread(process.join, 5)


# The server process


@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str
    log_path: Path

    @classmethod
    async def start(cls, sim: Simulator, workdir: Path, profile: Path | None = None) -> Server:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
            "KALSHI_ENV": "sim",
            "KALSHI_REST_URL": sim.rest_url,
            "KALSHI_WS_URL": sim.ws_url,
            "SCOREBOARD_URL": sim.scoreboard_url,
            "KALSHI_API_KEY_ID": sim.key_id,
            "KALSHI_PRIVATE_KEY": sim.private_key_pem.decode(),
            "RATINGS_DB_PATH": str(workdir / "fanout-ratings.sqlite3"),
            "LOG_LEVEL": "WARNING",
            "MAX_TICKERS_PER_SUBSCRIPTION": "50",
        }
        if profile is not None:
            env["BENCH_PROFILE"] = str(profile)
        if os.environ.get("BENCH_TRACEMALLOC"):
            env["BENCH_TRACEMALLOC"] = os.environ["BENCH_TRACEMALLOC"]
        # Its log goes to a file: Strawberry logs a traceback for every client that
        # disconnects while updates flow (counted in the report, see ``error_lines``).
        log = (workdir / "server.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.server"],
            cwd=workdir,  # no stray .env from the developer's checkout
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        log.close()
        assert process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 120)
        if not line.startswith("PORT "):
            process.kill()
            raise RuntimeError(f"bench server did not start: {line!r}")
        return cls(process, f"http://127.0.0.1:{int(line.split()[1])}", workdir / "server.log")

    def error_lines(self) -> int:
        """ERROR records the server logged (each with a traceback)."""
        text = self.log_path.read_text(errors="replace")
        return sum(line.startswith("ERROR") for line in text.splitlines())

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    async def stats(self) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as client:
            response = await client.get("/bench/stats")
            response.raise_for_status()
            body: dict[str, Any] = response.json()
            return body

    async def stop(self) -> None:
        self.process.terminate()
        try:
            await asyncio.wait_for(asyncio.to_thread(self.process.wait), 30)
        except TimeoutError:
            self.process.kill()
            await asyncio.to_thread(self.process.wait)
        if self.process.stdout is not None:
            self.process.stdout.close()


# The feed driver


class Driver:
    """Publishes ``rate`` ticks per second per market, round robin, and logs send times."""

    def __init__(self, sim: Simulator, tickers: Sequence[str], rate: float) -> None:
        self._sim = sim
        self._tickers = list(tickers)
        self._rate = rate
        self.sent: list[tuple[float, str]] = []  # (time ms, ticker)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        per_step = self._rate * len(self._tickers) * TICK_EVERY_S
        owed, i, next_at = 0.0, 0, loop.time()
        while True:
            owed += per_step
            while owed >= 1:
                ticker = self._tickers[i % len(self._tickers)]
                self.sent.append((time.time() * 1000, ticker))
                await self._sim.publish_tick(ticker)
                i += 1
                owed -= 1
            next_at += TICK_EVERY_S
            await asyncio.sleep(max(0.0, next_at - loop.time()))


def assignments(subscribers: int, tickers: Sequence[str], per_sub: int) -> list[list[str]]:
    """Subscriber i watches ``per_sub`` consecutive markets starting at ``i * per_sub``."""
    m = len(tickers)
    return [[tickers[(i * per_sub + j) % m] for j in range(per_sub)] for i in range(subscribers)]


@dataclass(frozen=True, slots=True)
class Window:
    offered: int
    delivered: int
    latencies_ms: list[float]
    hub_dropped: int
    hub_delivered: int
    cpu_percent: float
    rss_mb: float
    errors: list[str]


async def _measure(
    server: Server,
    clients: Clients,
    driver: Driver,
    subs: Sequence[list[str]],
    seconds: float,
) -> Window:
    await clients.report()  # forget the warm-up
    stats0, cpu0, t0 = await server.stats(), server.cpu_s(), time.time() * 1000
    await asyncio.sleep(seconds)
    t1, cpu1, stats1 = time.time() * 1000, server.cpu_s(), await server.stats()
    await asyncio.sleep(0.5)  # let messages sent before t1 arrive
    rss = server.rss_mb()
    rows, errors = await clients.report()
    in_window = [(recv, ts) for recv, ts, _ in rows if t0 <= ts < t1]
    watchers: dict[str, int] = defaultdict(int)
    for tickers in subs:
        for ticker in tickers:
            watchers[ticker] += 1
    offered = sum(watchers[ticker] for at, ticker in driver.sent if t0 <= at < t1)
    return Window(
        offered=offered,
        delivered=len(in_window),
        latencies_ms=[recv - ts for recv, ts in in_window],
        hub_dropped=stats1["dropped"] - stats0["dropped"],
        hub_delivered=stats1["delivered"] - stats0["delivered"],
        cpu_percent=(cpu1 - cpu0) / ((t1 - t0) / 1000) * 100,
        rss_mb=rss,
        errors=errors,
    )


async def _wait_subscribed(sim: Simulator, wanted: set[str], timeout: float = 60) -> None:
    async with asyncio.timeout(timeout):
        while not wanted <= sim.ws_subscribed_tickers():
            await asyncio.sleep(0.05)


@dataclass(frozen=True, slots=True)
class FanoutConfig:
    sizes: Sequence[int] = (10, 100, 500, 1000)
    markets: int = 50
    per_sub: int = 5
    rate: float = 4.0  # ticks per second per market: 20 messages/s per subscriber
    seconds: float = 8.0
    rss_subscribers: int = 500
    rss_seconds: float = 60.0
    rss_every_s: float = 5.0
    drops: int = 3
    drop_every_s: float = 3.0
    profile: Path | None = None  # cProfile the server into this file


async def fanout_section(config: FanoutConfig) -> tuple[list[Row], dict[str, Any]]:
    rows: list[Row] = []
    raw: dict[str, Any] = {"levels": {}}
    with tempfile.TemporaryDirectory(prefix="kalshi-graph-fanout-") as tmp:
        games = config.markets // 2
        async with Simulator(tick_interval_s=None, slate_size={League.NBA: games}) as sim:
            today = eastern_date(datetime.now(UTC))
            tickers = [m["ticker"] for m in sim.markets_for(League.NBA, today)][: config.markets]
            server = await Server.start(sim, Path(tmp), config.profile)
            try:
                for s in config.sizes:
                    level_rows, level_raw = await _level(sim, server, tickers, s, config)
                    rows += level_rows
                    raw["levels"][str(s)] = level_raw
                rss_rows, raw["rss"] = await _rss_run(sim, server, tickers, config)
                rows += rss_rows
                rec_rows, raw["recovery"] = await _recovery(sim, server, tickers, config)
                rows += rec_rows
            finally:
                await server.stop()
                raw["server_log_errors"] = server.error_lines()
    return rows, raw


async def _session(
    sim: Simulator, server: Server, tickers: Sequence[str], s: int, config: FanoutConfig
) -> tuple[Clients, Driver, list[list[str]]]:
    subs = assignments(s, tickers, config.per_sub)
    clients, failed = await Clients.start(server.url.replace("http", "ws") + "/graphql", subs)
    if failed:
        await clients.stop()
        raise RuntimeError(f"{failed} subscribers failed to start")
    await _wait_subscribed(sim, {t for sub in subs for t in sub})
    driver = Driver(sim, tickers, config.rate)
    driver.start()
    await asyncio.sleep(1.0)  # warm-up
    return clients, driver, subs


async def _level(
    sim: Simulator, server: Server, tickers: Sequence[str], s: int, config: FanoutConfig
) -> tuple[list[Row], dict[str, Any]]:
    clients, driver, subs = await _session(sim, server, tickers, s, config)
    try:
        window = await _measure(server, clients, driver, subs, config.seconds)
    finally:
        await driver.stop()
        await clients.stop()
    seconds = config.seconds
    lat = window.latencies_ms or [float("nan")]
    name = f"fan-out S={s}"
    offered = window.offered / seconds
    rows = [
        Row.of(f"{name}: delivered", window.delivered / seconds, "msgs/s", offered),
        Row.of(f"{name}: latency p50", percentile(lat, 50), "ms"),
        Row.of(f"{name}: latency p99", percentile(lat, 99), "ms", P99_TARGET_MS),
        Row.of(f"{name}: conflated", window.hub_dropped / seconds, "msgs/s", offered),
        Row.of(f"{name}: server CPU", window.cpu_percent, "% core", 100.0),
        Row.of(f"{name}: server RSS", window.rss_mb, "MB"),
    ]
    raw = {
        "offered": window.offered,
        "delivered": window.delivered,
        "hub_delivered": window.hub_delivered,
        "hub_dropped": window.hub_dropped,
        "errors": window.errors[:5],
    }
    return rows, raw


async def _rss_run(
    sim: Simulator, server: Server, tickers: Sequence[str], config: FanoutConfig
) -> tuple[list[Row], dict[str, Any]]:
    s = config.rss_subscribers
    clients, driver, subs = await _session(sim, server, tickers, s, config)
    samples: list[float] = []
    try:
        await clients.report()
        started = time.perf_counter()
        while time.perf_counter() - started < config.rss_seconds:
            samples.append(server.rss_mb())
            await asyncio.sleep(config.rss_every_s)
            await clients.report()  # keep the clients' own memory flat
        samples.append(server.rss_mb())
    finally:
        await driver.stop()
        await clients.stop()
    name = f"RSS over {config.rss_seconds:g} s (S={s})"
    rows = [
        Row.of(f"{name}: end", samples[-1], "MB", samples[0]),
        Row.of(f"{name}: max", max(samples), "MB", samples[0]),
    ]
    return rows, {"samples_mb": [round(x, 1) for x in samples]}


async def _recovery(
    sim: Simulator, server: Server, tickers: Sequence[str], config: FanoutConfig
) -> tuple[list[Row], dict[str, Any]]:
    clients, driver, subs = await _session(sim, server, tickers, 10, config)
    drops: list[float] = []
    try:
        await clients.report()
        for _ in range(config.drops):
            drops.append(time.time() * 1000)
            await sim.drop_ws_connections()
            await asyncio.sleep(config.drop_every_s)
        rows_raw, errors = await clients.report()
    finally:
        await driver.stop()
        await clients.stop()
    rows: list[Row] = []
    raw: list[dict[str, Any]] = []
    for attempt, at in enumerate(drops):
        end = drops[attempt + 1] if attempt + 1 < len(drops) else float("inf")
        first: dict[int, float] = {}
        for recv, ts, sub in rows_raw:
            if at < ts < end and recv < first.get(sub, float("inf")):
                first[sub] = recv
        waits = [first[i] - at for i in range(len(subs)) if i in first]
        worst = max(waits) if len(waits) == len(subs) else float("inf")
        ceiling = BACKOFF_BASE_S * 2**attempt
        rows.append(
            Row.of(
                f"recovery after drop {attempt + 1} (backoff ceiling {ceiling:g} s)",
                worst / 1000 / BACKOFF_BASE_S,
                "x backoff",
                ceiling / BACKOFF_BASE_S,
            )
        )
        raw.append({"worst_ms": round(worst, 1), "recovered": len(waits), "subscribers": len(subs)})
    return rows, {"drops": raw, "errors": errors[:5]}
