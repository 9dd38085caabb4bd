"""In-process fan-out of ticker updates to many subscribers (asyncio only).

How it works
------------
Each ``Subscription`` holds at most one pending update per market ticker in an
insertion-ordered dict: a newer update for a ticker already pending replaces it (and
counts as ``dropped``). Memory per subscriber is therefore bounded by the number of
tickers it asked for, however slowly it reads. ``Hub.publish`` is synchronous: it
touches only the subscriptions of that ticker (via an index) and never awaits one.

The hub reference-counts tickers across subscriptions. When the union of wanted
tickers changes (first subscriber of a ticker arrives, last one leaves) it tells the
feed through ``FeedControl.set_wanted``; otherwise the feed hears nothing.

``fail(exc)`` (a fatal feed error) ends every current subscription: its next
iteration raises a fresh ``FeedFatalError`` with ``exc``'s message, chained to ``exc``.
A fresh one each time, because raising one shared object would append every raise to
its traceback and keep every subscriber's frames alive. Subscriptions entered while
failed raise the same way - unless the control lifts its failure: each newcomer calls
``set_wanted`` (even when the union is unchanged), which lets the feed decide whether
its cool-down is over and it may try again, and then the hub reads the control's
``fatal_error``. None means the control is trying again: the hub forgets the failure
and the newcomer waits for updates (or for the next ``fail``). ``resume()`` forgets it
by hand. Leaving the ``async with`` block - normally, by an exception or by
cancellation - always unregisters the subscription and its refs.

``close()`` (graceful shutdown) ends every subscription's iteration at once, as if
each client had left, and ends every later one before it registers, so GraphQL sends
``complete`` for each. ``stats`` counts deliveries and conflated (dropped) updates
over the hub's life, for metrics.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

from graph.errors import FeedFatalError
from graph.models import TickerUpdate


class FeedControl(Protocol):
    def set_wanted(self, tickers: frozenset[str]) -> None: ...

    @property
    def fatal_error(self) -> BaseException | None:
        """The control's fatal error; None once it may (or does) connect again."""


@dataclass(slots=True)
class HubStats:
    delivered: int = 0  # updates handed to subscribers
    conflated: int = 0  # pending updates replaced by a newer one for the same ticker


class Subscription:
    """One subscriber's view: an async iterator of conflated ``TickerUpdate``s.

    Use it as ``async with hub.subscribe([...]) as sub: async for update in sub: ...``.
    """

    def __init__(self, hub: Hub, tickers: frozenset[str], initial: Iterable[TickerUpdate]) -> None:
        self.tickers = tickers
        self.dropped = 0
        self.delivered = 0
        self._hub = hub
        self._pending: dict[str, TickerUpdate] = {}
        self._wakeup = asyncio.Event()
        self._active = False
        self._closed = False
        self._failure: BaseException | None = None  # set by Hub.fail; never lifted
        for update in initial:
            if update.market_ticker in tickers:
                self._offer(update)

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def __aenter__(self) -> Subscription:
        if self._active or self._closed:
            raise RuntimeError("a Subscription can be entered only once")
        if self._hub.closed:
            self._closed = True  # the hub is shutting down: end at once, never register
            return self
        self._active = True
        self._hub._add(self)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> TickerUpdate:
        while True:
            if self._hub.closed:
                raise StopAsyncIteration  # shutdown ends streams cleanly, failed or not
            failure = self._failure if self._failure is not None else self._hub._failure
            if failure is not None:
                raise FeedFatalError(str(failure)) from failure
            if self._closed:
                raise StopAsyncIteration
            if self._pending:
                ticker = next(iter(self._pending))
                self.delivered += 1
                self._hub.stats.delivered += 1
                return self._pending.pop(ticker)
            self._wakeup.clear()
            await self._wakeup.wait()

    def _offer(self, update: TickerUpdate) -> None:
        key = update.market_ticker
        if key in self._pending:
            self.dropped += 1
            self._hub.stats.conflated += 1
        self._pending[key] = update  # keeps the ticker's place in line; newest value wins
        self._wakeup.set()

    def _fail(self, exc: BaseException) -> None:
        self._failure = exc
        self._wakeup.set()

    def _close(self) -> None:
        if self._active:
            self._active = False
            self._hub._remove(self)
        self._closed = True
        self._pending.clear()
        self._wakeup.set()


class Hub:
    """Reference-counted, conflating fan-out from one feed to many subscribers."""

    def __init__(self, control: FeedControl) -> None:
        self._control = control
        self._refs: dict[str, int] = {}
        self._by_ticker: dict[str, set[Subscription]] = {}
        self._subscriptions: set[Subscription] = set()
        self._failure: BaseException | None = None
        self._closed = False
        self.stats = HubStats()

    def subscribe(
        self, tickers: Sequence[str], *, initial: Iterable[TickerUpdate] = ()
    ) -> Subscription:
        """A subscription to ``tickers``; registered when its ``async with`` is entered.

        ``initial`` pre-fills the queue (e.g. a snapshot from the market cache) so the
        subscriber sees a price at once; updates for other tickers are ignored.
        """
        return Subscription(self, frozenset(tickers), initial)

    def publish(self, update: TickerUpdate) -> None:
        """Hand ``update`` to every subscriber of its ticker. Never blocks."""
        for sub in self._by_ticker.get(update.market_ticker, ()):
            sub._offer(update)

    def fail(self, exc: BaseException) -> None:
        """End every current subscription, and refuse new ones, with ``exc``'s message.

        New subscriptions are refused until ``resume()`` or until the control reports
        no ``fatal_error`` when one is entered.
        """
        self._failure = exc
        for sub in self._subscriptions:
            sub._fail(exc)

    def close(self) -> None:
        """End every subscription's iteration now, and every later one at once (shutdown)."""
        self._closed = True
        for sub in self._subscriptions:
            sub._wakeup.set()

    @property
    def closed(self) -> bool:
        return self._closed

    def resume(self) -> None:
        """Forget a previous ``fail`` for subscriptions entered from now on."""
        self._failure = None

    @property
    def failure(self) -> BaseException | None:
        return self._failure

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)

    def refcounts(self) -> dict[str, int]:
        return dict(self._refs)

    def wanted(self) -> frozenset[str]:
        return frozenset(self._refs)

    def _add(self, sub: Subscription) -> None:
        self._subscriptions.add(sub)
        changed = False
        for ticker in sub.tickers:
            count = self._refs.get(ticker, 0)
            self._refs[ticker] = count + 1
            self._by_ticker.setdefault(ticker, set()).add(sub)
            changed |= count == 0
        if changed or self._failure is not None:
            self._control.set_wanted(frozenset(self._refs))
        if self._failure is not None and self._control.fatal_error is None:
            self._failure = None  # the control is trying again: wait for its outcome

    def _remove(self, sub: Subscription) -> None:
        self._subscriptions.discard(sub)
        changed = False
        for ticker in sub.tickers:
            subs = self._by_ticker[ticker]
            subs.discard(sub)
            if not subs:
                del self._by_ticker[ticker]
            count = self._refs[ticker] - 1
            if count:
                self._refs[ticker] = count
            else:
                del self._refs[ticker]
                changed = True
        if changed:
            self._control.set_wanted(frozenset(self._refs))
