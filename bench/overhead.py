"""What GraphQL itself costs: warm queries with no upstream latency, next to json.dumps.

How it works: one app (rating record refreshed, caches warm after the first answer)
on real uvicorn in a process of its own; one light client (:mod:`bench.rawhttp`) asks
the same query ``repeat`` times in a row, so each latency is the full HTTP round trip
through our stack with nothing to wait for: for the games query, mostly answered by the
result of an identical query within RESULT_CACHE_TTL_S, as repeats are. The baseline
is ``json.dumps`` of the very same response body: the least any server must do to send
those bytes. A cProfile of the server while it answers the repeated games query is
summarised by package (our ``graph``, Strawberry, graphql-core, the HTTP stack) to show
where the time goes.
"""

from __future__ import annotations

import json
import pstats
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.query import QUERY, app_client, graphql_request, post, sim_for
from bench.rawhttp import RawClient
from bench.report import Row, percentile

TRIVIAL = "{ __typename }"
_IDLE = frozenset({"<method 'poll' of 'select.epoll' objects>"})
BUCKETS = (
    ("/graph/", "ours (graph/)"),
    ("/strawberry/", "strawberry"),
    ("/graphql/", "graphql-core"),
    ("/httpx/", "upstream client (httpx)"),
    ("/httpcore/", "upstream client (httpx)"),
    ("/uvicorn/", "server (uvicorn, h11, starlette)"),
    ("/h11/", "server (uvicorn, h11, starlette)"),
    ("/starlette/", "server (uvicorn, h11, starlette)"),
    ("/asyncio/", "asyncio"),
    ("/json/", "json"),
)


async def _latencies(client: RawClient, query: str, repeat: int) -> list[float]:
    """Round trips, from the request's first byte out to the answer's last byte in."""
    request = graphql_request(client, query)
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        status, _ = await client.send(request)
        out.append((time.perf_counter() - started) * 1000)
        assert status == 200
    return out


def _dumps_ms(body: dict[str, Any], repeat: int) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        json.dumps(body)
    return (time.perf_counter() - started) * 1000 / repeat


def _by_package(stats: pstats.Stats) -> dict[str, float]:
    """Share of own (tottime) profile time per package, in percent."""
    totals: dict[str, float] = defaultdict(float)
    entries: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for (filename, _, function), (_, _, tottime, _, _) in entries.items():
        if function in _IDLE:
            continue  # the server waiting for the next request
        bucket = next((name for part, name in BUCKETS if part in filename), "other")
        totals[bucket] += tottime
    whole = sum(totals.values()) or 1.0
    return {name: 100 * t / whole for name, t in sorted(totals.items(), key=lambda kv: -kv[1])}


async def overhead_section(n: int, repeat: int, workdir: Path) -> tuple[list[Row], dict[str, Any]]:
    rows: list[Row] = []
    raw: dict[str, Any] = {}
    async with (
        sim_for(n, 0.0) as sim,
        app_client(sim, workdir, refreshed=True) as (server, client),
    ):
        for label, query in ((f"games N={n}", QUERY), ("trivial query", TRIVIAL)):
            body = await post(client, query)  # warms the caches
            walls = await _latencies(client, query, repeat)
            dumps = _dumps_ms(body, repeat)
            rows += [
                Row.of(f"overhead {label}: p50", percentile(walls, 50), "ms", dumps),
                Row.of(f"overhead {label}: p99", percentile(walls, 99), "ms", dumps),
                Row.of(
                    f"overhead {label}: throughput (1 client)",
                    len(walls) / (sum(walls) / 1000),
                    "req/s",
                    1000 / dumps,
                ),
            ]
            raw[label] = {"json_dumps_ms": round(dumps, 4), "bytes": len(json.dumps(body))}
        out = workdir / "overhead.pstats"
        await server.control("POST", "/bench/profile", action="start")
        await _latencies(client, QUERY, repeat)
        await server.control("POST", "/bench/profile", action="stop", out=str(out))
    shares = _by_package(pstats.Stats(str(out)))
    raw["profile_share_percent"] = {k: round(v, 1) for k, v in shares.items()}
    rows += [
        Row.of(f"overhead games N={n} profile: {name}", share, "%")
        for name, share in shares.items()
        if share >= 1
    ]
    return rows, raw
