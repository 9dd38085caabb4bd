"""Kalshi JSON shapes for simulated games (pure): market, event, series, ticker message.

Only the current field shapes are emitted (kalshi-api.md §3.4, §4.5): prices are
``*_dollars`` strings (4 decimals on REST, 3 on the WebSocket), counts ``*_fp``
strings with 2 decimals; the integer-cent fields removed in March 2026 never appear.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from graph.models import GameState, League
from graph.sim.prices import PriceBook
from graph.sim.slate import SimGame
from graph.teams import SERIES

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


# A game-winner market closes two weeks after the game (it can close early, once the
# result is known): the ``close_time`` that ``GET /markets``'s close-time filters look at.
CLOSE_AFTER_START = timedelta(days=14)


def market_close_time(game: SimGame) -> datetime:
    return game.start + CLOSE_AFTER_START


def market_dict(game: SimGame, home: bool, prices: PriceBook, now_ms: int) -> dict[str, Any]:
    """The REST ``market`` object of one side of a game."""
    now = datetime.fromtimestamp(now_ms / 1000, UTC)
    team = game.home if home else game.away
    side = prices.side(game, home, now_ms)
    prev_bid, prev_ask, prev_last = prices.previous(game, home, now_ms)
    status = market_status(game, now)
    settled = status == "finalized"
    won = game.home_wins == home
    open_time = game.start - timedelta(days=7)
    close_time = market_close_time(game)
    return {
        "ticker": game.home_ticker if home else game.away_ticker,
        "event_ticker": game.event_ticker,
        "market_type": "binary",
        "title": f"{game.away.location} at {game.home.location} Winner?",
        "subtitle": "",
        "yes_sub_title": team.location,
        "no_sub_title": team.location,
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
        "expiration_value": team.location if settled and won else "",
        "rules_primary": (
            f"If {team.location} wins the {game.away.location} at {game.home.location} game "
            f"originally scheduled for {game.et_date:%b %d, %Y}, then the market resolves to Yes."
        ),
        "rules_secondary": "",
        "price_level_structure": "linear_cent",
        "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
    }


def event_dict(
    game: SimGame, prices: PriceBook, now_ms: int, *, nested: bool = False
) -> dict[str, Any]:
    """The REST ``event`` object of a game (``markets`` only when ``nested``)."""
    event: dict[str, Any] = {
        "event_ticker": game.event_ticker,
        "series_ticker": SERIES[game.league],
        "title": f"{game.away.location} at {game.home.location}",
        "sub_title": f"{game.away.kalshi} at {game.home.kalshi} ({game.et_date:%b %d})",
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
        event["markets"] = event_markets(game, prices, now_ms)
    return event


def event_markets(game: SimGame, prices: PriceBook, now_ms: int) -> list[dict[str, Any]]:
    """Both markets of a game, away first (the order of the event ticker)."""
    return [market_dict(game, home, prices, now_ms) for home in (False, True)]


def ticker_msg(game: SimGame, home: bool, prices: PriceBook, now_ms: int) -> dict[str, Any]:
    """The ``msg`` body of a WebSocket ``ticker`` message for one market (§4.5)."""
    side = prices.side(game, home, now_ms)
    ticker = game.home_ticker if home else game.away_ticker
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
