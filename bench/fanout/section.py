"""The fan-out section: every contender at every level, then our memory and recovery.

For each number of subscribers S, each contender (:func:`bench.servers.contenders`)
gets a fresh server process, the same simulator, the same markets and the same clients,
one after the other, so the rows of a level compare like with like in one run. Rows per
contender: delivered (msgs/s, against the offered load), p50 and p99 latency, server CPU
(% of one core) and CPU per delivered message (both against the relay's), the clients'
CPU (to show they were not the bottleneck); ours adds what its hub conflated. Per level,
``ours/relay: delivered ratio`` is ours' delivered rate over the relay's.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.fanout.endurance import recovery, rss_over_time
from bench.fanout.measure import Window, measure, session
from bench.report import Row, percentile
from bench.servers import Contender, Server, contenders
from graph.espn.parse import eastern_date
from graph.models import League
from graph.sim import Simulator


@dataclass(frozen=True, slots=True)
class FanoutConfig:
    sizes: Sequence[int] = (100, 500, 1000)
    markets: int = 50
    per_sub: int = 2
    rate: float = 20.0  # ticks per second per market: 40 messages/s per subscriber
    seconds: float = 8.0
    deflate: bool = (
        False  # permessage-deflate for ours and both peers (WS_PER_MESSAGE_DEFLATE default)
    )
    other_deflate: bool = True  # also ours with the other choice
    peers: bool = True
    rss_subscribers: int = 500
    rss_seconds: float = 60.0
    rss_every_s: float = 5.0
    drops: int = 3
    drop_every_s: float = 3.0
    endurance: bool = True
    profile: Path | None = None  # cProfile our server into this file (its last run)


async def fanout_section(config: FanoutConfig) -> tuple[list[Row], dict[str, Any]]:
    rows: list[Row] = []
    raw: dict[str, Any] = {"levels": {}, "server_log_errors": {}}
    field = contenders(config.deflate, other_deflate=config.other_deflate)
    if not config.peers:
        field = [c for c in field if c.hub_stats]
    with tempfile.TemporaryDirectory(prefix="kalshi-graph-fanout-") as tmp:
        work = Path(tmp)
        games = config.markets // 2
        async with Simulator(tick_interval_s=None, slate_size={League.NBA: games}) as sim:
            today = eastern_date(datetime.now(UTC))
            tickers = [m["ticker"] for m in sim.markets_for(League.NBA, today)][: config.markets]
            servers: dict[str, Server] = {}
            levels: dict[int, dict[str, Window]] = {}
            for s in config.sizes:
                windows: dict[str, Window] = {}
                for contender in field:
                    windows[contender.name], servers[contender.name] = await _level(
                        sim, contender, tickers, s, config, work
                    )
                rows += level_rows(s, windows)
                raw["levels"][str(s)] = {name: _raw(w) for name, w in windows.items()}
                levels[s] = windows
            rows += relay_level_rows(levels)
            if config.endurance:
                ours = field[0]
                section, raw["rss"], raw["recovery"] = await _endurance(
                    sim, ours, tickers, config, work
                )
                rows += section
        for name, server in servers.items():
            raw["server_log_errors"][name] = server.error_lines()
    return rows, raw


async def _level(
    sim: Simulator,
    contender: Contender,
    tickers: Sequence[str],
    s: int,
    config: FanoutConfig,
    work: Path,
) -> tuple[Window, Server]:
    profile = config.profile if contender.name == "ours" else None
    server = await Server.start(contender, sim, tickers, work, profile)
    try:
        async with session(
            sim, server, tickers, s, per_sub=config.per_sub, rate=config.rate
        ) as running:
            return await measure(running, config.seconds), server
    finally:
        await server.stop()


async def _endurance(
    sim: Simulator, ours: Contender, tickers: Sequence[str], config: FanoutConfig, work: Path
) -> tuple[list[Row], dict[str, Any], dict[str, Any]]:
    server = await Server.start(ours, sim, tickers, work)
    try:
        async with session(
            sim, server, tickers, config.rss_subscribers, per_sub=config.per_sub, rate=config.rate
        ) as running:
            rss_rows, rss_raw = await rss_over_time(running, config.rss_seconds, config.rss_every_s)
        async with session(
            sim, server, tickers, 10, per_sub=config.per_sub, rate=config.rate
        ) as running:
            rec_rows, rec_raw = await recovery(sim, running, config.drops, config.drop_every_s)
    finally:
        await server.stop()
    return rss_rows + rec_rows, rss_raw, rec_raw


def _cpu_us_per_message(w: Window) -> float:
    return w.cpu_percent / 100 * w.seconds / max(w.delivered, 1) * 1e6


def _of(w: Window | None, quantity: Callable[[Window], float]) -> float | None:
    return None if w is None else quantity(w)


def _p(w: Window, q: float) -> float:
    return percentile(w.latencies_ms or [float("nan")], q)


def level_rows(s: int, windows: dict[str, Window]) -> list[Row]:
    """The rows of one level; the relay's numbers are the baselines where it ran."""
    relay = windows.get("relay")
    rows: list[Row] = []
    for name, w in windows.items():
        base = relay if relay is not None and name != "relay" else None
        prefix = f"fan-out S={s} {name}"
        offered = w.offered / w.seconds
        rows += [
            Row.of(f"{prefix}: delivered", w.delivered / w.seconds, "msgs/s", offered),
            Row.of(f"{prefix}: p50", _p(w, 50), "ms", _of(base, lambda b: _p(b, 50))),
            Row.of(f"{prefix}: p99", _p(w, 99), "ms", _of(base, lambda b: _p(b, 99))),
            Row.of(
                f"{prefix}: server CPU", w.cpu_percent, "% core", _of(base, lambda b: b.cpu_percent)
            ),
            Row.of(
                f"{prefix}: server CPU per message",
                _cpu_us_per_message(w),
                "us",
                _of(base, _cpu_us_per_message),
            ),
            Row.of(f"{prefix}: clients CPU", w.clients_cpu_percent, "% core"),
            Row.of(f"{prefix}: server RSS", w.rss_mb, "MB"),
        ]
        if w.hub_dropped is not None:
            rows.append(
                Row.of(f"{prefix}: conflated", w.hub_dropped / w.seconds, "msgs/s", offered)
            )
    ours = windows.get("ours")
    if ours is not None and relay is not None:
        ratio = ours.delivered / max(relay.delivered, 1)
        rows.append(Row.of(f"fan-out S={s} ours/relay: delivered ratio", ratio, "x"))
    return rows


