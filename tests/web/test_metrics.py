"""Prometheus metrics: scraped from the real app over HTTP and parsed by prometheus-client."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from starlette.types import Message, Receive, Scope, Send

from graph.games.markets import MatchStats
from graph.kalshi.feed import FeedState, FeedStats
from graph.live.hub import Hub
from graph.models import League
from graph.sim import Simulator
from graph.web.metrics import HttpMetrics, Metrics, Sources, endpoint_of
from graph.web.wsadmission import ConnectionGate
from tests.e2e import SUNDAY_NOON_UTC, GraphQLWebSocket, eventually, gql, running_app

SUNDAY = date(2026, 11, 22)
SUBSCRIBE = "subscription ($t: [String!]!) { tickerUpdates(marketTickers: $t) { marketTicker } }"
GAMES = '{ games(league: NBA, date: "2026-11-22") { markets { ticker } prediction { edge } } }'
# Another document, so it runs (a repeat of GAMES would be answered by its recent result).
GAMES_AGAIN = GAMES.replace("edge", "edge confidence")


class Scrape:
    """One parsed exposition: look samples up by name and labels."""

    def __init__(self, text: str) -> None:
        families = list(text_string_to_metric_families(text))
        self.families = {f.name: f.type for f in families}
        self.samples: list[Sample] = [s for family in families for s in family.samples]

    def value(self, name: str, /, **labels: str) -> float:
        """The sum of the samples called ``name`` whose labels include ``labels`` (0 if none)."""
        return sum(
            s.value
            for s in self.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        )

    def names(self) -> Iterator[str]:
        return (s.name for s in self.samples)


async def scrape(http: httpx.AsyncClient) -> Scrape:
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return Scrape(response.text)


async def test_metrics_move_with_real_traffic(tmp_path: Path) -> None:
    """Queries, upstream calls, caches, sockets, subscriptions and the feed all show up."""
    sim = Simulator(clock=lambda: SUNDAY_NOON_UTC, tick_interval_s=None)
    # TTLs longer than the test: the repeat is answered by the recent result, and the caches
    # hit, however slow the first queries were on a loaded machine.
    async with (
        sim,
        running_app(
            sim, tmp_path, result_cache_ttl_s=3600, prices_ttl_s=3600, schedule_ttl_s=3600
        ) as (app, url),
    ):
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            before = await scrape(http)
            body = await gql(http, GAMES)
            await gql(http, GAMES_AGAIN)
            await gql(http, GAMES)  # within RESULT_CACHE_TTL_S (capped at PRICES_TTL_S)
            await http.get("/nowhere")
            after_queries = await scrape(http)
            ticker = sim.markets_for(League.NBA, SUNDAY)[0]["ticker"]
            async with GraphQLWebSocket.connect(url) as ws:
                await ws.subscribe("1", SUBSCRIBE, {"t": [ticker]})
                assert (await ws.receive())["type"] == "next"
                await eventually(lambda: app.state.feed.connected)
                await sim.publish_tick(ticker)
                await sim.publish_tick(ticker)
                await eventually(lambda: app.state.feed.stats.messages >= 1)
                await eventually(lambda: app.state.hub.stats.delivered >= 1)
                live = await scrape(http)
            await eventually(lambda: app.state.hub.subscriber_count == 0)
            after = await scrape(http)
    assert "errors" not in body
    graphql = {"route": "/graphql", "method": "POST", "status": "200"}
    assert before.value("kalshi_graph_http_requests_total", **graphql) == 0
    assert after_queries.value("kalshi_graph_http_requests_total", **graphql) == 3
    assert (
        after_queries.value("kalshi_graph_http_request_duration_seconds_count", route="/graphql")
        == 3
    )
    shared = {
        outcome: after_queries.value("kalshi_graph_shared_queries_total", outcome=outcome)
        for outcome in ("executed", "joined", "recent", "unshared")
    }
    assert shared == {"executed": 2, "joined": 0, "recent": 1, "unshared": 0}
    assert (
        after_queries.value("kalshi_graph_http_requests_total", route="unmatched", status="404")
        == 1
    )
    assert after_queries.value("kalshi_graph_http_requests_total", route="/metrics") == 1
    scoreboard = {"upstream": "scoreboard", "endpoint": "scoreboard", "status": "200"}
    assert after_queries.value("kalshi_graph_upstream_requests_total", **scoreboard) == 1
    assert (
        after_queries.value(
            "kalshi_graph_upstream_requests_total", upstream="kalshi", endpoint="markets"
        )
        >= 1
    )
    assert after_queries.value("kalshi_graph_upstream_requests_total", endpoint="summary") > 0
    assert after_queries.value("kalshi_graph_upstream_errors_total") == 0
    assert after_queries.value("kalshi_graph_upstream_request_duration_seconds_count") > 0
    # The second query was answered from the caches. Each query also reads the whole day's
    # schedule to match markets against every game of the day: a hit, not a request.
    assert after_queries.value("kalshi_graph_cache_misses_total", cache="schedules") == 1
    assert after_queries.value("kalshi_graph_cache_hits_total", cache="schedules") == 3
    assert after_queries.value("kalshi_games_match_rate", league="NBA") == 1.0
    assert after_queries.families["kalshi_games_unmatched"] == "counter"
    assert after_queries.value("kalshi_games_unmatched_total") == 0
    assert after_queries.value("kalshi_graph_cache_hits_total", cache="summaries") > 0
    assert {"kalshi_graph_cache_coalesced_total", "kalshi_graph_cache_load_failures_total"} <= {
        *after_queries.names()
    }
    assert after_queries.value("kalshi_graph_feed_state", state="idle") == 1
    assert live.value("kalshi_graph_websocket_connections") == 1
    assert live.value("kalshi_graph_websocket_operations") == 1
    assert live.value("kalshi_graph_subscriptions") == 1
    assert live.value("kalshi_graph_upstream_tickers") == 1
    assert live.value("kalshi_graph_feed_state", state="connected") == 1
    assert live.value("kalshi_graph_feed_state") == 1  # exactly one state is current
    assert live.value("kalshi_graph_feed_connects_total") == 1
    assert live.value("kalshi_graph_feed_messages_total") >= 1
    assert live.value("kalshi_graph_subscription_updates_delivered_total") >= 1
    assert {
        "kalshi_graph_feed_reconnects_total",
        "kalshi_graph_feed_malformed_frames_total",
        "kalshi_graph_feed_pauses_total",
        "kalshi_graph_subscription_updates_conflated_total",
        "kalshi_graph_upstream_ticker_refusals_total",
        "kalshi_graph_subscriptions_shed_total",
        "kalshi_graph_rate_limited_total",
    } <= {*live.names()}
    assert "kalshi_graph_feed_errors" in live.families  # by code: no sample until one comes
    # Each operation once: the two anonymous queries, then the subscription (still open).
    query = {"type": "query", "name": "anonymous"}
    assert after_queries.value("kalshi_graph_operation_duration_seconds_count", **query) == 2
    assert after_queries.value("kalshi_graph_operation_upstream_requests_sum", **query) > 0
    assert after.value("kalshi_graph_operation_duration_seconds_count", type="subscription") == 1
    assert after.value("kalshi_graph_websocket_connections") == 0
    assert after.value("kalshi_graph_subscriptions") == 0
    assert_documented(live.families)


def assert_documented(families: dict[str, str], *, cluster: bool = False) -> None:
    """The README's metrics tables list exactly the metrics served, with their types: the
    Operations table always, the Scaling out one with REDIS_URL."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start, end = readme.index("## Scaling out"), readme.index("## Performance")
    text = readme[:start] + readme[end:] + (readme[start:end] if cluster else "")
    rows = re.findall(r"^\| `(kalshi_\w+)` \| (\w+) \|", text, re.M)
    documented = {name.removesuffix("_total"): kind for name, kind in rows}
    # prometheus-client's standard `<counter>_created` timestamps need no documentation.
    assert documented == {n: k for n, k in families.items() if not n.endswith("_created")}


