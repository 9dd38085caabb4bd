"""Scale-out on Redis: fan-out with 1 and 2 workers, failover gap, upstream connections and reads.

How it works: this process runs the simulator (its feed driven by
:class:`bench.fanout.driver.Driver`) and a private ``redis-server``; the service runs as
``python -m graph --workers N`` (one port, N processes, ``REDIS_URL`` set), started afresh
for each measurement with Redis flushed. Subscribers are :mod:`bench.fanout`'s client
processes, connecting through the shared port (the kernel spreads them over the workers).

- Throughput: S subscribers, offered load above what one worker delivers; delivered
  messages/s (client side, ``ts`` in the window) with 1 worker, then 2, in the same run. The
  target is 2 workers >= 1.6 x one.
- Failover: with ticks flowing, the lease holder (its pid is in the lease key) is killed with
  SIGKILL; the gap is from the kill to the first message, sent after the kill, that any
  subscriber on a surviving worker receives. Target: <= lease TTL + 1 s; p50 and max over
  ``kills`` kills (the supervisor restarts the dead worker between kills).
- Upstream: the simulator's WebSocket connection count, sampled every 50 ms during every
  run (target: never above 1), and the REST requests 100 identical ``games`` queries cause
  against 1, 2 and 3 workers from cold caches (target: the same for every count).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.fanout.clients import Clients
from bench.fanout.driver import Driver, assignments
from bench.report import Row, percentile
from bench.servers import UNLIMITED
from graph.cluster.local import RedisServer
from graph.espn.parse import eastern_date
from graph.models import League
from graph.sim import Simulator

_LISTENING = re.compile(r"GraphiQL at (http://[\d.]+:\d+)/graphql")
# Tomorrow's games with their markets: a schedule no rating refresh reads, no predictions.
QUERY = "query ($d: Date) { games(league: NBA, date: $d) { id markets { ticker yesBid } } }"
FAILOVER_SLACK_S = 1.0


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    subscribers: int = 1000
    markets: int = 50
    per_sub: int = 5
    rate: float = 8.0  # ticks/s per market: 40 msgs/s offered per subscriber
    seconds: float = 8.0
    kills: int = 5
    kill_subscribers: int = 20
    lease_ttl_s: float = 3.0
    queries: int = 100
    replica_counts: Sequence[int] = (1, 2, 3)


class Workers:
    """``python -m graph --workers N`` against the simulator and Redis."""

    def __init__(self, process: subprocess.Popen[str], url: str, log: Path) -> None:
        self.process = process
        self.url = url
        self.log = log

    @classmethod
    async def start(
        cls,
        count: int,
        sim: Simulator,
        redis_url: str,
        workdir: Path,
        lease_ttl_s: float,
        log_level: str = "WARNING",
    ) -> Workers:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
            "HOST": "127.0.0.1",
            "PORT": "0",
            **sim.app_env(),
            "RATINGS_DB_PATH": str(workdir / "cluster-ratings.sqlite3"),
            "REDIS_URL": redis_url,
            "FEED_LEASE_TTL_S": str(lease_ttl_s),
            "LOG_LEVEL": log_level,
            "RATINGS_REFRESH_S": "0",  # no rating upkeep competing for the CPU measured
            "MAX_TICKERS_PER_SUBSCRIPTION": "50",
            "MAX_WS_CONNECTIONS": "5000",
            **UNLIMITED,
        }
        log = workdir / f"workers-{count}.log"
        with log.open("w") as err:
            process = subprocess.Popen(
                [sys.executable, "-m", "graph", "--workers", str(count)],
                cwd=workdir,
                env=env,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )
        assert process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 120)
        found = _LISTENING.search(line)
        if found is None:
            process.kill()
            raise RuntimeError(f"workers did not start: {line!r} {log.read_text()[-500:]}")
        workers = cls(process, found.group(1), log)
        try:
            await workers.wait_ready(count)
        except BaseException:
            await workers.stop()
            raise
        return workers

    async def wait_logged(self, text: str, times: int, timeout: float = 120) -> None:
        async with asyncio.timeout(timeout):
            while self.log.read_text(errors="replace").count(text) < times:
                await asyncio.sleep(0.1)

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()]

    async def wait_ready(self, count: int, timeout: float = 120) -> None:
        """Until ``count`` live children answered /readyz (its details name the replica, whose
        id holds the pid; the kernel picks which child answers, so ask often)."""
        seen: set[int] = set()
        fresh = httpx.Limits(max_keepalive_connections=0)  # a new connection each time
        async with (
            asyncio.timeout(timeout),
            httpx.AsyncClient(base_url=self.url, limits=fresh) as client,
        ):
            while len(seen & set(self.children())) < count:
                with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
                    body = (await client.get("/readyz", timeout=2)).json()
                    if body["status"] == "ready":
                        seen.add(_pid_of(body["details"]["replica"]))
                await asyncio.sleep(0.02)

    def cpu_s(self) -> float:
        total = 0.0
        for pid in self.children():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    async def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.to_thread(self.process.wait), 60)
        except TimeoutError:
            self.process.kill()
            await asyncio.to_thread(self.process.wait)
        if self.process.stdout is not None:
            self.process.stdout.close()


class ConnectionWatch:
    """Samples the simulator's upstream WebSocket count every 50 ms."""

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim
        self.most = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.most = max(self.most, self._sim.ws_connection_count())
            await asyncio.sleep(0.05)

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[None]:
        self._task = asyncio.create_task(self._run())
        try:
            yield
        finally:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def _wait_subscribed(sim: Simulator, wanted: set[str], timeout: float = 60) -> None:
    async with asyncio.timeout(timeout):
        while not wanted <= sim.ws_subscribed_tickers():
            await asyncio.sleep(0.05)


