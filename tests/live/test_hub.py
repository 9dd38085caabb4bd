from __future__ import annotations

import asyncio
import traceback

import pytest

from graph.errors import FeedFatalError
from graph.live.hub import Hub, HubStats, Subscription
from graph.models import TickerUpdate

TIMEOUT_S = 5.0


class FakeFeed:
    """Records every set_wanted call; with ``retry`` set, a non-empty one clears its failure."""

    def __init__(self) -> None:
        self.calls: list[frozenset[str]] = []
        self.fatal_error: BaseException | None = None
        self.retry = False

    def set_wanted(self, tickers: frozenset[str]) -> None:
        self.calls.append(tickers)
        if self.retry and tickers:
            self.fatal_error = None

    def fail(self, hub: Hub, exc: BaseException) -> None:
        """What KalshiFeed does on a fatal error: record it, then tell the hub."""
        self.fatal_error = exc
        hub.fail(exc)


def tick(ticker: str, n: int = 0) -> TickerUpdate:
    return TickerUpdate(market_ticker=ticker, ts_ms=n, price=(n % 100) / 100)


async def next_update(sub: Subscription) -> TickerUpdate:
    return await asyncio.wait_for(anext(sub), TIMEOUT_S)


async def test_overlapping_subscribers_get_only_their_tickers() -> None:
    """Each subscriber receives the updates of its own tickers and no others."""
    hub = Hub(FakeFeed())
    async with hub.subscribe(["A", "B"]) as one, hub.subscribe(["B", "C"]) as two:
        for name in "ABCD":
            hub.publish(tick(name))
        assert [(await next_update(one)).market_ticker for _ in range(2)] == ["A", "B"]
        assert [(await next_update(two)).market_ticker for _ in range(2)] == ["B", "C"]
        assert (one.pending, two.pending) == (0, 0)


async def test_set_wanted_is_called_only_when_the_union_changes() -> None:
    """First subscriber of a ticker adds it, the last one leaving removes it."""
    feed = FakeFeed()
    hub = Hub(feed)
    async with hub.subscribe(["A", "B"]):
        assert hub.refcounts() == {"A": 1, "B": 1}
        async with hub.subscribe(["B"]):
            assert hub.refcounts() == {"A": 1, "B": 2}
        async with hub.subscribe(["B", "C"]):
            assert hub.refcounts() == {"A": 1, "B": 2, "C": 1}
        assert hub.subscriber_count == 1
    assert hub.refcounts() == {}
    assert feed.calls == [
        frozenset({"A", "B"}),
        frozenset({"A", "B", "C"}),
        frozenset({"A", "B"}),
        frozenset(),
    ]


async def test_newest_value_wins_and_drops_are_counted() -> None:
    """Unread updates of one ticker collapse to the newest; the rest count as dropped."""
    hub = Hub(FakeFeed())
    async with hub.subscribe(["A", "B"]) as sub:
        hub.publish(tick("A", 1))
        hub.publish(tick("B", 1))
        hub.publish(tick("A", 2))
        hub.publish(tick("A", 3))
        assert (sub.pending, sub.dropped) == (2, 2)
        assert await next_update(sub) == tick("A", 3)
        assert await next_update(sub) == tick("B", 1)
        assert sub.delivered == 2


async def test_stats_total_live_and_ended_subscriptions() -> None:
    """Hub stats count deliveries and drops of every subscription, also after it ended."""
    hub = Hub(FakeFeed())
    async with hub.subscribe(["A"]) as ended:
        hub.publish(tick("A", 1))
        hub.publish(tick("A", 2))
        await next_update(ended)
    async with hub.subscribe(["A", "B"]) as live:
        hub.publish(tick("B", 1))
        await next_update(live)
        hub.publish(tick("A", 3))
        assert (hub.subscriber_count, hub.stats) == (1, HubStats(delivered=2, conflated=1))
    assert (hub.subscriber_count, hub.stats) == (0, HubStats(delivered=2, conflated=1))


async def test_stalled_subscriber_stays_bounded_and_does_not_starve_another() -> None:
    """Over a 10,000-tick burst a non-reader keeps <= len(tickers) items; a reader gets all."""
    tickers = ["A", "B", "C"]
    hub = Hub(FakeFeed())
    async with hub.subscribe(tickers) as stalled, hub.subscribe(tickers) as reader:
        received: list[TickerUpdate] = []
        for n in range(10_000):
            update = tick(tickers[n % 3], n)
            hub.publish(update)
            assert stalled.pending <= len(tickers)
            received.append(await next_update(reader))
        assert len(received) == 10_000
        assert received[-1] == tick(tickers[9_999 % 3], 9_999)
        assert stalled.dropped == 10_000 - len(tickers)
        newest = [await next_update(stalled) for _ in tickers]
        assert {u.ts_ms for u in newest} == {9_997, 9_998, 9_999}


