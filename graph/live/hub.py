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

Protecting the shared feed: a subscription that would take the distinct tickers past
``max_tickers`` is refused when it is entered (``TooManyUpstreamTickers``); everyone
already subscribed keeps their prices. The feed tells ``set_wanted`` the tickers oldest
first, so when Kalshi refuses markets, the newest are refused; ``refuse(tickers, exc)``
ends the subscriptions that hold them and ``shed_newest(exc)`` ends the newest
subscriptions until the feed carries half as many tickers (Kalshi dropped it as too
slow). Each ended subscription's next iteration raises a fresh exception of ``exc``'s
type and message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

from graph.errors import FeedFatalError, TooManyUpstreamTickers
from graph.models import TickerUpdate


class FeedControl(Protocol):
    def set_wanted(self, tickers: Collection[str]) -> None:
        """Follow exactly ``tickers`` upstream (given oldest first)."""

    @property
    def fatal_error(self) -> BaseException | None:
        """The control's fatal error; None once it may (or does) connect again."""


@dataclass(slots=True)
class HubStats:
    delivered: int = 0  # updates handed to subscribers
    conflated: int = 0  # pending updates replaced by a newer one for the same ticker
    refused: int = 0  # subscriptions refused: they would pass max_tickers
    shed: int = 0  # subscriptions ended to protect the feed (refuse, shed_newest)


class Subscription:
    """One subscriber's view: an async iterator of conflated ``TickerUpdate``s.

    Use it as ``async with hub.subscribe([...]) as sub: async for update in sub: ...``.
    """

    def __init__(self, hub: Hub, tickers: Sequence[str], initial: Iterable[TickerUpdate]) -> None:
        self.order = tuple(dict.fromkeys(tickers))
        self.tickers = frozenset(self.order)
        self.dropped = 0
        self.delivered = 0
        self._hub = hub
        self._pending: dict[str, TickerUpdate] = {}
        self._wakeup = asyncio.Event()
        self._active = False
        self._closed = False
        self._failure: BaseException | None = None  # set by Hub.fail; never lifted
        for update in initial:
            if update.market_ticker in self.tickers:
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
        self._hub._admit(self)
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
                raise _fresh(failure) from failure
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
        if self._failure is None:
            self._failure = exc
        self._wakeup.set()

    def _close(self) -> None:
        if self._active:
            self._active = False
            self._hub._remove(self)
        self._closed = True
        self._pending.clear()
        self._wakeup.set()


def _fresh(failure: BaseException) -> BaseException:
    """A new exception like ``failure`` (raising one shared object grows its traceback)."""
    try:
        return type(failure)(str(failure))
    except TypeError:  # a type that needs more than a message
        return FeedFatalError(str(failure))


class Hub:
    """Reference-counted, conflating fan-out from one feed to many subscribers."""

    def __init__(self, control: FeedControl, *, max_tickers: int | None = None) -> None:
        self._control = control
        self._max_tickers = max_tickers
        self._refs: dict[str, int] = {}  # oldest first: the order tickers were first wanted
        self._by_ticker: dict[str, set[Subscription]] = {}
        self._subscriptions: dict[Subscription, None] = {}  # oldest first
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
        return Subscription(self, tickers, initial)

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

    def refuse(self, tickers: Iterable[str], exc: BaseException) -> int:
        """End every subscription holding one of ``tickers`` with ``exc``; how many."""
        holders = {sub for t in tickers for sub in self._by_ticker.get(t, ())}
        for sub in holders:
            sub._fail(exc)
        self.stats.shed += len(holders)
        return len(holders)

    def shed_newest(self, exc: BaseException, *, keep: float = 0.5) -> int:
        """End the newest subscriptions until the rest want at most ``keep`` of today's
        distinct tickers (at least one); how many were ended."""
        target = max(1, int(len(self._refs) * keep))
        live = {s: None for s in self._subscriptions if s._failure is None}
        refs: dict[str, int] = {}
        for sub in live:
            for ticker in sub.tickers:
                refs[ticker] = refs.get(ticker, 0) + 1
        shed = 0
        for sub in reversed(list(live)):
            if len(refs) <= target:
                break
            for ticker in sub.tickers:
                refs[ticker] -= 1
                if not refs[ticker]:
                    del refs[ticker]
            sub._fail(exc)
            shed += 1
        self.stats.shed += shed
        return shed

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

    def admit(self, tickers: Iterable[str]) -> None:
        """Raise ``TooManyUpstreamTickers`` if ``tickers`` would take the feed past
        ``max_tickers`` now: a cheap early refusal, before any snapshot is fetched (entering
        the subscription checks again)."""
        self._admit(Subscription(self, list(tickers), ()))

    def _admit(self, sub: Subscription) -> None:
        """Refuse ``sub`` if its new tickers would take the feed past ``max_tickers``."""
        cap = self._max_tickers
        new = sum(t not in self._refs for t in sub.order)
        if cap is not None and new and len(self._refs) + new > cap:
            self.stats.refused += 1
            raise TooManyUpstreamTickers(
                f"this service already follows {len(self._refs)} markets for its subscribers "
                f"and may follow at most {cap}; this subscription would add {new}: ask for "
                "fewer markets, or try again later"
            )

    def _add(self, sub: Subscription) -> None:
        self._subscriptions[sub] = None
        changed = False
        for ticker in sub.order:
            count = self._refs.get(ticker, 0)
            self._refs[ticker] = count + 1
            self._by_ticker.setdefault(ticker, set()).add(sub)
            changed |= count == 0
        if changed or self._failure is not None:
            self._control.set_wanted(tuple(self._refs))
        if self._failure is not None and self._control.fatal_error is None:
            self._failure = None  # the control is trying again: wait for its outcome

    def _remove(self, sub: Subscription) -> None:
        self._subscriptions.pop(sub, None)
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
            self._control.set_wanted(tuple(self._refs))