@pytest.mark.parametrize(
    ("path", "endpoint"),
    [
        pytest.param("/trade-api/v2/markets", "markets", id="listing"),
        pytest.param("/trade-api/v2/markets/KXNBAGAME-26NOV22ATLTOR-ATL", "markets/{id}", id="one"),
        pytest.param("/trade-api/v2/series/KXNBAGAME", "series/{id}", id="series"),
        pytest.param("/trade-api/v2/exchange/status", "status", id="probe"),
        pytest.param("/apis/site/v2/sports/basketball/nba/scoreboard", "scoreboard", id="espn"),
        pytest.param("/apis/site/v2/sports/basketball/nba/summary", "summary", id="summary"),
        pytest.param("/apis/site/v2/sports", "other", id="base"),
        pytest.param("/", "other", id="root"),
    ],
)
def test_upstream_endpoints_are_few_labels(path: str, endpoint: str) -> None:
    """Ids in paths (tickers, series) never become label values."""
    assert endpoint_of(path) == endpoint


async def test_upstream_failures_are_counted_as_errors() -> None:
    """No answer, 429 and 5xx count as errors; a 404 is an answer, not an upstream error."""
    metrics = Metrics(ConnectionGate(1))
    statuses = iter([404, 429, 503])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/down"):
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(next(statuses))

    transport = metrics.transport("kalshi", httpx.MockTransport(handler))
    async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
        for _ in range(3):
            await client.get("/markets")
        with pytest.raises(httpx.ConnectError):
            await client.get("/down")
    scraped = Scrape(metrics.exposition().decode())
    requests = "kalshi_graph_upstream_requests_total"
    assert scraped.value(requests, endpoint="markets", status="404") == 1
    assert scraped.value(requests, endpoint="markets", status="503") == 1
    assert scraped.value(requests, endpoint="other", status="error") == 1
    assert scraped.value("kalshi_graph_upstream_errors_total", endpoint="markets") == 2
    assert scraped.value("kalshi_graph_upstream_errors_total", endpoint="other") == 1


