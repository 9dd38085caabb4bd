"""Parsing of ESPN-shaped scoreboard and game-summary JSON into our models.

How it works: a scoreboard body is ``{"events": [event, ...]}`` (sports-data.md §1.3). Each event
is parsed on its own; the body as a whole is only rejected (``UpstreamProtocolError``) when it is
not an object with an ``events`` list. A single event we cannot read (missing teams, bad date,
unknown status, ...) is skipped and reported in :class:`ParsedScoreboard.skipped`, so one odd
game never blanks out a whole slate.

ESPN pitfalls handled here: competitors are chosen by ``homeAway``, never by position; scores
are strings and are read only once a game has started; ``post`` is a final result only when
``completed`` is true (postponed and cancelled games have their own status names); start times
come without seconds (``2024-11-10T18:00Z``) and are UTC. Games are filed under their
US-Eastern date (:func:`eastern_date`), which is also the ``dates=`` value ESPN expects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from graph.errors import UpstreamProtocolError
from graph.models import Game, GameState, League, TeamRef

__all__ = [
    "GameSummary",
    "ParsedScoreboard",
    "SkippedEvent",
    "eastern_date",
    "parse_scoreboard",
    "parse_scoreboard_detailed",
    "parse_summary",
    "parse_timestamp",
    "rest_days",
    "scoreboard_dates",
]

EASTERN = ZoneInfo("America/New_York")


class _BadEvent(Exception):
    """One event of a scoreboard is unreadable; the message says why."""


@dataclass(frozen=True, slots=True)
class SkippedEvent:
    event_id: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class ParsedScoreboard:
    games: tuple[Game, ...]
    skipped: tuple[SkippedEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class GameSummary:
    """What we read from ``summary?event=ID``: each team's most recent earlier game."""

    game_id: str
    last_game_dates: Mapping[str, datetime | None] = field(default_factory=dict)


def _utc(dt: datetime) -> datetime:
    # Every upstream we read reports UTC; a naive value is taken as UTC.
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def eastern(dt: datetime) -> datetime:
    """``dt`` in US-Eastern time (naive values are taken as UTC)."""
    return _utc(dt).astimezone(EASTERN)


def eastern_date(dt: datetime) -> date:
    """The US-Eastern calendar date of ``dt`` (naive values are taken as UTC)."""
    return eastern(dt).date()


def scoreboard_dates(day: date) -> str:
    """The ``dates=`` query value for one day: ``YYYYMMDD``."""
    return f"{day:%Y%m%d}"


