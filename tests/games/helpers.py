"""A GameService on the real simulator, for the games tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from graph.cluster.link import RedisLink
from graph.espn.client import ScoreboardClient
from graph.games.service import GameService
from graph.http import RetryPolicy
from graph.kalshi.rest import KalshiRest
from graph.model.ratings import RatingStore
from graph.sim import Simulator
from tests.e2e import SUNDAY_NOON_UTC

SUNDAY = date(2026, 11, 22)
SATURDAY = date(2026, 11, 21)
NO_RETRY = RetryPolicy(attempts=1)


@asynccontextmanager
async def service_on(
    sim: Simulator, tmp_path: Path, ratings: Any = None, link: RedisLink | None = None
) -> AsyncIterator[GameService]:
    # Replicas (one link each) keep files of their own, as workers do.
    name = "ratings.sqlite3" if link is None else f"ratings-{id(link)}.sqlite3"
    store = RatingStore(tmp_path / name)
    store.open()
    async with httpx.AsyncClient() as http:
        service = GameService(
            rest=KalshiRest(http, sim.rest_url, policy=NO_RETRY, clock=lambda: SUNDAY_NOON_UTC),
            scoreboard=ScoreboardClient(http, sim.scoreboard_url, policy=NO_RETRY),
            ratings=ratings(store) if ratings else store,
            clock=lambda: SUNDAY_NOON_UTC,
            link=link,
        )
        try:
            yield service
        finally:
            await service.aclose()
            store.close()


def fixed_sim(**kwargs: Any) -> Simulator:
    return Simulator(clock=lambda: SUNDAY_NOON_UTC, tick_interval_s=None, **kwargs)
