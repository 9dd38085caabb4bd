"""The shared plain data: Kalshi's probability rule and market outcome codes."""

from __future__ import annotations

import pytest

from graph.models import Market, TickerUpdate, implied_probability


@pytest.mark.parametrize(
    ("bid", "ask", "last", "volume", "expected"),
    [
        pytest.param(0.40, 0.44, 0.10, 50.0, 0.42, id="mid-of-two-sided-book"),
        pytest.param(None, 0.44, 0.30, 50.0, 0.30, id="no-bid-uses-last"),
        pytest.param(0.40, None, 0.30, 50.0, 0.30, id="no-ask-uses-last"),
        pytest.param(0.0, 0.0, 0.25, 50.0, 0.25, id="zero-ask-uses-last"),
        pytest.param(None, None, None, None, None, id="nothing-known"),
        pytest.param(0.0, 0.02, 0.01, 3.0, 0.01, id="no-bid-near-zero-uses-last"),
        pytest.param(0.0, 0.02, None, None, None, id="one-sided-book-is-no-price"),
        pytest.param(0.0, 1.0, 0.62, 10.0, 0.62, id="empty-book-uses-last"),
        pytest.param(0.0, 1.0, 0.62, None, 0.62, id="volume-unknown-last-above-zero"),
        pytest.param(0.0, 1.0, 0.0, 0.0, None, id="never-traded-empty-book"),
        pytest.param(0.01, 0.99, 0.0, 0.0, None, id="never-traded-penny-book"),
        pytest.param(0.0, 1.0, 0.0, None, None, id="never-traded-volume-unknown"),
        pytest.param(0.0, 1.0, None, None, None, id="empty-book-no-last"),
        pytest.param(0.30, 0.55, None, None, 0.425, id="spread-at-limit-is-a-mid"),
        pytest.param(0.30, 0.56, 0.40, 9.0, 0.40, id="spread-over-limit-uses-last"),
        pytest.param(0.30, 0.56, 0.0, 0.0, None, id="spread-over-limit-never-traded"),
        pytest.param(0.50, 0.45, 0.40, 9.0, 0.40, id="crossed-book-uses-last"),
        pytest.param(0.0, 0.0, 1.0, 900.0, 1.0, id="settled-winner"),
    ],
)
def test_implied_probability_needs_a_book_or_a_trade(
    bid: float | None,
    ask: float | None,
    last: float | None,
    volume: float | None,
    expected: float | None,
) -> None:
    """The mid of a tight two-sided book, else the last trade if one happened, else None; REST
    markets and WebSocket updates read it through the same function."""
    market = Market(
        ticker="T-A",
        event_ticker="T",
        title="",
        status="active",
        yes_bid=bid,
        yes_ask=ask,
        last_price=last,
        volume=volume,
    )
    update = TickerUpdate(
        market_ticker="T-A", ts_ms=0, price=last, yes_bid=bid, yes_ask=ask, volume=volume
    )
    found = implied_probability(bid, ask, last, volume)
    assert market.implied_probability == update.implied_probability == found
    if expected is None:
        assert found is None
    else:
        assert found == pytest.approx(expected)


@pytest.mark.parametrize(
    ("ticker", "event", "outcome"),
    [
        ("KXNCAAFGAME-25NOV12TOLM-OH-M-OH", "KXNCAAFGAME-25NOV12TOLM-OH", "M-OH"),
        ("KXNCAAFGAME-25NOV12TOLM-OH-TOL", "KXNCAAFGAME-25NOV12TOLM-OH", "TOL"),
        ("KXNHLGAME-26SEP19VGKLA-LA", "KXNHLGAME-26SEP19VGKLA", "LA"),
        ("KXNHLGAME-26SEP19VGKLA-LA", "", "LA"),
    ],
)
def test_outcome_is_what_follows_the_event_ticker(ticker: str, event: str, outcome: str) -> None:
    """A market's outcome code is the rest of its ticker after its event's (codes may hold a
    hyphen); without an event ticker it is the text after the last hyphen."""
    market = Market(ticker=ticker, event_ticker=event, title="", status="active")
    assert market.outcome == outcome
