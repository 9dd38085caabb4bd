"""Public game ids: built and parsed here and nowhere else (core).

A game's GraphQL id is ``<league>.<US-Eastern date>.<scoreboard id>``, e.g.
``NBA.20261122.41739942000``: enough to find the game again with one scoreboard request.
"""

from __future__ import annotations

from datetime import date, datetime

from graph.errors import InvalidInput
from graph.espn.parse import eastern_date
from graph.models import Game, League


def public_id(game: Game) -> str:
    """The GraphQL id of ``game``."""
    return f"{game.league}.{eastern_date(game.start_time):%Y%m%d}.{game.id}"


def parse_public_id(value: str) -> tuple[League, date, str]:
    """``(league, day, scoreboard id)`` of a public id; :class:`InvalidInput` if it is not one."""
    try:
        league, day, raw = value.split(".", 2)
        return League(league), datetime.strptime(day, "%Y%m%d").date(), raw
    except ValueError:
        raise InvalidInput(f"not a game id: {value[:60]!r}") from None
