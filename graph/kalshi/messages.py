"""Kalshi WebSocket server frames, parsed (core, sans I/O).

``parse_message`` turns one text frame into a frozen dataclass (``Subscribed``, ``Ok``,
``OkList``, ``Unsubscribed``, ``ErrorMsg``, ``Ticker`` or ``Unknown``) and raises only
:class:`~graph.errors.UpstreamProtocolError` for anything malformed. The state machine that
acts on them is :mod:`graph.kalshi.protocol`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from graph.errors import UpstreamProtocolError
from graph.kalshi.payloads import count, dollars
from graph.models import TickerUpdate

TERMINAL_ERROR_CODES = frozenset({10, 17, 25})

_MAX_EXCERPT = 80
_MAX_TS_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


# --- Server messages --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Subscribed:
    """``subscribed``: the channel of command ``id`` got subscription id ``sid``."""

    id: int | None
    channel: str
    sid: int


@dataclass(frozen=True, slots=True)
class Ok:
    """``ok`` to ``update_subscription``: the full market list after the update.

    ``market_tickers`` is None when the server left the list out (``skip_ticker_ack``).
    """

    id: int | None
    sid: int | None
    seq: int | None
    market_tickers: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class SubscriptionInfo:
    channel: str
    sid: int


@dataclass(frozen=True, slots=True)
class OkList:
    """``ok`` to ``list_subscriptions``."""

    id: int | None
    subscriptions: tuple[SubscriptionInfo, ...]


@dataclass(frozen=True, slots=True)
class Unsubscribed:
    id: int | None
    sid: int
    seq: int | None


@dataclass(frozen=True, slots=True)
class ErrorMsg:
    """``error``: ``code`` from the table in kalshi-api.md §4.3."""

    id: int | None
    code: int
    msg: str
    market_ticker: str | None = None

    @property
    def terminal(self) -> bool:
        return self.code in TERMINAL_ERROR_CODES


@dataclass(frozen=True, slots=True)
class Ticker:
    sid: int | None
    update: TickerUpdate


@dataclass(frozen=True, slots=True)
class Unknown:
    """A well-formed message of a type we do not handle (``trade``, ``orderbook_delta``...)."""

    type: str
    raw: Mapping[str, Any]


ServerMessage = Subscribed | Ok | OkList | Unsubscribed | ErrorMsg | Ticker | Unknown


def parse_message(text: str) -> ServerMessage:
    """Parse one text frame from the Kalshi WebSocket.

    Raises:
        UpstreamProtocolError: not JSON, not an object, or a known type whose required
            fields are missing or ill-typed (including prices outside [0, 1]).
    """
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise UpstreamProtocolError(f"frame is not JSON: {_excerpt(text)}") from exc
    if not isinstance(data, dict):
        raise UpstreamProtocolError(f"frame is not a JSON object: {_excerpt(text)}")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise UpstreamProtocolError("frame has no string 'type'")
    msg_id = _opt_int(data, "id")
    if kind == "ticker":
        return Ticker(sid=_opt_int(data, "sid"), update=_parse_ticker(_obj(data, "msg")))
    if kind == "subscribed":
        body = _obj(data, "msg")
        return Subscribed(id=msg_id, channel=_str(body, "channel"), sid=_int(body, "sid"))
    if kind == "ok":
        return _parse_ok(data, msg_id)
    if kind == "unsubscribed":
        return Unsubscribed(id=msg_id, sid=_int(data, "sid"), seq=_opt_int(data, "seq"))
    if kind == "error":
        body = _obj(data, "msg")
        text_msg = body.get("msg", "")
        return ErrorMsg(
            id=msg_id,
            code=_int(body, "code"),
            msg=text_msg if isinstance(text_msg, str) else str(text_msg),
            market_ticker=_opt_str(body, "market_ticker"),
        )
    return Unknown(type=kind, raw=data)


def _parse_ok(data: dict[str, Any], msg_id: int | None) -> Ok | OkList:
    body = data.get("msg")
    if isinstance(body, list):
        subs = []
        for item in body:
            if not isinstance(item, dict):
                raise UpstreamProtocolError("'ok' list entry is not an object")
            subs.append(SubscriptionInfo(channel=_str(item, "channel"), sid=_int(item, "sid")))
        return OkList(id=msg_id, subscriptions=tuple(subs))
    if body is not None and not isinstance(body, dict):
        raise UpstreamProtocolError("'ok' msg is neither an object nor a list")
    tickers: tuple[str, ...] | None = None
    if body is not None and "market_tickers" in body:
        raw = body["market_tickers"]
        if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
            raise UpstreamProtocolError("'ok' market_tickers is not a list of strings")
        tickers = tuple(raw)
    return Ok(
        id=msg_id, sid=_opt_int(data, "sid"), seq=_opt_int(data, "seq"), market_tickers=tickers
    )


def _parse_ticker(body: dict[str, Any]) -> TickerUpdate:
    ticker = _str(body, "market_ticker")
    if not ticker:
        raise UpstreamProtocolError("ticker message has an empty market_ticker")
    return TickerUpdate(
        market_ticker=ticker,
        ts_ms=_ticker_ts_ms(body),
        # Legacy frames (before 2026-03-12) carried integer cents; price 0 meant "never traded".
        price=_price(body, "price_dollars", "price", zero_cents_is_none=True),
        yes_bid=_price(body, "yes_bid_dollars", "yes_bid"),
        yes_ask=_price(body, "yes_ask_dollars", "yes_ask"),
        volume=_count(body, "volume_fp", "volume"),
        open_interest=_count(body, "open_interest_fp", "open_interest"),
    )


def _ticker_ts_ms(body: dict[str, Any]) -> int:
    ts_ms = _opt_int(body, "ts_ms")
    if ts_ms is None:
        ts = _opt_int(body, "ts")
        ts_ms = None if ts is None else ts * 1000
    if ts_ms is None:
        stamp = _opt_str(body, "time")
        if stamp is None:
            raise UpstreamProtocolError("ticker message has none of ts_ms, ts, time")
        try:
            when = datetime.fromisoformat(stamp)
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            ts_ms = int(when.timestamp() * 1000)
        except (ValueError, OverflowError, OSError) as exc:
            raise UpstreamProtocolError("ticker 'time' is not an RFC 3339 timestamp") from exc
    # Downstream turns ts_ms into a datetime; refuse what no datetime can hold.
    if not 0 <= ts_ms <= _MAX_TS_MS:
        raise UpstreamProtocolError("ticker timestamp is out of range")
    return ts_ms


def _price(
    body: dict[str, Any], key: str, legacy_cents: str, *, zero_cents_is_none: bool = False
) -> float | None:
    if key in body:
        return dollars(body[key], f"ticker {key}")
    if legacy_cents in body and body[legacy_cents] is not None:
        cents = _int(body, legacy_cents)
        if not 0 <= cents <= 100:
            raise UpstreamProtocolError(f"ticker {legacy_cents} is outside [0, 100] cents")
        return None if cents == 0 and zero_cents_is_none else cents / 100
    return None


def _count(body: dict[str, Any], key: str, legacy: str) -> float | None:
    if key in body:
        return count(body[key], f"ticker {key}")
    if legacy in body and body[legacy] is not None:
        value = _int(body, legacy)
        if value < 0:
            raise UpstreamProtocolError(f"ticker {legacy} is negative")
        return float(value)
    return None


def _obj(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise UpstreamProtocolError(f"'{key}' is missing or not an object")
    return value


def _str(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise UpstreamProtocolError(f"'{key}' is missing or not a string")
    return value


def _opt_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise UpstreamProtocolError(f"'{key}' is not a string")
    return value


def _int(data: dict[str, Any], key: str) -> int:
    value = _opt_int(data, key)
    if value is None:
        raise UpstreamProtocolError(f"'{key}' is missing")
    return value


def _opt_int(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    # bool is an int subclass; JSON true is not an id.
    if isinstance(value, bool) or not isinstance(value, int):
        raise UpstreamProtocolError(f"'{key}' is not an integer")
    return value


def _excerpt(text: str) -> str:
    return repr(text[:_MAX_EXCERPT]) + ("..." if len(text) > _MAX_EXCERPT else "")
