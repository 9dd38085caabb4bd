"""`make bench-quick` end to end: the report's structure and what the upstreams saw."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench.__main__ import main
from bench.deflate import frames
from bench.fanout.driver import assignments
from bench.fanout.measure import Window
from bench.fanout.section import relay_level_rows
from bench.report import Row, percentile

CONTENDERS = ("ours", "strawberry", "relay", "ours, deflate on")

pytestmark = pytest.mark.bench


def test_quick_bench_reports_every_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The quick run prints the table and writes rows whose request counts prove batching."""
    out = tmp_path / "latest.json"
    assert main(["--quick", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    rows = {row["name"]: row for row in result["rows"]}
    assert all(set(row) == {"name", "value", "unit", "baseline", "ratio"} for row in rows.values())
    assert result["machine"]["cpus"] >= 1 and result["notes"]["mode"] == "quick"
    query = result["notes"]["query"]
    for n in ("5", "200"):
        runs = query[n]
        for run in runs.values():
            assert (run["games"], run["predictions"], run["errors"]) == (int(n), int(n), 0)
        # Ours: one scoreboard and one markets listing whatever N (one page: narrowed to the
        # day by close time); no per-game request.
        assert runs["ours"]["requests"] == {"scoreboard": 1, "markets": 1, "summary": 0}
        assert runs["ours_warm"]["requests"] == {"scoreboard": 0, "markets": 0, "summary": 0}
        fallback = runs["ours_no_rating_record"]["requests"]
        assert fallback == {"scoreboard": 1, "markets": 1, "summary": int(n)}
        naive = {"scoreboard": 1, "markets": int(n), "summary": int(n)}
        assert runs["sequential"]["requests"] == runs["gather"]["requests"] == naive
        assert rows[f"query N={n} ours: markets requests"]["value"] == 1
        assert (
            rows[f"query N={n} ours: wall"]["baseline"]
            == rows[f"query N={n} sequential (seed): wall"]["value"]
        )
    single = result["notes"]["singleflight"]
    assert single["identical"]
    assert single["requests"] == {"scoreboard": 1, "markets": 1, "summary": 0}
    fanout = result["notes"]["fanout"]
    level = fanout["levels"]["20"]
    assert set(level) == set(CONTENDERS)
    for name, run in level.items():
        assert run["errors"] == []
        # Offered counts ticks by when the driver sent them, delivered by their own ts: a
        # tick sent microseconds before the window may carry a ts inside it, at either edge.
        assert 0 < run["delivered"] <= run["offered"] + 2 * 20
        if name.startswith("ours"):
            assert run["hub_delivered"] >= run["delivered"]
        else:
            assert run["hub_delivered"] is None
    for name in CONTENDERS:
        assert rows[f"fan-out S=20 {name}: delivered"]["unit"] == "msgs/s"
        assert rows[f"fan-out S=20 {name}: p99"]["unit"] == "ms"
        assert rows[f"fan-out S=20 {name}: server CPU"]["unit"] == "% core"
    assert rows["fan-out S=20 ours: p99"]["baseline"] == rows["fan-out S=20 relay: p99"]["value"]
    ratio = rows["fan-out S=20 ours/relay: delivered ratio"]["value"]
    delivered = {name: level[name]["delivered"] for name in ("ours", "relay")}
    assert ratio == pytest.approx(delivered["ours"] / delivered["relay"], rel=1e-3)
    deflate = rows["permessage-deflate: bytes per frame"]
    assert deflate["value"] < deflate["baseline"]  # it compresses, at a CPU cost:
    assert rows["permessage-deflate: CPU per frame"]["ratio"] > 1
    assert [d["recovered"] for d in fanout["recovery"]["drops"]] == [10]
    assert math.isfinite(rows["recovery after drop 1 (backoff ceiling 0.5 s)"]["value"])
    assert len(fanout["rss"]["samples_mb"]) >= 2
    assert set(fanout["server_log_errors"]) == set(CONTENDERS)
    assert "overhead games N=10: p50" in rows
    abuse = result["notes"]["abuse"]
    assert len(abuse["bombs"]["bomb_30_ms"]) == 3 and abuse["bombs"]["healthz_ms_during_bombs"]
    assert len(abuse["legacy"]["rss_mb"]) == 2
    assert rows["upstream tickers under attack, peak"]["value"] <= 40
    cluster = result["notes"]["cluster"]
    assert cluster["one_worker"]["delivered_per_s"] > 0 and cluster["two_workers"]["errors"] == []
    assert cluster["max_upstream_ws"] == 1
    gaps = cluster["failover_gaps_s"]
    assert len(gaps) == 1 and gaps[0] <= cluster["lease_ttl_s"] + 1
    reads = cluster["reads"]
    assert reads["1"]["failures"] == reads["2"]["failures"] == 0
    assert reads["1"]["total"] == reads["2"]["total"] == 2  # one scoreboard, one listing
    matching = result["notes"]["matching"]
    assert (matching["games"], matching["markets"]) == (200, 2000)
    assert matching["new_matched"] == matching["exact_matched"] == 200
    cpu = rows["matching 200 games / 2000 markets: CPU (vs exact-ticker)"]
    assert cpu["unit"] == "ms" and cpu["baseline"] == pytest.approx(matching["exact_ms"], rel=1e-3)
    table = capsys.readouterr().out
    assert "single-flight 20 queries: p99 latency" in table and "ratio = value / baseline" in table


@pytest.mark.parametrize(
    ("value", "baseline", "ratio"),
    [
        pytest.param(2.0, 8.0, 0.25, id="ratio-is-value-over-baseline"),
        pytest.param(3.0, None, None, id="no-baseline-no-ratio"),
        pytest.param(3.0, 0.0, None, id="zero-baseline-no-ratio"),
    ],
)
def test_row_ratio(value: float, baseline: float | None, ratio: float | None) -> None:
    """Every row's ratio is value / baseline, absent when there is nothing to divide by."""
    assert Row.of("x", value, "ms", baseline).ratio == ratio


def test_percentile_is_nearest_rank() -> None:
    """p50 and p99 of 1..100 are 50 and 99; one value is every percentile."""
    values = [float(v) for v in range(100, 0, -1)]
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (
        50.0,
        99.0,
        100.0,
    )
    assert percentile([7.0], 99) == 7.0


def test_deflate_frames_are_distinct_next_messages() -> None:
    """The deflate section frames distinct graphql-transport-ws next messages."""
    sample = frames(50)
    assert len(set(sample)) == 50
    message = json.loads(sample[0])
    assert message["type"] == "next" and "tickerUpdates" in message["payload"]["data"]


def test_subscribers_spread_over_the_markets() -> None:
    """Each subscriber watches distinct consecutive markets, wrapping around the list."""
    subs = assignments(3, ["a", "b", "c", "d"], 2)
    assert subs == [["a", "b"], ["c", "d"], ["a", "b"]]


def _window(offered: int, delivered: int, latency_ms: float) -> Window:
    return Window(
        seconds=1.0,
        offered=offered,
        delivered=delivered,
        latencies_ms=[latency_ms] * delivered,
        hub_dropped=None,
        hub_delivered=None,
        cpu_percent=50.0,
        clients_cpu_percent=10.0,
        rss_mb=50.0,
        errors=[],
    )


def test_ours_is_judged_at_the_relays_largest_full_level() -> None:
    """The yardstick level is the largest where the relay delivered (nearly) all offered."""
    levels = {
        100: {"ours": _window(4000, 4000, 3.0), "relay": _window(4000, 3990, 2.0)},
        500: {"ours": _window(20000, 12000, 80.0), "relay": _window(20000, 19900, 9.0)},
        1000: {"ours": _window(40000, 15000, 400.0), "relay": _window(40000, 30000, 900.0)},
    }
    rows = {r.name: r for r in relay_level_rows(levels)}
    name = "fan-out at the relay's full-delivery level"
    assert rows[f"{name}: subscribers"].value == 500
    assert rows[f"{name}: ours/relay delivered ratio"].value == float(f"{12000 / 19900:.4g}")
    assert (rows[f"{name}: ours p99"].value, rows[f"{name}: ours p99"].baseline) == (80.0, 9.0)
    assert relay_level_rows({1000: levels[1000]}) == []
