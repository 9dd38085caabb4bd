"""The live rating store: current Elo ratings per league, persisted in SQLite.

How it works. ``open()`` creates the schema. An empty (or outdated-model) database is bootstrapped
once by replaying the shipped 538 history (NFL, NBA; team codes mapped to graph.teams keys) with
the shipped parameters; other leagues start at the default rating. Later starts load the stored
state and replay nothing. ``apply_result`` applies a completed game exactly once: the game id,
the two new ratings (all of a league's ratings when a new season regressed them) and the league's
season marker are written in one transaction, and only after the commit does the in-memory
model change, so a failed write leaves both unchanged. The same file holds the live track record
(``track``, :mod:`graph.model.trackstore`): its table survives a model rebuild, which clears only
the ratings.

The same file remembers the Kalshi codes the matcher learned from listings, per league and
season (``kalshi_codes``); a model rebuild keeps them.

Thread-safety: one connection opened with ``check_same_thread=False`` and every database call
under one lock, so the service may call it from ``asyncio.to_thread`` workers. ``model_for``
returns an ``EloModel`` that is never mutated afterwards (updates build a new one), so readers
need no lock; treat it as read-only.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path

from graph import teams
from graph.model.data import HistoricalGame, load_games
from graph.model.elo import MODEL_NAME, MODEL_VERSION, PARAMS, EloModel, GameResult, season_of
from graph.model.trackstore import SCHEMA as TRACK_SCHEMA, TrackStore
from graph.models import League

logger = logging.getLogger(__name__)

HistoryLoader = Callable[[League], Sequence[HistoricalGame]]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS leagues (
    league TEXT PRIMARY KEY, season INTEGER, home_advantage REAL NOT NULL);
CREATE TABLE IF NOT EXISTS ratings (
    league TEXT NOT NULL, team TEXT NOT NULL, rating REAL NOT NULL, last_played TEXT,
    PRIMARY KEY (league, team));
CREATE TABLE IF NOT EXISTS applied_games (
    league TEXT NOT NULL, game_id TEXT NOT NULL, PRIMARY KEY (league, game_id));
CREATE TABLE IF NOT EXISTS kalshi_codes (
    league TEXT NOT NULL, season INTEGER NOT NULL, team TEXT NOT NULL, code TEXT NOT NULL,
    PRIMARY KEY (league, season, team));
"""


def model_version() -> str:
    """MODEL_VERSION plus a digest of the parameters, so a parameter change forces a rebuild."""
    digest = hashlib.sha256(repr(sorted(PARAMS.items())).encode()).hexdigest()[:8]
    return f"{MODEL_VERSION}-{digest}"


def replay_history(league: League, games: Sequence[HistoricalGame]) -> EloModel:
    """Ratings after the shipped history, keyed by graph.teams keys.

    Each team's first rating is 538's published pre-game Elo of its first game (what bench/eval
    calls the 538 seed); from there the shipped parameters run forward.
    """
    model = EloModel(PARAMS[league])
    for game in games:
        for code, pre in ((game.home, game.elo_home_pre), (game.away, game.elo_away_pre)):
            model.ratings.setdefault(code, pre)
        if model.season is None:
            model.season = game.season
        model.update(game.result())
    keyed = EloModel(PARAMS[league], season=model.season, home_advantage=model.home_advantage)
    for code, rating in model.ratings.items():
        team = teams.by_fte(league, code)
        key = team.key if team is not None else code
        if team is None:
            logger.warning("No team for 538 code league=%s code=%s", league, code)
        keyed.ratings[key] = rating
        if code in model.last_played:
            keyed.last_played[key] = model.last_played[code]
    return keyed


