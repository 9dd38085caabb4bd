from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from graph.model.track import TrackEntry
from graph.model.trackstore import SCHEMA, TrackStore
from graph.models import BetSide, League

START = datetime(2026, 11, 22, 18, tzinfo=UTC)
DAY = date(2026, 11, 22)
ENTRY = TrackEntry(
    league=League.NFL,
    game_id="NFL.20261122.1",
    start_time=START,
    recorded_at=START - timedelta(hours=2),
    model="elo-nfl v1",
    p_model=0.6,
    p_market=0.55,
    bet_side=BetSide.HOME,
    bet_ticker="KXNFLGAME-26NOV22NYGDAL-DAL",
    bet_price=0.57,
    bet_stake=0.01,
)


@contextmanager
def opened(path: Path) -> Iterator[TrackStore]:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.executescript(SCHEMA)
    try:
        yield TrackStore(lambda: conn, threading.Lock())
    finally:
        conn.close()


def test_a_snapshot_round_trips(tmp_path: Path) -> None:
    """What is recorded is read back as it was, bet and all."""
    with opened(tmp_path / "db") as store:
        assert store.record(ENTRY, DAY)
        assert store.entries(League.NFL) == [ENTRY]
        assert store.entries(League.NBA) == []


def test_later_pre_game_snapshots_replace_earlier_ones_until_the_start(tmp_path: Path) -> None:
    """One row per game: the last view before the start wins; nothing after the start lands."""
    with opened(tmp_path / "db") as store:
        store.record(ENTRY, DAY)
        later = replace(ENTRY, recorded_at=START - timedelta(minutes=5), p_market=0.58)
        assert store.record(later, DAY)
        assert not store.record(replace(ENTRY, recorded_at=START, p_market=0.9), DAY)
        assert not store.record(ENTRY, DAY)  # older than what is stored
        assert store.entries(League.NFL) == [later]


def test_settling_happens_once_and_freezes_the_snapshot(tmp_path: Path) -> None:
    """A result is written once; a settled game takes no more snapshots; unknown games no-op."""
    with opened(tmp_path / "db") as store:
        store.record(ENTRY, DAY)
        assert store.settle(League.NFL, ENTRY.game_id, 1.0, START + timedelta(hours=4))
        assert not store.settle(League.NFL, ENTRY.game_id, 0.0, START + timedelta(hours=5))
        assert not store.settle(League.NFL, "NFL.20261122.404", 1.0, START)
        assert not store.record(replace(ENTRY, recorded_at=START - timedelta(days=9)), DAY)
        [settled] = store.entries(League.NFL)
        assert settled.outcome == 1.0 and settled.p_market == ENTRY.p_market


def test_a_restart_neither_loses_nor_duplicates(tmp_path: Path) -> None:
    """Reopening the file finds every row once; re-recording and re-settling change nothing."""
    path = tmp_path / "db"
    with opened(path) as store:
        store.record(ENTRY, DAY)
        store.settle(League.NFL, ENTRY.game_id, 0.0, START + timedelta(hours=4))
    with opened(path) as store:
        assert not store.record(ENTRY, DAY)
        assert not store.settle(League.NFL, ENTRY.game_id, 0.0, START + timedelta(hours=4))
        assert [e.outcome for e in store.entries(League.NFL)] == [0.0]


def test_since_filters_by_game_day(tmp_path: Path) -> None:
    """Only games on or after ``since`` (US-Eastern days) are returned, by start time."""
    with opened(tmp_path / "db") as store:
        early = replace(
            ENTRY,
            game_id="NFL.20261115.2",
            start_time=START - timedelta(days=7),
            recorded_at=START - timedelta(days=8),
            bet_side=None,
            bet_ticker=None,
            bet_price=None,
            bet_stake=None,
        )
        store.record(ENTRY, DAY)
        store.record(early, DAY - timedelta(days=7))
        assert [e.game_id for e in store.entries(League.NFL)] == [early.game_id, ENTRY.game_id]
        assert [e.game_id for e in store.entries(League.NFL, DAY)] == [ENTRY.game_id]
