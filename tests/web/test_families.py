"""Labelled metric families (graph.web.families)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily

from graph.web.families import labelled, per_cache


def test_labelled_adds_one_sample_per_row() -> None:
    """Each (label values, value) row becomes one sample, in order."""
    family = labelled(
        CounterMetricFamily("x", "doc", labels=["a", "b"]), [(("1", "2"), 3), (("4", "5"), 6)]
    )
    assert [(s.labels, s.value) for s in family.samples] == [
        ({"a": "1", "b": "2"}, 3),
        ({"a": "4", "b": "5"}, 6),
    ]


@dataclass
class _Counts:
    hits: int


def test_per_cache_makes_one_family_per_row_labelled_by_cache() -> None:
    """A row names the family and the counter it reads from every cache."""
    (family,) = per_cache("p", {"one": _Counts(1), "two": _Counts(2)}, ("h", "hits", "doc"))
    assert family.name == "p_h"
    assert [(s.labels["cache"], s.value) for s in family.samples] == [("one", 1), ("two", 2)]
