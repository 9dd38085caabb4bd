"""Thin async client for the ESPN-shaped scoreboard (ESPN itself or the simulator).

One GET per (league, US-Eastern day) with ``dates=YYYYMMDD`` (never a date range, which ESPN now
rejects, and no ``limit``, which ESPN truncates at >= 600); college scoreboards need ``groups``
or they return only featured games. Retries and error mapping are :func:`graph.http.get_json`'s;
parsing is :mod:`graph.espn.parse`'s. No caching here.
"""

from __future__ import annotations

import logging
from datetime import date

from graph.espn.parse import GameSummary, parse_scoreboard_detailed, parse_summary, scoreboard_dates
from graph.http import JsonSource
from graph.models import Game, League
from graph.teams import ESPN_PATH

logger = logging.getLogger(__name__)

# FBS for college football, all of Division I for men's college basketball.
_GROUPS = {League.NCAAF: "80", League.NCAAMB: "50"}


class ScoreboardClient(JsonSource):
    """ESPN's site API (or the simulator's copy of it): one league's day, one game's summary."""

    async def games(self, league: League, day: date) -> list[Game]:
        """The games ESPN files under US-Eastern ``day`` (unreadable events are logged, dropped)."""
        params = {"dates": scoreboard_dates(day)}
        if league in _GROUPS:
            params["groups"] = _GROUPS[league]
        payload = await self._get_json(
            f"/{ESPN_PATH[league]}/scoreboard", params, what=f"{league} scoreboard"
        )
        parsed = parse_scoreboard_detailed(league, payload)
        for skipped in parsed.skipped:
            logger.warning(
                "Skipped scoreboard event league=%s date=%s event=%s reason=%s",
                league,
                day,
                skipped.event_id,
                skipped.reason,
            )
        logger.debug(
            "Fetched scoreboard league=%s date=%s games=%d skipped=%d",
            league,
            day,
            len(parsed.games),
            len(parsed.skipped),
        )
        return list(parsed.games)

    async def summary(self, league: League, game_id: str) -> GameSummary:
        """The per-game summary (used for each team's previous game date)."""
        payload = await self._get_json(
            f"/{ESPN_PATH[league]}/summary", {"event": game_id}, what=f"{league} game summary"
        )
        return parse_summary(payload)
