from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import given, strategies as st

from graph.errors import (
    UpstreamAuthError,
    UpstreamHTTPError,
    UpstreamProtocolError,
    UpstreamUnavailable,
)
from graph.http import RetryPolicy, get_json
from graph.kalshi.rest import (
    MARKETS_PAGE_LIMIT,
    TICKERS_PARAM_BUDGET,
    KalshiAuth,
    KalshiRest,
    chunk_tickers,
)
from graph.kalshi.signing import (
    HEADER_KEY,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    Signer,
    load_private_key,
)
from graph.models import Market
from graph.sim import Simulator

BASE = "https://kalshi.test/trade-api/v2"
DATA = Path(__file__).parents[1] / "data"
KALSHI_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)

Handler = Callable[[httpx.Request], httpx.Response]


READ_AT = 1_763_900_000.0  # when the fake reads happen


async def _no_sleep(_: float) -> None:
    return None


def _market(ticker: str, bid: str = "0.4000", ask: str = "0.4200") -> dict[str, Any]:
    return {
        "ticker": ticker,
        "event_ticker": ticker.rsplit("-", 1)[0],
        "title": "A at B Winner?",
        "yes_sub_title": "A",
        "status": "active",
        "yes_bid_dollars": bid,
        "yes_ask_dollars": ask,
        "last_price_dollars": "0.4100",
        "volume_fp": "10.00",
        "open_interest_fp": "5.00",
    }


@asynccontextmanager
async def _rest(
    handler: Handler, *, auth: httpx.Auth | None = None, attempts: int = 4
) -> AsyncIterator[KalshiRest]:
    transport = httpx.MockTransport(handler)
    async with httpx.AsyncClient(transport=transport, auth=auth) as client:
        yield KalshiRest(
            client,
            BASE,
            policy=RetryPolicy(attempts=attempts),
            sleep=_no_sleep,
            clock=lambda: READ_AT,
        )


def _params(request: httpx.Request) -> dict[str, str]:
    return dict(request.url.params)


@pytest.mark.parametrize(
    "last_page",
    [
        pytest.param({"cursor": ""}, id="empty-string"),
        pytest.param({"cursor": None}, id="null"),
        pytest.param({}, id="missing"),
    ],
)
async def test_pagination_follows_cursor_until_empty(last_page: dict[str, Any]) -> None:
    """Pages are fetched while cursor is non-empty; "", null and missing all end the walk."""
    requests: list[httpx.Request] = []
    pages = {
        None: {"markets": [_market("S-E1-A")], "cursor": "c1"},
        "c1": {"markets": [_market("S-E1-B"), _market("S-E2-A")], "cursor": "c2"},
        "c2": {"markets": [_market("S-E2-B")], **last_page},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json=pages[request.url.params.get("cursor")])

    async with _rest(handler) as rest:
        markets = await rest.markets(series_ticker="KXNBAGAME", status="open")
    assert [m.ticker for m in markets] == ["S-E1-A", "S-E1-B", "S-E2-A", "S-E2-B"]
    assert [r.url.params.get("cursor") for r in requests] == [None, "c1", "c2"]
    filters = [{k: v for k, v in _params(r).items() if k != "cursor"} for r in requests]
    expected = {"series_ticker": "KXNBAGAME", "status": "open", "limit": str(MARKETS_PAGE_LIMIT)}
    assert filters == [expected] * 3
    assert all(r.url.path == "/trade-api/v2/markets" for r in requests)


async def test_close_time_filters_are_sent_as_unix_seconds_on_every_page() -> None:
    """min_close_ts/max_close_ts go out as given (seconds), with no status, page after page."""
    requests: list[httpx.Request] = []
    pages = {
        None: {"markets": [_market("S-E1-A")], "cursor": "c1"},
        "c1": {"markets": [_market("S-E1-B")], "cursor": ""},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json=pages[request.url.params.get("cursor")])

    async with _rest(handler) as rest:
        markets = await rest.markets(
            series_ticker="KXNBAGAME", min_close_ts=1_800_000_000, max_close_ts=1_800_090_000
        )
    assert [m.ticker for m in markets] == ["S-E1-A", "S-E1-B"]
    filters = [{k: v for k, v in _params(r).items() if k != "cursor"} for r in requests]
    expected = {
        "series_ticker": "KXNBAGAME",
        "min_close_ts": "1800000000",
        "max_close_ts": "1800090000",
        "limit": str(MARKETS_PAGE_LIMIT),
    }
    assert filters == [expected] * 2


