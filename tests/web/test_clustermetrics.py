"""Scale-out metrics and /readyz details: a real app on a real Redis, scraped over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from graph.cluster.link import RedisLink
from graph.cluster.local import RedisServer
from graph.cluster.ratelimit import ReadLimiter
from graph.live.shared import LiveMode, SharedLive
from graph.models import League
from graph.sim import Simulator
from graph.web.clustermetrics import ClusterView
from tests.e2e import SUNDAY_NOON_UTC, GraphQLWebSocket, eventually, gql, running_app
from tests.web.test_metrics import SUNDAY, Scrape, assert_documented, scrape

SUBSCRIBE = "subscription ($t: [String!]!) { tickerUpdates(marketTickers: $t) { marketTicker } }"
GAMES = '{ games(league: NBA, date: "2026-11-22") { markets { ticker } } }'


@pytest.fixture
async def clustered(
    tmp_path: Path, redis_server: RedisServer
) -> AsyncIterator[tuple[Simulator, httpx.AsyncClient, str]]:
    sim = Simulator(clock=lambda: SUNDAY_NOON_UTC, tick_interval_s=None)
    settings: dict[str, Any] = {
        "redis_url": SecretStr(redis_server.url),
        "redis_timeout_s": 0.3,
        "local_feed_after_s": 0.3,
        "cluster_heartbeat_s": 0.1,
    }
    async with (
        sim,
        running_app(sim, tmp_path, **settings) as (_, url),
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        yield sim, http, url


@pytest.mark.e2e
async def test_every_scale_out_metric_is_served_and_documented(
    clustered: tuple[Simulator, httpx.AsyncClient, str],
) -> None:
    """With REDIS_URL the replica's lease, bus, shared caches and read budget are counted,
    and the README's two tables list exactly what is served."""
    sim, http, url = clustered
    assert "errors" not in await gql(http, GAMES)
    await gql(http, GAMES)
    ticker = sim.markets_for(League.NBA, SUNDAY)[0]["ticker"]
    async with GraphQLWebSocket.connect(url) as ws:
        await ws.subscribe("1", SUBSCRIBE, {"t": [ticker]})
        assert (await ws.receive())["type"] == "next"
        await eventually(lambda: ticker in sim.ws_subscribed_tickers())
        await sim.publish_tick(ticker)
        assert (await ws.receive())["type"] == "next"
        live = await scrape(http)
    assert live.value("kalshi_graph_redis_up") == 1
    assert live.value("kalshi_graph_redis_transitions_total", to="up") == 1
    assert live.value("kalshi_graph_live_mode", mode="shared") == 1
    assert live.value("kalshi_graph_feed_lease_held") == 1
    assert live.value("kalshi_graph_feed_lease_acquired_total") == 1
    assert live.value("kalshi_graph_bus_ticks_published_total") >= 1
    assert live.value("kalshi_graph_bus_ticks_received_total") >= 1
    assert live.value("kalshi_graph_feed_state", state="connected") == 1
    assert live.value("kalshi_graph_shared_cache_loads_total", cache="schedules") == 1
    assert live.value("kalshi_graph_kalshi_reads_total") >= 1
    assert live.value("kalshi_graph_kalshi_reads_total") == live.value(
        "kalshi_graph_upstream_requests_total", upstream="kalshi"
    )
    assert_documented(live.families, cluster=True)


@pytest.mark.e2e
async def test_readyz_shows_redis_trouble_without_turning_unready(
    clustered: tuple[Simulator, httpx.AsyncClient, str], redis_server: RedisServer
) -> None:
    """/readyz details say where live prices come from; with Redis stopped they say so,
    the replica stays ready and the metrics count the fallback."""
    _, http, _ = clustered
    body = (await http.get("/readyz")).json()
    assert body["status"] == "ready"
    assert body["details"]["redis"] == "ok"
    assert body["details"]["live"].startswith("shared;")
    assert body["details"]["replica"]
    redis_server.stop()
    assert "errors" not in await gql(http, GAMES)  # answered without Redis

    async def details() -> dict[str, str]:
        response = await http.get("/readyz")
        assert response.status_code == 200
        found: dict[str, str] = response.json()["details"]
        return found

    seen: dict[str, str] = {}

    async def local() -> bool:
        seen.update(await details())
        return seen["live"] == "local feed (Redis unavailable)"

    async with asyncio.timeout(10):
        while not await local():
            await asyncio.sleep(0.02)
    assert seen["redis"].startswith("unavailable for ")
    after: Scrape = await scrape(http)
    assert after.value("kalshi_graph_redis_up") == 0
    assert after.value("kalshi_graph_redis_transitions_total", to="down") == 1
    assert after.value("kalshi_graph_live_fallbacks_total") == 1
    assert after.value("kalshi_graph_shared_cache_fallbacks_total") >= 1
    health = (await http.get("/healthz")).json()
    assert health["status"] == "ok"


async def test_details_before_contact_and_in_local_mode() -> None:
    """Before any Redis call the link is 'not contacted yet'; a replica on its own feed
    says so."""

    def no_feed(*args: object) -> Any:
        raise AssertionError("no feed is made here")

    link = RedisLink.from_url("redis://127.0.0.1:1/0")
    live = SharedLive(link, no_feed, on_update=lambda u: None, on_fatal=lambda e: None, replica="r")
    view = ClusterView(link, live, ReadLimiter(None, rate=1), dict)
    assert view.details() == {
        "redis": "not contacted yet",
        "live": "shared; another replica holds the feed",
        "replica": "r",
    }
    live.mode = LiveMode.LOCAL
    assert view.details()["live"] == "local feed (Redis unavailable)"
    await live.aclose()
    await link.aclose()
