"""Fault knobs and request statistics of the simulator.

Both objects are plain and mutable so tests can flip a knob while the server
runs and read what the server saw (how many requests of each kind, how many
were in flight at once). The latency sleep happens while a request counts as
in flight, which is what lets a test prove that a client fans out.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from graph.models import League

MISSING: Any = object()
"""An override value that removes the field (see ``Faults.market_overrides``)."""


@dataclass
class Faults:
    """What the simulator does wrong, on purpose. Mutable at runtime."""

    latency_s: float = 0.0
    """Added to every Kalshi REST and scoreboard request (while it counts as in flight)."""
    held: dict[str, asyncio.Event] = field(default_factory=dict)
    """Per route kind (``"summary"``, ``"markets"``...): requests of that kind wait, in flight,
    until the event is set, so a test can count what a client has in flight at once without
    racing the clock."""
    error_rate: float = 0.0
    """Probability that a REST/scoreboard request answers 500."""
    rate_limit_rate: float = 0.0
    """Probability that a REST/scoreboard request answers 429."""
    scripted_statuses: deque[int] = field(default_factory=deque)
    """Statuses answered first, one per Kalshi REST request (200 = behave normally)."""
    failing_summaries: set[str] = field(default_factory=set)
    """ESPN game ids whose summary endpoint answers 500."""
    ws_drop_rate: float = 0.0
    """Per background tick: probability of dropping every WebSocket connection."""
    ws_malformed_rate: float = 0.0
    """Per background tick: probability of sending a malformed frame to every connection."""
    ws_market_limit: int | None = None
    """Markets one ticker subscription may hold (Kalshi: "Subscription market limit
    exceeded"); a ``subscribe`` or ``add_markets`` past it is refused whole with error 26."""
    ws_commands_per_s: float | None = None
    """Commands per second one connection may send (a bucket of one second's worth); past
    it a command is refused with error 27 ("Too many requests")."""
    ws_scripted_errors: deque[int] = field(default_factory=deque)
    """Error codes answered first, one per subscription command (``subscribe``,
    ``update_subscription``, ``unsubscribe``), instead of running it."""
    ws_queue_limit: int = 10_000
    """Frames queued for one connection (read when it connects); a client that lets more
    pile up is too slow: it gets error 25 and is closed, as Kalshi does."""
    market_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per market ticker: fields replaced in its REST JSON (bad prices, another ticker);
    ``MISSING`` removes a field."""

    code_renames: dict[League, dict[str, str]] = field(default_factory=dict)
    """Per league: Kalshi code -> the code listed instead, in event and market tickers (a
    rename mid-season, as Kalshi does without notice). Sub-titles keep naming the team."""
    renames_from: date | None = None
    """First US-Eastern game date the renames apply to (``None``: every date)."""
    title_style: str | None = None
    """Every market title in one style ("at", "vs" or "wins") instead of its series' own."""
    close_after_start: timedelta | None = None
    """Markets of unfinished games close this long after the start instead of two weeks (a
    close-time convention changed without notice)."""

    def mangle_market(self, market: dict[str, Any]) -> dict[str, Any]:
        """``market`` as the overrides for its ticker say (unchanged without any)."""
        overrides = self.market_overrides.get(market.get("ticker", ""))
        if not overrides:
            return market
        mangled = {**market, **overrides}
        return {k: v for k, v in mangled.items() if v is not MISSING}


@dataclass
class Stats:
    """Request counts by route kind, plus in-flight concurrency per kind."""

    requests: Counter[str] = field(default_factory=Counter)
    in_flight: Counter[str] = field(default_factory=Counter)
    max_in_flight: Counter[str] = field(default_factory=Counter)
    market_queries: list[dict[str, str]] = field(default_factory=list)
    ws_commands: list[tuple[str, int]] = field(default_factory=list)
    """Each WebSocket command received: its name and how many markets it named."""

    def reset(self) -> None:
        """Forget everything seen so far (requests still in flight stay counted as such)."""
        self.requests.clear()
        self.max_in_flight.clear()
        self.market_queries.clear()
        self.ws_commands.clear()
        for kind, count in self.in_flight.items():
            if count:
                self.max_in_flight[kind] = count

    @contextmanager
    def track(self, kind: str) -> Iterator[None]:
        """Count one request of ``kind`` and keep it in flight for the block."""
        self.requests[kind] += 1
        self.in_flight[kind] += 1
        self.max_in_flight[kind] = max(self.max_in_flight[kind], self.in_flight[kind])
        try:
            yield
        finally:
            self.in_flight[kind] -= 1
