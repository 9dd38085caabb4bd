"""The pieces create_app wires (graph.assembly)."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from graph.assembly import cancel, refresh_forever
from graph.settings import Settings


async def test_rating_upkeep_survives_a_failing_pass(caplog: pytest.LogCaptureFixture) -> None:
    """An unexpected error in one pass (ratings or track record) is logged; the loop goes on,
    and a failed rating refresh does not skip the track record's pass."""
    calls = 0
    recorded = 0
    second = asyncio.Event()

    class Flaky:
        async def refresh_ratings(self, leagues: object) -> int:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise sqlite3.OperationalError("database is locked")
            return 3

        async def record_track(self, leagues: object) -> int:
            nonlocal recorded
            recorded += 1
            if recorded == 2:
                raise sqlite3.OperationalError("disk I/O error")
            if recorded == 3:
                second.set()
            return 1

    task = asyncio.create_task(
        refresh_forever(Flaky(), Settings(_env_file=None), 0)  # type: ignore[arg-type, call-arg]
    )
    await asyncio.wait_for(second.wait(), timeout=10)
    await cancel(task)
    assert "Ratings refresh failed" in caplog.text
    assert "database is locked" in caplog.text
    assert "Track record pass failed" in caplog.text and "disk I/O error" in caplog.text
    assert calls >= 3 and task.cancelled()