async def test_initial_snapshot_is_delivered_first() -> None:
    """initial= pre-fills the queue with the subscriber's tickers only."""
    hub = Hub(FakeFeed())
    initial = [tick("A", 1), tick("Z", 1)]
    async with hub.subscribe(["A"], initial=initial) as sub:
        assert sub.pending == 1
        assert await next_update(sub) == tick("A", 1)


async def test_a_waiting_subscriber_wakes_on_publish() -> None:
    """A consumer blocked on an empty queue gets the next published update."""
    hub = Hub(FakeFeed())
    async with hub.subscribe(["A"]) as sub:
        waiter = asyncio.create_task(next_update(sub))
        await asyncio.sleep(0)
        assert not waiter.done()
        hub.publish(tick("A", 5))
        assert await waiter == tick("A", 5)


def raised(message: str) -> FeedFatalError:
    """A FeedFatalError that was raised and caught, so it carries a traceback."""
    try:
        raise FeedFatalError(message)
    except FeedFatalError as exc:
        return exc


async def test_fail_raises_in_current_and_future_subscriptions() -> None:
    """After a fatal error every iteration raises it, including subscriptions made later."""
    feed = FakeFeed()
    hub = Hub(feed)
    fatal = FeedFatalError("Kalshi refused the WebSocket handshake (HTTP 401)")
    async with hub.subscribe(["A"]) as sub:
        waiter = asyncio.create_task(next_update(sub))
        await asyncio.sleep(0)
        feed.fail(hub, fatal)
        with pytest.raises(FeedFatalError, match=r"HTTP 401"):
            await waiter
    async with hub.subscribe(["B"]) as later:
        with pytest.raises(FeedFatalError, match=r"HTTP 401"):
            await next_update(later)
    assert hub.refcounts() == {}
    hub.resume()
    async with hub.subscribe(["B"]) as again:
        hub.publish(tick("B"))
        assert await next_update(again) == tick("B")


async def test_each_raise_is_a_fresh_error_chained_to_the_original() -> None:
    """Subscribers get distinct FeedFatalErrors with the message, each caused by the original."""
    feed = FakeFeed()
    hub = Hub(feed)
    fatal = raised("Kalshi refused the WebSocket handshake (HTTP 401)")
    feed.fail(hub, fatal)
    seen: list[FeedFatalError] = []
    for _ in range(3):
        async with hub.subscribe(["A"]) as sub:
            with pytest.raises(FeedFatalError) as caught:
                await next_update(sub)
            seen.append(caught.value)
    assert all(err is not fatal and err.__cause__ is fatal for err in seen)
    assert len({id(err) for err in seen}) == 3
    assert {str(err) for err in seen} == {str(fatal)}


async def test_the_original_traceback_does_not_grow_with_subscriptions() -> None:
    """1,000 failed subscriptions leave the original error's traceback as it was."""
    feed = FakeFeed()
    hub = Hub(feed)
    fatal = raised("Kalshi refused the WebSocket handshake (HTTP 401)")
    frames = len(list(traceback.walk_tb(fatal.__traceback__)))
    assert frames >= 1
    feed.fail(hub, fatal)
    for _ in range(1_000):
        async with hub.subscribe(["A"]) as sub:
            with pytest.raises(FeedFatalError):
                await next_update(sub)
    assert len(list(traceback.walk_tb(fatal.__traceback__))) == frames
    assert (hub.refcounts(), hub.subscriber_count) == ({}, 0)


async def test_newcomers_fail_fast_while_the_control_is_still_failed() -> None:
    """While the control keeps its fatal_error, a newcomer raises at once, even with updates."""
    feed = FakeFeed()
    hub = Hub(feed)
    feed.fail(hub, FeedFatalError("refused"))
    async with hub.subscribe(["A"]) as sub:
        hub.publish(tick("A"))
        with pytest.raises(FeedFatalError, match="refused"):
            await next_update(sub)
    assert feed.calls == [frozenset({"A"}), frozenset()]
    assert hub.failure is not None


async def test_a_newcomer_asks_the_control_and_resumes_when_it_retries() -> None:
    """A newcomer calls set_wanted even for held tickers; a cleared control lifts the failure."""
    feed = FakeFeed()
    hub = Hub(feed)
    async with hub.subscribe(["A"]) as old:
        feed.fail(hub, FeedFatalError("refused"))
        feed.retry = True
        async with hub.subscribe(["A"]) as new:
            assert feed.calls == [frozenset({"A"}), frozenset({"A"})]  # union unchanged
            assert hub.failure is None
            hub.publish(tick("A", 7))
            assert await next_update(new) == tick("A", 7)
            with pytest.raises(FeedFatalError, match="refused"):
                await next_update(old)  # the fatal error ended it for good