# The relay "delivers everything" at a level when it delivers this share of the offered load
# (messages near the window's edges make an exact 100% a matter of luck).
FULL_DELIVERY = 0.98


def relay_level_rows(levels: dict[int, dict[str, Window]]) -> list[Row]:
    """Ours at the largest level where the relay still delivers everything: its delivered
    ratio to the relay and its p99 there (the issue's yardstick), named without the level
    so runs compare; the level itself is a row of its own."""
    full = [
        s
        for s, windows in levels.items()
        if "relay" in windows
        and "ours" in windows
        and windows["relay"].delivered >= FULL_DELIVERY * windows["relay"].offered
    ]
    if not full:
        return []
    s = max(full)
    ours, relay = levels[s]["ours"], levels[s]["relay"]
    name = "fan-out at the relay's full-delivery level"
    return [
        Row.of(f"{name}: subscribers", s, "S"),
        Row.of(
            f"{name}: ours/relay delivered ratio", ours.delivered / max(relay.delivered, 1), "x"
        ),
        Row.of(f"{name}: ours p99", _p(ours, 99), "ms", _p(relay, 99)),
    ]


def _raw(w: Window) -> dict[str, Any]:
    return {
        "offered": w.offered,
        "delivered": w.delivered,
        "hub_delivered": w.hub_delivered,
        "hub_dropped": w.hub_dropped,
        "errors": w.errors[:5],
    }