def _pid_of(replica: str) -> int:
    """The pid in a replica id (``host-pid-random``)."""
    return int(replica.rsplit("-", 2)[1])


async def _owner_pid(redis: RedisServer) -> int:
    """The lease holder's pid, from the lease key (``host-pid-rand.token fence``)."""
    import redis.asyncio as aredis

    client = aredis.Redis.from_url(redis.url)
    try:
        async with asyncio.timeout(30):
            while True:
                value = await client.get("kalshi-graph:feed:lease")
                if value is not None:
                    text = value.decode() if isinstance(value, bytes) else value
                    return _pid_of(text.split(".", 1)[0])
                await asyncio.sleep(0.05)
    finally:
        await client.aclose()


async def _subscribed_elsewhere(redis: RedisServer, owner: int) -> bool:
    """Does a replica other than ``owner`` want markets (its subscribers survive a kill)?
    The kernel may hand every connection to one worker; the wanted-markets keys tell."""
    import redis.asyncio as aredis

    client = aredis.Redis.from_url(redis.url)
    try:
        async with asyncio.timeout(2):  # a replica writes its markets within milliseconds
            while True:
                keys = [
                    k.decode() if isinstance(k, bytes) else k
                    for k in await client.keys("kalshi-graph:wanted:by:*")
                ]
                values = await client.mget(keys) if keys else []
                others = [
                    v for k, v in zip(keys, values, strict=True)
                    if v not in (None, b"[]") and _pid_of(k.rsplit(":", 1)[1]) != owner
                ]  # fmt: skip
                if others:
                    return True
                await asyncio.sleep(0.1)
    except TimeoutError:
        return False
    finally:
        await client.aclose()


async def _flush(redis: RedisServer) -> None:
    import redis.asyncio as aredis

    client = aredis.Redis.from_url(redis.url)
    try:
        await client.flushall()
    finally:
        await client.aclose()


async def _throughput(
    sim: Simulator,
    redis: RedisServer,
    tickers: Sequence[str],
    workers: int,
    config: ClusterConfig,
    workdir: Path,
    watch: ConnectionWatch,
) -> dict[str, Any]:
    await _flush(redis)
    server = await Workers.start(workers, sim, redis.url, workdir, config.lease_ttl_s)
    subs = assignments(config.subscribers, tickers, config.per_sub)
    driver = Driver(sim, tickers, config.rate)
    clients: Clients | None = None
    try:
        clients, failed = await Clients.start(server.url.replace("http", "ws") + "/graphql", subs)
        if failed:
            raise RuntimeError(f"{failed} subscribers failed to start")
        await _wait_subscribed(sim, {t for sub in subs for t in sub})
        driver.start()
        await asyncio.sleep(1.0)  # warm-up
        await clients.report()
        cpu0, t0 = server.cpu_s(), time.time() * 1000
        await asyncio.sleep(config.seconds)
        t1, cpu1 = time.time() * 1000, server.cpu_s()
        await asyncio.sleep(0.5)  # let messages sent before t1 arrive
        rows, errors = await clients.report()
    finally:
        await driver.stop()
        if clients is not None:
            await clients.stop()
        await server.stop()
    in_window = [(recv, ts) for recv, ts, _ in rows if t0 <= ts < t1]
    watchers: dict[str, int] = {}
    for sub in subs:
        for ticker in sub:
            watchers[ticker] = watchers.get(ticker, 0) + 1
    offered = sum(watchers[t] for at, t in driver.sent if t0 <= at < t1)
    seconds = (t1 - t0) / 1000
    lat = [recv - ts for recv, ts in in_window] or [float("nan")]
    return {
        "workers": workers,
        "offered_per_s": offered / seconds,
        "delivered_per_s": len(in_window) / seconds,
        "p50_ms": percentile(lat, 50),
        "p99_ms": percentile(lat, 99),
        "cpu_cores": (cpu1 - cpu0) / seconds,
        "errors": errors[:5],
    }


