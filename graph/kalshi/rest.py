"""Kalshi REST client (adapter): signing, pagination, retries, error mapping.

One ``httpx.AsyncClient`` per process is passed in; this module adds the Kalshi
path prefix, signs every request when a key is configured (:class:`KalshiAuth`),
follows ``cursor`` pagination and chunks ``tickers=`` lists at a URL budget.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from graph.errors import UpstreamHTTPError, UpstreamProtocolError
from graph.http import JsonSource
from graph.kalshi.payloads import parse_market
from graph.kalshi.signing import Signer
from graph.models import Market

# Kalshi's documented page maximum for GET /markets.
MARKETS_PAGE_LIMIT = 1000
# Kalshi sets a game-winner market to close two weeks after the game (``close_time``; it
# closes early once the result is known), which is what its close-time filters select by.
GAME_MARKET_CLOSE_AFTER_START = timedelta(days=14)
# Proxies in front of APIs commonly cap a URL at 8 KiB; keep the tickers list below it.
TICKERS_PARAM_BUDGET = 6000

logger = logging.getLogger(__name__)


class KalshiAuth(httpx.Auth):
    """Adds the three KALSHI-ACCESS-* headers, signing the path as sent (no query)."""

    def __init__(self, signer: Signer, *, clock: Callable[[], float] = time.time) -> None:
        self._signer = signer
        self._clock = clock

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        path = request.url.raw_path.decode("ascii").split("?", 1)[0]
        now_ms = int(self._clock() * 1000)
        request.headers.update(self._signer.headers(now_ms, request.method, path))
        yield request


def chunk_tickers(tickers: Iterable[str], budget: int = TICKERS_PARAM_BUDGET) -> list[list[str]]:
    """Split tickers into comma-joined groups no longer than ``budget`` characters."""
    chunks: list[list[str]] = []
    current: list[str] = []
    size = 0
    for ticker in dict.fromkeys(tickers):
        extra = len(ticker) + (1 if current else 0)
        if current and size + extra > budget:
            chunks.append(current)
            current, size, extra = [], 0, len(ticker)
        current.append(ticker)
        size += extra
    if current:
        chunks.append(current)
    return chunks


class KalshiRest(JsonSource):
    """The market-data endpoints the service needs; markets are stamped with when we read them."""

    AUTH_HINT = (
        "; check KALSHI_API_KEY_ID, the private key, KALSHI_ENV and the system clock"
        " (a signature's timestamp far from the server's time is refused)"
    )

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        *,
        clock: Callable[[], float] = time.time,
        **options: Any,
    ) -> None:
        super().__init__(client, base_url, **options)
        self._clock = clock

    def _parse(self, raw: object) -> Market:
        return parse_market(raw, datetime.fromtimestamp(self._clock(), tz=UTC))

    async def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        return await self._get_json(path, params, what="Kalshi")

    async def _paginate(self, path: str, key: str, params: Mapping[str, str]) -> list[Any]:
        items: list[Any] = []
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            query = dict(params, cursor=cursor) if cursor else dict(params)
            body = await self._get(path, query)
            if not isinstance(body, dict) or not isinstance(body.get(key), list):
                raise UpstreamProtocolError(f"Kalshi {path} response has no {key!r} list")
            items.extend(body[key])
            cursor = body.get("cursor") or None
            if cursor is None:
                return items
            if not isinstance(cursor, str) or cursor in seen:
                raise UpstreamProtocolError(f"Kalshi {path} returned a repeating cursor")
            seen.add(cursor)

    async def markets(
        self,
        *,
        tickers: Iterable[str] | None = None,
        event_ticker: str | None = None,
        series_ticker: str | None = None,
        status: str | None = None,
        min_close_ts: int | None = None,
        max_close_ts: int | None = None,
        min_settled_ts: int | None = None,
    ) -> list[Market]:
        """All markets matching the filters, across every page (and ticker chunk).

        ``min_close_ts``/``max_close_ts`` (Unix seconds) keep the markets whose ``close_time``
        falls in that range and go with no ``status`` or ``"closed"``; ``min_settled_ts`` goes
        with ``"settled"`` (Kalshi refuses other combinations).
        """
        base: dict[str, str] = {"limit": str(MARKETS_PAGE_LIMIT)}
        if event_ticker:
            base["event_ticker"] = event_ticker
        if series_ticker:
            base["series_ticker"] = series_ticker
        if status:
            base["status"] = status
        if min_close_ts is not None:
            base["min_close_ts"] = str(min_close_ts)
        if max_close_ts is not None:
            base["max_close_ts"] = str(max_close_ts)
        if min_settled_ts is not None:
            base["min_settled_ts"] = str(min_settled_ts)
        if tickers is None:
            return self._parse_listing(await self._paginate("/markets", "markets", base))
        out: list[Market] = []
        for chunk in chunk_tickers(tickers):
            raw = await self._paginate("/markets", "markets", dict(base, tickers=",".join(chunk)))
            out.extend(self._parse_listing(raw))
        return out

    def _parse_listing(self, raw: list[Any]) -> list[Market]:
        """Every market that parses; one garbled entry must not blank out a whole league."""
        out: list[Market] = []
        for item in raw:
            try:
                out.append(self._parse(item))
            except UpstreamProtocolError as exc:
                ticker = item.get("ticker") if isinstance(item, dict) else None
                logger.warning(
                    "Skipping a malformed Kalshi market ticker=%.60s error=%s", ticker, exc
                )
        return out

    async def market(self, ticker: str) -> Market | None:
        """One market, or ``None`` when Kalshi does not know the ticker."""
        try:
            body = await self._get(f"/markets/{quote(ticker, safe='')}")
        except UpstreamHTTPError as exc:
            if exc.status_code == 404:
                return None
            raise
        if not isinstance(body, dict):
            raise UpstreamProtocolError("Kalshi market response is not an object")
        return self._parse(body.get("market"))

    async def events(
        self,
        *,
        series_ticker: str | None = None,
        status: str | None = None,
        with_nested_markets: bool = False,
    ) -> list[dict[str, Any]]:
        params: dict[str, str] = {"limit": "200"}
        if series_ticker:
            params["series_ticker"] = series_ticker
        if status:
            params["status"] = status
        if with_nested_markets:
            params["with_nested_markets"] = "true"
        return await self._paginate("/events", "events", params)

    async def event(self, event_ticker: str) -> dict[str, Any] | None:
        try:
            body = await self._get(
                f"/events/{quote(event_ticker, safe='')}", {"with_nested_markets": "true"}
            )
        except UpstreamHTTPError as exc:
            if exc.status_code == 404:
                return None
            raise
        if not isinstance(body, dict) or not isinstance(body.get("event"), dict):
            raise UpstreamProtocolError("Kalshi event response has no 'event' object")
        event: dict[str, Any] = body["event"]
        return event

    async def series(self, series_ticker: str | None = None) -> list[dict[str, Any]]:
        if series_ticker is None:
            body = await self._get("/series")
            items = body.get("series") if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise UpstreamProtocolError("Kalshi series response has no 'series' list")
            return items
        body = await self._get(f"/series/{quote(series_ticker, safe='')}")
        one = body.get("series") if isinstance(body, dict) else None
        if not isinstance(one, dict):
            raise UpstreamProtocolError("Kalshi series response has no 'series' object")
        return [one]
