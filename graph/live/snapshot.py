"""What a new subscriber sees first: the current prices of its markets (adapter).

How it works: prices come from the cache that ``market(ticker:)`` queries use too; the tickers
not fresh there cost one ``GET /markets?tickers=...``. Tickers Kalshi answers without are
remembered as unknown (for the schedule TTL, so repeating them costs nothing) and refused: one
client must not make the shared upstream subscription carry markets that do not exist. When
Kalshi cannot be asked, the tickers are let through unchecked.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from graph.cache import TTLCache
from graph.errors import UnknownMarket, UpstreamError
from graph.models import Market, TickerUpdate

if TYPE_CHECKING:
    from graph.kalshi.rest import KalshiRest

logger = logging.getLogger(__name__)


class Snapshot:
    def __init__(
        self,
        *,
        rest: KalshiRest,
        markets: TTLCache[str, Market | None],
        prices_ttl_s: float,
        unknown_ttl_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._rest = rest
        self._markets = markets
        self._prices_ttl_s = prices_ttl_s
        self._unknown_ttl_s = unknown_ttl_s
        self._clock = clock

    async def __call__(self, tickers: Sequence[str]) -> list[TickerUpdate]:
        """Latest known prices for ``tickers``.

        Raises:
            UnknownMarket: Kalshi answered and does not list some of the tickers.
        """
        missing = [t for t in tickers if not self._markets.fresh(t)]
        if missing:
            try:
                found = {m.ticker: m for m in await self._rest.markets(tickers=missing)}
            except UpstreamError as exc:
                logger.warning(
                    "Initial snapshot unavailable tickers=%d error=%s", len(missing), exc
                )
            else:
                for ticker in missing:
                    ttl = self._prices_ttl_s if ticker in found else self._unknown_ttl_s
                    self._markets.put(ticker, found.get(ticker), ttl)
        unknown = [t for t in tickers if self._markets.fresh(t) and self._markets.peek(t) is None]
        if unknown:
            raise UnknownMarket(f"unknown market ticker: {', '.join(unknown[:5])}")
        now_ms = int(self._clock() * 1000)
        out = []
        for t in tickers:
            cached = self._markets.peek(t)
            if cached is not None:
                seen = cached.observed_at or cached.updated_at
                out.append(
                    TickerUpdate(
                        market_ticker=cached.ticker,
                        ts_ms=int(seen.timestamp() * 1000) if seen else now_ms,
                        price=cached.last_price,
                        yes_bid=cached.yes_bid,
                        yes_ask=cached.yes_ask,
                        volume=cached.volume,
                        open_interest=cached.open_interest,
                    )
                )
        return out
