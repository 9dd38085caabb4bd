"""Readiness: may a load balancer send traffic here? (adapter)

How it works: :class:`Readiness` knows the app's phase (starting, serving, draining)
and a list of named checks. A check is a coroutine returning ``None`` (fine) or a
short reason. Upstream probes (:func:`http_probe`) are cached for ``cache_s`` with
single-flight (a :class:`~graph.cache.TTLCache`), so however often ``/readyz`` is
scraped each upstream sees at most one probe per period. The feed check reads state
only: a feed nobody has asked for yet (idle) is ready; a fatal one is not.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from graph.cache import TTLCache
from graph.errors import RateLimited
from graph.kalshi.feed import FeedState

Check = Callable[[], Awaitable[str | None]]


class Phase(enum.StrEnum):
    STARTING = "starting"
    SERVING = "serving"
    DRAINING = "draining"  # shutting down: finishing what is open, taking nothing new


@dataclass(frozen=True, slots=True)
class Report:
    ready: bool
    checks: dict[str, str]  # name -> "ok" or the reason it is not
    details: dict[str, str] = field(default_factory=dict)  # informative; never make it unready

    def as_json(self) -> dict[str, object]:
        body: dict[str, object] = {
            "status": "ready" if self.ready else "not ready",
            "checks": self.checks,
        }
        if self.details:
            body["details"] = self.details
        return body


async def http_probe(client: httpx.AsyncClient, url: str, *, timeout_s: float) -> str | None:
    """Usable means an HTTP answer below 500 that does not refuse our credentials: a 404
    still proves the host is up, but a 401/403 means every real request will fail too."""
    try:
        response = await client.get(url, timeout=timeout_s)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return f"unreachable ({type(exc).__name__})"
    except RateLimited:
        return None  # our own read budget (KALSHI_READ_RATE) said no; Kalshi is not at fault
    status = response.status_code
    if status in (401, 403):
        return f"HTTP {status}: our key or signature was refused"
    if status >= 500:
        return f"HTTP {status}"
    return None


def feed_check(state: Callable[[], FeedState], error: Callable[[], object]) -> Check:
    async def check() -> str | None:
        current = state()
        if current is FeedState.FAILED:
            return f"feed failed: {error()}"
        if current is FeedState.CLOSED:
            return "feed closed"
        return None

    return check


class Readiness:
    def __init__(
        self, *, cache_s: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.phase = Phase.STARTING
        self._checks: dict[str, Check] = {}
        self._cached: set[str] = set()
        self._details: list[Callable[[], dict[str, str]]] = []
        self._cache_s = cache_s
        self._results: TTLCache[str, str | None] = TTLCache(clock=clock)

    def add(self, name: str, check: Check, *, cached: bool = False) -> None:
        """Register a check; ``cached`` ones (upstream probes) run at most once per period."""
        self._checks[name] = check
        if cached:
            self._cached.add(name)

    def describe(self, details: Callable[[], dict[str, str]]) -> None:
        """Show ``details()`` in every report (state worth seeing that is not a failure)."""
        self._details.append(details)

    def clear(self) -> None:
        self._checks.clear()
        self._cached.clear()
        self._details.clear()

    async def report(self) -> Report:
        checks = {"lifecycle": "ok" if self.phase is Phase.SERVING else str(self.phase)}
        for name, check in self._checks.items():
            if name in self._cached:
                result = await self._results.get(name, check, self._cache_s)
            else:
                result = await check()
            checks[name] = result or "ok"
        details = {k: v for describe in self._details for k, v in describe().items()}
        return Report(ready=all(v == "ok" for v in checks.values()), checks=checks, details=details)

    async def aclose(self) -> None:
        await self._results.aclose()
