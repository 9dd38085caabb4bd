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
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import asdict

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
from graph.cluster.link import RedisLink
from graph.cluster.ratelimit import RateLimitedTransport, ReadLimiter
from graph.errors import FeedFatalError
from graph.espn.client import ScoreboardClient
from graph.games.service import GameService, ServiceConfig
from graph.http import RetryPolicy
from graph.kalshi.feed import FeedState, FeedStats, KalshiFeed
from graph.kalshi.rest import KalshiAuth, KalshiRest
from graph.kalshi.signing import Signer, load_private_key
from graph.live.hub import FeedControl, Hub
from graph.live.shared import FeedFactory, LiveConfig, SharedLive
from graph.live.snapshot import Snapshot
from graph.model.policy import DEFAULT_POLICIES, LeaguePolicy
from graph.model.ratings import RatingStore
from graph.models import League, TickerUpdate
from graph.settings import Settings, load_settings
from graph.web import graphiql, livepage as live
from graph.web.auth import BearerAuth, TokenCheck
from graph.web.bodylimit import BodyLimit
from graph.web.clustermetrics import ClusterView
from graph.web.logs import RequestId
from graph.web.metrics import CONTENT_TYPE, HttpMetrics, Metrics, Sources
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
    policies: Mapping[League, LeaguePolicy] = DEFAULT_POLICIES,
) -> Starlette:
    """The ASGI app. ``ratings_refresh_s=None`` turns off the background upkeep (ratings and
    the track record); ``policies`` replaces the backtested recommendation policies (tests)."""
    settings = settings or load_settings()
    signer = settings.credentials()
    tokens = TokenCheck(settings.api_tokens)
    rest_url, ws_url, scoreboard_url = settings.upstream_urls()
    graphiql_assets = graphiql.find_assets()
    schema = build_schema(
        max_depth=settings.max_query_depth,
        max_tokens=settings.max_query_tokens,
        max_aliases=settings.max_query_aliases,
        max_query_bytes=settings.max_query_bytes,
        timeout_s=settings.query_timeout_s,
        result_ttl_s=settings.result_ttl_s,
        introspection=settings.introspection,
    )
    view = GraphQLView(
        schema,
        settings=settings,
        tokens=tokens,
        offline_ide=graphiql_assets is not None,
    )
    gate = ConnectionGate(settings.max_ws_connections)
    metrics = Metrics(gate)
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
            limiter: ReadLimiter | None = None
            if link is not None:
                stack.push_async_callback(link.aclose)
                limiter = ReadLimiter(
                    link, rate=settings.kalshi_read_rate, max_wait_s=settings.kalshi_read_max_wait_s
                )
            kalshi_transport_: httpx.AsyncBaseTransport = metrics.transport(
                "kalshi", kalshi_transport or httpx.AsyncHTTPTransport()
            )
            if limiter is not None:  # outside the metrics: only real requests are counted
                kalshi_transport_ = RateLimitedTransport(kalshi_transport_, limiter)
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
                    transport=metrics.transport(
                        "scoreboard", scoreboard_transport or httpx.AsyncHTTPTransport()
                    ),
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
                    ws_base, auth, on_update=on_update, on_fatal=on_fatal, clock=clock
                )
                feed.stats = feed_stats
                return feed

            shared = _shared_live(settings, link, make_feed, publish, fail)
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
            hub = Hub(control)
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
            if shared is not None and link is not None and limiter is not None:
                view = ClusterView(link, shared, limiter, service.shared_stats)
                readiness.describe(view.details)
            metrics.watch(
                Sources(
                    hub=hub,
                    feed_state=lambda: _state(current()),
                    feed_stats=feed_stats,
                    caches=service.cache_stats,
                    cluster=view,
                    matching=service.match_stats,
                    queries=lambda: asdict(schema.operations.stats),
                )
            )
            probe_s = min(settings.http_timeout_s, PROBE_TIMEOUT_S)
            readiness.add(
                "feed", feed_check(lambda: _state(current()), lambda: control.fatal_error)
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
            if ratings_refresh_s:
                task = asyncio.create_task(
                    _refresh_forever(service, settings, ratings_refresh_s), name="ratings-refresh"
                )
                stack.push_async_callback(_cancel, task)
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
                "feed": str(_state(state.current_feed())),
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
        Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
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


async def _refresh_forever(service: GameService, settings: Settings, every_s: float) -> None:
    """Rating upkeep (which also settles the track record), then today's track snapshots."""
    while True:
        try:
            applied = await service.refresh_ratings(settings.default_leagues)
            logger.info("Ratings refreshed applied=%d", applied)
        except Exception:
            # Upkeep must outlive a bad pass (a locked database, an odd upstream answer).
            logger.exception("Ratings refresh failed; retrying in %.0f s", every_s)
        try:
            recorded = await service.record_track(settings.default_leagues)
            logger.info("Track record updated snapshots=%d", recorded)
        except Exception:
            logger.exception("Track record pass failed; retrying in %.0f s", every_s)
        await asyncio.sleep(every_s)


def _shared_live(
    settings: Settings,
    link: RedisLink | None,
    make_feed: FeedFactory,
    publish: Callable[[TickerUpdate], None],
    fail: Callable[[FeedFatalError], None],
) -> SharedLive | None:
    """The live path across replicas (with REDIS_URL); None: this process's own feed."""
    if link is None:
        return None
    heartbeat_s = settings.cluster_heartbeat_s
    config = LiveConfig(
        lease_ttl_s=settings.feed_lease_ttl_s,
        heartbeat_s=heartbeat_s,
        wanted_ttl_s=3 * heartbeat_s,
        fallback_after_s=settings.local_feed_after_s,
    )
    return SharedLive(link, make_feed, on_update=publish, on_fatal=fail, config=config)


def _state(feed: object) -> FeedState:
    """The state of the feed this process runs (make_feed makes KalshiFeeds); idle if none."""
    return feed.state if isinstance(feed, KalshiFeed) else FeedState.IDLE


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
