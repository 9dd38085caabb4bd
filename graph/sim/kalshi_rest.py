"""Kalshi REST endpoints of the simulator (``/trade-api/v2/...``, kalshi-api.md §3).

Markets resolve lazily from their ticker's date, so any date works; list calls
without an event or ticker filter cover yesterday to three days ahead (ET). With
``min_close_ts``/``max_close_ts`` (status ``closed`` or none) or ``min_settled_ts``/
``max_settled_ts`` (status ``settled`` or none) they cover every market whose close (settle)
time falls in that range instead, looking at most 60 days back. A market closes two weeks
after its game, or when the game ends (then it also settles).
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
    rfc3339,
    series_dict,
)
from graph.sim.listing import Listed
from graph.sim.slate import SimGame, et_date
from graph.sim.state import LIST_WINDOW_DAYS, SINCE_MAX_DAYS, SimState
from graph.sim.teams import SERIES

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


Window = tuple[str, datetime | None, datetime | None]  # (close | settled, low, high)
_WINDOWS = (("close", "closed"), ("settled", "settled"))


def _window(request: Request) -> Window | None:
    """The close- or settle-time range asked for (Unix seconds, inclusive), as Kalshi takes it:
    ``*_close_ts`` with status closed or none, ``*_settled_ts`` with settled or none."""
    status = request.query_params.get("status", "")
    for kind, allowed in _WINDOWS:
        bounds: list[datetime | None] = []
        for edge in ("min", "max"):
            name = f"{edge}_{kind}_ts"
            raw = request.query_params.get(name, "")
            if raw and not raw.isdigit():
                raise BadRequest(f"{name} must be Unix seconds")
            bounds.append(datetime.fromtimestamp(min(int(raw), 2**40), UTC) if raw else None)
        if bounds != [None, None]:
            if status not in ("", allowed):
                raise BadRequest(f"{kind} time filters combine only with status {allowed} or none")
            return kind, bounds[0], bounds[1]
    return None


def _in_window(state: SimState, leagues: list[League], window: Window) -> list[SimGame]:
    """Games of ``leagues`` whose markets close (settle) within ``window``."""
    kind, low, high = window
    now, today = state.now(), state.today()
    first = today - timedelta(SINCE_MAX_DAYS) if low is None else et_date(low - CLOSE_AFTER_START)
    last = today + timedelta(LIST_WINDOW_DAYS[-1]) if high is None else et_date(high)
    first = max(first - timedelta(days=1), today - timedelta(SINCE_MAX_DAYS))
    days = [first + timedelta(days=i) for i in range(max((last - first).days + 1, 0))]
    return [
        game
        for league in leagues
        for day in days[: SINCE_MAX_DAYS + CLOSE_AFTER_START.days]
        for game in state.slates.games(league, day)
        if _between(_closes(game, now, kind, state.faults.close_after_start), low, high)
    ]


def _closes(
    game: SimGame, now: datetime, kind: str, after_start: timedelta | None
) -> datetime | None:
    """When ``game``'s markets close, or settle (None: not settled yet)."""
    closes = market_close_time(game, now, after_start)
    if kind == "close":
        return closes
    return closes if market_status(game, now) == "finalized" else None


def _between(moment: datetime | None, low: datetime | None, high: datetime | None) -> bool:
    if moment is None:
        return False
    return (low is None or low <= moment) and (high is None or moment <= high)


def _leagues(request: Request) -> list[League]:
    series = request.query_params.get("series_ticker")
    if not series:
        return list(League)
    league = _SERIES_LEAGUE.get(series)
    return [league] if league is not None else []