async def test_a_second_failure_ends_the_retrying_subscriber() -> None:
    """A subscriber waiting on a retry gets the error when the retry fails again."""
    feed = FakeFeed()
    hub = Hub(feed)
    feed.fail(hub, FeedFatalError("first"))
    feed.retry = True
    async with hub.subscribe(["A"]) as sub:
        waiter = asyncio.create_task(next_update(sub))
        await asyncio.sleep(0)
        assert not waiter.done()
        feed.fail(hub, FeedFatalError("second"))
        with pytest.raises(FeedFatalError, match="second"):
            await waiter


async def test_iteration_stops_after_the_block_exits() -> None:
    """A subscription used after its block ends is exhausted, not hanging."""
    hub = Hub(FakeFeed())
    async with hub.subscribe(["A"]) as sub:
        hub.publish(tick("A"))
    assert [u async for u in sub] == []


async def test_exception_inside_the_block_cleans_up() -> None:
    """An error in the subscriber body still removes its refs."""
    feed = FakeFeed()
    hub = Hub(feed)
    with pytest.raises(RuntimeError):
        async with hub.subscribe(["A"]):
            raise RuntimeError("client went away")
    assert (hub.refcounts(), hub.subscriber_count) == ({}, 0)
    assert feed.calls[-1] == frozenset()


async def test_cancelling_a_consumer_task_cleans_up() -> None:
    """Cancelling a task blocked in iteration removes the subscriber and its refs."""
    hub = Hub(FakeFeed())
    entered = asyncio.Event()

    async def consume() -> None:
        async with hub.subscribe(["A", "B"]) as sub:
            entered.set()
            async for _ in sub:
                pass

    task = asyncio.create_task(consume())
    await asyncio.wait_for(entered.wait(), TIMEOUT_S)
    assert hub.refcounts() == {"A": 1, "B": 1}
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (hub.refcounts(), hub.subscriber_count) == ({}, 0)


async def test_thousand_subscribe_cycles_leave_nothing_behind() -> None:
    """1,000 subscribe/unsubscribe cycles leave no refs, subscribers or tasks."""
    feed = FakeFeed()
    hub = Hub(feed)
    before = asyncio.all_tasks()
    for n in range(1_000):
        async with hub.subscribe([f"T{n % 7}", "COMMON"]) as sub:
            hub.publish(tick("COMMON", n))
            assert await next_update(sub) == tick("COMMON", n)
    assert hub.refcounts() == {}
    assert hub.subscriber_count == 0
    assert hub._by_ticker == {}
    assert asyncio.all_tasks() == before
    assert len(feed.calls) == 2_000
    assert feed.calls[-1] == frozenset()


async def test_a_subscription_cannot_be_entered_twice() -> None:
    """Re-entering a subscription is refused instead of double-counting refs."""
    hub = Hub(FakeFeed())
    sub = hub.subscribe(["A"])
    async with sub:
        with pytest.raises(RuntimeError):
            await sub.__aenter__()
    assert hub.refcounts() == {}


async def test_close_ends_waiting_failed_and_later_subscriptions() -> None:
    """close() stops every iteration (even a failed one), and later ones never register."""
    feed = FakeFeed()
    hub = Hub(feed)
    async with hub.subscribe(["A"]) as waiting, hub.subscribe(["B"]) as failed:
        failed._fail(FeedFatalError("gone"))
        waiter = asyncio.ensure_future(anext(waiting))
        await asyncio.sleep(0)
        assert not waiter.done()
        hub.publish(tick("B"))  # pending updates are not delivered after close
        hub.close()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(waiter, TIMEOUT_S)
        assert [u async for u in failed] == []
        calls = len(feed.calls)
        async with hub.subscribe(["C"]) as late:
            assert hub.refcounts() == {"A": 1, "B": 1}
            assert [u async for u in late] == []
        assert len(feed.calls) == calls  # the late one never reached the feed
    assert (hub.refcounts(), hub.subscriber_count, hub.closed) == ({}, 0, True)


async def test_stats_count_deliveries_and_conflations_across_subscribers() -> None:
    """Hub.stats sums what every subscriber was handed and how many updates were replaced."""
    hub = Hub(FakeFeed())
    async with hub.subscribe(["A"]) as one:
        async with hub.subscribe(["A"]) as two:
            for n in range(3):
                hub.publish(tick("A", n))
            assert await next_update(two) == tick("A", 2)
        assert await next_update(one) == tick("A", 2)
    assert (hub.stats.delivered, hub.stats.conflated) == (2, 4)
