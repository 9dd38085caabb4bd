"""Kalshi JSON shapes for simulated games (pure): market, event, series, ticker message.

Only the current field shapes are emitted (kalshi-api.md §3.4, §4.5): prices are
``*_dollars`` strings (4 decimals on REST, 3 on the WebSocket), counts ``*_fp``
strings with 2 decimals; the integer-cent fields removed in March 2026 never appear.
Team identity follows real listings: the outcome code ends the market ticker,
``yes_sub_title`` is Kalshi's short label ("Los Angeles R", "Vegas"), the title is in the
series' style (``"A at B Winner?"``, ``"A vs B winner?"`` or ``"A wins"``), and
``occurrence_datetime`` is the start time.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from graph.models import GameState, League
from graph.sim.listing import Listed
from graph.sim.prices import PriceBook
from graph.sim.slate import GAME_LENGTH, SimGame
from graph.sim.teams import SERIES, TITLE_STYLE

_COMPETITION: dict[League, str] = {
    League.NFL: "Pro Football",
    League.NBA: "Pro Basketball",
    League.MLB: "Pro Baseball",
    League.NHL: "Pro Hockey",
    League.WNBA: "WNBA",
    League.NCAAF: "College Football",
    League.NCAAMB: "College Basketball",
}
_SERIES_TITLE: dict[League, str] = {
    League.NFL: "Professional Football Game",
    League.NBA: "Professional Basketball Game",
    League.MLB: "Professional Baseball Game",
    League.NHL: "Professional Hockey Game",
    League.WNBA: "WNBA Game",
    League.NCAAF: "College Football Game",
    League.NCAAMB: "Men's College Basketball Game",
}
_MARKET_NS = uuid.UUID("5f1c1d2e-6a43-4f7e-9a51-0c2b7d8e4a10")

# Kalshi's market-status filter vocabulary -> the status values it selects (§3.2).
STATUS_FILTER: dict[str, frozenset[str]] = {
    "unopened": frozenset({"initialized"}),
    "open": frozenset({"active"}),
    "paused": frozenset({"inactive"}),
    "closed": frozenset({"closed", "determined", "disputed", "amended"}),
    "settled": frozenset({"finalized"}),
}


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dollars(cents: int, places: int = 4) -> str:
    return f"{cents / 100:.{places}f}"


def _fp(count: int) -> str:
    return f"{count:.2f}"


def market_id(ticker: str) -> str:
    """A stable UUID per market ticker (Kalshi's ``market_id``)."""
    return str(uuid.uuid5(_MARKET_NS, ticker))


def market_status(game: SimGame, now: datetime) -> str:
    return "finalized" if game.phase(now)[0] is GameState.FINAL else "active"


# A game-winner market is set to close two weeks after the game (kalshi-api.md §3.4's example)
# and closes early once the result is known, which moves ``close_time`` to that moment: what
# the close-time filters of ``GET /markets`` select by.
CLOSE_AFTER_START = timedelta(days=14)


def market_close_time(
    game: SimGame, now: datetime, after_start: timedelta | None = None
) -> datetime:
    if game.phase(now)[0] is GameState.FINAL:
        return game.start + GAME_LENGTH
    return game.start + (CLOSE_AFTER_START if after_start is None else after_start)


def series_dict(league: League) -> dict[str, Any]:
    return {
        "ticker": SERIES[league],
        "frequency": "custom",
        "title": _SERIES_TITLE[league],
        "category": "Sports",
        "tags": ["Sports", _COMPETITION[league]],
        "settlement_sources": [{"name": "ESPN", "url": "https://www.espn.com"}],
        "contract_url": "",
        "contract_terms_url": "",
        "product_metadata": {"competition": _COMPETITION[league], "competition_scope": "Game"},
        "fee_type": "quadratic",
        "fee_multiplier": 1,
        "additional_prohibitions": [],
    }


def market_title(entry: Listed, home: bool, style: str | None = None) -> str:
    """The market title in ``style`` (default: its series' own style)."""
    game = entry.game
    away, home_team = game.away.sub_title, game.home.sub_title
    match style or TITLE_STYLE[game.league]:
        case "wins":
            return f"{(game.home if home else game.away).sub_title} wins"
        case "vs":
            return f"{away} vs {home_team} winner?"
        case _:
            return f"{away} at {home_team} Winner?"


def market_dict(
    entry: Listed, home: bool, prices: PriceBook, now_ms: int, title_style: str | None = None
) -> dict[str, Any]:
    """The REST ``market`` object of one side of a game."""
    game = entry.game
    now = datetime.fromtimestamp(now_ms / 1000, UTC)
    team = game.home if home else game.away
    side = prices.side(game, home, now_ms)
    prev_bid, prev_ask, prev_last = prices.previous(game, home, now_ms)
    status = market_status(game, now)
    settled = status == "finalized"
    won = game.home_wins == home
    open_time = game.start - timedelta(days=7)
    close_time = market_close_time(game, now)
    matchup = f"{game.away.sub_title} at {game.home.sub_title}"
    return {
        "ticker": entry.ticker(home),
        "event_ticker": entry.event_ticker,
        "market_type": "binary",
        "title": market_title(entry, home, title_style),
        "subtitle": "",
        "yes_sub_title": team.sub_title,
        "no_sub_title": team.sub_title,
        "created_time": rfc3339(open_time),
        "updated_time": rfc3339(now),
        "open_time": rfc3339(open_time),
        "close_time": rfc3339(close_time),
        "expected_expiration_time": rfc3339(game.start + timedelta(hours=3)),
        "latest_expiration_time": rfc3339(close_time),
        "occurrence_datetime": rfc3339(game.start),
        "settlement_timer_seconds": 300,
        "status": status,
        "notional_value_dollars": "1.0000",
        "yes_bid_dollars": _dollars(side.bid),
        "yes_ask_dollars": _dollars(side.ask),
        "no_bid_dollars": _dollars(100 - side.ask if side.ask else 0),
        "no_ask_dollars": _dollars(100 - side.bid if side.ask else 0),
        "yes_bid_size_fp": _fp(side.bid_size),
        "yes_ask_size_fp": _fp(side.ask_size),
        "last_price_dollars": _dollars(side.last),
        "previous_yes_bid_dollars": _dollars(prev_bid),
        "previous_yes_ask_dollars": _dollars(prev_ask),
        "previous_price_dollars": _dollars(prev_last),
        "volume_fp": _fp(side.volume),
        "volume_24h_fp": _fp(side.volume // 3),
        "open_interest_fp": _fp(side.open_interest),
        "liquidity_dollars": "0.0000",
        "result": ("yes" if won else "no") if settled else "",
        "settlement_value_dollars": _dollars(100 if won else 0) if settled else None,
        "can_close_early": True,
        "expiration_value": team.sub_title if settled and won else "",
        "rules_primary": (
            f"If {team.sub_title} wins the {matchup} game originally scheduled for "
            f"{game.et_date:%b %d, %Y}, then the market resolves to Yes."
        ),
        "rules_secondary": "",
        "price_level_structure": "linear_cent",
        "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
    }


def event_dict(
    entry: Listed,
    prices: PriceBook,
    now_ms: int,
    *,
    nested: bool = False,
    title_style: str | None = None,
) -> dict[str, Any]:
    """The REST ``event`` object of a game (``markets`` only when ``nested``)."""
    game = entry.game
    joiner = "at" if (title_style or TITLE_STYLE[game.league]) == "at" else "vs"
    event: dict[str, Any] = {
        "event_ticker": entry.event_ticker,
        "series_ticker": SERIES[game.league],
        "title": f"{game.away.sub_title} {joiner} {game.home.sub_title}",
        "sub_title": f"{entry.away_code} {joiner} {entry.home_code} ({game.et_date:%b %d})",
        "collateral_return_type": "MECNET",
        "mutually_exclusive": True,
        "category": "Sports",
        "strike_date": rfc3339(game.start + timedelta(hours=3)),
        "strike_period": "",
        "product_metadata": {
            "competition": _COMPETITION[game.league],
            "competition_scope": "Game",
        },
        "last_updated_ts": rfc3339(datetime.fromtimestamp(now_ms / 1000, UTC)),
        "available_on_brokers": False,
    }
    if nested:
        event["markets"] = event_markets(entry, prices, now_ms, title_style)
    return event


def event_markets(
    entry: Listed, prices: PriceBook, now_ms: int, title_style: str | None = None
) -> list[dict[str, Any]]:
    """Both markets of a game, away first (the order of the event ticker)."""
    return [market_dict(entry, home, prices, now_ms, title_style) for home in (False, True)]


def ticker_msg(entry: Listed, home: bool, prices: PriceBook, now_ms: int) -> dict[str, Any]:
    """The ``msg`` body of a WebSocket ``ticker`` message for one market (§4.5)."""
    game = entry.game
    side = prices.side(game, home, now_ms)
    ticker = entry.ticker(home)
    ts_ms = prices.quote(game, now_ms).updated_ms
    return {
        "market_ticker": ticker,
        "market_id": market_id(ticker),
        "price_dollars": _dollars(side.last, 3),
        "yes_bid_dollars": _dollars(side.bid, 3),
        "yes_ask_dollars": _dollars(side.ask, 3),
        "yes_bid_size_fp": _fp(side.bid_size),
        "yes_ask_size_fp": _fp(side.ask_size),
        "last_trade_size_fp": _fp(side.last_trade_size),
        "volume_fp": _fp(side.volume),
        "open_interest_fp": _fp(side.open_interest),
        "dollar_volume": side.volume * side.last // 100,
        "dollar_open_interest": side.open_interest * side.last // 100,
        "ts": ts_ms // 1000,
        "ts_ms": ts_ms,
        "time": rfc3339(datetime.fromtimestamp(ts_ms / 1000, UTC)),
    }