def routes(state: SimState) -> list[BaseRoute]:
    """Every Kalshi REST route, wrapped in the shared fault/auth guard."""
    prices = state.prices

    def market_body(entry: Listed, home: bool, now_ms: int) -> dict[str, Any]:
        body = market_dict(entry, home, prices, now_ms, state.faults.title_style)
        if state.faults.close_after_start is not None:
            closes = market_close_time(entry.game, state.now(), state.faults.close_after_start)
            body["close_time"] = rfc3339(closes)
        return state.faults.mangle_market(body)

    async def markets(request: Request) -> Response:
        query = request.query_params
        state.stats.market_queries.append(dict(query))
        limit = _limit(request, default=100, maximum=1000)
        # (listed game, is_home) pairs; dicts are built for the returned page only.
        found: list[tuple[Listed, bool]]
        if tickers := query.get("tickers"):
            found = [hit for ticker in _csv(tickers) if (hit := state.find_market(ticker))]
        elif event_ticker := query.get("event_ticker"):
            if "," in event_ticker:
                raise BadRequest("only a single event ticker is supported")
            entry = state.find_event(event_ticker)
            found = [(entry, False), (entry, True)] if entry is not None else []
        else:
            window = _window(request)
            leagues = _leagues(request)
            games = (
                state.window_games(leagues)
                if window is None
                else _in_window(state, leagues, window)
            )
            found = [(state.listed(game), home) for game in games for home in (False, True)]
        if series := query.get("series_ticker"):
            found = [(e, home) for e, home in found if SERIES[e.game.league] == series]
        statuses = _status_set(request)
        if statuses is not None:
            now = state.now()
            found = [(e, home) for e, home in found if market_status(e.game, now) in statuses]
        page, cursor = _page(found, request, limit)
        now_ms = state.now_ms()
        body = [market_body(entry, home, now_ms) for entry, home in page]
        return JSONResponse({"markets": body, "cursor": cursor})

    async def market(request: Request) -> Response:
        ticker = request.path_params["ticker"]
        hit = state.find_market(ticker)
        if hit is None:
            return kalshi_error(404, "not_found", f"market {ticker} not found")
        return JSONResponse({"market": market_body(*hit, state.now_ms())})

    async def events(request: Request) -> Response:
        limit = _limit(request, default=200, maximum=200)
        nested = _flag(request, "with_nested_markets")
        now_ms = state.now_ms()
        entries: list[Listed]
        if tickers := request.query_params.get("tickers"):
            entries = [e for t in _csv(tickers) if (e := state.find_event(t)) is not None]
            if series := request.query_params.get("series_ticker"):
                entries = [e for e in entries if SERIES[e.game.league] == series]
        else:
            entries = [state.listed(g) for g in state.window_games(_leagues(request))]
        statuses = _status_set(request)
        if statuses is not None:
            now = state.now()
            entries = [e for e in entries if market_status(e.game, now) in statuses]
        page, cursor = _page(entries, request, limit)
        style = state.faults.title_style
        body = [event_dict(e, prices, now_ms, nested=nested, title_style=style) for e in page]
        return JSONResponse({"events": body, "cursor": cursor})

    async def event(request: Request) -> Response:
        event_ticker = request.path_params["event_ticker"]
        entry = state.find_event(event_ticker)
        if entry is None:
            return kalshi_error(404, "not_found", f"event {event_ticker} not found")
        now_ms = state.now_ms()
        nested = _flag(request, "with_nested_markets")
        style = state.faults.title_style
        return JSONResponse(
            {
                "event": event_dict(entry, prices, now_ms, nested=nested, title_style=style),
                "markets": event_markets(entry, prices, now_ms, style),
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

    async def exchange_status(request: Request) -> Response:
        # Public, like Kalshi's; signed requests are checked all the same (the guard).
        return JSONResponse({"exchange_active": True, "trading_active": True})

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
        ("/exchange/status", "exchange_status", exchange_status),
    ]
    result: list[BaseRoute] = [route(path, kind, handler) for path, kind, handler in table]
    result.append(route("/portfolio/balance", "portfolio", balance, private=True))
    result.append(Route(PREFIX + "/{rest:path}", not_found))
    return result
