"""Tests for graph.kalshi.messages: Kalshi WebSocket frames, parsed (documented frames, fuzzing)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, strategies as st

from graph.errors import UpstreamProtocolError
from graph.kalshi.messages import (
    ErrorMsg,
    Ok,
    OkList,
    Subscribed,
    SubscriptionInfo,
    Ticker,
    Unknown,
    Unsubscribed,
    parse_message,
)
from graph.kalshi.protocol import (
    FeedProtocol,
)
from graph.models import TickerUpdate

_DOC = json.loads((Path(__file__).parents[1] / "data" / "kalshi_ws_frames.json").read_text("utf-8"))
FRAMES: dict[str, str] = {f["name"]: f["text"] for f in _DOC["frames"]}
FRAMES["ticker_legacy"] = _DOC["legacy_ticker"]["text"]


def frame(name: str, msg: dict[str, Any] | None = None, **top: Any) -> str:
    """A documented frame with some top-level (and ``msg``) values replaced."""
    data = json.loads(FRAMES[name])
    data.update(top)
    if msg is not None:
        data["msg"] = {**data["msg"], **msg}
    return json.dumps(data)


def subscribed(cmd_id: int, sid: int) -> str:
    return frame("subscribed", id=cmd_id, msg={"channel": "ticker", "sid": sid})


def ok(cmd_id: int, sid: int, tickers: list[str]) -> str:
    return frame("ok_update", id=cmd_id, sid=sid, msg={"market_tickers": tickers})


def error(cmd_id: int | None, code: int, **extra: Any) -> str:
    return frame("error", id=cmd_id, msg={"code": code, "msg": "x", **extra})


def sent(proto: FeedProtocol) -> list[dict[str, Any]]:
    return [json.loads(t) for t in proto.data_to_send()]


def opened(*tickers: str, sid: int = 7) -> FeedProtocol:
    """A protocol on an open connection whose subscription covers ``tickers``."""
    proto = FeedProtocol()
    proto.want(set(tickers))
    proto.connection_opened()
    (cmd,) = sent(proto)
    proto.receive_text(subscribed(cmd["id"], sid))
    return proto


# --- parse_message ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("subscribed", Subscribed(id=1, channel="orderbook_delta", sid=1), id="sub"),
        pytest.param("unsubscribed", Unsubscribed(id=102, sid=2, seq=7), id="unsub"),
        pytest.param(
            "ok_update",
            Ok(id=123, sid=456, seq=222, market_tickers=("MARKET-1", "MARKET-2", "MARKET-3")),
            id="ok-update",
        ),
        pytest.param(
            "ok_list",
            OkList(
                id=3,
                subscriptions=(
                    SubscriptionInfo("orderbook_delta", 1),
                    SubscriptionInfo("ticker", 2),
                ),
            ),
            id="ok-list",
        ),
        pytest.param(
            "error",
            ErrorMsg(id=123, code=6, msg="Already subscribed", market_ticker=None),
            id="err",
        ),
    ],
)
def test_documented_command_responses_parse(name: str, expected: object) -> None:
    """Every command response shape from the docs parses to its dataclass."""
    assert parse_message(FRAMES[name]) == expected


def test_current_ticker_parses_dollars_and_fp_strings() -> None:
    """The current ticker shape: *_dollars as dollars, *_fp as counts, ts_ms as the time."""
    assert parse_message(FRAMES["ticker"]) == Ticker(
        sid=11,
        update=TickerUpdate(
            market_ticker="FED-23DEC-T3.00",
            ts_ms=1669149841000,
            price=0.48,
            yes_bid=0.45,
            yes_ask=0.53,
            volume=33896.0,
            open_interest=20422.0,
        ),
    )


def test_legacy_ticker_uses_cents_seconds_and_unknown_price() -> None:
    """A legacy ticker: cents -> dollars, ts seconds -> ms, "" price -> None, extras ignored."""
    message = parse_message(FRAMES["ticker_legacy"])
    assert isinstance(message, Ticker)
    assert message.update == TickerUpdate(
        market_ticker="FED-23DEC-T3.00",
        ts_ms=1669149841000,
        price=None,
        yes_bid=0.45,
        yes_ask=0.53,
        volume=33896.0,
        open_interest=20422.0,
    )


@pytest.mark.parametrize(
    ("msg", "expected_ts"),
    [
        pytest.param({"ts_ms": None}, 1669149841000, id="ts-seconds"),
        pytest.param({"ts_ms": None, "ts": None}, 1669149841000, id="rfc3339-time"),
        pytest.param({"ts_ms": 5}, 5, id="ts-ms-wins"),
    ],
)
def test_ticker_time_falls_back_from_ts_ms_to_ts_to_time(
    msg: dict[str, Any], expected_ts: int
) -> None:
    """ts_ms is preferred, then ts * 1000, then the RFC 3339 ``time``."""
    message = parse_message(frame("ticker", msg=msg))
    assert isinstance(message, Ticker)
    assert message.update.ts_ms == expected_ts


def test_ticker_with_only_a_market_and_time_has_unknown_prices() -> None:
    """Absent price fields are None, not zero."""
    text = json.dumps({"type": "ticker", "sid": 1, "msg": {"market_ticker": "M", "ts": 2}})
    assert parse_message(text) == Ticker(sid=1, update=TickerUpdate(market_ticker="M", ts_ms=2000))


@pytest.mark.parametrize("name", ["trade", "orderbook_snapshot"])
def test_unhandled_documented_types_are_unknown(name: str) -> None:
    """Other channels' messages parse as Unknown with their type and raw object."""
    message = parse_message(FRAMES[name])
    assert isinstance(message, Unknown)
    assert message.type == name
    assert message.raw == json.loads(FRAMES[name])


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("not json", id="not-json"),
        pytest.param("", id="empty"),
        pytest.param("[1, 2]", id="array"),
        pytest.param('"ticker"', id="string"),
        pytest.param('{"msg": {}}', id="no-type"),
        pytest.param('{"type": 3}', id="type-not-string"),
        pytest.param(
            '{"type": "subscribed", "msg": {"channel": "ticker"}}', id="subscribed-no-sid"
        ),
        pytest.param(
            '{"type": "subscribed", "msg": {"channel": "ticker", "sid": "1"}}', id="sid-string"
        ),
        pytest.param(
            '{"id": true, "type": "subscribed", "msg": {"channel": "ticker", "sid": 1}}',
            id="id-bool",
        ),
        pytest.param('{"type": "unsubscribed"}', id="unsubscribed-no-sid"),
        pytest.param('{"type": "error", "msg": {"msg": "x"}}', id="error-no-code"),
        pytest.param('{"type": "error"}', id="error-no-msg"),
        pytest.param('{"type": "ok", "msg": [1]}', id="ok-list-not-objects"),
        pytest.param('{"type": "ok", "msg": "x"}', id="ok-msg-string"),
        pytest.param('{"type": "ok", "msg": {"market_tickers": [1]}}', id="ok-tickers-ints"),
        pytest.param('{"type": "ticker", "msg": {"ts": 1}}', id="ticker-no-market"),
        pytest.param('{"type": "ticker", "msg": {"market_ticker": "M"}}', id="ticker-no-time"),
        pytest.param('{"type": "ticker", "msg": []}', id="ticker-msg-array"),
    ],
)
def test_malformed_frames_raise_protocol_error(text: str) -> None:
    """Malformed frames raise UpstreamProtocolError, whatever is wrong with them."""
    with pytest.raises(UpstreamProtocolError):
        parse_message(text)


