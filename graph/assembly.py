"""What :func:`graph.app.create_app` wires, beside the app itself (adapter).

How it works: small pieces the app factory needs and nothing else does: the query cost
limits the settings ask for, each upstream client's transport (budget, metrics, tracing),
the live path's choice (shared across replicas with Redis, else the process's own feed),
the feed state a metric reads, and the background upkeep loop with its cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import httpx

from graph.api.cost import Limits
from graph.budget import BudgetedTransport
from graph.cluster.link import RedisLink
from graph.errors import FeedFatalError
from graph.games.service import GameService
from graph.kalshi.feed import FeedState, KalshiFeed
from graph.live.shared import FeedFactory, LiveConfig, SharedLive
from graph.models import TickerUpdate
from graph.settings import Settings
from graph.tracing import Tracing
from graph.web.metrics import Metrics

logger = logging.getLogger(__name__)


def query_limits(settings: Settings) -> Limits:
    """The operation cost limits (:mod:`graph.api.cost`) the settings ask for."""
    return Limits(
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_query_aliases,
        max_fields=settings.max_query_fields,
        max_root_fields=settings.max_query_root_fields,
        max_nodes=settings.max_query_nodes,
        max_requests=settings.max_query_cost,
    )


def upstream(
    name: str,
    inner: httpx.AsyncBaseTransport | None,
    metrics: Metrics,
    tracing: Tracing,
) -> httpx.AsyncBaseTransport:
    """An upstream client's transport: charged to the operation's budget first (a refused
    request is never sent, so never counted as one), then counted and timed, then traced."""
    traced = tracing.transport(name, inner or httpx.AsyncHTTPTransport())
    return BudgetedTransport(metrics.transport(name, traced))


async def refresh_forever(service: GameService, settings: Settings, every_s: float) -> None:
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


def shared_live(
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


def feed_state(feed: object) -> FeedState:
    """The state of the feed this process runs (make_feed makes KalshiFeeds); idle if none."""
    return feed.state if isinstance(feed, KalshiFeed) else FeedState.IDLE


async def cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
