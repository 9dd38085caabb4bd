from __future__ import annotations

import xml.etree.ElementTree as ET

from bench.calplot import reliability_svg

NS = "{http://www.w3.org/2000/svg}"


def bins(*points: tuple[float, float, int]) -> list[dict[str, float]]:
    return [{"predicted": p, "observed": o, "count": n} for p, o, n in points]


def test_svg_is_well_formed_with_one_dot_per_non_empty_bin() -> None:
    """Parsable SVG; a dot per bin with games, none for empty bins; a legend entry per series."""
    svg = reliability_svg(
        {
            "model": bins((0.25, 0.3, 10), (0.5, 0.5, 0), (0.75, 0.7, 40)),
            "market <close>": bins((0.3, 0.3, 5)),
        },
        "NFL & co",
    )
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    circles = root.findall(f".//{NS}circle")
    assert len(circles) == 3
    assert [c.findtext(f"{NS}title") for c in circles][-1] == "market <close>: 5 games"
    assert len(root.findall(f"{NS}polyline")) == 2
    assert root.findtext(f"{NS}title") == "NFL & co"
    # Bigger bins get bigger dots.
    radii = [float(c.get("r", "0")) for c in circles]
    assert radii[1] > radii[0]


def test_svg_is_deterministic() -> None:
    """Same input, same bytes: a re-run changes the committed file only if numbers change."""
    series = {"a": bins((0.2, 0.1, 3))}
    assert reliability_svg(series, "t") == reliability_svg(series, "t")
    assert reliability_svg({}, "empty").count("<circle") == 0