@pytest.mark.parametrize(
    "msg",
    [
        pytest.param({"price_dollars": "1.5"}, id="price-above-1"),
        pytest.param({"yes_bid_dollars": "-0.1"}, id="negative"),
        pytest.param({"yes_ask_dollars": "nan"}, id="nan"),
        pytest.param({"price_dollars": "1e-1"}, id="exponent"),
        pytest.param({"price_dollars": "abc"}, id="not-decimal"),
        pytest.param({"price_dollars": True}, id="bool"),
        pytest.param({"volume_fp": "9" * 400}, id="count-overflow"),
        pytest.param({"volume_fp": -1}, id="negative-count"),
        pytest.param({"ts_ms": -1}, id="negative-ts"),
        pytest.param({"ts_ms": 10**20}, id="ts-beyond-year-9999"),
        pytest.param({"ts_ms": None, "ts": None, "time": "yesterday"}, id="bad-time"),
        pytest.param({"market_ticker": ""}, id="empty-market"),
        pytest.param({"market_ticker": 3}, id="market-not-string"),
    ],
)
def test_ticker_field_violations_raise_protocol_error(msg: dict[str, Any]) -> None:
    """Out-of-range or ill-typed ticker fields are protocol errors, not bad prices downstream."""
    with pytest.raises(UpstreamProtocolError):
        parse_message(frame("ticker", msg=msg))


def test_legacy_cents_outside_1_to_99_are_rejected() -> None:
    """Legacy integer cents beyond 100 would be a price above $1: rejected."""
    with pytest.raises(UpstreamProtocolError):
        parse_message(frame("ticker_legacy", msg={"yes_bid": 150}))


def _parse_or_protocol_error(text: str) -> None:
    try:
        parse_message(text)
    except UpstreamProtocolError:
        pass


@given(st.text())
def test_any_text_parses_or_raises_protocol_error(text: str) -> None:
    """Arbitrary text never escapes as anything but UpstreamProtocolError."""
    _parse_or_protocol_error(text)


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)
_field_value = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=10)
    | st.from_regex(r"-?[0-9]{0,4}(\.[0-9]{0,4})?", fullmatch=True)
    | st.lists(st.integers(), max_size=2)
)
_keys = st.sampled_from(
    [
        "market_ticker",
        "price_dollars",
        "yes_bid_dollars",
        "yes_ask_dollars",
        "volume_fp",
        "open_interest_fp",
        "price",
        "yes_bid",
        "yes_ask",
        "volume",
        "open_interest",
        "ts",
        "ts_ms",
        "time",
        "channel",
        "sid",
        "code",
        "msg",
        "market_tickers",
    ]
)
_types = st.sampled_from(["ticker", "subscribed", "ok", "unsubscribed", "error", "trade"])


@given(_json)
def test_any_json_value_parses_or_raises_protocol_error(value: object) -> None:
    """Arbitrary JSON values never escape as anything but UpstreamProtocolError."""
    _parse_or_protocol_error(json.dumps(value))


@given(
    _types,
    st.dictionaries(_keys, _field_value, max_size=8),
    st.dictionaries(st.sampled_from(["id", "sid", "seq"]), _field_value, max_size=3),
)
def test_known_types_with_random_fields_parse_or_raise_protocol_error(
    kind: str, body: dict[str, Any], top: dict[str, Any]
) -> None:
    """Known message types with random field values: parsed (prices in [0, 1]) or rejected."""
    try:
        message = parse_message(json.dumps({"type": kind, "msg": body, **top}))
    except UpstreamProtocolError:
        return
    if isinstance(message, Ticker):
        for price in (message.update.price, message.update.yes_bid, message.update.yes_ask):
            assert price is None or 0.0 <= price <= 1.0
