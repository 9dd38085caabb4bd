"""What a new subscriber sees first: the current prices of its markets (adapter).

How it works: prices come from the cache that ``market(ticker:)`` queries use too; the
tickers not fresh there cost one ``GET /markets?tickers=...``, shared by every subscriber
arriving meanwhile (a reconnect storm after a replica died costs a few requests, not one
each). Tickers Kalshi answers without are remembered as unknown (for the schedule TTL, so
repeating them costs nothing) and refused: one client must not make the shared upstream
subscription carry markets that do not exist. When Kalshi cannot be asked, tickers not known
from a fresh answer are refused too (``UPSTREAM_UNAVAILABLE``: try again shortly), never let
through unchecked.

With Redis, ``latest`` first reads the last tick the feed owner stored for each market:
those markets need no REST request (a market that ticked exists), and a subscriber sees
the live price rather than one up to a price TTL old (the newer of the two wins).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from graph.cache import TTLCache
from graph.errors import UnknownMarket, UpstreamAuthError, UpstreamError, UpstreamUnavailable
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
        latest: Callable[[Sequence[str]], Awaitable[list[TickerUpdate]]] | None = None,
    ) -> None:
        self._rest = rest
        self._latest = latest
        self._markets = markets
        self._prices_ttl_s = prices_ttl_s
        self._unknown_ttl_s = unknown_ttl_s
        self._clock = clock
        self._loading: dict[str, asyncio.Future[None]] = {}  # ticker -> the request for it

    async def _fetch(self, tickers: Sequence[str]) -> None:
        """Read ``tickers`` into the cache; a ticker already being read is waited for."""
        new = [t for t in tickers if t not in self._loading]
        if new:
            load = asyncio.ensure_future(self._read(new))
            for ticker in new:
                self._loading[ticker] = load
            load.add_done_callback(lambda done: self._forget(done, new))
        # Shielded: one subscriber giving up must not cancel the read the others wait for.
        await asyncio.gather(*(asyncio.shield(f) for f in {self._loading[t] for t in tickers}))

    def _forget(self, done: asyncio.Future[None], tickers: list[str]) -> None:
        for ticker in tickers:
            self._loading.pop(ticker, None)
        if not done.cancelled():
            done.exception()  # seen, even if every subscriber waiting for it left

    async def _read(self, tickers: list[str]) -> None:
        try:
            found = {m.ticker: m for m in await self._rest.markets(tickers=tickers)}
        except UpstreamAuthError:
            raise  # Kalshi refuses our key: say that, not "try again"
        except UpstreamError as exc:
            logger.warning(
                "Cannot check market tickers against Kalshi tickers=%d error=%s", len(tickers), exc
            )
            raise UpstreamUnavailable(
                f"cannot check {len(tickers)} market ticker(s) against Kalshi's listing "
                f"right now ({type(exc).__name__}); try again shortly"
            ) from exc
        for ticker in tickers:
            ttl = self._prices_ttl_s if ticker in found else self._unknown_ttl_s
            self._markets.put(ticker, found.get(ticker), ttl)

    async def __call__(self, tickers: Sequence[str]) -> list[TickerUpdate]:
        """Latest known prices for ``tickers``.

        Raises:
            UnknownMarket: Kalshi answered and does not list some of the tickers.
            UpstreamUnavailable: Kalshi could not be asked about tickers it was not asked
                about recently.
            UpstreamAuthError: Kalshi refused our key when asked.
        """
        stored = {u.market_ticker: u for u in await self._latest(tickers)} if self._latest else {}
        missing = [t for t in tickers if t not in stored and not self._markets.fresh(t)]
        if missing:
            await self._fetch(missing)
        unknown = [
            t
            for t in tickers
            if t not in stored and self._markets.fresh(t) and self._markets.peek(t) is None
        ]
        if unknown:
            raise UnknownMarket(f"unknown market ticker: {', '.join(unknown[:5])}")
        now_ms = int(self._clock() * 1000)
        out = []
        for t in tickers:
            cached = self._markets.peek(t)
            update = stored.get(t)
            if cached is not None:
                seen = cached.observed_at or cached.updated_at
                from_rest = TickerUpdate(
                    market_ticker=cached.ticker,
                    ts_ms=int(seen.timestamp() * 1000) if seen else now_ms,
                    price=cached.last_price,
                    yes_bid=cached.yes_bid,
                    yes_ask=cached.yes_ask,
                    volume=cached.volume,
                    open_interest=cached.open_interest,
                )
                if update is None or from_rest.ts_ms > update.ts_ms:
                    update = from_rest
            if update is not None:
                out.append(update)
        return out
