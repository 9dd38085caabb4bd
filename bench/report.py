"""Result rows, the printed table and the JSON file every benchmark section shares.

A row is ``{"name", "value", "unit", "baseline", "ratio"}``: ``baseline`` is what the
same quantity was for the comparison named in the row (the naive client, json.dumps,
the offered load, the target...) and ``ratio`` is always ``value / baseline``, so the
numbers stay comparable within one run on a noisy machine.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    value: float
    unit: str
    baseline: float | None = None
    ratio: float | None = None

    @classmethod
    def of(cls, name: str, value: float, unit: str, baseline: float | None = None) -> Row:
        ratio = value / baseline if baseline else None
        return cls(name, _round(value), unit, _opt_round(baseline), _opt_round(ratio))


def _round(x: float) -> float:
    return float(f"{x:.4g}")


def _opt_round(x: float | None) -> float | None:
    return None if x is None else _round(x)


def machine() -> dict[str, Any]:
    """What the numbers depend on: CPUs, their model, the load when the run started."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def format_table(rows: Sequence[Row]) -> str:
    width = max(len(r.name) for r in rows)
    header = f"{'name':<{width}}  {'value':>10}  {'unit':<8}  {'baseline':>10}  {'ratio':>8}"
    lines = [header, "-" * len(header)]
    for r in rows:
        base = "" if r.baseline is None else f"{r.baseline:>10g}"
        ratio = "" if r.ratio is None else f"{r.ratio:>8.3g}"
        lines.append(f"{r.name:<{width}}  {r.value:>10g}  {r.unit:<8}  {base:>10}  {ratio:>8}")
    return "\n".join(lines)


def write_json(
    path: Path, rows: Sequence[Row], *, notes: dict[str, Any], started_load: float
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    info = machine()
    info["load_avg_1m_at_start"] = started_load
    payload = {"machine": info, "notes": notes, "rows": [asdict(r) for r in rows]}
    path.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 100]) of a non-empty sequence."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]
