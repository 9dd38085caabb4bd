"""What one ``games { markets prediction }`` query costs, as ratios within one run.

How it works: for each slate size N the simulator serves N NBA games with a fixed
per-request latency L (requests sleep concurrently, like a real remote host). A
fresh app (so every cache is cold) is served by real uvicorn on loopback and
asked the query once over a real httpx client; the same query is then repeated on
that app within the cache TTL (warm). A second fresh app with
``PREDICTION_CONCURRENCY=1`` answers the same cold query one game at a time: the
behaviour of the product we replace, our baseline. Upstream request counts and
peak concurrency come from the simulator's own statistics, reset between runs.

Everything (client, app, simulator) shares one process and one event loop, so
the app's CPU time and the simulator's count in full: absolute milliseconds depend
on the machine, the ratios (speed-up, cold time / L) are the result.
"""

from __future__ import annotations

import gc
import math
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from graph.app import create_app
from graph.models import League
from graph.settings import Settings
from graph.sim import Faults, Simulator
from graph.sim.loopback import serve_app

SIZES = (10, 50, 200)
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
KINDS = ("scoreboard", "markets", "summary")


@dataclass(frozen=True, slots=True)
class Run:
    """One timed query and what the upstreams saw while it ran."""

    wall_s: float
    games: int
    predictions: int
    errors: int
    requests: dict[str, int]
    max_in_flight: dict[str, int]


@dataclass(frozen=True, slots=True)
class Row:
    """Everything measured for one slate size."""

    n: int
    cold: Run
    warm: Run
    sequential: Run | None  # None when the baseline was extrapolated for this size
    sequential_s: float
    sequential_extrapolated: bool
    expected_round_trips: int


def expected_round_trips(n: int, concurrency: int, markets_pages: int) -> int:
    """Round trips on the critical path: the scoreboard, then the longer of two branches.

    After the scoreboard, the markets listing (its pages follow each other by cursor) and
    the summary waves (``ceil(N / concurrency)``) run at the same time
    (``GameService.load_predictions``).
    """
    return 1 + max(markets_pages, math.ceil(n / concurrency))


serve = serve_app


def bench_settings(sim: Simulator, workdir: Path, **overrides: Any) -> Settings:
    """The simulator's settings, with one ratings file for every app of a run (set up once)."""
    return sim.app_settings(**{"ratings_db_path": str(workdir / "ratings.sqlite3"), **overrides})


async def timed_query(client: httpx.AsyncClient, sim: Simulator) -> Run:
    """POST the query once; the simulator's statistics cover exactly this query."""
    sim.stats.reset()
    # Garbage left by earlier runs would otherwise be collected (a full pass, tens of ms)
    # inside whichever query happens to cross the threshold.
    gc.collect()
    started = time.perf_counter()
    response = await client.post("/graphql", json={"query": QUERY, "variables": {"date": str(DAY)}})
    wall = time.perf_counter() - started
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    games = (body.get("data") or {}).get("games") or []
    return Run(
        wall_s=wall,
        games=len(games),
        predictions=sum(g["prediction"] is not None for g in games),
        errors=len(body.get("errors") or ()),
        requests={k: sim.stats.requests[k] for k in KINDS},
        max_in_flight={k: sim.stats.max_in_flight[k] for k in KINDS},
    )


async def query_app(sim: Simulator, workdir: Path, *, times: int, **overrides: Any) -> list[Run]:
    """A fresh app (cold caches) asked the query ``times`` times in a row."""
    app = create_app(
        bench_settings(sim, workdir, **overrides),
        clock=lambda: NOON_UTC,
        ratings_refresh_s=None,
    )
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=120) as client:
        return [await timed_query(client, sim) for _ in range(times)]


def extrapolate(measured: dict[int, float], n: int) -> float:
    """Baseline time for ``n`` games from measured sizes: a line through the two largest."""
    sizes = sorted(measured)
    if len(sizes) == 1:
        m = sizes[0]
        return measured[m] * n / m
    a, b = sizes[-2], sizes[-1]
    slope = (measured[b] - measured[a]) / (b - a)
    return measured[b] + slope * (n - b)


