"""A reliability diagram as a small standalone SVG, written with the standard library only.

Each series is a list of calibration bins (``bench.stats.Bin`` as dicts): the mean forecast of
a bin on x, how often the home team won in it on y, a dot whose area grows with the bin's game
count. A perfectly calibrated forecast lies on the diagonal. Output is deterministic (fixed
decimals, series in the order given), so a re-run changes the file only when the numbers change.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
DASHES = ("", "", "5 3", "", "", "")  # the third series (the blend) often lies on the second
SIZE = 420  # plot area, px
MARGIN = 48
LEGEND = 190


def _xy(p: float, q: float) -> tuple[float, float]:
    return MARGIN + p * SIZE, MARGIN + (1 - q) * SIZE


def reliability_svg(series: Mapping[str, Sequence[Mapping[str, Any]]], title: str) -> str:
    """The SVG document of a reliability diagram of ``series`` (name -> bins)."""
    width, height = MARGIN * 2 + SIZE + LEGEND, MARGIN * 2 + SIZE
    most = max((b["count"] for bins in series.values() for b in bins), default=1) or 1
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{MARGIN}" y="{MARGIN - 20}" font-size="14">{escape(title)}</text>',
    ]
    for i in range(11):
        t = i / 10
        x, y = _xy(t, t)
        out.append(
            f'<line x1="{x:.1f}" y1="{MARGIN}" x2="{x:.1f}" y2="{MARGIN + SIZE}" stroke="#eee"/>'
            f'<line x1="{MARGIN}" y1="{y:.1f}" x2="{MARGIN + SIZE}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text x="{x:.1f}" y="{MARGIN + SIZE + 16}" text-anchor="middle">{t:.1f}</text>'
            f'<text x="{MARGIN - 6}" y="{y + 4:.1f}" text-anchor="end">{t:.1f}</text>'
        )
    x0, y0 = _xy(0, 0)
    x1, y1 = _xy(1, 1)
    out += [
        f'<rect x="{MARGIN}" y="{MARGIN}" width="{SIZE}" height="{SIZE}" fill="none" '
        'stroke="#999"/>',
        f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y1}" stroke="#999" stroke-dasharray="4 4"/>',
        f'<text x="{MARGIN + SIZE / 2}" y="{height - 8}" text-anchor="middle">'
        "forecast home win probability (bin mean)</text>",
        f'<text transform="translate(14 {MARGIN + SIZE / 2}) rotate(-90)" '
        'text-anchor="middle">observed home win rate</text>',
    ]
    for k, (name, bins) in enumerate(series.items()):
        color = COLORS[k % len(COLORS)]
        dash = DASHES[k % len(DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        points = [_xy(b["predicted"], b["observed"]) + (b["count"],) for b in bins if b["count"]]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.5"'
            f"{dash_attr}/>"
        )
        for x, y, count in points:
            r = 2 + 6 * math.sqrt(count / most)
            out.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{color}" '
                f'fill-opacity="0.6"><title>{escape(name)}: {count} games</title></circle>'
            )
        ly = MARGIN + 10 + 20 * k
        lx = MARGIN + SIZE + 20
        out.append(
            f'<line x1="{lx}" y1="{ly}" x2="{lx + 20}" y2="{ly}" stroke="{color}" '
            f'stroke-width="3"{dash_attr}/><text x="{lx + 26}" y="{ly + 4}">{escape(name)}</text>'
        )
    note_y = MARGIN + 20 + 20 * len(series)
    out.append(
        f'<text x="{MARGIN + SIZE + 20}" y="{note_y}" fill="#666">dot area ~ games in bin</text>'
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"
