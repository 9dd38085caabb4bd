"""A Kalshi game-winner listing read as events (pure): sides, order, game number, start time.

How it works. Markets are grouped by event ticker, and only the events of one series and one
US-Eastern date are kept (the ``YYMONDD`` after the series). The rest of an event ticker is an
optional ``HHMM``, the two teams' codes run together (away first), and an optional ``G1``/``G2``
for a doubleheader: ``KXMLBGAME-26SEP041410DETCLEG1``. Codes have no fixed width and may hold a
hyphen (``KXNCAAFGAME-25NOV12TOLM-OH``), so the teams part is split with the outcome codes the
markets themselves carry (what follows ``<event>-`` in their tickers), never with a code table.
Each side's team is left to the evidence (:class:`graph.games.evidence.Resolver`). The start
time is the markets' ``occurrence_datetime``, else the ticker's HHMM (Eastern);
``expected_expiration_time`` bounds it from above.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time

from graph.espn.parse import EASTERN
from graph.games.evidence import Resolver
from graph.models import Market

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_GAME_NUMBER = re.compile(r"G([1-9])")


def day_code(day: date) -> str:
    """Kalshi's ``YYMONDD``: ``26SEP04``."""
    return f"{day:%y}{MONTHS[day.month - 1]}{day:%d}"


@dataclass(frozen=True, slots=True)
class Side:
    """One team of a listed event."""

    code: str
    teams: frozenset[str]  # the team keys the evidence allows
    market: Market | None  # None when only the ticker names this side


@dataclass(frozen=True, slots=True)
class ListedEvent:
    ticker: str
    sides: tuple[Side, Side]  # (away, home) in the ticker's order
    game_number: int  # 0, or n of a "Gn" suffix
    start: datetime | None
    latest: datetime | None  # expected_expiration_time: the game starts before it

    def market(self, code: str) -> Market | None:
        return next((s.market for s in self.sides if s.code == code), None)


def _time(hhmm: str, day: date) -> datetime | None:
    hour, minute = int(hhmm[:2]), int(hhmm[2:])
    if hour > 23 or minute > 59:
        return None
    return datetime.combine(day, time(hour, minute), EASTERN)


def _suffix(rest: str) -> int | None:
    """The game number of a leftover ticker part: 0 for none, n for ``Gn``, None otherwise."""
    if not rest:
        return 0
    found = _GAME_NUMBER.fullmatch(rest)
    return int(found[1]) if found else None


def _split(blob: str, codes: list[str]) -> tuple[list[str], int] | None:
    """(codes in ticker order, game number) of a teams part, split by the markets' codes."""
    for first in codes:
        for second in codes:
            if first != second and blob.startswith(first + second):
                number = _suffix(blob[len(first + second) :])
                if number is not None:
                    return [first, second], number
    if len(codes) == 1:
        (code,) = codes
        found = _GAME_NUMBER.search(blob)
        teams_part = blob[: found.start()] if found and found.end() == len(blob) else blob
        number = int(found[1]) if found and found.end() == len(blob) else 0
        if teams_part.startswith(code) and len(teams_part) > len(code):
            return [code, teams_part[len(code) :]], number
        if teams_part.endswith(code) and len(teams_part) > len(code):
            return [teams_part[: -len(code)], code], number
    return None


def read_events(
    series: str, day: date, markets: Iterable[Market], resolver: Resolver
) -> list[ListedEvent]:
    """The two-team events of ``series`` on Eastern date ``day`` found in ``markets``."""
    prefix = f"{series}-{day_code(day)}"
    grouped: dict[str, dict[str, Market]] = defaultdict(dict)
    for market in markets:
        event = market.event_ticker or market.ticker.rsplit("-", 1)[0]
        if event.startswith(prefix):
            grouped[event][market.ticker] = market
    events = []
    for ticker, by_ticker in grouped.items():
        rest = ticker[len(prefix) :]
        start = None
        if len(rest) > 4 and rest[:4].isdigit():
            start = _time(rest[:4], day)
            rest = rest[4:]
        listed = list(by_ticker.values())
        if len(listed) > 2:
            continue  # not a two-team game winner (e.g. a market on a tie)
        by_code = {m.outcome: m for m in listed}
        split = _split(rest, list(by_code))
        if split is None:
            continue
        codes, number = split
        sides = []
        for code in codes:
            own = by_code.get(code)
            if own is None:  # named by the ticker only: the code is all there is
                sides.append(Side(code, resolver.resolve(code, ""), None))
            else:
                sides.append(Side(code, resolver.resolve(code, own.yes_sub_title, own.title), own))
        first = listed[0]
        occurs = next((m.occurs_at for m in listed if m.occurs_at is not None), None)
        events.append(
            ListedEvent(
                ticker=ticker,
                sides=(sides[0], sides[1]),
                game_number=number,
                start=occurs or start,
                latest=first.expected_expiration,
            )
        )
    return events