async def run_bench(
    *,
    sizes: Sequence[int] = SIZES,
    latency_s: float = 0.05,
    concurrency: int | None = None,
    baseline_max_n: int | None = None,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """Measure every size; returns the JSON-ready report (see :func:`format_table`)."""
    sizes = sorted(sizes)
    if baseline_max_n is not None and baseline_max_n < sizes[0]:
        raise ValueError(f"baseline_max_n={baseline_max_n} leaves no baseline to extrapolate from")
    with tempfile.TemporaryDirectory(prefix="kalshi-graph-bench-") as tmp:
        work = workdir or Path(tmp)
        ours: dict[str, Any] = (
            {} if concurrency is None else {"prediction_concurrency": concurrency}
        )
        effective = concurrency or Settings.model_fields["prediction_concurrency"].default
        await _warm_up(work)
        rows: list[Row] = []
        baseline: dict[int, float] = {}
        for n in sizes:
            async with Simulator(
                clock=lambda: NOON_UTC,
                tick_interval_s=None,
                slate_size={League.NBA: n},
                faults=Faults(latency_s=latency_s),
            ) as sim:
                cold, warm = await query_app(sim, work, times=2, **ours)
                sequential = None
                if baseline_max_n is None or n <= baseline_max_n:
                    (sequential,) = await query_app(sim, work, times=1, prediction_concurrency=1)
                    baseline[n] = sequential.wall_s
            rows.append(
                Row(
                    n=n,
                    cold=cold,
                    warm=warm,
                    sequential=sequential,
                    sequential_s=sequential.wall_s if sequential else extrapolate(baseline, n),
                    sequential_extrapolated=sequential is None,
                    expected_round_trips=expected_round_trips(
                        n, effective, cold.requests["markets"]
                    ),
                )
            )
    return report(rows, latency_s=latency_s, concurrency=effective, baseline_max_n=baseline_max_n)


async def _warm_up(workdir: Path) -> None:
    # First use in a process pays imports, schema compilation and the rating bootstrap;
    # none of that is what a cold cache costs, so it happens once, untimed.
    async with Simulator(clock=lambda: NOON_UTC, tick_interval_s=None) as sim:
        await query_app(sim, workdir, times=1)


def report(
    rows: Sequence[Row], *, latency_s: float, concurrency: int, baseline_max_n: int | None
) -> dict[str, Any]:
    out_rows = []
    for row in rows:
        out_rows.append(
            {
                "n": row.n,
                "cold_ms": _ms(row.cold.wall_s),
                "warm_ms": _ms(row.warm.wall_s),
                "sequential_ms": _ms(row.sequential_s),
                "sequential_extrapolated": row.sequential_extrapolated,
                "speedup": round(row.sequential_s / row.cold.wall_s, 1),
                "cold_round_trips": round(row.cold.wall_s / latency_s, 1),
                "expected_round_trips": row.expected_round_trips,
                "sequential_round_trips": round(row.sequential_s / latency_s, 1),
                "warm_over_cold": round(row.warm.wall_s / row.cold.wall_s, 3),
                "cold": asdict(row.cold),
                "warm": asdict(row.warm),
                "sequential": asdict(row.sequential) if row.sequential else None,
            }
        )
    return {
        "benchmark": "games query: cold vs warm vs sequential baseline",
        "problems": problems(rows),
        "query": " ".join(QUERY.split()),
        "date": str(DAY),
        "latency_ms": latency_s * 1000,
        "prediction_concurrency": concurrency,
        "baseline_max_n": baseline_max_n,
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "rows": out_rows,
    }


def problems(rows: Sequence[Row]) -> list[str]:
    """Runs whose answer was not N games with N predictions and no errors (timings suspect)."""
    out = []
    for row in rows:
        runs = {"cold": row.cold, "warm": row.warm, "sequential": row.sequential}
        for name, run in runs.items():
            if run is not None and (run.games, run.predictions, run.errors) != (row.n, row.n, 0):
                out.append(
                    f"N={row.n} {name}: {run.games} games, {run.predictions} predictions, "
                    f"{run.errors} errors"
                )
    return out


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def format_table(result: dict[str, Any]) -> str:
    """The report as a fixed-width table with a short legend."""
    header = (
        f"{'N':>4}  {'cold ms':>8}  {'cold/L':>6}  {'model':>5}  {'seq ms':>8}  {'speed-up':>8}"
        f"  {'warm ms':>7}  {'scoreboard':>10}  {'markets':>7}  {'summary':>7}  {'in flight':>9}"
    )
    lines = [
        f"games query on the simulator: L = {result['latency_ms']:g} ms per upstream request, "
        f"PREDICTION_CONCURRENCY = {result['prediction_concurrency']}",
        "",
        header,
        "-" * len(header),
    ]
    extrapolated = False
    for row in result["rows"]:
        cold = row["cold"]
        seq = f"{row['sequential_ms']:.0f}"
        if row["sequential_extrapolated"]:
            seq, extrapolated = "~" + seq, True
        lines.append(
            f"{row['n']:>4}  {row['cold_ms']:>8.0f}  {row['cold_round_trips']:>6.1f}"
            f"  {row['expected_round_trips']:>5}  {seq:>8}  {row['speedup']:>7.1f}x"
            f"  {row['warm_ms']:>7.1f}  {cold['requests']['scoreboard']:>10}"
            f"  {cold['requests']['markets']:>7}  {cold['requests']['summary']:>7}"
            f"  {cold['max_in_flight']['summary']:>9}"
        )
    lines += [
        "",
        "cold/L: cold wall time in round trips of latency; model: round trips on the critical",
        "path (1 scoreboard + the longer of: markets pages, ceil(N / concurrency) summary waves).",
        "seq: the same cold query with PREDICTION_CONCURRENCY=1 (one game at a time, the old",
        "product). Request counts and peak in-flight summaries are the cold query's upstream load;",
        "the warm repeat (within the TTL) made "
        + ", ".join(
            f"{sum(row['warm']['requests'].values())} (N={row['n']})" for row in result["rows"]
        )
        + " upstream requests.",
    ]
    lines += [f"WARNING {problem}" for problem in result["problems"]]
    if extrapolated:
        lines.append(
            f"~: extrapolated linearly from the measured baseline sizes "
            f"(baseline measured for N <= {result['baseline_max_n']})."
        )
    return "\n".join(lines)
