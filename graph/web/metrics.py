"""Prometheus metrics, one registry per app (adapter).

How it works: :class:`Metrics` owns a ``CollectorRegistry`` (never the global default:
tests build many apps in one process). Three kinds of numbers feed it:

- events counted where they happen: HTTP requests and their latency
  (:class:`HttpMetrics`, ASGI middleware, labelled by the matched route's template so
  label values stay few), upstream requests, errors and latency
  (:class:`InstrumentedTransport`, wrapped around each httpx client's transport);
- state read at scrape time by a collector: WebSocket connections (the
  :class:`~graph.web.wsadmission.ConnectionGate`), subscriptions and distinct upstream tickers
  and conflated updates (the hub), the feed's state and counters, the caches' counters,
  the games left without Kalshi markets and today's match rate per league (the games
  service's :class:`~graph.games.markets.MatchStats`), how identical queries were shared.
  Those objects keep plain counters; nothing pushes into the registry on hot paths;
- operations, reported once each by the GraphQL edge (:meth:`Metrics.observe_operation`):
  duration, errors by ``extensions.code`` and upstream requests, by operation type and a
  bounded set of names (the edge folds the rest into ``other``).

The collector's sources are attached by the lifespan (:meth:`Metrics.watch`); before
that, and after, it reports only what it has.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graph.cache import CacheStats
from graph.games.markets import MatchStats
from graph.kalshi.feed import FeedState, FeedStats
from graph.live.hub import Hub
from graph.web.families import labelled, per_cache
from graph.web.ratelimit import RateLimiter
from graph.web.wsadmission import ConnectionGate

if TYPE_CHECKING:
    from graph.web.clustermetrics import ClusterView

PREFIX = "kalshi_graph"
CONTENT_TYPE = CONTENT_TYPE_LATEST
# Path segments that name an endpoint; anything after them is an id (a ticker, a series).
_ENDPOINTS = frozenset({"markets", "events", "series", "scoreboard", "summary", "status"})


def endpoint_of(path: str) -> str:
    """A bounded label for an upstream path: ``markets``, ``markets/{id}``, ``scoreboard``..."""
    parts = [p for p in path.split("/") if p]
    if parts and parts[-1] in _ENDPOINTS:
        return parts[-1]
    if len(parts) >= 2 and parts[-2] in _ENDPOINTS:
        return f"{parts[-2]}/{{id}}"
    return "other"


@dataclass(frozen=True, slots=True)
class Sources:
    """The live objects the collector reads at scrape time."""

    hub: Hub
    feed_state: Callable[[], FeedState]
    feed_stats: FeedStats
    caches: Callable[[], Mapping[str, CacheStats]]
    matching: Callable[[], MatchStats]
    # How HTTP queries were answered, by outcome (graph.api.sharing.SharingStats).
    queries: Callable[[], Mapping[str, int]] = dict
    cluster: ClusterView | None = None  # with REDIS_URL only


class Metrics:
    def __init__(
        self,
        gate: ConnectionGate,
        registry: CollectorRegistry | None = None,
        *,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.registry = registry or CollectorRegistry()
        self.http_requests = Counter(
            f"{PREFIX}_http_requests",
            "HTTP requests served, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.http_duration = Histogram(
            f"{PREFIX}_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method.",
            ["route", "method"],
            registry=self.registry,
        )
        self.upstream_requests = Counter(
            f"{PREFIX}_upstream_requests",
            "Requests to Kalshi REST and the scoreboard, by upstream, endpoint and status "
            "(error: no HTTP answer).",
            ["upstream", "endpoint", "status"],
            registry=self.registry,
        )
        self.upstream_errors = Counter(
            f"{PREFIX}_upstream_errors",
            "Upstream requests that failed: no answer, 429 or 5xx.",
            ["upstream", "endpoint"],
            registry=self.registry,
        )
        self.upstream_duration = Histogram(
            f"{PREFIX}_upstream_request_duration_seconds",
            "Time to an upstream answer (or failure), by upstream and endpoint.",
            ["upstream", "endpoint"],
            registry=self.registry,
        )
        operation = ["type", "name"]
        self.operation_duration = Histogram(
            f"{PREFIX}_operation_duration_seconds",
            "Time a GraphQL operation took (a subscription: its whole life), by type and name.",
            operation,
            registry=self.registry,
        )
        self.operation_errors = Counter(
            f"{PREFIX}_operation_errors",
            "Errors GraphQL operations answered with, by type, name and extensions.code.",
            [*operation, "code"],
            registry=self.registry,
        )
        self.operation_upstream_requests = Histogram(
            f"{PREFIX}_operation_upstream_requests",
            "Upstream requests one operation made (MAX_UPSTREAM_REQUESTS bounds it).",
            operation,
            buckets=(0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
            registry=self.registry,
        )
        self.upstream_budget_refusals = Counter(
            f"{PREFIX}_upstream_budget_refusals",
            "Upstream requests refused because their operation had spent its budget.",
            operation,
            registry=self.registry,
        )
        self._live = _LiveCollector(gate, limiter)
        self.registry.register(self._live)

    def watch(self, sources: Sources | None) -> None:
        """Read these objects at scrape time (None: stop reading them)."""
        self._live.sources = sources

    def observe_operation(
        self,
        kind: str,
        name: str,
        seconds: float,
        codes: Iterable[str],
        upstream_requests: int,
        budget_refusals: int,
    ) -> None:
        """Record one finished operation (``name`` already folded into a bounded set)."""
        self.operation_duration.labels(kind, name).observe(seconds)
        self.operation_upstream_requests.labels(kind, name).observe(upstream_requests)
        for code in codes:
            self.operation_errors.labels(kind, name, code).inc()
        if budget_refusals:
            self.upstream_budget_refusals.labels(kind, name).inc(budget_refusals)

    def transport(self, upstream: str, inner: httpx.AsyncBaseTransport) -> InstrumentedTransport:
        return InstrumentedTransport(inner, upstream, self)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _LiveCollector(Collector):
    def __init__(self, gate: ConnectionGate, limiter: RateLimiter | None) -> None:
        self.gate = gate
        self.limiter = limiter
        self.sources: Sources | None = None

    def describe(self) -> list[Metric]:
        return []  # names vary with the sources; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        gate = self.gate
        yield GaugeMetricFamily(
            f"{PREFIX}_websocket_connections", "Open WebSocket connections.", gate.active
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_websocket_connections_limit",
            "MAX_WS_CONNECTIONS: handshakes beyond it are refused.",
            gate.max_connections,
        )
        yield CounterMetricFamily(
            f"{PREFIX}_websocket_connections_refused",
            "WebSocket handshakes refused (connection limit, or shutting down).",
            gate.refused,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_websocket_operations",
            "GraphQL operations open over WebSockets.",
            gate.open_operations,
        )
        if self.limiter is not None:
            yield labelled(
                CounterMetricFamily(
                    f"{PREFIX}_rate_limited",
                    "Requests refused by the per-client rate limit: http (429) or subscribe.",
                    labels=["kind"],
                ),
                (((kind,), self.limiter.refused[kind]) for kind in ("http", "subscribe")),
            )
        sources = self.sources
        if sources is None:
            return
        hub = sources.hub
        yield GaugeMetricFamily(
            f"{PREFIX}_subscriptions", "Active tickerUpdates subscriptions.", hub.subscriber_count
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_upstream_tickers",
            "Distinct market tickers subscribed upstream (the union of all subscriptions).",
            len(hub.wanted()),
        )
        yield CounterMetricFamily(
            f"{PREFIX}_subscription_updates_delivered",
            "Ticker updates handed to subscribers.",
            hub.stats.delivered,
        )
        yield CounterMetricFamily(
            f"{PREFIX}_subscription_updates_conflated",
            "Ticker updates dropped for a slow subscriber because a newer one replaced them.",
            hub.stats.conflated,
        )
        yield CounterMetricFamily(
            f"{PREFIX}_upstream_ticker_refusals",
            "Subscriptions refused because their tickers would pass MAX_UPSTREAM_TICKERS.",
            hub.stats.refused,
        )
        yield CounterMetricFamily(
            f"{PREFIX}_subscriptions_shed",
            "Subscriptions ended to protect the feed: Kalshi refused their markets (errors "
            "16, 26) or dropped the feed as too slow (25), newest first.",
            hub.stats.shed,
        )
        current = sources.feed_state()
        yield labelled(
            GaugeMetricFamily(
                f"{PREFIX}_feed_state",
                "Upstream WebSocket feed state (1 = current).",
                labels=["state"],
            ),
            (((each.value,), 1.0 if each is current else 0.0) for each in FeedState),
        )
        stats = sources.feed_stats
        for name, value, doc in (
            ("connects", stats.connects, "Upstream WebSocket handshakes that succeeded."),
            ("reconnects", stats.reconnects, "Upstream WebSocket reconnect attempts (backoffs)."),
            ("messages", stats.messages, "Upstream WebSocket frames parsed."),
            ("malformed_frames", stats.malformed, "Upstream WebSocket frames we could not parse."),
            ("pauses", stats.pauses, "Backoffs before sending more commands (errors 25, 27)."),
        ):
            yield CounterMetricFamily(f"{PREFIX}_feed_{name}", doc, value)
        yield labelled(
            CounterMetricFamily(
                f"{PREFIX}_feed_errors",
                "Error messages from the upstream WebSocket, by Kalshi's code.",
                labels=["code"],
            ),
            (((str(code),), count) for code, count in sorted(stats.errors_by_code.items())),
        )
        yield from per_cache(
            f"{PREFIX}_cache",
            sources.caches(),
            ("hits", "hits", "Cache lookups answered from a fresh value."),
            ("misses", "loads", "Cache lookups that started an upstream load."),
            ("coalesced", "joined", "Cache lookups that joined a load already running."),
            ("load_failures", "failures", "Cache loads that failed (not stored)."),
        )
        yield labelled(
            CounterMetricFamily(
                f"{PREFIX}_shared_queries",
                "HTTP queries one principal asked while an identical one ran or had just run, by "
                "outcome: executed, joined (took the running one's result), recent (a recent "
                "result), unshared (that result had errors: ran alone).",
                labels=["outcome"],
            ),
            (((outcome,), count) for outcome, count in sources.queries().items()),
        )
        yield from _matching(sources.matching())
        if sources.cluster is not None:
            yield from sources.cluster.families()


def _matching(stats: MatchStats) -> Iterator[Metric]:
    # Named as issue 14 names them (no kalshi_graph_ prefix): dashboards look for these.
    yield labelled(
        CounterMetricFamily(
            "kalshi_games_unmatched",
            "Games left without Kalshi markets, each counted once per reason: not_listed (no "
            "event fits), ambiguous (several do), kalshi_unavailable.",
            labels=["league", "reason"],
        ),
        (
            ((league.value, reason), count)
            for (league, reason), count in sorted(stats.unmatched.items())
        ),
    )
    yield labelled(
        GaugeMetricFamily(
            "kalshi_games_match_rate",
            "Share of today's games (US-Eastern date) matched to a Kalshi event, per league, as "
            "of the last query for them.",
            labels=["league"],
        ),
        (((league.value,), value) for league, value in sorted(stats.rate.items())),
    )


class InstrumentedTransport(httpx.AsyncBaseTransport):
    """Counts and times every request that goes through ``inner``."""

    def __init__(self, inner: httpx.AsyncBaseTransport, upstream: str, metrics: Metrics) -> None:
        self._inner = inner
        self._upstream = upstream
        self._metrics = metrics

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        labels = (self._upstream, endpoint_of(request.url.path))
        started = time.perf_counter()
        try:
            response = await self._inner.handle_async_request(request)
        except Exception:
            self._record(labels, "error", started, failed=True)
            raise
        status = response.status_code
        self._record(labels, str(status), started, failed=status == 429 or status >= 500)
        return response

    def _record(
        self, labels: tuple[str, str], status: str, started: float, *, failed: bool
    ) -> None:
        m = self._metrics
        m.upstream_duration.labels(*labels).observe(time.perf_counter() - started)
        m.upstream_requests.labels(*labels, status).inc()
        if failed:
            m.upstream_errors.labels(*labels).inc()

    async def aclose(self) -> None:
        await self._inner.aclose()


class HttpMetrics:
    """ASGI middleware: counts and times HTTP requests by route template."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the server answers if the app raises before responding
        started = time.perf_counter()

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            path = getattr(scope.get("route"), "path", None)
            route_label = path if isinstance(path, str) else "unmatched"
            method = scope["method"] if scope["method"] in _METHODS else "other"
            self.metrics.http_duration.labels(route_label, method).observe(
                time.perf_counter() - started
            )
            self.metrics.http_requests.labels(route_label, method, str(status)).inc()


_METHODS = frozenset({"GET", "POST", "OPTIONS", "HEAD"})