async def test_a_crashing_request_counts_as_500_and_odd_methods_as_other() -> None:
    """An app exception is recorded as the 500 the server will answer; methods stay few."""
    metrics = Metrics(ConnectionGate(1))

    async def crash(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("bug")

    async def receive() -> Message:
        return {"type": "http.request"}

    async def send(message: Message) -> None:
        pass

    scope: Scope = {"type": "http", "method": "BREW", "path": "/x", "headers": []}
    with pytest.raises(RuntimeError):
        await HttpMetrics(crash, metrics=metrics)(scope, receive, send)
    scraped = Scrape(metrics.exposition().decode())
    assert scraped.value("kalshi_graph_http_requests_total", method="other", status="500") == 1


def test_each_app_has_its_own_registry() -> None:
    """Two apps' metrics never mix (no global default registry)."""
    one, two = Metrics(ConnectionGate(1)), Metrics(ConnectionGate(2))
    one.http_requests.labels("/graphql", "POST", "200").inc()
    assert Scrape(two.exposition().decode()).value("kalshi_graph_http_requests_total") == 0
    assert Scrape(two.exposition().decode()).value("kalshi_graph_websocket_connections_limit") == 2
    assert "kalshi_graph_subscriptions" not in set(Scrape(one.exposition().decode()).names())


def test_unmatched_games_and_todays_match_rate_are_exposed() -> None:
    """The games service's match stats show as kalshi_games_unmatched_total{league,reason} and
    kalshi_games_match_rate{league}, read at scrape time."""
    stats = MatchStats()
    metrics = Metrics(ConnectionGate(1))
    metrics.watch(
        Sources(
            hub=Hub(cast(Any, None)),  # never asked to subscribe here
            feed_state=lambda: FeedState.IDLE,
            feed_stats=FeedStats(),
            caches=dict,
            matching=lambda: stats,
        )
    )
    stats.unmatched[(League.NFL, "ambiguous")] += 2
    stats.unmatched[(League.NBA, "not_listed")] += 1
    stats.rate[League.NFL] = 0.5
    scraped = Scrape(metrics.exposition().decode())
    assert scraped.value("kalshi_games_unmatched_total", league="NFL", reason="ambiguous") == 2
    assert scraped.value("kalshi_games_unmatched_total", league="NBA", reason="not_listed") == 1
    assert scraped.value("kalshi_games_match_rate", league="NFL") == 0.5
    assert scraped.value("kalshi_games_match_rate", league="NBA") == 0