def parse_timestamp(value: object) -> datetime:
    """Parse an ESPN timestamp (``2024-11-10T18:00Z``, ``...T18:00:00.000+00:00``) as UTC."""
    if not isinstance(value, str):
        raise ValueError(f"timestamp is {type(value).__name__}, not a string")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _obj(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _BadEvent(f"{what} is not an object")
    return value


def _str(value: object, what: str) -> str:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise _BadEvent(f"{what} is missing")


def _state(status: Mapping[str, Any]) -> GameState:
    kind = _obj(status.get("type"), "status.type")
    name = kind.get("name")
    state = kind.get("state")
    if name == "STATUS_POSTPONED":
        return GameState.POSTPONED
    if name in ("STATUS_CANCELED", "STATUS_CANCELLED"):
        return GameState.CANCELED
    # STATUS_DELAYED keeps ESPN's state: "pre" for a delayed start, "in" for a stoppage.
    if state == "pre":
        return GameState.SCHEDULED
    if state == "in":
        return GameState.LIVE
    if state == "post":
        if kind.get("completed") is True or str(name).startswith("STATUS_FINAL"):
            return GameState.FINAL
        # Ended without a result (suspended, abandoned): no final score to report.
        return GameState.POSTPONED
    raise _BadEvent(f"unknown status state={state!r} name={name!r}")


def _score(competitor: Mapping[str, Any], side: str) -> int | None:
    raw = competitor.get("score")
    if isinstance(raw, Mapping):  # some endpoints wrap it: {"value": 21.0, "displayValue": "21"}
        raw = raw.get("displayValue", raw.get("value"))
    if raw is None or raw == "":
        return None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return int(raw)
    if isinstance(raw, str) and raw.strip().isdigit():
        return int(raw)
    raise _BadEvent(f"{side} score {raw!r} is not a number")


def _record(competitor: Mapping[str, Any]) -> str | None:
    records = competitor.get("records")
    if not isinstance(records, list):
        return None
    for record in records:
        if isinstance(record, Mapping) and record.get("type") == "total":
            summary = record.get("summary")
            return summary if isinstance(summary, str) and summary else None
    return None


def _team(competitor: Mapping[str, Any], side: str) -> TeamRef:
    team = _obj(competitor.get("team"), f"{side} team")
    code = _str(team.get("abbreviation"), f"{side} team abbreviation")
    name = team.get("displayName")
    espn_id = team.get("id", competitor.get("id"))
    return TeamRef(
        code=code,
        name=name if isinstance(name, str) and name else code,
        record=_record(competitor),
        espn_id=str(espn_id) if isinstance(espn_id, str | int) and espn_id != "" else None,
    )


def _game(league: League, event: Mapping[str, Any]) -> Game:
    event_id = _str(event.get("id"), "event id")
    competitions = event.get("competitions")
    if not isinstance(competitions, list) or not competitions:
        raise _BadEvent("no competitions")
    competition = _obj(competitions[0], "competition")
    competitors = competition.get("competitors")
    if not isinstance(competitors, list):
        raise _BadEvent("no competitors")
    sides: dict[str, Mapping[str, Any]] = {}
    for competitor in competitors:
        side = _obj(competitor, "competitor").get("homeAway")
        if side in ("home", "away"):
            if side in sides:
                raise _BadEvent(f"two {side} competitors")
            sides[side] = competitor
    if set(sides) != {"home", "away"}:
        raise _BadEvent("competitors lack a home and an away team")
    status = _obj(event.get("status", competition.get("status")), "status")
    state = _state(status)
    try:
        start = parse_timestamp(event.get("date", competition.get("date")))
    except ValueError as exc:
        raise _BadEvent(f"bad start time: {exc}") from None
    scored = state in (GameState.LIVE, GameState.FINAL)
    venue = competition.get("venue")
    venue_name = venue.get("fullName") if isinstance(venue, Mapping) else None
    detail = status["type"].get("shortDetail")
    return Game(
        id=event_id,
        league=league,
        start_time=start,
        state=state,
        home=_team(sides["home"], "home"),
        away=_team(sides["away"], "away"),
        home_score=_score(sides["home"], "home") if scored else None,
        away_score=_score(sides["away"], "away") if scored else None,
        venue=venue_name if isinstance(venue_name, str) and venue_name else None,
        neutral_site=competition.get("neutralSite") is True,
        status_detail=detail if isinstance(detail, str) and detail else None,
    )


def parse_scoreboard_detailed(league: League, payload: Any) -> ParsedScoreboard:
    """Parse a scoreboard body, keeping the events we had to skip and why.

    Raises:
        UpstreamProtocolError: the body is not an object with an ``events`` list.
    """
    if not isinstance(payload, Mapping):
        raise UpstreamProtocolError(f"{league} scoreboard: body is not a JSON object")
    events = payload.get("events")
    if not isinstance(events, list):
        raise UpstreamProtocolError(f"{league} scoreboard: body has no 'events' list")
    games: list[Game] = []
    skipped: list[SkippedEvent] = []
    for event in events:
        raw_id = event.get("id") if isinstance(event, Mapping) else None
        try:
            games.append(_game(league, _obj(event, "event")))
        except _BadEvent as exc:
            skipped.append(SkippedEvent(str(raw_id) if raw_id is not None else None, str(exc)))
    return ParsedScoreboard(tuple(games), tuple(skipped))


def parse_scoreboard(league: League, payload: Any) -> list[Game]:
    """The games of a scoreboard body; unreadable single events are dropped."""
    return list(parse_scoreboard_detailed(league, payload).games)


def parse_summary(payload: Any) -> GameSummary:
    """Read each team's most recent game before this one from a ``summary`` body.

    ``lastFiveGames`` lists, per team, its previous games (most recent first by ESPN's
    convention; we take the latest date anyway). Dates at or after this game's own start
    (``header.competitions[0].date``, when present) are ignored. A team whose list is empty or
    unreadable maps to ``None``.

    Raises:
        UpstreamProtocolError: not an object, or no game id in ``header.id``/``id``.
    """
    if not isinstance(payload, Mapping):
        raise UpstreamProtocolError("game summary: body is not a JSON object")
    header = payload.get("header")
    header = header if isinstance(header, Mapping) else {}
    game_id = header.get("id", payload.get("id"))
    if not isinstance(game_id, str | int) or game_id == "":
        raise UpstreamProtocolError("game summary: body has no game id")
    start = _summary_start(header)
    last: dict[str, datetime | None] = {}
    blocks = payload.get("lastFiveGames")
    for block in blocks if isinstance(blocks, list) else ():
        if not isinstance(block, Mapping) or not isinstance(block.get("team"), Mapping):
            continue
        code = block["team"].get("abbreviation")
        if not isinstance(code, str) or not code:
            continue
        dates: list[datetime] = []
        events = block.get("events")
        for event in events if isinstance(events, list) else ():
            try:
                when = parse_timestamp(
                    event.get("gameDate") if isinstance(event, Mapping) else None
                )
            except ValueError:
                continue
            if start is None or when < start:
                dates.append(when)
        last[code] = max(dates, default=None)
    return GameSummary(game_id=str(game_id), last_game_dates=last)


def _summary_start(header: Mapping[str, Any]) -> datetime | None:
    competitions = header.get("competitions")
    if not isinstance(competitions, list) or not competitions:
        return None
    first = competitions[0]
    try:
        return parse_timestamp(first.get("date") if isinstance(first, Mapping) else None)
    except ValueError:
        return None


def rest_days(summary: GameSummary, team_code: str, start_time: datetime) -> int | None:
    """Calendar days (US-Eastern) since ``team_code``'s previous game; ``None`` if unknown.

    Counted like the model was fitted (dates, not elapsed hours): 8 pm one night then 7 pm
    the next is 1 day, a back-to-back, though fewer than 24 hours passed.
    """
    last = summary.last_game_dates.get(team_code)
    if last is None or last >= _utc(start_time):
        return None
    return (eastern_date(start_time) - eastern_date(last)).days