async def _failover(
    sim: Simulator,
    redis: RedisServer,
    tickers: Sequence[str],
    config: ClusterConfig,
    workdir: Path,
    watch: ConnectionWatch,
) -> list[float]:
    """Seconds from each kill to the first post-kill message a surviving subscriber gets."""
    await _flush(redis)
    server = await Workers.start(2, sim, redis.url, workdir, config.lease_ttl_s)
    driver = Driver(sim, tickers, max(config.rate, 10.0))
    gaps: list[float] = []
    driver.start()
    try:
        for _ in range(config.kills):
            subs = assignments(config.kill_subscribers, tickers, config.per_sub)
            url = server.url.replace("http", "ws") + "/graphql"
            for _attempt in range(10):  # until some subscribers sit on a worker that survives
                clients, failed = await Clients.start(url, subs)
                if failed:
                    await clients.stop()
                    raise RuntimeError(f"{failed} subscribers failed to start")
                victim = await _owner_pid(redis)
                if await _subscribed_elsewhere(redis, victim):
                    break
                await clients.stop()
            try:
                await clients.report()
                killed_at = time.time() * 1000
                os.kill(victim, signal.SIGKILL)
                await asyncio.sleep(config.lease_ttl_s + FAILOVER_SLACK_S + 2)
                rows, _ = await clients.report()
            finally:
                await clients.stop()
            after = [recv for recv, ts, _ in rows if ts > killed_at]
            gaps.append((min(after) - killed_at) / 1000 if after else float("inf"))
            await server.wait_ready(2)  # the supervisor restarted the dead worker
    finally:
        await driver.stop()
        await server.stop()
    return gaps


async def _reads(
    sim: Simulator, redis: RedisServer, count: int, config: ClusterConfig, workdir: Path
) -> dict[str, int]:
    """Upstream REST requests that ``queries`` identical cold queries over ``count`` workers
    cause."""
    await _flush(redis)
    server = await Workers.start(count, sim, redis.url, workdir, config.lease_ttl_s, "INFO")
    try:
        sim.stats.reset()
        body = {
            "query": QUERY,
            "variables": {"d": (eastern_date(datetime.now(UTC)) + timedelta(days=1)).isoformat()},
        }
        # A connection per query, so the kernel spreads them over the workers.
        limits = httpx.Limits(max_connections=config.queries, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as client:
            bodies = await asyncio.gather(
                *(client.post("/graphql", json=body) for _ in range(config.queries))
            )
        failures = sum(1 for b in bodies if b.status_code != 200 or "errors" in b.json())
        requests = {k: v for k, v in sim.stats.requests.items() if k != "ws_connect"}
        return {"failures": failures, "total": sum(requests.values()), **requests}
    finally:
        await server.stop()


async def cluster_section(config: ClusterConfig) -> tuple[list[Row], dict[str, Any]]:
    rows: list[Row] = []
    raw: dict[str, Any] = {}
    games = config.markets // 2
    with (
        tempfile.TemporaryDirectory(prefix="kalshi-graph-cluster-") as tmp,
        RedisServer() as redis,
    ):
        workdir = Path(tmp)
        async with Simulator(tick_interval_s=None, slate_size={League.NBA: games}) as sim:
            today = eastern_date(datetime.now(UTC))
            tickers = [m["ticker"] for m in sim.markets_for(League.NBA, today)][: config.markets]
            watch = ConnectionWatch(sim)
            async with watch.watching():
                one = await _throughput(sim, redis, tickers, 1, config, workdir, watch)
                two = await _throughput(sim, redis, tickers, 2, config, workdir, watch)
                gaps = await _failover(sim, redis, tickers, config, workdir, watch)
            reads = {
                str(n): await _reads(sim, redis, n, config, workdir) for n in config.replica_counts
            }
    s = config.subscribers
    rows += [
        Row.of(f"cluster S={s}: 1 worker delivered", one["delivered_per_s"], "msgs/s",
               one["offered_per_s"]),
        Row.of(f"cluster S={s}: 2 workers delivered", two["delivered_per_s"], "msgs/s",
               one["delivered_per_s"]),
        Row.of(f"cluster S={s}: 2 workers p99", two["p99_ms"], "ms", one["p99_ms"]),
        Row.of(f"cluster S={s}: 2 workers CPU", two["cpu_cores"] * 100, "% core", 200.0),
    ]  # fmt: skip
    finite = [g for g in gaps if g != float("inf")] or [float("inf")]
    target = config.lease_ttl_s + FAILOVER_SLACK_S
    rows += [
        Row.of(f"failover gap p50 ({len(gaps)} kills)", percentile(finite, 50), "s", target),
        Row.of(f"failover gap max ({len(gaps)} kills)", max(gaps), "s", target),
        Row.of("upstream WebSocket connections (max)", watch.most, "connections", 1.0),
    ]
    base = reads[str(config.replica_counts[0])]["total"]
    for n, counts in reads.items():
        rows.append(
            Row.of(f"upstream reads, {config.queries} cold queries, {n} workers", counts["total"],
                   "requests", base)
        )  # fmt: skip
    raw.update(
        one_worker=one,
        two_workers=two,
        failover_gaps_s=[round(g, 3) for g in gaps],
        lease_ttl_s=config.lease_ttl_s,
        max_upstream_ws=watch.most,
        reads=reads,
    )
    return rows, raw
