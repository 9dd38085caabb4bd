"""Argument checks (graph.api.arguments)."""

from __future__ import annotations

import pytest

from graph.api.arguments import check_tickers
from graph.errors import InvalidInput


@pytest.mark.parametrize(
    ("tickers", "message"),
    [
        pytest.param([], "at least one", id="empty"),
        pytest.param([f"KXA-{i}" for i in range(4)], "at most 3", id="too-many"),
        pytest.param(["kxnba-lower"], "not a Kalshi market ticker", id="lowercase"),
        pytest.param(["A B"], "not a Kalshi market ticker", id="space"),
        pytest.param(["X" * 101], "not a Kalshi market ticker", id="too-long"),
    ],
)
def test_bad_ticker_lists_are_rejected(tickers: list[str], message: str) -> None:
    """Subscriptions validate their tickers before anything goes upstream."""
    with pytest.raises(InvalidInput, match=message):
        check_tickers(tickers, limit=3)


def test_ticker_lists_are_deduplicated_in_order() -> None:
    """Repeated tickers count once and keep their first position."""
    assert check_tickers(["B-1", "A-1", "B-1"], limit=2) == ["B-1", "A-1"]
