"""The simulator's Kalshi REST endpoints over a real loopback server."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections import deque
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from graph.kalshi.signing import Signer, load_private_key
from graph.models import League
from graph.sim import Faults, Simulator
from graph.sim.slate import SimGame, Slates
from graph.sim.teams import teams
from tests.e2e import eventually

pytestmark = pytest.mark.e2e

# 21:00 ET on Monday 2025-11-24: Sunday's games are final, Monday's early games live.
NOW = datetime(2025, 11, 25, 2, 0, tzinfo=UTC).timestamp()
NOW_MS = int(NOW * 1000)
MONDAY = date(2025, 11, 24)

LEGACY_FIELDS = {
    "yes_bid",
    "yes_ask",
    "no_bid",
    "no_ask",
    "last_price",
    "previous_yes_bid",
    "previous_yes_ask",
    "previous_price",
    "volume",
    "volume_24h",
    "open_interest",
    "liquidity",
    "notional_value",
    "response_price_units",
    "tick_size",
}
REQUIRED_FIELDS = {
    "ticker",
    "event_ticker",
    "market_type",
    "yes_sub_title",
    "no_sub_title",
    "created_time",
    "updated_time",
    "open_time",
    "close_time",
    "latest_expiration_time",
    "settlement_timer_seconds",
    "status",
    "notional_value_dollars",
    "yes_bid_dollars",
    "yes_ask_dollars",
    "no_bid_dollars",
    "no_ask_dollars",
    "yes_bid_size_fp",
    "yes_ask_size_fp",
    "last_price_dollars",
    "previous_yes_bid_dollars",
    "previous_yes_ask_dollars",
    "previous_price_dollars",
    "volume_fp",
    "volume_24h_fp",
    "open_interest_fp",
    "result",
    "can_close_early",
    "expiration_value",
    "rules_primary",
    "rules_secondary",
    "price_level_structure",
    "price_ranges",
}
FIXTURES = Path(__file__).resolve().parents[1] / "data" / "kalshi"
DOLLARS = re.compile(r"^[01]\.\d{4}$")
COUNT = re.compile(r"^\d+\.\d{2}$")


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(seed=7, tick_interval_s=None, clock=lambda: NOW) as simulator:
        yield simulator


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


def _signer(sim: Simulator) -> Signer:
    return Signer(sim.key_id, load_private_key(sim.private_key_pem))


async def _all_pages(client: httpx.AsyncClient, url: str, key: str, **params: str) -> list[Any]:
    items: list[Any] = []
    cursor = ""
    for _ in range(1000):
        query = {**params, "cursor": cursor} if cursor else params
        body = (await client.get(url, params=query)).raise_for_status().json()
        items += body[key]
        cursor = body["cursor"]
        if not cursor:
            return items
    raise AssertionError("pagination did not end")


async def test_pagination_follows_cursors_to_every_market_exactly_once(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    """limit=2 pages through the whole default listing; every market appears once."""
    paged = await _all_pages(client, f"{sim.rest_url}/markets", "markets", limit="2")
    whole = (await client.get(f"{sim.rest_url}/markets", params={"limit": "1000"})).json()
    tickers = [m["ticker"] for m in paged]
    assert len(tickers) == len(set(tickers)) > 100
    assert tickers == [m["ticker"] for m in whole["markets"]]
    assert whole["cursor"] == ""


async def test_default_listing_covers_yesterday_to_three_days_ahead(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    """Without filters /markets lists the ET days from yesterday through +3, all leagues."""
    body = (await client.get(f"{sim.rest_url}/markets", params={"limit": "1000"})).json()
    dates = {m["event_ticker"].split("-")[1][:7] for m in body["markets"]}
    assert dates == {"25NOV23", "25NOV24", "25NOV25", "25NOV26", "25NOV27"}
    default = (await client.get(f"{sim.rest_url}/markets")).json()
    assert len(default["markets"]) == 100 and default["cursor"]


async def test_markets_carry_only_current_field_shapes(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    """Every required field is there, prices are 4-decimal dollar strings, counts 2-decimal."""
    body = (await client.get(f"{sim.rest_url}/markets", params={"limit": "1000"})).json()
    for market in body["markets"]:
        assert REQUIRED_FIELDS <= market.keys()
        assert not LEGACY_FIELDS & market.keys()
        for name, value in market.items():
            if name.endswith("_dollars") and value is not None:
                assert DOLLARS.match(value), (name, value)
            if name.endswith("_fp"):
                assert COUNT.match(value), (name, value)


async def test_event_markets_are_complementary_and_titled_like_kalshi(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    """The two markets of an event mirror each other; NBA titles read 'Away at Home Winner?'
    with Kalshi's sub-titles, away market first."""
    game = sim.games_for(League.NBA, MONDAY)[0]
    away, home = sorted(
        game["competitions"][0]["competitors"], key=lambda c: c["homeAway"] == "home"
    )
    markets = sim.markets_for(League.NBA, MONDAY)[:2]
    event = markets[0]["event_ticker"]
    body = (await client.get(f"{sim.rest_url}/markets", params={"event_ticker": event})).json()
    first, second = body["markets"]
    labels = {t.espn: t.sub_title for t in teams(League.NBA)}
    away_label, home_label = (
        labels[away["team"]["abbreviation"]],
        labels[home["team"]["abbreviation"]],
    )
    assert first["title"] == second["title"] == f"{away_label} at {home_label} Winner?"
    assert (first["yes_sub_title"], second["yes_sub_title"]) == (away_label, home_label)
    if first["status"] == "active":
        assert float(first["yes_bid_dollars"]) == pytest.approx(
            1 - float(second["yes_ask_dollars"])
        )
        assert float(first["yes_ask_dollars"]) == pytest.approx(
            1 - float(second["yes_bid_dollars"])
        )


