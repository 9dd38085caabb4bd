"""graph.kalshi.reactions: each protocol event becomes a publish, a log line, a count, or a
pause, and none of them costs the connection."""

from __future__ import annotations

import logging

import pytest

from graph.kalshi.messages import Ticker, Unknown
from graph.kalshi.protocol import (
    BUFFER_OVERFLOW,
    TOO_MANY_REQUESTS,
    MarketsRefused,
    Paused,
    ReconnectRequired,
    SubscriptionConfirmed,
)
from graph.kalshi.reactions import FeedStats, Next, Reactions
from graph.models import TickerUpdate


def reactions(published: list[TickerUpdate] | None = None) -> Reactions:
    sink = published if published is not None else []
    return Reactions(
        on_update=sink.append,
        stats=FeedStats(),
        backoff_base_s=1.0,
        backoff_cap_s=8.0,
        rng=lambda: 1.0,
    )


def test_pauses_double_until_a_confirmation_resets_them() -> None:
    """27 and 25 pause with full-jitter backoff (rng 1: the ceiling), doubling while they
    follow each other; a confirmed subscription starts again from the base."""
    r = reactions()
    delays = [r.react([Paused(TOO_MANY_REQUESTS)]).pause_s for _ in range(5)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 8.0]
    r.react([SubscriptionConfirmed(sid=1, market_tickers=frozenset({"A"}))])
    assert r.react([Paused(TOO_MANY_REQUESTS)]) == Next(pause_s=1.0)
    r.connection_opened()
    assert r.react([Paused(TOO_MANY_REQUESTS)]).pause_s == 1.0
    assert r.stats.pauses == 7


def test_an_overflow_sheds_before_the_pause_and_refusals_reach_the_hub() -> None:
    r = reactions()
    assert r.react([Paused(BUFFER_OVERFLOW)]).pause_s == 1.0  # nothing wired yet: no error
    r.react([MarketsRefused(frozenset({"A", "B"}), 26)])
    assert r.stats.refused_markets == 2
    shed: list[str] = []
    refused: list[tuple[frozenset[str], int]] = []
    r.on_overloaded = lambda: shed.append("shed")
    r.on_refused = lambda tickers, code: refused.append((tickers, code))
    r.react([Paused(BUFFER_OVERFLOW), MarketsRefused(frozenset({"C"}), 16)])
    assert shed == ["shed"] and refused == [(frozenset({"C"}), 16)]


def test_unknown_messages_are_ignored_and_a_reconnect_is_passed_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    r = reactions()
    with caplog.at_level(logging.DEBUG, "graph.kalshi.feed"):
        assert r.react([Unknown(type="trade", raw={})]) == Next()
    assert "type=trade" in caplog.text
    assert r.react([ReconnectRequired(reason="gap")]) == Next(reconnect="gap")


def test_a_failing_subscriber_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    published: list[TickerUpdate] = []

    def on_update(update: TickerUpdate) -> None:
        if update.market_ticker == "BAD":
            raise RuntimeError("subscriber bug")
        published.append(update)

    r = Reactions(on_update=on_update, stats=FeedStats(), backoff_base_s=1.0, backoff_cap_s=8.0)
    bad = Ticker(None, TickerUpdate(market_ticker="BAD", ts_ms=1, price=0.5))
    good = Ticker(None, TickerUpdate(market_ticker="OK", ts_ms=1, price=0.5))
    with caplog.at_level(logging.ERROR, "graph.kalshi.feed"):
        assert r.react([bad, good]) == Next()
    assert [u.market_ticker for u in published] == ["OK"]
    assert "on_update failed market=BAD" in caplog.text
