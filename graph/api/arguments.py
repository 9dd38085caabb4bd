"""Checks of GraphQL arguments that need no schema (pure)."""

from __future__ import annotations

import re

from graph.errors import InvalidInput

TICKER_RE = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,99}$")


def check_tickers(tickers: list[str], limit: int) -> list[str]:
    """The distinct tickers, in order, if there are 1 to ``limit`` well-formed ones."""
    unique = list(dict.fromkeys(t.strip() for t in tickers))
    if not unique:
        raise InvalidInput("marketTickers must name at least one market")
    if len(unique) > limit:
        raise InvalidInput(f"at most {limit} market tickers per subscription (got {len(unique)})")
    bad = [t for t in unique if not TICKER_RE.fullmatch(t)]
    if bad:
        raise InvalidInput(f"not a Kalshi market ticker: {bad[0][:40]!r}")
    return unique