async def test_final_games_have_finalized_markets_with_a_result(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    """Yesterday's games are settled: status finalized, one yes and one no."""
    sunday = date(2025, 11, 23)
    markets = sim.markets_for(League.NBA, sunday)
    assert markets
    for first, second in zip(markets[::2], markets[1::2], strict=True):
        if first["status"] == "finalized":
            assert {first["result"], second["result"]} == {"yes", "no"}
    body = (
        await client.get(f"{sim.rest_url}/markets", params={"status": "settled", "limit": "1000"})
    ).json()
    assert body["markets"] and all(m["status"] == "finalized" for m in body["markets"])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({"status": "open"}, "active", id="open-is-active"),
        pytest.param({"status": "settled"}, "finalized", id="settled-is-finalized"),
    ],
)
async def test_status_filter_uses_kalshi_vocabulary(
    sim: Simulator, client: httpx.AsyncClient, params: dict[str, str], expected: str
) -> None:
    """The status filter's words differ from the status field's, as on Kalshi."""
    body = (await client.get(f"{sim.rest_url}/markets", params={**params, "limit": "1000"})).json()
    assert body["markets"]
    assert {m["status"] for m in body["markets"]} == {expected}


async def test_tickers_and_series_filters(sim: Simulator, client: httpx.AsyncClient) -> None:
    """tickers= returns exactly those markets; series_ticker= keeps one league."""
    wanted = [m["ticker"] for m in sim.markets_for(League.NHL, MONDAY)[:3]]
    wanted.append("KXNHLGAME-25NOV24NOPENOPE-NOPE")
    body = (
        await client.get(f"{sim.rest_url}/markets", params={"tickers": ",".join(wanted)})
    ).json()
    assert [m["ticker"] for m in body["markets"]] == wanted[:3]
    body = (
        await client.get(
            f"{sim.rest_url}/markets", params={"series_ticker": "KXMLBGAME", "limit": "1000"}
        )
    ).json()
    assert body["markets"]
    assert all(m["ticker"].startswith("KXMLBGAME-") for m in body["markets"])
    unknown = await client.get(f"{sim.rest_url}/markets", params={"series_ticker": "KXNOPE"})
    assert unknown.json() == {"markets": [], "cursor": ""}


def _closes(market: dict[str, Any]) -> int:
    return int(datetime.fromisoformat(market["close_time"].replace("Z", "+00:00")).timestamp())


