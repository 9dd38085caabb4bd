"""Labelled Prometheus metric families filled from plain rows (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TypeVar

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

# A labelled metric family being filled in.
Family = TypeVar("Family", CounterMetricFamily, GaugeMetricFamily)


def per_cache(
    prefix: str, caches: Mapping[str, object], *rows: tuple[str, str, str]
) -> Iterator[Metric]:
    """One counter family per (name, counter attribute, help) row, labelled by cache."""
    for name, attr, doc in rows:
        yield labelled(
            CounterMetricFamily(f"{prefix}_{name}", doc, labels=["cache"]),
            (((cache,), getattr(counts, attr)) for cache, counts in caches.items()),
        )


def labelled(family: Family, samples: Iterable[tuple[Sequence[str], float]]) -> Family:
    """``family`` with one sample per (label values, value)."""
    for labels, value in samples:
        family.add_metric(list(labels), value)
    return family