async def test_repeating_cursor_is_protocol_error() -> None:
    """A cursor the server already gave once stops the walk with UpstreamProtocolError."""
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        cursor = "again" if request.url.params.get("cursor") else "first"
        return httpx.Response(200, json={"markets": [], "cursor": "again" if calls > 1 else cursor})

    async with _rest(handler) as rest:
        with pytest.raises(UpstreamProtocolError, match="cursor"):
            await rest.markets(event_ticker="E")
    assert calls == 3


async def test_page_without_list_is_protocol_error() -> None:
    """A page whose 'markets' is not a list raises UpstreamProtocolError."""
    async with _rest(lambda _: httpx.Response(200, json={"markets": None})) as rest:
        with pytest.raises(UpstreamProtocolError, match="markets"):
            await rest.markets()


@pytest.mark.parametrize("by_tickers", [False, True], ids=["listing", "tickers"])
async def test_a_garbled_market_is_skipped_not_fatal_to_its_listing(
    by_tickers: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """One unparseable market in a listing is dropped with a warning; the others are kept."""
    page = {"markets": [_market("S-E1-A"), {**_market("S-E1-B"), "yes_bid_dollars": "abc"}, 7]}
    async with _rest(lambda _: httpx.Response(200, json=page)) as rest:
        if by_tickers:
            markets = await rest.markets(tickers=["S-E1-A", "S-E1-B"])
        else:
            markets = await rest.markets(series_ticker="S")
    assert [m.ticker for m in markets] == ["S-E1-A"]
    skipped = [r.getMessage() for r in caplog.records if "malformed Kalshi market" in r.message]
    assert len(skipped) == 2 and "ticker=S-E1-B" in skipped[0] and "ticker=None" in skipped[1]


_TICKER = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=40)


@given(tickers=st.lists(_TICKER, max_size=60), budget=st.integers(min_value=1, max_value=200))
def test_chunk_tickers_properties(tickers: list[str], budget: int) -> None:
    """Chunks keep first-seen order without duplicates and fit the budget unless one ticker alone
    exceeds it; each chunk is as full as it can be."""
    chunks = chunk_tickers(tickers, budget)
    assert [t for chunk in chunks for t in chunk] == list(dict.fromkeys(tickers))
    for n, chunk in enumerate(chunks):
        assert chunk
        assert len(",".join(chunk)) <= budget or len(chunk) == 1
        if n + 1 < len(chunks):
            assert len(",".join([*chunk, chunks[n + 1][0]])) > budget