async def test_close_time_filters_select_by_each_markets_close_time(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    """min_close_ts/max_close_ts keep exactly the markets whose close_time is in range, for
    dates far outside the default listing too (here: markets of twelve days ago)."""
    nearby = [
        m
        for offset in range(-40, 20)
        for m in sim.markets_for(League.NBA, MONDAY + timedelta(days=offset))
    ]
    closing = sorted(_closes(m) for m in sim.markets_for(League.NBA, MONDAY - timedelta(days=12)))
    low, high = closing[0], closing[-1]
    expected = {m["ticker"] for m in nearby if low <= _closes(m) <= high}
    found = await _all_pages(
        client,
        f"{sim.rest_url}/markets",
        "markets",
        series_ticker="KXNBAGAME",
        min_close_ts=str(low),
        max_close_ts=str(high),
        limit="7",
    )
    assert len(expected) >= 2 and {m["ticker"] for m in found} == expected
    assert all(low <= _closes(m) <= high for m in found)
    later = await _all_pages(
        client, f"{sim.rest_url}/markets", "markets", min_close_ts=str(high), limit="1000"
    )
    assert later and all(_closes(m) >= high for m in later)
    closed = await client.get(
        f"{sim.rest_url}/markets", params={"status": "closed", "max_close_ts": str(high)}
    )
    # Allowed with status=closed, which still applies (simulated markets are active or final).
    assert closed.status_code == 200 and closed.json()["markets"] == []


async def test_markets_resolve_lazily_for_any_date(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    """A ticker far outside the default window still resolves, by its own date."""
    market = sim.markets_for(League.NFL, date(2030, 9, 8))[0]
    response = await client.get(f"{sim.rest_url}/markets/{market['ticker']}")
    assert response.status_code == 200
    assert response.json()["market"]["ticker"] == market["ticker"]
    assert response.json()["market"]["status"] == "active"


async def test_unknown_market_is_a_wrapped_404(sim: Simulator, client: httpx.AsyncClient) -> None:
    """404 bodies use Kalshi's wrapped error shape."""
    response = await client.get(f"{sim.rest_url}/markets/KXNBAGAME-25NOV24AAABBB-AAA")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert "KXNBAGAME-25NOV24AAABBB-AAA" in response.json()["error"]["message"]
    unparsed = await client.get(f"{sim.rest_url}/markets/NOT-A-GAME")
    assert unparsed.status_code == 404
    nowhere = await client.get(f"{sim.rest_url}/nowhere")
    assert nowhere.status_code == 404 and nowhere.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"limit": "0"}, id="limit-zero"),
        pytest.param({"limit": "1001"}, id="limit-too-big"),
        pytest.param({"limit": "ten"}, id="limit-not-a-number"),
        pytest.param({"cursor": "!!!"}, id="garbage-cursor"),
        pytest.param({"cursor": "eDo1"}, id="foreign-cursor"),
        pytest.param({"status": "active"}, id="status-field-word-not-filter-word"),
        pytest.param({"event_ticker": "KXA-1,KXB-2"}, id="several-event-tickers"),
        # Close-time filters take Unix seconds and go with status closed or none only.
        pytest.param({"status": "open", "min_close_ts": "1764000000"}, id="open-with-close-time"),
        pytest.param({"status": "settled", "max_close_ts": "1764000000"}, id="settled-too"),
        pytest.param({"min_close_ts": "yesterday"}, id="close-time-not-a-timestamp"),
        pytest.param({"max_close_ts": "-5"}, id="close-time-negative"),
    ],
)
async def test_bad_market_queries_are_400(
    sim: Simulator, client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    """Malformed queries answer 400 with the wrapped error body."""
    response = await client.get(f"{sim.rest_url}/markets", params=params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


async def test_events_list_nested_markets_and_paginate(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    """/events pages through events; with_nested_markets puts both markets inside each."""
    events = await _all_pages(
        client,
        f"{sim.rest_url}/events",
        "events",
        series_ticker="KXNBAGAME",
        with_nested_markets="true",
        limit="3",
    )
    assert events and len({e["event_ticker"] for e in events}) == len(events)
    for event in events:
        assert event["series_ticker"] == "KXNBAGAME"
        assert [m["event_ticker"] for m in event["markets"]] == [event["event_ticker"]] * 2
    flat = (await client.get(f"{sim.rest_url}/events", params={"limit": "1"})).json()
    assert "markets" not in flat["events"][0]
    too_many = await client.get(f"{sim.rest_url}/events", params={"limit": "201"})
    assert too_many.status_code == 400


async def test_events_status_filter_matches_child_markets(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    """An event is listed under status=settled when its markets are finalized."""
    body = (
        await client.get(
            f"{sim.rest_url}/events",
            params={
                "status": "settled",
                "with_nested_markets": "true",
                "series_ticker": "KXNHLGAME",
            },
        )
    ).json()
    assert body["events"]
    assert all(m["status"] == "finalized" for e in body["events"] for m in e["markets"])


async def test_events_by_tickers(sim: Simulator, client: httpx.AsyncClient) -> None:
    """tickers= on /events picks events by event ticker."""
    wanted = sorted({m["event_ticker"] for m in sim.markets_for(League.NFL, date(2025, 11, 23))})
    body = (await client.get(f"{sim.rest_url}/events", params={"tickers": ",".join(wanted)})).json()
    assert sorted(e["event_ticker"] for e in body["events"]) == wanted


async def test_one_event(sim: Simulator, client: httpx.AsyncClient) -> None:
    """/events/{ticker} answers the event (nested markets on request) and top-level markets."""
    event_ticker = sim.markets_for(League.NBA, MONDAY)[0]["event_ticker"]
    body = (
        await client.get(
            f"{sim.rest_url}/events/{event_ticker}", params={"with_nested_markets": "true"}
        )
    ).json()
    assert body["event"]["event_ticker"] == event_ticker
    assert len(body["event"]["markets"]) == 2 and len(body["markets"]) == 2
    missing = await client.get(f"{sim.rest_url}/events/KXNBAGAME-25NOV24XXXYYY")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


async def test_series(sim: Simulator, client: httpx.AsyncClient) -> None:
    """/series lists the seven game-winner series; /series/{t} answers one or a 404."""
    body = (await client.get(f"{sim.rest_url}/series")).json()
    assert {s["ticker"] for s in body["series"]} == {
        "KXNFLGAME",
        "KXNBAGAME",
        "KXMLBGAME",
        "KXNHLGAME",
        "KXWNBAGAME",
        "KXNCAAFGAME",
        "KXNCAAMBGAME",
    }
    other = await client.get(f"{sim.rest_url}/series", params={"category": "Economics"})
    assert other.json() == {"series": []}
    one = await client.get(f"{sim.rest_url}/series/KXNHLGAME")
    assert one.json()["series"]["category"] == "Sports"
    assert (await client.get(f"{sim.rest_url}/series/KXNOPE")).status_code == 404


async def test_signed_request_is_accepted(sim: Simulator, client: httpx.AsyncClient) -> None:
    """Headers signed over the path as sent pass verification."""
    path = "/trade-api/v2/portfolio/balance"
    headers = _signer(sim).headers(NOW_MS, "GET", path)
    response = await client.get(f"{sim.rest_url}/portfolio/balance", headers=headers)
    assert response.status_code == 200
    assert response.json()["balance"] == 100_000


async def test_exchange_status_is_public_but_checks_signed_requests(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    """/exchange/status answers unsigned requests; a signature it cannot verify is 401
    (what a readiness probe with a wrong key sees)."""
    path = "/trade-api/v2/exchange/status"
    unsigned = await client.get(f"{sim.rest_url}/exchange/status")
    wrong = {**_signer(sim).headers(NOW_MS, "GET", path), "KALSHI-ACCESS-KEY": "not-our-key"}
    refused = await client.get(f"{sim.rest_url}/exchange/status", headers=wrong)
    assert unsigned.json() == {"exchange_active": True, "trading_active": True}
    assert refused.status_code == 401


async def test_portfolio_requires_auth(sim: Simulator, client: httpx.AsyncClient) -> None:
    """Private endpoints refuse unsigned requests with Kalshi's authentication_error."""
    response = await client.get(f"{sim.rest_url}/portfolio/balance")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_error"


async def test_portfolio_is_open_without_required_auth(client: httpx.AsyncClient) -> None:
    """require_auth=False lets unsigned private requests through."""
    async with Simulator(require_auth=False, tick_interval_s=None) as sim:
        response = await client.get(f"{sim.rest_url}/portfolio/balance")
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        pytest.param(
            lambda h: {**h, "KALSHI-ACCESS-KEY": "not-our-key"}, "unknown", id="wrong-key"
        ),
        pytest.param(
            lambda h: {k: v for k, v in h.items() if k != "KALSHI-ACCESS-SIGNATURE"},
            "missing",
            id="missing-signature",
        ),
    ],
)
async def test_bad_headers_on_a_public_endpoint_are_401(
    sim: Simulator, client: httpx.AsyncClient, mutate: Any, reason: str
) -> None:
    """Auth headers, when present, are verified even where they are optional."""
    headers = mutate(_signer(sim).headers(NOW_MS, "GET", "/trade-api/v2/markets"))
    response = await client.get(f"{sim.rest_url}/markets", headers=headers)
    assert response.status_code == 401
    assert reason in response.json()["error"]["message"]


async def test_other_private_key_is_401(sim: Simulator, client: httpx.AsyncClient) -> None:
    """A signature by a different key under our key id fails."""
    other = Simulator()
    signer = Signer(sim.key_id, load_private_key(other.private_key_pem))
    headers = signer.headers(NOW_MS, "GET", "/trade-api/v2/markets")
    response = await client.get(f"{sim.rest_url}/markets", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "invalid signature"


async def test_stale_timestamp_is_401(sim: Simulator, client: httpx.AsyncClient) -> None:
    """A signature made two minutes ago is outside the 60 s window."""
    headers = _signer(sim).headers(NOW_MS - 120_000, "GET", "/trade-api/v2/markets")
    response = await client.get(f"{sim.rest_url}/markets", headers=headers)
    assert response.status_code == 401
    assert "window" in response.json()["error"]["message"]


async def test_query_string_is_not_part_of_the_signature(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    """Signing the bare path works with a query; signing path+query fails (Kalshi's pitfall)."""
    url = f"{sim.rest_url}/markets"
    params = {"series_ticker": "KXNBAGAME", "limit": "5"}
    good = _signer(sim).headers(NOW_MS, "GET", "/trade-api/v2/markets")
    assert (await client.get(url, params=params, headers=good)).status_code == 200
    key = load_private_key(sim.private_key_pem)
    message = f"{NOW_MS}GET/trade-api/v2/markets?series_ticker=KXNBAGAME&limit=5".encode()
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
    signature = base64.b64encode(key.sign(message, pss, hashes.SHA256())).decode()
    query_signed = {**good, "KALSHI-ACCESS-SIGNATURE": signature}
    assert (await client.get(url, params=params, headers=query_signed)).status_code == 401


async def test_scripted_statuses_come_first_then_normal_service(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    """[429, 429] answers two Kalshi 429s, then the real response; all three are counted."""
    sim.faults.scripted_statuses = deque([429, 429])
    url = f"{sim.rest_url}/markets"
    first, second, third = [await client.get(url) for _ in range(3)]
    assert (first.status_code, second.status_code, third.status_code) == (429, 429, 200)
    assert first.json() == {"error": "too many requests"}
    assert "retry-after" not in first.headers
    assert sim.stats.requests["markets"] == 3


@pytest.mark.parametrize(
    ("status", "body_check"),
    [
        pytest.param(500, lambda b: b["error"]["code"] == "internal_server_error", id="500"),
        pytest.param(503, lambda b: b["error"]["code"] == "internal_server_error", id="503"),
        pytest.param(401, lambda b: b["error"]["code"] == "authentication_error", id="401"),
        pytest.param(403, lambda b: b["error"]["code"] == "scripted_error", id="403"),
        pytest.param(200, lambda b: "series" in b, id="200-means-normal"),
    ],
)
async def test_scripted_status_bodies(
    sim: Simulator, client: httpx.AsyncClient, status: int, body_check: Any
) -> None:
    """Each scripted status answers with a Kalshi-shaped body."""
    sim.faults.scripted_statuses.append(status)
    response = await client.get(f"{sim.rest_url}/series")
    assert response.status_code == status
    assert body_check(response.json())


async def test_error_and_rate_limit_rates(sim: Simulator, client: httpx.AsyncClient) -> None:
    """error_rate=1 answers 500s; rate_limit_rate=1 answers 429s; 0 restores service."""
    sim.faults.error_rate = 1.0
    response = await client.get(f"{sim.rest_url}/series")
    assert response.status_code == 500 and response.json()["error"]["code"]
    sim.faults.error_rate = 0.0
    sim.faults.rate_limit_rate = 1.0
    response = await client.get(f"{sim.rest_url}/series")
    assert response.status_code == 429 and response.json() == {"error": "too many requests"}
    sim.faults.rate_limit_rate = 0.0
    assert (await client.get(f"{sim.rest_url}/series")).status_code == 200


async def test_latency_keeps_requests_in_flight_so_concurrency_shows(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    """Eight concurrent requests under added latency are all in flight at once."""
    sim.faults.latency_s = 0.5
    tickers = [m["ticker"] for m in sim.markets_for(League.NBA, MONDAY)[:8]]
    responses = await asyncio.gather(
        *(client.get(f"{sim.rest_url}/markets/{ticker}") for ticker in tickers)
    )
    assert [r.status_code for r in responses] == [200] * 8
    assert sim.stats.requests["market"] == 8
    assert sim.stats.max_in_flight["market"] == 8
    assert sim.stats.in_flight["market"] == 0


async def test_the_answer_is_made_on_arrival_and_sent_after_the_latency(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    """The latency is the time to the answer, the simulator's own work within it: a price
    that moves while the request waits out its latency is not in the answer."""
    sim.faults.latency_s = 1.0
    ticker = sim.markets_for(League.NBA, MONDAY)[0]["ticker"]
    pending = asyncio.ensure_future(client.get(f"{sim.rest_url}/markets/{ticker}"))
    await eventually(lambda: sim.stats.in_flight["market"] == 1)  # answered, now waiting
    before = sim.markets_for(League.NBA, MONDAY)[0]["yes_bid_dollars"]
    for _ in range(20):
        await sim.publish_tick(ticker)
    moved = sim.markets_for(League.NBA, MONDAY)[0]["yes_bid_dollars"]
    answer = (await pending).json()["market"]
    assert moved != before and answer["yes_bid_dollars"] == before


async def test_market_queries_are_recorded(sim: Simulator, client: httpx.AsyncClient) -> None:
    """Each /markets call's query params are kept so tests can see how many tickers were asked."""
    tickers = [m["ticker"] for m in sim.markets_for(League.NBA, MONDAY)[:4]]
    await client.get(f"{sim.rest_url}/markets", params={"tickers": ",".join(tickers)})
    await client.get(f"{sim.rest_url}/markets", params={"limit": "5"})
    assert sim.stats.market_queries == [{"tickers": ",".join(tickers)}, {"limit": "5"}]
    sim.stats.reset()
    assert sim.stats.market_queries == [] and sim.stats.requests["markets"] == 0


def _find(seed: int, league: League, first: date, wanted: Callable[[SimGame], bool]) -> SimGame:
    """The first game of the simulator's slates (same seed) from ``first`` on that is wanted."""
    slates = Slates(seed)
    for offset in range(400):
        for game in slates.games(league, first + timedelta(days=offset)):
            if wanted(game):
                return game
    raise AssertionError("no such game")


async def _market(client: httpx.AsyncClient, sim: Simulator, ticker: str) -> dict[str, Any]:
    response = await client.get(f"{sim.rest_url}/markets/{ticker}")
    assert response.status_code == 200, response.text
    market: dict[str, Any] = response.json()["market"]
    return market


@pytest.mark.parametrize(
    ("league", "title"),
    [
        pytest.param(League.NFL, "{away} at {home} Winner?", id="nfl-at"),
        pytest.param(League.WNBA, "{away} vs {home} winner?", id="wnba-vs"),
        pytest.param(League.MLB, "{away} vs {home} winner?", id="mlb-vs"),
        pytest.param(League.NHL, "{yes} wins", id="nhl-wins"),
    ],
)
async def test_market_identity_reads_like_a_real_listing(
    sim: Simulator, client: httpx.AsyncClient, league: League, title: str
) -> None:
    """Each series titles its markets in its own style; yes_sub_title is Kalshi's short label;
    occurrence_datetime is the start, expected_expiration_time a few hours later."""
    game = _find(7, league, date(2026, 6, 1), lambda g: True)
    for home in (False, True):
        team = game.home if home else game.away
        market = await _market(client, sim, game.home_ticker if home else game.away_ticker)
        labels = {"away": game.away.sub_title, "home": game.home.sub_title, "yes": team.sub_title}
        assert market["title"] == title.format(**labels)
        assert market["yes_sub_title"] == market["no_sub_title"] == team.sub_title
        start = datetime.fromisoformat(market["occurrence_datetime"])
        assert start == game.start
        expires = datetime.fromisoformat(market["expected_expiration_time"])
        assert timedelta(hours=1) < expires - start < timedelta(hours=6)


async def test_title_style_fault_rewrites_every_title(client: httpx.AsyncClient) -> None:
    """Faults.title_style puts every series in one style, events included."""
    faults = Faults(title_style="wins")
    async with Simulator(seed=7, tick_interval_s=None, clock=lambda: NOW, faults=faults) as sim:
        market = sim.markets_for(League.NBA, MONDAY)[1]
        assert market["title"] == f"{market['yes_sub_title']} wins"
        body = (await client.get(f"{sim.rest_url}/markets/{market['ticker']}")).json()
        assert body["market"]["title"] == market["title"]
        event = (await client.get(f"{sim.rest_url}/events/{market['event_ticker']}")).json()
        assert " vs " in event["event"]["title"]


async def test_outcome_codes_with_a_hyphen_resolve(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    """Miami (OH) is M-OH: its event ticker holds the hyphen and its market ends in -M-OH."""
    game = _find(7, League.NCAAF, date(2025, 11, 1), lambda g: "M-OH" in (g.away.key, g.home.key))
    ticker = game.home_ticker if game.home.key == "M-OH" else game.away_ticker
    assert ticker.endswith("-M-OH") and "M-OH" in game.event_ticker
    market = await _market(client, sim, ticker)
    assert market["event_ticker"] == game.event_ticker
    assert market["yes_sub_title"] == "Miami (OH)"
    listed = (await client.get(f"{sim.rest_url}/markets", params={"tickers": ticker})).json()
    assert [m["ticker"] for m in listed["markets"]] == [ticker]
    event = await client.get(f"{sim.rest_url}/markets", params={"event_ticker": game.event_ticker})
    assert {m["ticker"] for m in event.json()["markets"]} == {game.away_ticker, game.home_ticker}


@pytest.mark.parametrize(
    ("style", "book"), [("empty", ("0.0000", "1.0000")), ("penny", ("0.0100", "0.9900"))]
)
async def test_never_traded_markets_have_no_price(
    sim: Simulator, client: httpx.AsyncClient, style: str, book: tuple[str, str]
) -> None:
    """A never-traded market: last price 0.0000, no volume, an empty or 0.01/0.99 book."""
    game = _find(7, League.NBA, MONDAY + timedelta(days=1), lambda g: g.never_traded == style)
    for ticker in (game.away_ticker, game.home_ticker):
        market = await _market(client, sim, ticker)
        assert market["status"] == "active"
        assert (market["yes_bid_dollars"], market["yes_ask_dollars"]) == book
        assert market["last_price_dollars"] == market["previous_price_dollars"] == "0.0000"
        assert market["volume_fp"] == market["open_interest_fp"] == "0.00"


async def test_code_rename_fault_changes_tickers_from_its_date_on(
    client: httpx.AsyncClient,
) -> None:
    """A mid-season rename lists the new code in event and market tickers from renames_from on;
    earlier events keep theirs, the old ticker is gone, and the game's prices carry over."""
    later = _find(
        7, League.NHL, MONDAY + timedelta(days=2), lambda g: "LA" in (g.away.key, g.home.key)
    )
    earlier = _find(
        7, League.NHL, MONDAY - timedelta(days=30), lambda g: "LA" in (g.away.key, g.home.key)
    )
    assert earlier.et_date < MONDAY < later.et_date
    async with Simulator(seed=7, tick_interval_s=None, clock=lambda: NOW) as sim:

        def kings(game: SimGame) -> str:
            return game.home_ticker if game.home.key == "LA" else game.away_ticker

        before = await _market(client, sim, kings(later))
        sim.faults.code_renames = {League.NHL: {"LA": "LAK"}}
        sim.faults.renames_from = MONDAY
        gone = await client.get(f"{sim.rest_url}/markets/{kings(later)}")
        assert gone.status_code == 404
        codes = [
            "LAK" if t.key == "LA" else t.kalshi(later.et_date) for t in (later.away, later.home)
        ]
        event = f"{later.event_ticker[: -len(later.away_code + later.home_code)]}{''.join(codes)}"
        renamed = f"{event}-LAK"
        after = await _market(client, sim, renamed)
        assert after["event_ticker"] == event
        assert after["yes_sub_title"] == before["yes_sub_title"] == "Los Angeles"
        assert after["yes_bid_dollars"] == before["yes_bid_dollars"]
        assert (await _market(client, sim, kings(earlier)))["ticker"] == kings(earlier)
        listing = sim.markets_for(League.NHL, later.et_date)
        assert renamed in {m["ticker"] for m in listing}


def test_same_seed_same_listing_and_scoreboard() -> None:
    """SIM_SEED makes a listing reproducible: same seed and clock, same JSON; another seed not."""
    day = date(2026, 6, 6)

    def snapshot(seed: int) -> tuple[Any, Any]:
        sim = Simulator(seed=seed, tick_interval_s=None, clock=lambda: NOW)
        return sim.markets_for(League.MLB, day), sim.games_for(League.MLB, day)

    first = snapshot(3)
    assert snapshot(3) == first
    assert snapshot(4) != first


async def test_simulated_markets_have_the_shape_of_the_recorded_fixtures(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    """The simulator emits exactly the fields of the hand-written documentation-shaped fixtures
    in tests/data/kalshi (one per quirk), so tests on either see the same listing shape."""
    shapes = {
        frozenset(market)
        for path in FIXTURES.glob("*.json")
        for market in json.loads(path.read_text(encoding="utf-8"))["markets"]
    }
    assert len(shapes) == 1
    (shape,) = shapes
    assert REQUIRED_FIELDS <= shape and not LEGACY_FIELDS & shape
    body = (await client.get(f"{sim.rest_url}/markets", params={"limit": "1000"})).json()
    assert body["markets"] and all(market.keys() == shape for market in body["markets"])


async def test_finished_markets_since_a_time_reach_back_past_the_window(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    """status=settled with min_settled_ts lists every game settled since then (days before the
    default window too, and a game of the day before that ended after it); each time filter
    goes with its own status only."""
    since = int(datetime(2025, 11, 21, 5, 0, tzinfo=UTC).timestamp())  # Friday 00:00 ET
    query = {"status": "settled", "min_settled_ts": str(since), "limit": "1000"}
    body = (await client.get(f"{sim.rest_url}/markets", params=query)).json()
    dates = {m["event_ticker"].split("-")[1][:7] for m in body["markets"]}
    assert {"25NOV21", "25NOV22", "25NOV23", "25NOV24"} <= dates
    assert dates <= {"25NOV20", "25NOV21", "25NOV22", "25NOV23", "25NOV24"}
    closes = [datetime.fromisoformat(m["close_time"]).timestamp() for m in body["markets"]]
    assert min(closes) >= since
    assert {m["status"] for m in body["markets"]} == {"finalized"}
    closed = {"status": "closed", "min_close_ts": str(since)}
    assert (await client.get(f"{sim.rest_url}/markets", params=closed)).json()["markets"] == []
    for bad in (
        {"status": "open", "min_settled_ts": str(since)},
        {"status": "settled", "min_close_ts": str(since)},
        {"status": "closed", "min_close_ts": "yesterday"},
    ):
        response = await client.get(f"{sim.rest_url}/markets", params=bad)
        assert response.status_code == 400, bad
