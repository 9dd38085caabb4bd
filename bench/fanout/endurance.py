"""Our server over time: resident memory under steady load, and recovery after drops.

Memory: S subscribers with ticks flowing for ``rss_seconds``; RSS is sampled every
``rss_every_s`` (the clients' records are collected as often, to keep their own memory
flat). Recovery: with ticks flowing, the simulator drops the feed's connection
``drops`` times; for each subscriber we take the first message sent after a drop and
report the wait in multiples of the feed's backoff base (0.5 s; full jitter, doubling
per attempt), against the ceiling of that attempt.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from bench.fanout.measure import Session
from bench.report import Row
from graph.sim import Simulator

BACKOFF_BASE_S = 0.5  # KalshiFeed's default, which the app uses


async def rss_over_time(
    s: Session, seconds: float, every_s: float
) -> tuple[list[Row], dict[str, Any]]:
    samples: list[float] = []
    await s.clients.report()
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        samples.append(s.server.rss_mb())
        await asyncio.sleep(every_s)
        await s.clients.report()
    samples.append(s.server.rss_mb())
    name = f"RSS over {seconds:g} s (S={len(s.subs)})"
    rows = [
        Row.of(f"{name}: end", samples[-1], "MB", samples[0]),
        Row.of(f"{name}: max", max(samples), "MB", samples[0]),
    ]
    return rows, {"samples_mb": [round(x, 1) for x in samples]}


async def recovery(
    sim: Simulator, s: Session, drops: int, every_s: float
) -> tuple[list[Row], dict[str, Any]]:
    dropped_at: list[float] = []
    await s.clients.report()
    for _ in range(drops):
        dropped_at.append(time.time() * 1000)
        await sim.drop_ws_connections()
        await asyncio.sleep(every_s)
    received, errors = await s.clients.report()
    rows: list[Row] = []
    raw: list[dict[str, Any]] = []
    for attempt, at in enumerate(dropped_at):
        end = dropped_at[attempt + 1] if attempt + 1 < len(dropped_at) else float("inf")
        waits = _first_waits(received, at, end, len(s.subs))
        worst = max(waits) if len(waits) == len(s.subs) else float("inf")
        ceiling = BACKOFF_BASE_S * 2**attempt
        rows.append(
            Row.of(
                f"recovery after drop {attempt + 1} (backoff ceiling {ceiling:g} s)",
                worst / 1000 / BACKOFF_BASE_S,
                "x backoff",
                ceiling / BACKOFF_BASE_S,
            )
        )
        raw.append(
            {"worst_ms": round(worst, 1), "recovered": len(waits), "subscribers": len(s.subs)}
        )
    return rows, {"drops": raw, "errors": errors[:5]}


def _first_waits(
    received: Sequence[tuple[float, float, int]], at: float, end: float, subscribers: int
) -> list[float]:
    """Per subscriber that received one: how long after ``at`` its first tick sent in
    (at, end) arrived."""
    first: dict[int, float] = {}
    for recv, ts, sub in received:
        if at < ts < end and recv < first.get(sub, float("inf")):
            first[sub] = recv
    return [first[i] - at for i in range(subscribers) if i in first]
