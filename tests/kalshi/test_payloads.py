from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, strategies as st

from graph.errors import UpstreamProtocolError
from graph.kalshi.payloads import count, dollars, parse_market, timestamp

DATA = Path(__file__).parents[1] / "data"


def _raw(**fields: Any) -> dict[str, Any]:
    return {"ticker": "KXNBAGAME-25NOV24LALBOS-BOS", "event_ticker": "KXNBAGAME-25NOV24LALBOS"} | (
        fields
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("0.480", 0.48, id="3-decimals-ws"),
        pytest.param("0.5600", 0.56, id="4-decimals-rest"),
        pytest.param("0.123456", 0.123456, id="6-decimals"),
        pytest.param("0.0000", 0.0, id="zero"),
        pytest.param("1.0000", 1.0, id="one"),
        pytest.param("1", 1.0, id="no-decimals"),
    ],
)
def test_dollars_parses_any_width(text: str, expected: float) -> None:
    """*_dollars strings with any number of decimals parse to a dollar price in [0, 1]."""
    assert dollars(text) == pytest.approx(expected)


@pytest.mark.parametrize("value", [pytest.param("", id="empty"), pytest.param(None, id="none")])
def test_dollars_missing_is_none(value: object) -> None:
    """An empty or absent price is unknown (None), not zero."""
    assert dollars(value) is None


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("1.0001", id="above-one"),
        pytest.param("-0.0100", id="negative"),
        pytest.param("55", id="cents-as-string"),
        pytest.param(55, id="cents-int"),
        pytest.param("abc", id="non-numeric"),
        pytest.param("NaN", id="nan"),
        pytest.param("inf", id="inf"),
        pytest.param(True, id="bool"),
        pytest.param(False, id="bool-false"),
        pytest.param([0.5], id="list"),
        pytest.param({"v": "0.5"}, id="object"),
        pytest.param(10**400, id="huge-int"),
    ],
)
def test_dollars_rejects_bad_values(value: object) -> None:
    """Out-of-range, non-numeric or boolean prices raise UpstreamProtocolError."""
    with pytest.raises(UpstreamProtocolError):
        dollars(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("10.00", 10.0, id="fp"),
        pytest.param("0.01", 0.01, id="fractional"),
        pytest.param("", None, id="empty"),
        pytest.param(None, None, id="none"),
    ],
)
def test_count_parses_fp_strings(value: object, expected: float | None) -> None:
    """*_fp count strings parse to non-negative floats; empty is None."""
    assert count(value) == expected


@pytest.mark.parametrize(
    "value", ["-1.00", "NaN", "inf", "x", True, [1], pytest.param(10**400, id="huge-int")]
)
def test_count_rejects_bad_values(value: object) -> None:
    """Negative, non-finite, non-numeric or boolean counts raise UpstreamProtocolError."""
    with pytest.raises(UpstreamProtocolError):
        count(value)


def test_timestamp_parses_rfc3339_with_zone() -> None:
    """RFC 3339 strings (Z or offset) become aware datetimes; empty is None."""
    assert timestamp("2025-12-07T18:00:00Z") == datetime(2025, 12, 7, 18, tzinfo=UTC)
    offset = timezone(timedelta(hours=-5))
    assert timestamp("2025-12-07T13:00:00-05:00") == datetime(2025, 12, 7, 13, tzinfo=offset)
    assert timestamp("") is None


@pytest.mark.parametrize("value", ["2025-12-07T18:00:00", "yesterday", 1763900000, True])
def test_timestamp_rejects_naive_or_non_strings(value: object) -> None:
    """Times without a zone, unparseable text or numbers raise UpstreamProtocolError."""
    with pytest.raises(UpstreamProtocolError):
        timestamp(value)


def test_parse_reference_market() -> None:
    """The current-shape market from kalshi-api.md §3.4 parses field by field."""
    body = json.loads((DATA / "kalshi_market.json").read_text(encoding="utf-8"))
    market = parse_market(body["market"])
    assert market.ticker == "KXNFLGAME-25NOV23BUFHOU-BUF"
    assert market.event_ticker == "KXNFLGAME-25NOV23BUFHOU"
    assert (market.yes_bid, market.yes_ask, market.last_price) == (0.55, 0.56, 0.55)
    assert (market.volume, market.open_interest) == (153204.0, 90310.0)
    assert market.status == "active"
    assert market.outcome == "BUF"


def test_legacy_cents_only_payload_has_no_prices() -> None:
    """A pre-2026 payload with only integer-cent fields yields None prices, never cents."""
    market = parse_market(
        _raw(yes_bid=55, yes_ask=56, last_price=55, volume=100, open_interest=40, status="active")
    )
    assert (market.yes_bid, market.yes_ask, market.last_price) == (None, None, None)
    assert (market.volume, market.open_interest) == (None, None)
    assert market.implied_probability is None


def test_title_falls_back_to_yes_sub_title() -> None:
    """A market without the deprecated title uses yes_sub_title; defaults fill the rest."""
    market = parse_market({"ticker": "T-A", "yes_sub_title": "Boston"})
    assert market.title == "Boston"
    assert market.event_ticker == ""
    assert market.status == "unknown"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(None, id="null"),
        pytest.param([], id="list"),
        pytest.param("market", id="string"),
        pytest.param({}, id="no-ticker"),
        pytest.param({"ticker": 5}, id="numeric-ticker"),
        pytest.param(_raw(yes_bid_dollars="1.5"), id="price-out-of-range"),
        pytest.param(_raw(status=None), id="null-status"),
    ],
)
def test_parse_market_rejects_bad_shapes(raw: object) -> None:
    """Non-objects, missing tickers and bad fields raise UpstreamProtocolError."""
    with pytest.raises(UpstreamProtocolError):
        parse_market(raw)


_JSON_LEAF = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.just(10**400)  # valid JSON, but beyond any float
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["", "0.5", "0.480", "1.0000", "-1", "2025-12-07T18:00:00Z", "10.00"])
)
_JSON = st.recursive(
    _JSON_LEAF,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
_FIELDS = st.sampled_from(
    [
        "ticker",
        "event_ticker",
        "title",
        "status",
        "yes_sub_title",
        "yes_bid_dollars",
        "yes_ask_dollars",
        "last_price_dollars",
        "volume_fp",
        "open_interest_fp",
        "updated_time",
        "close_time",
    ]
)


@given(raw=st.dictionaries(_FIELDS | st.text(max_size=8), _JSON, max_size=12))
def test_parse_market_parses_or_raises_protocol_error_only(raw: dict[str, Any]) -> None:
    """Any JSON object either parses into a Market with prices in [0, 1] or raises
    UpstreamProtocolError, never another exception."""
    try:
        market = parse_market(raw)
    except UpstreamProtocolError:
        return
    for price in (market.yes_bid, market.yes_ask, market.last_price):
        assert price is None or 0.0 <= price <= 1.0
