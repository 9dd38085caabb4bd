"""Kalshi REST endpoints of the simulator (``/trade-api/v2/...``, kalshi-api.md §3).

Markets resolve lazily from their ticker's date, so any date works; list calls
without an event or ticker filter cover yesterday to three days ahead (ET), or, with
``min_close_ts``/``max_close_ts``, every market whose ``close_time`` falls in that range
(at most a month of game days), which Kalshi allows only with ``status=closed`` or none.
Cursors are opaque strings (an encoded offset); the last page answers ``""``.
``event_ticker`` takes a single ticker like the current API (a comma is a 400).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from graph.models import League
from graph.sim.guard import BadRequest, Handler, guarded, kalshi_error
from graph.sim.kalshi_shapes import (
    CLOSE_AFTER_START,
    STATUS_FILTER,
    event_dict,
    event_markets,
    market_close_time,
    market_dict,
    market_status,
    series_dict,
)
from graph.sim.slate import SimGame, et_date
from graph.sim.state import LIST_WINDOW_DAYS, SimState
from graph.teams import SERIES

PREFIX = "/trade-api/v2"
_SERIES_LEAGUE = {series: league for league, series in SERIES.items()}


def _limit(request: Request, *, default: int, maximum: int) -> int:
    raw = request.query_params.get("limit")
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise BadRequest(f"limit must be an integer between 1 and {maximum}")
    return int(raw)


def _offset(request: Request) -> int:
    raw = request.query_params.get("cursor", "")
    if not raw:
        return 0
    try:
        decoded = base64.urlsafe_b64decode(raw.encode("ascii")).decode("ascii")
    except (ValueError, UnicodeError):
        raise BadRequest("invalid cursor") from None
    kind, _, number = decoded.partition(":")
    if kind != "o" or not number.isdigit():
        raise BadRequest("invalid cursor")
    return int(number)


def _page(items: list[Any], request: Request, limit: int) -> tuple[list[Any], str]:
    offset = _offset(request)
    end = offset + limit
    cursor = (
        base64.urlsafe_b64encode(f"o:{end}".encode()).decode("ascii") if end < len(items) else ""
    )
    return items[offset:end], cursor


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() == "true"


def _csv(value: str) -> list[str]:
    return list(dict.fromkeys(part for part in value.split(",") if part))


def _status_set(request: Request) -> frozenset[str] | None:
    status = request.query_params.get("status")
    if not status:
        return None
    if status not in STATUS_FILTER:
        raise BadRequest(f"status must be one of {', '.join(STATUS_FILTER)}")
    return STATUS_FILTER[status]


CloseWindow = tuple[datetime | None, datetime | None]


def _close_window(request: Request) -> CloseWindow | None:
    """``min_close_ts``/``max_close_ts`` (Unix seconds, inclusive), or None without them."""
    bounds: list[datetime | None] = []
    for name in ("min_close_ts", "max_close_ts"):
        raw = request.query_params.get(name, "")
        if raw and not raw.isdigit():
            raise BadRequest(f"{name} must be a Unix timestamp in seconds")
        bounds.append(datetime.fromtimestamp(int(raw), UTC) if raw else None)
    if bounds == [None, None]:
        return None
    if request.query_params.get("status", "") not in ("", "closed"):
        raise BadRequest("min_close_ts and max_close_ts combine only with status closed or none")
    return bounds[0], bounds[1]


def _closing(state: SimState, leagues: list[League], window: CloseWindow) -> list[SimGame]:
    """Games on the ET days whose markets can close in ``window`` (a missing bound stays
    at the default listing's edge; at most a month of days)."""
    low, high = window
    today = state.today()
    first = et_date(low - CLOSE_AFTER_START) if low else today + timedelta(LIST_WINDOW_DAYS[0])
    last = et_date(high - CLOSE_AFTER_START) if high else today + timedelta(LIST_WINDOW_DAYS[-1])
    days = [first + timedelta(days=i) for i in range(min((last - first).days + 1, 31))]
    return [game for league in leagues for day in days for game in state.slates.games(league, day)]


def _closes_in(game: SimGame, window: CloseWindow) -> bool:
    low, high = window
    closes = market_close_time(game)
    return (low is None or low <= closes) and (high is None or closes <= high)


def _leagues(request: Request) -> list[League]:
    series = request.query_params.get("series_ticker")
    if not series:
        return list(League)
    league = _SERIES_LEAGUE.get(series)
    return [league] if league is not None else []


def routes(state: SimState) -> list[BaseRoute]:
    """Every Kalshi REST route, wrapped in the shared fault/auth guard."""
    slates, prices = state.slates, state.prices

    async def markets(request: Request) -> Response:
        query = request.query_params
        state.stats.market_queries.append(dict(query))
        limit = _limit(request, default=100, maximum=1000)
        # (game, is_home) pairs; dicts are built for the returned page only.
        found: list[tuple[SimGame, bool]]
        closing = _close_window(request)
        if tickers := query.get("tickers"):
            found = [
                (game, ticker == game.home_ticker)
                for ticker in _csv(tickers)
                if (game := slates.market(ticker)) is not None
            ]
        elif event_ticker := query.get("event_ticker"):
            if "," in event_ticker:
                raise BadRequest("only a single event ticker is supported")
            game = slates.event(event_ticker)
            found = [(game, False), (game, True)] if game is not None else []
        else:
            leagues = _leagues(request)
            games = (
                state.window_games(leagues)
                if closing is None
                else _closing(state, leagues, closing)
            )
            found = [(game, home) for game in games for home in (False, True)]
        if closing is not None:
            found = [(g, home) for g, home in found if _closes_in(g, closing)]
        if series := query.get("series_ticker"):
            found = [(g, home) for g, home in found if SERIES[g.league] == series]
        statuses = _status_set(request)
        if statuses is not None:
            now = state.now()
            found = [(g, home) for g, home in found if market_status(g, now) in statuses]
        page, cursor = _page(found, request, limit)
        now_ms = state.now_ms()
        body = [
            state.faults.mangle_market(market_dict(game, home, prices, now_ms))
            for game, home in page
        ]
        return JSONResponse({"markets": body, "cursor": cursor})

    async def market(request: Request) -> Response:
        ticker = request.path_params["ticker"]
        game = slates.market(ticker)
        if game is None:
            return kalshi_error(404, "not_found", f"market {ticker} not found")
        body = state.faults.mangle_market(
            market_dict(game, ticker == game.home_ticker, prices, state.now_ms())
        )
        return JSONResponse({"market": body})

    async def events(request: Request) -> Response:
        limit = _limit(request, default=200, maximum=200)
        nested = _flag(request, "with_nested_markets")
        now_ms = state.now_ms()
        games: list[SimGame]
        if tickers := request.query_params.get("tickers"):
            games = [g for t in _csv(tickers) if (g := slates.event(t)) is not None]
            if series := request.query_params.get("series_ticker"):
                games = [g for g in games if SERIES[g.league] == series]
        else:
            games = state.window_games(_leagues(request))
        statuses = _status_set(request)
        if statuses is not None:
            now = state.now()
            games = [g for g in games if market_status(g, now) in statuses]
        page, cursor = _page(games, request, limit)
        body = [event_dict(g, prices, now_ms, nested=nested) for g in page]
        return JSONResponse({"events": body, "cursor": cursor})

    async def event(request: Request) -> Response:
        event_ticker = request.path_params["event_ticker"]
        game = slates.event(event_ticker)
        if game is None:
            return kalshi_error(404, "not_found", f"event {event_ticker} not found")
        now_ms = state.now_ms()
        nested = _flag(request, "with_nested_markets")
        return JSONResponse(
            {
                "event": event_dict(game, prices, now_ms, nested=nested),
                "markets": event_markets(game, prices, now_ms),
            }
        )

    async def series_list(request: Request) -> Response:
        category = request.query_params.get("category")
        leagues = list(League) if category in (None, "", "Sports") else []
        return JSONResponse({"series": [series_dict(league) for league in leagues]})

    async def series_one(request: Request) -> Response:
        ticker = request.path_params["series_ticker"]
        league = _SERIES_LEAGUE.get(ticker)
        if league is None:
            return kalshi_error(404, "not_found", f"series {ticker} not found")
        return JSONResponse({"series": series_dict(league)})

    async def balance(request: Request) -> Response:
        return JSONResponse(
            {"balance": 100_000, "portfolio_value": 0, "updated_ts": state.now_ms() // 1000}
        )

    async def not_found(request: Request) -> Response:
        return kalshi_error(404, "not_found", "no such endpoint")

    def route(path: str, kind: str, handler: Handler, *, private: bool = False) -> Route:
        endpoint = guarded(state, kind, handler, kalshi=True, private=private)
        return Route(PREFIX + path, endpoint, methods=["GET"])

    table: list[tuple[str, str, Handler]] = [
        ("/markets", "markets", markets),
        ("/markets/{ticker}", "market", market),
        ("/events", "events", events),
        ("/events/{event_ticker}", "event", event),
        ("/series", "series", series_list),
        ("/series/{series_ticker}", "series", series_one),
    ]
    result: list[BaseRoute] = [route(path, kind, handler) for path, kind, handler in table]
    result.append(route("/portfolio/balance", "portfolio", balance, private=True))
    result.append(Route(PREFIX + "/{rest:path}", not_found))
    return result
