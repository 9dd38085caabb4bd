"""How the shared feed's troubles reach the subscribers (adapter).

How it works: :func:`connect` hands the hub what the feed learns. A fatal error (Kalshi
refused the key) ends every subscription. Markets Kalshi refuses end the subscriptions that
asked for them: unknown ones (16) with ``UNKNOWN_MARKET``, ones past Kalshi's market limit
(26) with ``TOO_MANY_UPSTREAM_TICKERS``. When Kalshi drops the feed as too slow (25), the
newest subscriptions are shed (``FEED_OVERLOADED``) until half the tickers remain, so the
resubscribe asks for less and the oldest subscribers keep their prices.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from graph.errors import FeedFatalError, FeedOverloaded, TooManyUpstreamTickers, UnknownMarket
from graph.kalshi.feed import KalshiFeed
from graph.live.hub import Hub

logger = logging.getLogger(__name__)

MARKET_NOT_FOUND = 16


def connect(feed: KalshiFeed, hub: Hub | Callable[[], Hub]) -> None:
    """Route the feed's fatal errors, refused markets and overloads to ``hub`` (or to the hub
    a callable returns when they happen: the hub is made after its feed)."""
    current: Callable[[], Hub] = (lambda: hub) if isinstance(hub, Hub) else hub

    def fatal(exc: FeedFatalError) -> None:
        current().fail(exc)

    feed.on_fatal = fatal

    def refused(tickers: frozenset[str], code: int) -> None:
        shown = ", ".join(sorted(tickers)[:3]) + ("..." if len(tickers) > 3 else "")
        exc: Exception
        if code == MARKET_NOT_FOUND:
            exc = UnknownMarket(f"Kalshi has no market {shown}")
        else:
            exc = TooManyUpstreamTickers(
                f"Kalshi refused to stream more markets to this service (error {code}, its "
                f"subscription market limit): {shown}; ask for fewer markets, or try later"
            )
        ended = current().refuse(tickers, exc)
        logger.info("Ended subscriptions for refused markets code=%d count=%d", code, ended)

    def overloaded() -> None:
        ended = current().shed_newest(
            FeedOverloaded(
                "Kalshi dropped the shared price feed as too slow; the newest subscriptions "
                "were ended so that the others keep their prices: subscribe again later"
            )
        )
        logger.warning("Shed the newest subscriptions after a feed overload count=%d", ended)

    feed.reactions.on_refused = refused
    feed.reactions.on_overloaded = overloaded
