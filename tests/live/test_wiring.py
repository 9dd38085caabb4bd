"""graph.live.wiring: what the feed learns ends the right subscriptions, with the right code."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

import pytest

from graph.errors import FeedOverloaded, TooManyUpstreamTickers, UnknownMarket
from graph.kalshi.feed import KalshiFeed
from graph.live.hub import Hub, Subscription
from graph.live.wiring import MARKET_NOT_FOUND, connect
from tests.live.test_hub import FakeFeed, tick


def wired() -> tuple[Hub, Any]:
    hub = Hub(FakeFeed())
    feed = SimpleNamespace(
        on_fatal=None, reactions=SimpleNamespace(on_refused=None, on_overloaded=None)
    )
    connect(cast(KalshiFeed, feed), hub)
    return hub, feed


async def ended_with(sub: Subscription) -> BaseException:
    with pytest.raises(Exception) as caught:
        await asyncio.wait_for(anext(sub), 5)
    return caught.value


@pytest.mark.parametrize(
    ("code", "error"),
    [
        pytest.param(MARKET_NOT_FOUND, UnknownMarket, id="16-unknown-market"),
        pytest.param(26, TooManyUpstreamTickers, id="26-market-limit"),
    ],
)
async def test_refused_markets_end_only_the_subscriptions_that_asked(
    code: int, error: type[Exception]
) -> None:
    hub, feed = wired()
    async with hub.subscribe(["A"]) as keeps, hub.subscribe(["B", "C", "D", "E"]) as asked:
        feed.reactions.on_refused(frozenset({"B", "C", "D", "E"}), code)
        assert isinstance(await ended_with(asked), error)
        hub.publish(tick("A"))
        assert (await asyncio.wait_for(anext(keeps), 5)).market_ticker == "A"


async def test_an_overload_sheds_the_newest_and_a_fatal_error_ends_all() -> None:
    hub, feed = wired()
    async with (
        hub.subscribe(["A"]) as oldest,
        hub.subscribe(["B"]) as middle,
        hub.subscribe(["C"]) as newest,
    ):
        feed.reactions.on_overloaded()
        assert isinstance(await ended_with(newest), FeedOverloaded)
        assert isinstance(await ended_with(middle), FeedOverloaded)
        feed.on_fatal(RuntimeError("Kalshi refused the key"))
        assert "refused the key" in str(await ended_with(oldest))
