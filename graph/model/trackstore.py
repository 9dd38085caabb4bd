"""The track record's table in the rating store's SQLite file (adapter).

How it works. One row per (league, game): the last pre-game snapshot (``record``) and, once the
game is final, its result (``settle``). The primary key makes a game one row however often it is
recorded, across restarts too; an upsert only lands while the snapshot is taken before the
start and the game is unsettled, so a restart mid-game cannot replace the pre-game view with a
later one, and ``settle`` writes a result once. :class:`graph.model.ratings.RatingStore` owns
the connection and the lock and creates the table with its own (``SCHEMA``); this class only
reads and writes rows, so the file stays one database.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime

from graph.model.track import TrackEntry
from graph.models import BetSide, League

SCHEMA = """
CREATE TABLE IF NOT EXISTS track_record (
    league TEXT NOT NULL, game_id TEXT NOT NULL, day TEXT NOT NULL,
    start_ms INTEGER NOT NULL, recorded_ms INTEGER NOT NULL, model TEXT NOT NULL,
    p_model REAL NOT NULL, p_market REAL,
    bet_side TEXT, bet_ticker TEXT, bet_price REAL, bet_stake REAL,
    outcome REAL, settled_ms INTEGER,
    PRIMARY KEY (league, game_id));
"""
_COLUMNS = (
    "league, game_id, day, start_ms, recorded_ms, model, p_model, p_market, "
    "bet_side, bet_ticker, bet_price, bet_stake"
)
_SNAPSHOT = "recorded_ms, model, p_model, p_market, bet_side, bet_ticker, bet_price, bet_stake"


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class TrackStore:
    """Rows of the track record; see the module docstring."""

    def __init__(self, connection: Callable[[], sqlite3.Connection], lock: threading.Lock) -> None:
        self._connection = connection
        self._lock = lock

    def record(self, entry: TrackEntry, day: date) -> bool:
        """Store or refresh a game's pre-game snapshot; False once it started or settled."""
        if entry.recorded_at >= entry.start_time:
            return False
        update = ", ".join(f"{c} = excluded.{c}" for c in _SNAPSHOT.split(", "))
        row = (
            entry.league.value,
            entry.game_id,
            day.isoformat(),
            _ms(entry.start_time),
            _ms(entry.recorded_at),
            entry.model,
            entry.p_model,
            entry.p_market,
            entry.bet_side.value if entry.bet_side else None,
            entry.bet_ticker,
            entry.bet_price,
            entry.bet_stake,
        )
        with self._lock:
            cursor = self._connection().execute(
                f"INSERT INTO track_record ({_COLUMNS}) VALUES ({', '.join('?' * len(row))}) "
                f"ON CONFLICT (league, game_id) DO UPDATE SET {update} "
                "WHERE track_record.outcome IS NULL "
                "AND excluded.recorded_ms < track_record.start_ms "
                "AND excluded.recorded_ms >= track_record.recorded_ms",
                row,
            )
            return cursor.rowcount == 1

    def settle(self, league: League, game_id: str, outcome: float, at: datetime) -> bool:
        """Write a recorded game's result once; False if unknown or already settled."""
        with self._lock:
            cursor = self._connection().execute(
                "UPDATE track_record SET outcome = ?, settled_ms = ? "
                "WHERE league = ? AND game_id = ? AND outcome IS NULL",
                (outcome, _ms(at), league.value, game_id),
            )
            return cursor.rowcount == 1

    def entries(self, league: League, since: date | None = None) -> list[TrackEntry]:
        """The league's rows (games on or after ``since``, US-Eastern days), by start time."""
        with self._lock:
            rows = self._connection().execute(
                f"SELECT {_COLUMNS}, outcome FROM track_record "
                "WHERE league = ? AND day >= ? ORDER BY start_ms, game_id",
                (league.value, since.isoformat() if since else ""),
            )
            found = rows.fetchall()
        return [
            TrackEntry(
                league=League(r[0]),
                game_id=r[1],
                start_time=_time(r[3]),
                recorded_at=_time(r[4]),
                model=r[5],
                p_model=r[6],
                p_market=r[7],
                bet_side=BetSide(r[8]) if r[8] else None,
                bet_ticker=r[9],
                bet_price=r[10],
                bet_stake=r[11],
                outcome=r[12],
            )
            for r in found
        ]
