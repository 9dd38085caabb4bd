"""Rating upkeep against the real simulator: each final game applied once."""

from __future__ import annotations

from pathlib import Path

from graph.models import League
from tests.games.helpers import SATURDAY, fixed_sim, service_on


async def test_rating_refresh_applies_each_final_game_once(tmp_path: Path) -> None:
    """Completed games move ratings exactly once, however often the refresh runs."""
    async with fixed_sim() as sim, service_on(sim, tmp_path) as service:
        first = await service.refresh_ratings([League.NBA], days=1)
        again = await service.refresh_ratings([League.NBA], days=1)
        finals = [g for g in await service.games(League.NBA, SATURDAY)]
    assert first == len([g for g in finals if g.state.value == "FINAL"]) > 0
    assert again == 0


async def test_rating_refresh_skips_a_failing_scoreboard(tmp_path: Path) -> None:
    """A scoreboard outage during upkeep is logged and skipped, not raised."""
    async with fixed_sim() as sim, service_on(sim, tmp_path) as service:
        sim.faults.error_rate = 1.0
        assert await service.refresh_ratings([League.NBA], days=1) == 0
