"""What cluster pieces write into Redis, and how they read it back (pure).

Tick messages are small JSON objects with the owner's fencing number beside the update;
cached values are JSON produced by a pydantic ``TypeAdapter`` for their declared type
(frozen dataclasses, enums, datetimes, tuples), so a replica reads back exactly the
objects another replica stored. Anything unreadable raises :class:`CodecError`; a
reader treats it as missing (a replica on a newer version may write something else).
"""

from __future__ import annotations

import json
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter, ValidationError

from graph.models import TickerUpdate

V = TypeVar("V")

_FIELDS = (
    ("p", "price"),
    ("b", "yes_bid"),
    ("a", "yes_ask"),
    ("v", "volume"),
    ("oi", "open_interest"),
)


class CodecError(ValueError):
    """Bytes from Redis that do not decode to what was expected."""


def encode_tick(fence: int, update: TickerUpdate) -> str:
    body: dict[str, Any] = {"f": fence, "t": update.market_ticker, "ts": update.ts_ms}
    for short, name in _FIELDS:
        value = getattr(update, name)
        if value is not None:
            body[short] = value
    return json.dumps(body, separators=(",", ":"))


def _number(body: dict[str, Any], key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CodecError(f"tick field {key!r} is not a number")
    return float(value)


def decode_tick(data: bytes | str) -> tuple[int, TickerUpdate]:
    """(fencing number, update) from :func:`encode_tick`'s output."""
    try:
        body = json.loads(data)
    except ValueError as exc:
        raise CodecError("tick is not JSON") from exc
    if not isinstance(body, dict):
        raise CodecError("tick is not an object")
    fence, ticker, ts = body.get("f"), body.get("t"), body.get("ts")
    if not isinstance(fence, int) or not isinstance(ticker, str) or not isinstance(ts, int):
        raise CodecError("tick lacks its fence, ticker or timestamp")
    values = {name: _number(body, short) for short, name in _FIELDS}
    return fence, TickerUpdate(market_ticker=ticker, ts_ms=ts, **values)


class JsonCodec(Generic[V]):
    """JSON for values of one declared type (``JsonCodec(list[Game])``)."""

    def __init__(self, kind: Any) -> None:
        self._adapter: TypeAdapter[V] = TypeAdapter(kind)

    def encode(self, value: V) -> bytes:
        return self._adapter.dump_json(value)

    def decode(self, data: bytes | str) -> V:
        try:
            return self._adapter.validate_json(data)
        except ValidationError as exc:
            raise CodecError(f"cached value does not decode: {exc.error_count()} errors") from exc
