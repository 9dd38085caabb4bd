"""The `make bench` code path on a tiny slate: report structure and upstream request counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.__main__ import main
from bench.query import expected_round_trips, extrapolate


def test_bench_reports_constant_upstream_requests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tiny run writes JSON with one scoreboard, one markets and N summary requests per query."""
    out = tmp_path / "bench.json"
    argv = ["--sizes", "2,3", "--latency-ms", "5", "--baseline-max-n", "2", "--out", str(out)]
    assert main(argv) == 0
    result = json.loads(out.read_text())
    assert result["latency_ms"] == 5
    assert result["problems"] == []
    assert [row["n"] for row in result["rows"]] == [2, 3]
    for row in result["rows"]:
        n = row["n"]
        assert row["cold"]["requests"] == {"scoreboard": 1, "markets": 1, "summary": n}
        assert row["cold"]["max_in_flight"]["summary"] == n
        assert row["warm"]["requests"] == {"scoreboard": 0, "markets": 0, "summary": 0}
        assert (row["cold"]["games"], row["cold"]["predictions"]) == (n, n)
        for key in ("cold_ms", "warm_ms", "sequential_ms", "speedup", "cold_round_trips"):
            assert row[key] > 0
    measured, extrapolated = result["rows"]
    assert measured["sequential"]["requests"] == {"scoreboard": 1, "markets": 1, "summary": 2}
    assert measured["sequential"]["max_in_flight"]["summary"] == 1
    assert not measured["sequential_extrapolated"]
    assert extrapolated["sequential"] is None and extrapolated["sequential_extrapolated"]
    table = capsys.readouterr().out
    assert "speed-up" in table and "~" in table


@pytest.mark.parametrize(
    ("measured", "n", "expected"),
    [
        pytest.param({10: 1.0}, 20, 2.0, id="one-size-scales"),
        pytest.param({10: 1.5, 50: 5.5}, 200, 20.5, id="line-through-two-largest"),
        pytest.param({5: 9.0, 10: 1.5, 50: 5.5}, 100, 10.5, id="ignores-smaller-sizes"),
    ],
)
def test_extrapolate(measured: dict[int, float], n: int, expected: float) -> None:
    """The baseline beyond the measured sizes follows the line through the two largest."""
    assert extrapolate(measured, n) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("n", "concurrency", "pages", "expected"),
    [
        pytest.param(10, 16, 1, 2, id="one-wave"),
        pytest.param(200, 16, 2, 14, id="thirteen-waves-two-pages"),
        pytest.param(16, 16, 1, 2, id="exactly-full-wave"),
        pytest.param(10, 16, 3, 4, id="pages-longer-than-waves"),
    ],
)
def test_expected_round_trips(n: int, concurrency: int, pages: int, expected: int) -> None:
    """Critical path: scoreboard, then the longer of the listing pages and the summary waves."""
    assert expected_round_trips(n, concurrency, pages) == expected
