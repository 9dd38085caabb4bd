"""``create_app``: builds the whole service; nothing is created at import time.

Run with ``uvicorn --factory graph.app:create_app`` or ``python -m graph``. The
lifespan opens the HTTP clients, the rating store, the in-process simulator
(when ``KALSHI_ENV=sim`` and no URLs are overridden), the Kalshi feed and hub,
and closes all of them on shutdown. Credentials are checked in ``create_app``
itself, so a bad key stops startup with one clear message. With ``REDIS_URL`` the
hub's control is :class:`~graph.live.shared.SharedLive` (one Kalshi feed per
deployment), the games caches are shared, and Kalshi reads pass a shared token bucket.

Operations: ``/healthz`` (alive), ``/readyz`` (:mod:`graph.web.readiness`), ``/metrics``
(:mod:`graph.web.metrics`), request ids (:mod:`graph.web.logs`), the WebSocket cap and drain
(:mod:`graph.web.wsadmission`). :func:`drain` is the first half of a graceful shutdown:
``python -m graph`` runs it as soon as SIGTERM arrives, before the server closes the
sockets; the lifespan runs it again (a no-op then) for servers that do not.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import asdict
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute

from graph import __version__
from graph.api.schema import build_schema
from graph.api.view import GraphQLView
from graph.assembly import cancel, feed_state, query_limits, refresh_forever, shared_live, upstream
from graph.cluster.link import RedisLink
from graph.cluster.ratelimit import RateLimitedTransport, ReadLimiter
from graph.errors import FeedFatalError
from graph.espn.client import ScoreboardClient
from graph.games.service import GameService, ServiceConfig
from graph.http import RetryPolicy
from graph.kalshi.feed import FeedStats, KalshiFeed
from graph.kalshi.rest import KalshiAuth, KalshiRest
from graph.kalshi.signing import Signer, load_private_key
from graph.live import wiring
from graph.live.hub import FeedControl, Hub
from graph.live.snapshot import Snapshot
from graph.model.policy import DEFAULT_POLICIES, LeaguePolicy
from graph.model.ratings import RatingStore
from graph.models import League, TickerUpdate
from graph.settings import Settings, load_settings
from graph.tracing import Tracing, from_settings
from graph.web import graphiql, livepage as live
from graph.web.auth import BearerAuth, TokenCheck
from graph.web.bodylimit import BodyLimit
from graph.web.clustermetrics import ClusterView
from graph.web.hosts import TrustedHosts
from graph.web.logs import RequestId, install_filters
from graph.web.metrics import CONTENT_TYPE, HttpMetrics, Metrics, Sources
from graph.web.ratelimit import HttpRateLimit, RateLimiter
from graph.web.readiness import Phase, Readiness, feed_check, http_probe
from graph.web.wsadmission import ConnectionGate, WebSocketGate

logger = logging.getLogger(__name__)

# Readiness probes must answer quickly or count as down; a scrape should not hang on them.
PROBE_TIMEOUT_S = 3.0


def create_app(
    settings: Settings | None = None,
    *,
    kalshi_transport: httpx.AsyncBaseTransport | None = None,
    scoreboard_transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], float] = time.time,
    ratings_refresh_s: float | None = 600.0,
    tracer_provider: Any = None,
    policies: Mapping[League, LeaguePolicy] = DEFAULT_POLICIES,
) -> Starlette:
    """The ASGI app. ``ratings_refresh_s=None`` turns off the background upkeep (ratings and
    the track record); ``tracer_provider`` (OpenTelemetry) replaces the one
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` makes; ``policies`` replaces the backtested recommendation
    policies (tests)."""
    settings = settings or load_settings()
    signer = settings.credentials()
    tokens = TokenCheck(settings.api_tokens)
    rest_url, ws_url, scoreboard_url = settings.upstream_urls()
    graphiql_assets = graphiql.find_assets()
    tracing = from_settings(settings.otel_exporter_otlp_endpoint, settings.otel_service_name)
    tracing = Tracing(tracer_provider) if tracer_provider is not None else tracing
    install_filters()  # query strings out of access lines, under any server
    limiter = RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst)
    gate = ConnectionGate(settings.max_ws_connections)
    metrics = Metrics(gate, limiter=limiter)
    schema = build_schema(
        limits=query_limits(settings),
        max_tokens=settings.max_query_tokens,
        max_query_bytes=settings.max_query_bytes,
        timeout_s=settings.query_timeout_s,
        introspection=settings.introspection,
        observe=lambda r: metrics.observe_operation(
            r.kind, r.name, r.seconds, r.codes, r.upstream_requests, r.budget_refusals
        ),
        operation_names=frozenset(settings.metrics_operation_names),
        max_upstream_requests=settings.max_upstream_requests,
        max_games=settings.max_games_per_query,
        tracer_provider=tracing.provider,
        result_ttl_s=settings.result_ttl_s,
    )
    view = GraphQLView(
        schema,
        settings=settings,
        tokens=tokens,
        offline_ide=graphiql_assets is not None,
        limiter=limiter,
    )
    readiness = Readiness(cache_s=settings.readiness_cache_s)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            rest_base, ws_base, scoreboard_base, auth = rest_url, ws_url, scoreboard_url, signer
            if rest_base is None or ws_base is None or scoreboard_base is None:
                from graph.sim import Faults, Simulator

                sim = Simulator(
                    seed=settings.sim_seed,
                    faults=Faults(latency_s=settings.sim_latency_ms / 1000),
                    clock=clock,
                )
                await stack.enter_async_context(sim)
                rest_base = rest_base or sim.rest_url
                ws_base = ws_base or sim.ws_url
                scoreboard_base = scoreboard_base or sim.scoreboard_url
                if rest_url is None or ws_url is None:
                    # The simulator knows only its own key; an operator's key would get 401s.
                    if signer is not None:
                        logger.warning("KALSHI_ENV=sim: using the simulator's key, not yours")
                    auth = Signer(sim.key_id, load_private_key(sim.private_key_pem))
                logger.info("Simulator running rest=%s ws=%s", sim.rest_url, sim.ws_url)
            logger.info(
                "Starting kalshi-graph version=%s env=%s rest=%s scoreboard=%s signed=%s",
                __version__,
                settings.environment,
                rest_base,
                scoreboard_base,
                auth is not None,
            )
            timeout = httpx.Timeout(settings.http_timeout_s)
            headers = {"User-Agent": f"kalshi-graph/{__version__}"}
            url, prefix = settings.redis, settings.redis_prefix
            link = (
                RedisLink.from_url(url, timeout_s=settings.redis_timeout_s, prefix=prefix)
                if url
                else None
            )
            reads: ReadLimiter | None = None
            if link is not None:
                stack.push_async_callback(link.aclose)
                reads = ReadLimiter(
                    link, rate=settings.kalshi_read_rate, max_wait_s=settings.kalshi_read_max_wait_s
                )
            kalshi_transport_ = upstream("kalshi", kalshi_transport, metrics, tracing)
            if reads is not None:  # outside the metrics: only real requests are counted
                kalshi_transport_ = RateLimitedTransport(kalshi_transport_, reads)
            kalshi_http = await stack.enter_async_context(
                httpx.AsyncClient(
                    auth=KalshiAuth(auth, clock=clock) if auth else None,
                    timeout=timeout,
                    headers=headers,
                    transport=kalshi_transport_,
                )
            )
            espn_http = await stack.enter_async_context(
                httpx.AsyncClient(
                    timeout=timeout,
                    headers=headers,
                    transport=upstream("scoreboard", scoreboard_transport, metrics, tracing),
                )
            )
            policy = RetryPolicy(attempts=settings.http_attempts)
            store = RatingStore(settings.ratings_file)
            await asyncio.to_thread(store.open)
            stack.callback(store.close)
            service_rest = KalshiRest(kalshi_http, rest_base, policy=policy, clock=clock)
            service = GameService(
                rest=service_rest,
                scoreboard=ScoreboardClient(espn_http, scoreboard_base, policy=policy),
                ratings=store,
                config=ServiceConfig(
                    prices_ttl_s=settings.prices_ttl_s,
                    schedule_ttl_s=settings.schedule_ttl_s,
                    prediction_concurrency=settings.prediction_concurrency,
                    max_games_per_query=settings.max_games_per_query,
                ),
                clock=clock,
                tracing=tracing,
                link=link,
                lock_s=settings.shared_cache_lock_s,
                policies=policies,
            )
            stack.push_async_callback(service.aclose)
            hub: Hub
            feed_stats = FeedStats()  # every feed this process runs counts here

            def publish(update: TickerUpdate) -> None:
                hub.publish(update)

            def fail(exc: FeedFatalError) -> None:
                hub.fail(exc)

            def make_feed(
                on_update: Callable[[TickerUpdate], None],
                on_fatal: Callable[[FeedFatalError], None],
            ) -> KalshiFeed:
                feed = KalshiFeed(
                    ws_base,
                    auth,
                    on_update=on_update,
                    on_fatal=on_fatal,
                    clock=clock,
                    stats=feed_stats,
                )
                wiring.connect(feed, lambda: hub)
                feed.on_fatal = on_fatal  # the shared live path watches fatal errors too
                return feed

            shared = shared_live(settings, link, make_feed, publish, fail)
            control: FeedControl
            current: Callable[[], object]
            own: KalshiFeed | None = None
            if shared is None:
                own = make_feed(publish, fail)
                stack.push_async_callback(own.aclose)
                control, current = own, lambda: own
            else:
                await shared.start()
                stack.push_async_callback(shared.aclose)
                control, current = shared, lambda: shared.feed
            hub = Hub(control, max_tickers=settings.max_upstream_tickers)
            snapshot = Snapshot(
                rest=service_rest,
                markets=service.market_cache,
                prices_ttl_s=settings.prices_ttl_s,
                unknown_ttl_s=settings.schedule_ttl_s,
                clock=clock,
                latest=shared.subscriber.latest if shared is not None else None,
            )
            # state.feed: the process's own feed without Redis (tests, the bench read it).
            app.state.service, app.state.hub, app.state.feed = service, hub, own
            app.state.control, app.state.current_feed = control, current
            app.state.shared, app.state.snapshot = shared, snapshot
            view = None
            if shared is not None and link is not None and reads is not None:
                view = ClusterView(link, shared, reads, service.shared_stats)
                readiness.describe(view.details)
            metrics.watch(
                Sources(
                    hub=hub,
                    feed_state=lambda: feed_state(current()),
                    feed_stats=feed_stats,
                    caches=service.cache_stats,
                    cluster=view,
                    matching=service.match_stats,
                    queries=lambda: asdict(schema.operations.stats),
                )
            )
            probe_s = min(settings.http_timeout_s, PROBE_TIMEOUT_S)
            readiness.add(
                "feed", feed_check(lambda: feed_state(current()), lambda: control.fatal_error)
            )
            readiness.add(
                "kalshi_rest",
                lambda: http_probe(kalshi_http, f"{rest_base}/exchange/status", timeout_s=probe_s),
                cached=True,
            )
            readiness.add(
                "scoreboard",
                lambda: http_probe(espn_http, scoreboard_base, timeout_s=probe_s),
                cached=True,
            )
            stack.push_async_callback(readiness.aclose)
            stack.callback(tracing.shutdown)
            if ratings_refresh_s:
                task = asyncio.create_task(
                    refresh_forever(service, settings, ratings_refresh_s), name="ratings-refresh"
                )
                stack.push_async_callback(cancel, task)
            readiness.phase = Phase.SERVING
            try:
                yield
            finally:
                await drain(app, settings.shutdown_timeout_s)
                readiness.clear()

    async def healthz(request: Request) -> Response:
        state = request.app.state
        fatal = state.control.fatal_error
        return JSONResponse(
            {
                "status": "ok" if fatal is None else "degraded",
                "feed": str(feed_state(state.current_feed())),
                "feedError": str(fatal) if fatal else None,
            },
            status_code=200,
        )

    async def readyz(request: Request) -> Response:
        report = await readiness.report()
        return JSONResponse(report.as_json(), status_code=200 if report.ready else 503)

    async def metrics_endpoint(request: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    routes: list[Route | WebSocketRoute | Mount] = [
        Route("/", live.index),
        Mount(live.PREFIX, live.assets_app()),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_endpoint),
        Route("/graphql", view),
        WebSocketRoute("/graphql", view),
    ]
    if graphiql_assets is not None:
        routes.append(Mount(graphiql.DEFAULT_PREFIX, graphiql.assets_app(graphiql_assets)))
    # Outermost first: CORS answers preflights and decorates every answer (a 401 or 413
    # included, so a browser page can read it); the token check runs before any body is read.
    middleware = [
        Middleware(RequestId),
        Middleware(HttpMetrics, metrics=metrics),
        # Only our own host names (DNS rebinding), before anything else looks at a request.
        Middleware(TrustedHosts, hosts=settings.trusted_hosts),
        Middleware(WebSocketGate, gate=gate),
        Middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["authorization", "content-type", "x-request-id"],
            expose_headers=["x-request-id"],  # so a page can quote it in a bug report
            # Tokens travel in the Authorization header, never in cookies: without
            # credentials a "*" origin is safe, and no page rides on a user's cookies.
            allow_credentials=False,
        ),
        Middleware(
            BearerAuth,
            check=tokens,
            open_prefixes=(graphiql.DEFAULT_PREFIX + "/", live.PREFIX + "/"),
        ),
        Middleware(HttpRateLimit, limiter=limiter, by_token=tokens.enabled),
        Middleware(
            BodyLimit, max_bytes=settings.max_body_bytes, timeout_s=settings.http_body_timeout_s
        ),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.gate, app.state.metrics, app.state.readiness = gate, metrics, readiness
    app.state.schema = schema
    return app


async def drain(app: Starlette, timeout_s: float) -> None:
    """Finish open subscriptions with ``complete``, then close every WebSocket (1001).

    New WebSocket handshakes are refused and ``/readyz`` answers 503 from here on.
    Bounded by ``timeout_s``; safe to call more than once.
    """
    state = app.state
    readiness: Readiness = state.readiness
    gate: ConnectionGate = state.gate
    if readiness.phase is not Phase.DRAINING:
        readiness.phase = Phase.DRAINING
        hub: Hub | None = getattr(state, "hub", None)
        logger.info(
            "Draining connections=%d operations=%d subscriptions=%d",
            gate.active,
            gate.open_operations,
            hub.subscriber_count if hub else 0,
        )
        if hub is not None:
            hub.close()
    await gate.drain(asyncio.get_running_loop().time() + timeout_s)
