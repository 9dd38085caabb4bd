"""``python -m bench``: every benchmark of issue 7 in one run, one table, one JSON file.

Sections: the games query next to the naive ways (``bench.query``), single-flight
under 100 identical queries, GraphQL overhead at zero latency (``bench.overhead``),
subscription fan-out, server memory and upstream-drop recovery (``bench.fanout``),
replicas on Redis (``bench.cluster``: 1 vs 2 workers, failover, upstream use), matching
200 games against 2,000 listed markets (``bench.matching``).
``--only SECTION`` runs one of them. ``--quick`` runs a reduced set in well under a minute
(``make bench-quick``; a test runs it). The model evaluation is separate
(``python -m bench.eval``, ``make eval``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.cluster import ClusterConfig, cluster_section
from bench.fanout import FanoutConfig, fanout_section
from bench.matching import matching_section
from bench.overhead import overhead_section
from bench.query import query_section as games_section, singleflight_section, warm_up
from bench.report import Row, format_table, write_json

DEFAULT_OUT = Path("bench/results/latest.json")


@dataclass(frozen=True, slots=True)
class Plan:
    sizes: Sequence[int] = (10, 50, 200)
    latency_s: float = 0.1
    singleflight_n: int = 50
    singleflight_clients: int = 100
    overhead_n: int = 50
    overhead_repeat: int = 200
    matching_repeat: int = 30
    fanout: FanoutConfig = field(default_factory=FanoutConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)


FULL = Plan()
QUICK = Plan(
    sizes=(5, 20),
    latency_s=0.02,
    singleflight_n=10,
    singleflight_clients=20,
    overhead_n=10,
    overhead_repeat=20,
    matching_repeat=5,
    fanout=FanoutConfig(
        sizes=(5, 20),
        markets=10,
        seconds=1.5,
        rss_subscribers=10,
        rss_seconds=2.0,
        rss_every_s=0.5,
        drops=1,
        drop_every_s=2.0,
    ),
    cluster=ClusterConfig(
        subscribers=20,
        markets=10,
        rate=4.0,
        seconds=1.5,
        kills=1,
        kill_subscribers=6,
        lease_ttl_s=1.0,
        queries=20,
        replica_counts=(1, 2),
    ),
)
SECTIONS = ("query", "fanout", "cluster", "matching")


async def run(plan: Plan, only: str | None = None) -> tuple[list[Row], dict[str, Any]]:
    rows: list[Row] = []
    notes: dict[str, Any] = {"latency_ms": plan.latency_s * 1000}
    if only in (None, "query"):
        rows += await _query_sections(plan, notes)
    if only in (None, "fanout"):
        section, notes["fanout"] = await fanout_section(plan.fanout)
        rows += section
    if only in (None, "cluster"):
        section, notes["cluster"] = await cluster_section(plan.cluster)
        rows += section
    if only in (None, "matching"):
        section, notes["matching"] = matching_section(plan.matching_repeat)
        rows += section
    return rows, notes


async def _query_sections(plan: Plan, notes: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="kalshi-graph-bench-") as tmp:
        work = Path(tmp)
        await warm_up(work)
        section, notes["query"] = await games_section(plan.sizes, plan.latency_s, work)
        rows += section
        section, notes["singleflight"] = await singleflight_section(
            plan.singleflight_n, plan.latency_s, work, clients=plan.singleflight_clients
        )
        rows += section
        section, notes["overhead"] = await overhead_section(
            plan.overhead_n, plan.overhead_repeat, work
        )
        rows += section
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the reduced set (< 60 s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--only", choices=SECTIONS, help="run one section")
    args = parser.parse_args(argv)
    load = round(os.getloadavg()[0], 2)
    started = time.perf_counter()
    rows, notes = asyncio.run(run(QUICK if args.quick else FULL, args.only))
    notes["elapsed_s"] = round(time.perf_counter() - started, 1)
    notes["mode"] = "quick" if args.quick else "full"
    print(format_table(rows))
    print(
        f"\nratio = value / baseline. L = {notes['latency_ms']:g} ms per upstream request. "
        f"{notes['elapsed_s']:g} s; load average at start {load}."
    )
    write_json(args.out, rows, notes=notes, started_load=load)
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