class RatingStore:
    """Current ratings of every league, persisted; see the module docstring."""

    def __init__(self, path: str | Path, *, history: HistoryLoader = load_games) -> None:
        self._path = str(path)
        self._history = history
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._models: dict[League, EloModel] = {}
        self._codes: dict[tuple[League, int], dict[str, str]] = {}
        self._version = model_version()
        # The track record lives in the same file, under the same lock (one database).
        self.track = TrackStore(self._connection, self._lock)

    # Lifecycle

    def open(self) -> None:
        """Create the schema; bootstrap from history if empty or built by another model."""
        with self._lock:
            if self._conn is not None:
                return
            conn = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
            self._conn = conn
            conn.executescript(_SCHEMA + TRACK_SCHEMA)
            row = conn.execute("SELECT value FROM meta WHERE key = 'model_version'").fetchone()
            if row is not None and row[0] == self._version:
                self._models = self._load()
                logger.info("Ratings loaded path=%s version=%s", self._path, self._version)
                return
            logger.info(
                "Ratings bootstrapping path=%s version=%s previous=%s",
                self._path,
                self._version,
                row[0] if row else None,
            )
            models = {league: self._bootstrap(league) for league in League}
            conn.execute("BEGIN IMMEDIATE")
            try:
                for table in ("ratings", "leagues", "applied_games", "meta"):
                    conn.execute(f"DELETE FROM {table}")  # fixed table names, no user input
                for league, model in models.items():
                    self._write_league(league, model, list(model.ratings))
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('model_version', ?)", (self._version,)
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            self._models = models

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> RatingStore:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Reads

    def model_for(self, league: League) -> EloModel:
        """The league's current model; never mutated later, treat as read-only."""
        model = self._models.get(league)
        if model is None:
            raise RuntimeError("RatingStore.open() has not been called")
        return model

    def model_name(self, league: League) -> str:
        return f"{MODEL_NAME}-{league.value.lower()} v{self._version}"

    def ratings(self, league: League) -> dict[str, float]:
        return dict(self.model_for(league).ratings)

    def kalshi_codes(self, league: League, season: int) -> dict[str, str]:
        """Team key -> the Kalshi code learned for it in ``season`` (a copy)."""
        with self._lock:
            return dict(self._season_codes(league, season))

    # Writes

    def learn_kalshi_codes(
        self, league: League, season: int, codes: Mapping[str, str]
    ) -> list[tuple[str, str, str | None]]:
        """Remember the codes that differ from what ``season`` knew; returns
        ``(team, code, previous)`` for each change (``previous`` None: nothing learned before)."""
        with self._lock:
            known = self._season_codes(league, season)
            changes = [(t, c, known.get(t)) for t, c in sorted(codes.items()) if known.get(t) != c]
            if not changes:
                return []
            self._connection().executemany(
                "INSERT INTO kalshi_codes (league, season, team, code) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (league, season, team) DO UPDATE SET code = excluded.code",
                [(league.value, season, team, code) for team, code, _ in changes],
            )
            known.update((team, code) for team, code, _ in changes)
            return changes

    def apply_result(
        self,
        league: League,
        game_id: str,
        home_key: str,
        away_key: str,
        home_score: int,
        away_score: int,
        neutral: bool,
        played_at: date | datetime,
        *,
        playoff: bool = False,
    ) -> bool:
        """Apply one completed game exactly once; False when it was applied before."""
        day = played_at.date() if isinstance(played_at, datetime) else played_at
        with self._lock:
            conn = self._connection()
            seen = conn.execute(
                "SELECT 1 FROM applied_games WHERE league = ? AND game_id = ?",
                (league.value, game_id),
            ).fetchone()
            if seen is not None:
                return False
            model = self.model_for(league).copy()
            season = season_of(league, day)
            new_season = model.season is not None and season != model.season
            model.update(
                GameResult(
                    home=home_key,
                    away=away_key,
                    home_score=home_score,
                    away_score=away_score,
                    day=day,
                    season=season,
                    neutral=neutral,
                    playoff=playoff,
                )
            )
            changed = list(model.ratings) if new_season else [home_key, away_key]
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "INSERT INTO applied_games (league, game_id) VALUES (?, ?)",
                    (league.value, game_id),
                )
                self._write_league(league, model, changed)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            self._models[league] = model
        logger.debug(
            "Rating applied league=%s game=%s home=%s away=%s score=%d-%d new_season=%s",
            league,
            game_id,
            home_key,
            away_key,
            home_score,
            away_score,
            new_season,
        )
        return True

    # Internals (called with the lock held)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("RatingStore.open() has not been called")
        return self._conn

    def _season_codes(self, league: League, season: int) -> dict[str, str]:
        codes = self._codes.get((league, season))
        if codes is None:
            rows = self._connection().execute(
                "SELECT team, code FROM kalshi_codes WHERE league = ? AND season = ?",
                (league.value, season),
            )
            codes = self._codes[(league, season)] = dict(rows.fetchall())
        return codes

    def _bootstrap(self, league: League) -> EloModel:
        games = self._history(league)
        if not games:
            return EloModel(PARAMS[league])
        return replay_history(league, games)

    def _write_league(self, league: League, model: EloModel, team_keys: Sequence[str]) -> None:
        conn = self._connection()
        conn.execute(
            "INSERT INTO leagues (league, season, home_advantage) VALUES (?, ?, ?) "
            "ON CONFLICT (league) DO UPDATE SET season = excluded.season, "
            "home_advantage = excluded.home_advantage",
            (league.value, model.season, model.home_advantage),
        )
        conn.executemany(
            "INSERT INTO ratings (league, team, rating, last_played) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (league, team) DO UPDATE SET rating = excluded.rating, "
            "last_played = excluded.last_played",
            [
                (
                    league.value,
                    key,
                    model.ratings[key],
                    _iso(model.last_played.get(key)),
                )
                for key in team_keys
            ],
        )

    def _load(self) -> dict[League, EloModel]:
        conn = self._connection()
        models = {league: EloModel(PARAMS[league]) for league in League}
        for name, season, hfa in conn.execute("SELECT league, season, home_advantage FROM leagues"):
            league = League(name)
            models[league] = EloModel(PARAMS[league], season=season, home_advantage=hfa)
        for name, team, rating, last in conn.execute(
            "SELECT league, team, rating, last_played FROM ratings"
        ):
            model = models[League(name)]
            model.ratings[team] = rating
            if last is not None:
                model.last_played[team] = date.fromisoformat(last)
        return models


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()
