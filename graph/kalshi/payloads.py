"""Kalshi REST payloads -> :class:`graph.models.Market` (pure).

Only the current field shapes are read: prices are ``*_dollars`` decimal strings
(any number of decimals) and counts are ``*_fp`` strings. The integer-cent fields
were removed upstream in March 2026; a payload carrying only those is treated as
having no price rather than guessed at. What probability a market's prices imply (none for a
never-traded market) is decided in one place for REST markets, WebSocket updates and the model
alike: :func:`graph.models.implied_probability` (shared plain data, so every layer may use it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from graph.errors import UpstreamProtocolError
from graph.models import Market

# Plain decimals only: no sign, exponent, "nan"/"inf" or padding ("0.480", "33896.00", ".5").
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")


def _decimal(value: object, what: str, upper: float) -> float | None:
    """A decimal string or JSON number in ``[0, upper]``; ``None`` for null/empty."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        if not _DECIMAL.fullmatch(value):
            raise UpstreamProtocolError(f"{what} is not a decimal string: {value!r:.40}")
    elif not isinstance(value, int | float) or isinstance(value, bool):
        raise UpstreamProtocolError(f"{what} is not a decimal string: {value!r:.40}")
    try:
        number = float(value)
    except OverflowError:  # a JSON integer beyond any float
        raise UpstreamProtocolError(f"{what} is not a finite number") from None
    if not 0.0 <= number <= upper or number == math.inf:  # also rejects NaN
        raise UpstreamProtocolError(f"{what} is outside [0, {upper}]: {number}")
    return number


def dollars(value: object, what: str = "price") -> float | None:
    """A ``*_dollars`` string as a price in [0, 1]; ``None`` for missing/empty."""
    return _decimal(value, what, 1.0)


def count(value: object, what: str = "count") -> float | None:
    """A ``*_fp`` count string as a finite non-negative float; ``None`` for missing/empty."""
    return _decimal(value, what, math.inf)


def timestamp(value: object) -> datetime | None:
    """An RFC 3339 string as an aware datetime; ``None`` for missing/empty."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise UpstreamProtocolError(f"time is not a string: {value!r:.40}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UpstreamProtocolError(f"time is not RFC 3339: {value!r:.40}") from None
    if parsed.tzinfo is None:
        raise UpstreamProtocolError(f"time without a zone: {value!r:.40}")
    return parsed


def _text(raw: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str):
        raise UpstreamProtocolError(f"market field {key!r} missing or not a string")
    return value


def parse_market(raw: object, observed_at: datetime | None = None) -> Market:
    """One market from ``GET /markets`` or ``GET /markets/{ticker}``, read at ``observed_at``."""
    if not isinstance(raw, Mapping):
        raise UpstreamProtocolError("market is not a JSON object")
    return Market(
        ticker=_text(raw, "ticker"),
        event_ticker=_text(raw, "event_ticker", ""),
        title=_text(raw, "title", "") or _text(raw, "yes_sub_title", ""),
        status=_text(raw, "status", "unknown"),
        yes_sub_title=_text(raw, "yes_sub_title", ""),
        no_sub_title=_text(raw, "no_sub_title", ""),
        yes_bid=dollars(raw.get("yes_bid_dollars")),
        yes_ask=dollars(raw.get("yes_ask_dollars")),
        last_price=dollars(raw.get("last_price_dollars")),
        volume=count(raw.get("volume_fp")),
        open_interest=count(raw.get("open_interest_fp")),
        updated_at=timestamp(raw.get("updated_time")),
        close_time=timestamp(raw.get("close_time")),
        observed_at=observed_at,
        occurs_at=timestamp(raw.get("occurrence_datetime")),
        expected_expiration=timestamp(raw.get("expected_expiration_time")),
    )
