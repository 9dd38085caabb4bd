"""What one ``games { markets prediction }`` query costs, next to the naive ways, in one run.

How it works: for each slate size N the simulator (in this process, on loopback)
serves N NBA games and answers every upstream request L after it came in (requests wait
concurrently, like a remote host's). Compared on the same simulator:

- ``ours``: the real app on real uvicorn, asked over HTTP (:mod:`bench.rawhttp`: a client
  that costs next to nothing), after one rating refresh (what the app runs in the
  background), with every cache then cleared: a cold query, the median of several.
  Rest days then come from the rating store, so no per-game request is made;
- ``ours, no rating record``: a fresh app that has not refreshed yet: rest days from
  one ESPN summary per game (PREDICTION_CONCURRENCY in flight), the fallback path;
- ``sequential`` and ``gather``: the naive clients of :mod:`bench.naive`.

Wall times are reported in units of L (round trips); upstream requests come from the
simulator's own statistics, reset before each run. The app runs alone in a process of
its own (:mod:`bench.servers`); the clients and the simulator share this one. The
simulator builds its answers within L (a 200-game scoreboard and its listing take it
~65 ms), as a remote host's work is part of its latency.

Single-flight: 100 identical cold queries at once on one app, each from a connection of
its own; the simulator counts the requests per resource (the target is one each) and we
report p99 latency against the same query alone.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from bench.naive import naive_games
from bench.rawhttp import RawClient
from bench.report import Row, percentile
from bench.servers import OURS, Server
from graph.model.ratings import RatingStore
from graph.models import League
from graph.sim import Faults, Simulator

DAY = date(2026, 11, 22)  # a Sunday: the NBA plays
NOON_UTC = 1_795_348_800.0  # DAY at 12:00 UTC; a fixed clock keeps every game scheduled
QUERY = """
query ($date: Date) {
  games(league: NBA, date: $date) {
    id
    markets { ticker yesBid yesAsk }
    prediction { homeWinProbability edge }
  }
}
"""
VARIABLES = {"date": str(DAY)}
KINDS = ("scoreboard", "markets", "summary")


@dataclass(frozen=True, slots=True)
class Run:
    """One timed answer and what the upstreams saw meanwhile."""

    wall_s: float
    games: int
    predictions: int
    errors: int
    requests: dict[str, int]


@asynccontextmanager
async def app_client(
    sim: Simulator, workdir: Path, *, refreshed: bool
) -> AsyncIterator[tuple[Server, RawClient]]:
    """A fresh app in its own process (cold caches), after one rating refresh if
    ``refreshed``, and a connection to it; every app of a run shares one ratings file."""
    env = {"BENCH_CLOCK": repr(NOON_UTC), "RATINGS_DB_PATH": str(workdir / "ratings.sqlite3")}
    server = await Server.start(OURS, sim, (), workdir, env=env)
    try:
        if refreshed:
            await server.control("POST", "/bench/refresh", league=League.NBA.value)
        client = await RawClient.connect(server.url)
        try:
            yield server, client
        finally:
            await client.close()
    finally:
        await server.stop()


def graphql_request(client: RawClient, query: str = QUERY) -> bytes:
    """The POST asking ``query`` (with the day's variables), ready to send."""
    return client.post_request(
        "/graphql", json.dumps({"query": query, "variables": VARIABLES}).encode()
    )


async def post(client: RawClient, query: str = QUERY) -> dict[str, Any]:
    status, answer = await client.send(graphql_request(client, query))
    if status != 200:
        raise RuntimeError(f"HTTP {status}: {answer[:200]!r}")
    body: dict[str, Any] = json.loads(answer)
    return body


def _requests(sim: Simulator) -> dict[str, int]:
    return {k: sim.stats.requests[k] for k in KINDS}


async def timed_query(client: RawClient, sim: Simulator) -> Run:
    """POST the query once; the simulator's statistics cover exactly this query."""
    sim.stats.reset()
    # Garbage of earlier runs would otherwise be collected inside whichever query
    # crosses the threshold.
    gc.collect()
    started = time.perf_counter()
    body = await post(client)
    wall = time.perf_counter() - started
    games = (body.get("data") or {}).get("games") or []
    return Run(
        wall_s=wall,
        games=len(games),
        predictions=sum(g["prediction"] is not None for g in games),
        errors=len(body.get("errors") or ()),
        requests=_requests(sim),
    )


async def timed_naive(sim: Simulator, store: RatingStore, *, gathered: bool) -> Run:
    sim.stats.reset()
    gc.collect()
    started = time.perf_counter()
    predicted = await naive_games(
        sim, store, League.NBA, DAY, gathered=gathered, clock=lambda: NOON_UTC
    )
    wall = time.perf_counter() - started
    return Run(wall, predicted, predicted, 0, _requests(sim))


def sim_for(n: int, latency_s: float) -> Simulator:
    return Simulator(
        clock=lambda: NOON_UTC,
        tick_interval_s=None,
        slate_size={League.NBA: n},
        faults=Faults(latency_s=latency_s),
    )


async def warm_up(workdir: Path) -> None:
    """Imports, schema compilation and the rating bootstrap happen once, untimed."""
    async with sim_for(2, 0.0) as sim, app_client(sim, workdir, refreshed=True) as (_, client):
        await post(client)


async def timed_cold(server: Server, client: RawClient, sim: Simulator, runs: int) -> Run:
    """The median of ``runs`` cold queries (every cache cleared before each)."""
    done = []
    for _ in range(runs):
        await server.control("POST", "/bench/clear")
        done.append(await timed_query(client, sim))
    return sorted(done, key=lambda run: run.wall_s)[len(done) // 2]


async def query_section(
    sizes: Sequence[int], latency_s: float, workdir: Path, *, cold_runs: int = 1
) -> tuple[list[Row], dict[str, Any]]:
    """Rows for every N, plus the raw runs (checked by tests) keyed by N and approach.

    Our cold answers are the median of ``cold_runs`` each; the naive ways run once."""
    rows: list[Row] = []
    raw: dict[str, Any] = {}
    store = RatingStore(workdir / "ratings.sqlite3")
    await asyncio.to_thread(store.open)
    try:
        for n in sizes:
            async with sim_for(n, latency_s) as sim:
                async with app_client(sim, workdir, refreshed=True) as (server, client):
                    ours = await timed_cold(server, client, sim, cold_runs)
                    warm = await timed_query(client, sim)
                async with app_client(sim, workdir, refreshed=False) as (server, client):
                    fallback = await timed_cold(server, client, sim, cold_runs)
                # The naive clients read the rating store the apps filled.
                await asyncio.to_thread(store.close)
                await asyncio.to_thread(store.open)
                sequential = await timed_naive(sim, store, gathered=False)
                gathered = await timed_naive(sim, store, gathered=True)
            runs = {
                "ours": ours,
                "ours_warm": warm,
                "ours_no_rating_record": fallback,
                "sequential": sequential,
                "gather": gathered,
            }
            raw[str(n)] = {k: vars_of(v) for k, v in runs.items()}
            rows += _query_rows(n, latency_s, runs)
    finally:
        store.close()
    return rows, raw


def vars_of(run: Run) -> dict[str, Any]:
    return {
        "wall_ms": round(run.wall_s * 1000, 1),
        "games": run.games,
        "predictions": run.predictions,
        "errors": run.errors,
        "requests": run.requests,
    }


def _query_rows(n: int, latency_s: float, runs: dict[str, Run]) -> list[Row]:
    seq = runs["sequential"]
    out = []
    for key, label in (
        ("ours", "ours"),
        ("ours_no_rating_record", "ours, no rating record"),
        ("gather", "plain gather"),
        ("sequential", "sequential (seed)"),
    ):
        run = runs[key]
        baseline = None if key == "sequential" else seq.wall_s / latency_s
        out.append(Row.of(f"query N={n} {label}: wall", run.wall_s / latency_s, "L", baseline))
    out.append(
        Row.of(
            f"query N={n} ours: warm wall",
            runs["ours_warm"].wall_s * 1000,
            "ms",
            runs["ours"].wall_s * 1000,
        )
    )
    for key, label in (("ours", "ours"), ("gather", "plain gather")):
        run = runs[key]
        out.append(
            Row.of(
                f"query N={n} {label}: markets requests",
                run.requests["markets"],
                "requests",
                seq.requests["markets"],
            )
        )
        out.append(
            Row.of(
                f"query N={n} {label}: upstream requests",
                sum(run.requests.values()),
                "requests",
                sum(seq.requests.values()),
            )
        )
    return out


async def singleflight_section(
    n: int, latency_s: float, workdir: Path, *, clients: int = 100
) -> tuple[list[Row], dict[str, Any]]:
    """``clients`` identical cold queries at once: upstream requests per resource and p99.

    Each query comes from a connection of its own, opened beforehand, through the light
    client of :mod:`bench.rawhttp` (the burst measures the server, not the client).
    """
    async with (
        sim_for(n, latency_s) as sim,
        app_client(sim, workdir, refreshed=True) as (
            server,
            client,
        ),
    ):
        lone = await timed_cold(server, client, sim, 3)
        burst = [await RawClient.connect(server.url) for _ in range(clients)]
        request = graphql_request(client)
        try:
            await server.control("POST", "/bench/clear")
            sim.stats.reset()
            gc.collect()

            async def one(each: RawClient) -> tuple[float, bytes]:
                started = time.perf_counter()
                status, answer = await each.send(request)
                assert status == 200, answer[:200]
                return time.perf_counter() - started, answer

            results = await asyncio.gather(*(one(c) for c in burst))
        finally:
            await asyncio.gather(*(c.close() for c in burst))
        requests = _requests(sim)
    walls = [wall * 1000 for wall, _ in results]
    identical = all(answer == results[0][1] for _, answer in results)
    rows = [
        Row.of(
            f"single-flight {clients} queries: {kind} requests",
            requests[kind],
            "requests",
            lone.requests[kind] * clients,
        )
        for kind in ("scoreboard", "markets")
    ]
    rows.append(
        Row.of(
            f"single-flight {clients} queries: p99 latency",
            percentile(walls, 99),
            "ms",
            lone.wall_s * 1000,
        )
    )
    raw = {"requests": requests, "lone": vars_of(lone), "identical": identical}
    return rows, raw
