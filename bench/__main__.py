"""``python -m bench``: every benchmark in one run, one table, one JSON file.

Sections: the games query next to the naive ways (``query``, :mod:`bench.query`),
single-flight under 100 identical queries (``singleflight``), GraphQL overhead at zero
latency (``overhead``, :mod:`bench.overhead`), permessage-deflate on small frames
(``deflate``, :mod:`bench.deflate`), subscription fan-out next to a plain Strawberry
server and a raw relay, then our memory over time and recovery after upstream drops
(``fanout``, :mod:`bench.fanout`), replicas on Redis (``cluster``, :mod:`bench.cluster`:
1 vs 2 workers, failover, upstream use), matching 200 games against 2,000 listed markets
(``matching``, :mod:`bench.matching`), what the attacks of issue 18 cost now (``abuse``,
:mod:`bench.abuse`). ``--quick`` runs a reduced set in about a minute
(``make bench-quick``; a test runs it); ``--section`` (or ``--only``) runs only the named
sections. The model evaluation is separate (``python -m bench.eval``, ``make eval``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.abuse import AbuseConfig, abuse_section
from bench.cluster import ClusterConfig, cluster_section
from bench.deflate import deflate_section
from bench.fanout import FanoutConfig, fanout_section
from bench.matching import matching_section
from bench.overhead import overhead_section
from bench.query import query_section as games_section, singleflight_section, warm_up
from bench.report import Row, format_table, write_json

DEFAULT_OUT = Path("bench/results/latest.json")
SECTIONS = (
    "query",
    "singleflight",
    "overhead",
    "deflate",
    "fanout",
    "cluster",
    "matching",
    "abuse",
)


@dataclass(frozen=True, slots=True)
class Plan:
    sizes: Sequence[int] = (10, 50, 200)
    latency_s: float = 0.1
    cold_runs: int = 5  # our cold queries per N (the median is reported)
    singleflight_n: int = 50
    singleflight_clients: int = 100
    overhead_n: int = 50
    overhead_repeat: int = 200
    deflate_frames: int = 20_000
    matching_repeat: int = 30
    fanout: FanoutConfig = field(default_factory=FanoutConfig)
    abuse: AbuseConfig = field(default_factory=AbuseConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    sections: Sequence[str] = SECTIONS


FULL = Plan()
QUICK = Plan(
    sizes=(5, 200),
    latency_s=0.02,
    cold_runs=1,
    singleflight_n=10,
    singleflight_clients=20,
    overhead_n=10,
    overhead_repeat=20,
    deflate_frames=2_000,
    matching_repeat=5,
    fanout=FanoutConfig(
        sizes=(20,),
        markets=10,
        seconds=1.5,
        rss_subscribers=10,
        rss_seconds=2.0,
        rss_every_s=0.5,
        drops=1,
        drop_every_s=2.0,
    ),
    abuse=AbuseConfig(
        bomb_repeat=3,
        concurrent_bombs=10,
        legacy_sessions=100,
        attackers=2,
        tickers_per_attacker=200,
        feed_seconds=2.0,
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


async def _sync(result: tuple[list[Row], dict[str, Any]]) -> tuple[list[Row], dict[str, Any]]:
    return result


async def run(plan: Plan) -> tuple[list[Row], dict[str, Any]]:
    rows: list[Row] = []
    notes: dict[str, Any] = {"latency_ms": plan.latency_s * 1000, "section_s": {}}
    wanted = set(plan.sections)
    with tempfile.TemporaryDirectory(prefix="kalshi-graph-bench-") as tmp:
        work = Path(tmp)
        sections: dict[str, Callable[[], Awaitable[tuple[list[Row], dict[str, Any]]]]] = {
            "query": lambda: games_section(
                plan.sizes, plan.latency_s, work, cold_runs=plan.cold_runs
            ),
            "singleflight": lambda: singleflight_section(
                plan.singleflight_n, plan.latency_s, work, clients=plan.singleflight_clients
            ),
            "overhead": lambda: overhead_section(plan.overhead_n, plan.overhead_repeat, work),
            "deflate": lambda: deflate_section(plan.deflate_frames),
            "fanout": lambda: fanout_section(plan.fanout),
            "cluster": lambda: cluster_section(plan.cluster),
            "abuse": lambda: abuse_section(plan.abuse, work),
            "matching": lambda: _sync(matching_section(plan.matching_repeat)),
        }
        if wanted & {"query", "singleflight", "overhead"}:
            await warm_up(work)
        for name in SECTIONS:
            if name in wanted:
                started = time.perf_counter()
                section, notes[name] = await sections[name]()
                rows += section
                notes["section_s"][name] = round(time.perf_counter() - started, 1)
    return rows, notes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the reduced set (< 60 s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--section",
        "--only",
        action="append",
        choices=SECTIONS,
        help="run only this section (repeatable)",
    )
    parser.add_argument(
        "--fanout-sizes", type=_sizes, help="subscriber counts of the fan-out, e.g. 100,500"
    )
    parser.add_argument(
        "--profile-fanout", type=Path, metavar="FILE", help="cProfile our fan-out server into FILE"
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.section:
        plan = replace(plan, sections=args.section)
    if args.fanout_sizes or args.profile_fanout:
        sizes = args.fanout_sizes or plan.fanout.sizes
        fanout = replace(plan.fanout, sizes=sizes, profile=args.profile_fanout)
        plan = replace(plan, fanout=fanout)
    load = round(os.getloadavg()[0], 2)
    started = time.perf_counter()
    rows, notes = asyncio.run(run(plan))
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


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(","))


if __name__ == "__main__":
    raise SystemExit(main())
