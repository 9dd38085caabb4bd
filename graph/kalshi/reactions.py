"""What the feed does with each event of its protocol: publish, log, count, protect (adapter).

How it works: :class:`Reactions` turns the events of one frame into what the connection
must do next. Tickers go to ``on_update``; errors are logged and counted by Kalshi's code
(``FeedStats``, read by the metrics). Kalshi's limits get answers that keep the connection:

- markets Kalshi refuses (26: its market limit; 16: not found) go to ``on_refused``, which
  ends the subscriptions that asked for them (the app wires it to the hub);
- a pause (27: too many requests; 25: the feed read too slowly) becomes a backoff before
  the protocol may send again, with full jitter, doubling while pauses follow each other
  and reset by the next confirmation; for 25, ``on_overloaded`` first sheds the newest
  subscriptions (the hub), so the resubscribe asks for less.

:meth:`Reactions.react` returns the reason to replace the connection, if the protocol
asked for one, and the seconds to wait before :meth:`FeedProtocol.retry`, if it paused.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from graph.backoff import backoff_delay
from graph.kalshi.messages import Ticker, Unknown
from graph.kalshi.protocol import (
    BUFFER_OVERFLOW,
    Event,
    FeedError,
    MarketsRefused,
    Paused,
    ReconnectRequired,
    SubscriptionConfirmed,
)
from graph.models import TickerUpdate

logger = logging.getLogger("graph.kalshi.feed")


@dataclass(slots=True)
class FeedStats:
    connects: int = 0  # handshakes that succeeded
    reconnects: int = 0  # backoff waits before a new attempt
    malformed: int = 0  # frames we could not parse (connection kept)
    messages: int = 0  # frames parsed
    errors: int = 0  # ``error`` messages from the server
    errors_by_code: Counter[int] = field(default_factory=Counter)
    pauses: int = 0  # backoffs before sending again (25, 27)
    refused_markets: int = 0  # markets Kalshi refused (16, 26)


@dataclass(frozen=True, slots=True)
class Next:
    """What the connection does after a frame."""

    reconnect: str | None = None  # replace the connection, for this reason
    pause_s: float | None = None  # wait this long, then protocol.retry()


class Reactions:
    def __init__(
        self,
        *,
        on_update: Callable[[TickerUpdate], None],
        stats: FeedStats,
        backoff_base_s: float,
        backoff_cap_s: float,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._on_update = on_update
        self.stats = stats
        self._base_s = backoff_base_s
        self._cap_s = backoff_cap_s
        self._rng = rng
        self._pauses_in_a_row = 0
        # Settable: the app wires them to the hub after building it.
        self.on_refused: Callable[[frozenset[str], int], None] | None = None
        self.on_overloaded: Callable[[], None] | None = None

    def react(self, events: Iterable[Event]) -> Next:
        reconnect: str | None = None
        pause_s: float | None = None
        for event in events:
            if isinstance(event, Ticker):
                self._publish(event.update)
            elif isinstance(event, SubscriptionConfirmed):
                self._pauses_in_a_row = 0
                logger.info(
                    "Subscribed to ticker channel sid=%d markets=%d",
                    event.sid,
                    len(event.market_tickers),
                )
            elif isinstance(event, FeedError):
                self.stats.errors += 1
                self.stats.errors_by_code[event.code] += 1
                logger.warning(
                    "Kalshi WebSocket error code=%d msg=%s market=%s terminal=%s",
                    event.code,
                    event.msg,
                    event.market_ticker,
                    event.terminal,
                )
            elif isinstance(event, MarketsRefused):
                self._refused(event)
            elif isinstance(event, Paused):
                pause_s = self._pause(event.code)
            elif isinstance(event, ReconnectRequired):
                reconnect = event.reason
            elif isinstance(event, Unknown):
                logger.debug("Ignoring Kalshi WebSocket message type=%s", event.type)
        return Next(reconnect=reconnect, pause_s=pause_s)

    def connection_opened(self) -> None:
        self._pauses_in_a_row = 0

    def _refused(self, event: MarketsRefused) -> None:
        self.stats.refused_markets += len(event.market_tickers)
        logger.warning(
            "Kalshi refused markets code=%d count=%d first=%s; ending the subscriptions that "
            "asked for them (the newest), the others keep their prices",
            event.code,
            len(event.market_tickers),
            min(event.market_tickers, default="-"),
        )
        if self.on_refused is not None:
            self.on_refused(event.market_tickers, event.code)

    def _pause(self, code: int) -> float:
        delay = backoff_delay(
            self._pauses_in_a_row, base_s=self._base_s, cap_s=self._cap_s, rng=self._rng
        )
        self._pauses_in_a_row += 1
        self.stats.pauses += 1
        if code == BUFFER_OVERFLOW:
            logger.warning(
                "Kalshi dropped the feed's subscription as too slow (error 25); shedding the "
                "newest subscriptions and resubscribing in %.2f s",
                delay,
            )
            if self.on_overloaded is not None:
                self.on_overloaded()
        else:
            logger.warning(
                "Kalshi asked the feed to slow down code=%d; next command in %.2f s", code, delay
            )
        return delay

    def _publish(self, update: TickerUpdate) -> None:
        try:
            self._on_update(update)
        except Exception:  # a subscriber-side bug must not drop the upstream connection
            logger.exception("on_update failed market=%s", update.market_ticker)