async def test_markets_by_tickers_chunks_requests_within_budget() -> None:
    """A long ticker list is split over several requests, each tickers= within the budget."""
    tickers = [f"KXNBAGAME-25NOV24T{n:04d}LALBOS-BOS" for n in range(600)]
    seen: list[list[str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked = request.url.params["tickers"]
        assert len(asked) <= TICKERS_PARAM_BUDGET
        seen.append(asked.split(","))
        return httpx.Response(200, json={"markets": [_market(t) for t in asked.split(",")]})

    async with _rest(handler) as rest:
        markets = await rest.markets(tickers=tickers + tickers[:10])
    assert len(seen) >= 3
    assert [m.ticker for m in markets] == tickers
    assert [t for chunk in seen for t in chunk] == tickers


async def test_market_404_is_none() -> None:
    """market() returns None when Kalshi answers 404 for the ticker."""
    async with _rest(lambda _: httpx.Response(404, json={"error": {"code": "not_found"}})) as rest:
        assert await rest.market("KXNBAGAME-NOPE-X") is None


async def test_market_server_errors_exhaust_to_unavailable() -> None:
    """market() does not swallow 5xx: after the retry budget it raises UpstreamUnavailable."""
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(502)

    async with _rest(handler, attempts=3) as rest:
        with pytest.raises(UpstreamUnavailable):
            await rest.market("KXNBAGAME-25NOV24LALBOS-BOS")
    assert len(calls) == 3


async def test_market_parses_current_shape_from_reference() -> None:
    """The reference's illustrative market (dollar strings, fp counts) parses into Market."""
    body = json.loads((DATA / "kalshi_market.json").read_text(encoding="utf-8"))
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return httpx.Response(200, json=body)

    async with _rest(handler) as rest:
        market = await rest.market("KXNFLGAME-25NOV23BUFHOU-BUF")
    assert paths == ["/trade-api/v2/markets/KXNFLGAME-25NOV23BUFHOU-BUF"]
    assert market == Market(
        ticker="KXNFLGAME-25NOV23BUFHOU-BUF",
        event_ticker="KXNFLGAME-25NOV23BUFHOU",
        title="Buffalo at Houston Winner?",
        status="active",
        yes_sub_title="Buffalo",
        no_sub_title="Buffalo",
        yes_bid=0.55,
        yes_ask=0.56,
        last_price=0.55,
        volume=153204.0,
        open_interest=90310.0,
        updated_at=None,
        close_time=datetime(2025, 12, 7, 18, 0, tzinfo=UTC),
        observed_at=datetime.fromtimestamp(READ_AT, UTC),
        expected_expiration=datetime(2025, 11, 24, 4, 30, tzinfo=UTC),
    )
    assert market.implied_probability == pytest.approx(0.555)


def _verify(public_key: rsa.RSAPublicKey, signature_b64: str, message: str) -> bool:
    try:
        public_key.verify(
            base64.b64decode(signature_b64), message.encode(), KALSHI_PSS, hashes.SHA256()
        )
    except InvalidSignature:
        return False
    return True


async def test_auth_signs_path_as_sent_without_query(rsa_key: rsa.RSAPrivateKey) -> None:
    """KalshiAuth signs ts+GET+/trade-api/v2/markets (no query) with the clock's milliseconds."""
    received: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200, json={"markets": [], "cursor": ""})

    auth = KalshiAuth(Signer("key-1", rsa_key), clock=lambda: 1763900000.0)
    async with _rest(handler, auth=auth) as rest:
        await rest.markets(series_ticker="KXNFLGAME", status="open")
    (request,) = received
    assert request.url.query  # the query was sent...
    assert request.headers[HEADER_KEY] == "key-1"
    assert request.headers[HEADER_TIMESTAMP] == "1763900000000"
    signature = request.headers[HEADER_SIGNATURE]
    public = rsa_key.public_key()
    # ...but only the bare path is signed.
    assert _verify(public, signature, "1763900000000GET/trade-api/v2/markets")
    query = request.url.query.decode()
    assert not _verify(public, signature, f"1763900000000GET/trade-api/v2/markets?{query}")


async def test_auth_signs_percent_encoded_path_as_sent(rsa_key: rsa.RSAPrivateKey) -> None:
    """The signed path is the raw path on the wire (percent-encoding kept)."""
    received: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(404)

    auth = KalshiAuth(Signer("key-1", rsa_key), clock=lambda: 1763900000.5)
    async with _rest(handler, auth=auth) as rest:
        assert await rest.market("ODD TICKER/1") is None
    (request,) = received
    assert request.url.raw_path == b"/trade-api/v2/markets/ODD%20TICKER%2F1"
    assert request.headers[HEADER_TIMESTAMP] == "1763900000500"
    message = "1763900000500GET/trade-api/v2/markets/ODD%20TICKER%2F1"
    assert _verify(rsa_key.public_key(), request.headers[HEADER_SIGNATURE], message)


async def test_auth_signs_each_retry_afresh(rsa_key: rsa.RSAPrivateKey) -> None:
    """Every attempt, retries included, carries a timestamp from the clock at send time."""
    times = iter([1763900000.0, 1763900001.0])
    stamps: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        stamps.append(request.headers[HEADER_TIMESTAMP])
        return httpx.Response(429 if len(stamps) == 1 else 200, json={"series": []})

    async with _rest(
        handler, auth=KalshiAuth(Signer("k", rsa_key), clock=lambda: next(times))
    ) as rest:
        assert await rest.series() == []
    assert stamps == ["1763900000000", "1763900001000"]


async def test_events_paginate_with_filters() -> None:
    """events() walks the cursor and sends series/status/nested filters on every page."""
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.url.params.get("cursor") is None:
            return httpx.Response(200, json={"events": [{"event_ticker": "E1"}], "cursor": "n"})
        return httpx.Response(200, json={"events": [{"event_ticker": "E2"}], "cursor": ""})

    async with _rest(handler) as rest:
        events = await rest.events(
            series_ticker="KXNHLGAME", status="open", with_nested_markets=True
        )
    assert [e["event_ticker"] for e in events] == ["E1", "E2"]
    for request in requests:
        assert request.url.path == "/trade-api/v2/events"
        assert request.url.params["series_ticker"] == "KXNHLGAME"
        assert request.url.params["status"] == "open"
        assert request.url.params["with_nested_markets"] == "true"


async def test_event_returns_object_none_on_404_and_rejects_bad_shape() -> None:
    """event() returns the 'event' object, None on 404, and a protocol error without it."""
    answers = {
        "/trade-api/v2/events/E1": httpx.Response(
            200, json={"event": {"event_ticker": "E1", "markets": []}}
        ),
        "/trade-api/v2/events/GONE": httpx.Response(404),
        "/trade-api/v2/events/ODD": httpx.Response(200, json={"markets": []}),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["with_nested_markets"] == "true"
        return answers[request.url.path]

    async with _rest(handler) as rest:
        assert await rest.event("E1") == {"event_ticker": "E1", "markets": []}
        assert await rest.event("GONE") is None
        with pytest.raises(UpstreamProtocolError, match="event"):
            await rest.event("ODD")


async def test_series_list_and_one() -> None:
    """series() returns the list; series(ticker) returns that one series as a 1-item list."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/trade-api/v2/series":
            return httpx.Response(200, json={"series": [{"ticker": "A"}, {"ticker": "B"}]})
        if request.url.path == "/trade-api/v2/series/KXNFLGAME":
            return httpx.Response(200, json={"series": {"ticker": "KXNFLGAME"}})
        return httpx.Response(200, json={"series": "nope"})

    async with _rest(handler) as rest:
        assert await rest.series() == [{"ticker": "A"}, {"ticker": "B"}]
        assert await rest.series("KXNFLGAME") == [{"ticker": "KXNFLGAME"}]
        with pytest.raises(UpstreamProtocolError, match="series"):
            await rest.series("BROKEN")


async def test_auth_refusal_surfaces_as_auth_error(rsa_key: rsa.RSAPrivateKey) -> None:
    """A 401 from Kalshi reaches the caller as UpstreamAuthError, not None or a retry loop."""
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(401, json={"error": {"code": "authentication_error"}})

    async with _rest(handler, auth=KalshiAuth(Signer("k", rsa_key))) as rest:
        with pytest.raises(UpstreamAuthError) as info:
            await rest.market("KXNBAGAME-25NOV24LALBOS-BOS")
    assert len(calls) == 1
    assert "check KALSHI_API_KEY_ID" in str(info.value)


def _get_market(rest: KalshiRest) -> Awaitable[Any]:
    return rest.market("T-A")


def _get_series(rest: KalshiRest) -> Awaitable[Any]:
    return rest.series()


@pytest.mark.parametrize(
    ("call", "body"),
    [
        pytest.param(_get_market, ["not", "an", "object"], id="market-list"),
        pytest.param(_get_market, {"market": "T-A"}, id="market-string"),
        pytest.param(_get_series, {"series": {"ticker": "A"}}, id="series-not-list"),
        pytest.param(_get_series, [], id="series-body-list"),
    ],
)
async def test_malformed_bodies_are_protocol_errors(
    call: Callable[[KalshiRest], Awaitable[Any]], body: Any
) -> None:
    """Bodies of the wrong shape raise UpstreamProtocolError rather than leaking TypeErrors."""
    async with _rest(lambda _: httpx.Response(200, json=body)) as rest:
        with pytest.raises(UpstreamProtocolError):
            await call(rest)


async def test_events_without_filters_sends_only_limit() -> None:
    """events() with no filters asks for the 200-item page and nothing else."""
    seen: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(_params(request))
        return httpx.Response(200, json={"events": []})

    async with _rest(handler) as rest:
        assert await rest.events() == []
    assert seen == [{"limit": "200"}]


async def test_event_other_client_errors_propagate() -> None:
    """event() turns only 404 into None; a 400 raises UpstreamHTTPError."""
    async with _rest(lambda _: httpx.Response(400)) as rest:
        with pytest.raises(UpstreamHTTPError) as info:
            await rest.event("E1")
    assert info.value.status_code == 400


# Against the built-in simulator (a real loopback server).


async def test_sim_scripted_429s_then_success() -> None:
    """Two scripted 429s from the simulator are retried and the third request succeeds."""
    async with Simulator(tick_interval_s=None) as sim, httpx.AsyncClient() as client:
        sim.faults.scripted_statuses.extend([429, 429])
        rest = KalshiRest(client, sim.rest_url, sleep=_no_sleep)
        series = await rest.series()
        assert sim.stats.requests["series"] == 3
    assert "KXNBAGAME" in {s["ticker"] for s in series}


async def test_sim_persistent_500s_exhaust_the_budget() -> None:
    """More scripted 500s than attempts: UpstreamUnavailable after exactly `attempts` tries."""
    policy = RetryPolicy(attempts=3)
    async with Simulator(tick_interval_s=None) as sim, httpx.AsyncClient() as client:
        sim.faults.scripted_statuses.extend([500] * 5)
        rest = KalshiRest(client, sim.rest_url, policy=policy, sleep=_no_sleep)
        with pytest.raises(UpstreamUnavailable, match="3 times"):
            await rest.series()
        assert sim.stats.requests["series"] == 3
        assert list(sim.faults.scripted_statuses) == [500, 500]


async def test_sim_accepts_its_key_and_refuses_another(rsa_key: rsa.RSAPrivateKey) -> None:
    """A request signed with the simulator's key passes its auth; another key gets a 401."""
    async with Simulator(tick_interval_s=None) as sim:
        url = sim.rest_url + "/portfolio/balance"
        good = KalshiAuth(Signer(sim.key_id, load_private_key(sim.private_key_pem)))
        async with httpx.AsyncClient(auth=good) as client:
            body = await get_json(client, url, what="Kalshi")
        assert isinstance(body, dict) and "balance" in body
        bad = KalshiAuth(Signer(sim.key_id, rsa_key))
        async with httpx.AsyncClient(auth=bad) as client:
            with pytest.raises(UpstreamAuthError) as info:
                await get_json(client, url, what="Kalshi")
        assert info.value.status_code == 401
        async with httpx.AsyncClient() as client:
            with pytest.raises(UpstreamAuthError):
                await get_json(client, url, what="Kalshi")
        assert sim.stats.requests["portfolio"] == 3


async def test_markets_are_stamped_with_when_we_read_them() -> None:
    """Every market carries observed_at from the injected clock (its price's age for us)."""
    body = {"markets": [_market("KXNBAGAME-A-X")], "cursor": ""}
    transport = httpx.MockTransport(lambda _: httpx.Response(200, json=body))
    async with httpx.AsyncClient(transport=transport) as client:
        rest = KalshiRest(client, BASE, clock=lambda: 1_763_900_000.0)
        (market,) = await rest.markets(series_ticker="KXNBAGAME")
    assert market.observed_at is not None
    assert market.observed_at.timestamp() == 1_763_900_000.0
