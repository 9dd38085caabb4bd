"""The live track record: snapshots before the start, results when final, scores over GraphQL."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from graph.games.batches import GameSet
from graph.games.matching import GameMarkets
from graph.games.service import GameService
from graph.games.track import entry, outcome, record_upcoming
from graph.model.policy import DEFAULT_POLICIES, LeaguePolicy, Thresholds
from graph.model.ratings import RatingStore
from graph.models import (
    Bet,
    BetSide,
    Confidence,
    Evidence,
    Game,
    GameState,
    League,
    Prediction,
    TeamRef,
)
from graph.sim import Simulator
from tests.e2e import SUNDAY_NOON_UTC, gql, running_app

SUNDAY = date(2026, 11, 22)
START = datetime(2026, 11, 22, 18, tzinfo=UTC)
PREDICTION = Prediction(
    home_win_probability=0.6,
    away_win_probability=0.4,
    confidence=Confidence.MEDIUM,
    model="elo-nfl v1",
    market_home_win_probability=0.55,
    bet=Bet(BetSide.HOME, "KXNFLGAME-26NOV22NYGDAL-DAL", 0.57, 0.6, 0.01),
)


def game(
    gid: str, state: GameState = GameState.SCHEDULED, score: tuple[int, int] | None = None
) -> Game:
    return Game(
        id=gid,
        league=League.NFL,
        start_time=START,
        state=state,
        home=TeamRef("DAL", "Dallas Cowboys"),
        away=TeamRef("NYG", "New York Giants"),
        home_score=score[0] if score else None,
        away_score=score[1] if score else None,
    )


@pytest.mark.parametrize(
    ("state", "score", "expected"),
    [
        pytest.param(GameState.FINAL, (24, 17), 1.0, id="home-won"),
        pytest.param(GameState.FINAL, (17, 24), 0.0, id="home-lost"),
        pytest.param(GameState.FINAL, (20, 20), 0.5, id="tie"),
        pytest.param(GameState.LIVE, (7, 0), None, id="not-over"),
        pytest.param(GameState.FINAL, None, None, id="no-score"),
    ],
)
def test_outcome(state: GameState, score: tuple[int, int] | None, expected: float | None) -> None:
    """Only a final game with a score has an outcome; a tie counts half."""
    assert outcome(game("1", state, score)) == expected


def test_entry_keeps_both_probabilities_and_the_bet() -> None:
    """A snapshot is the prediction as it stood: ours, Kalshi's, the bet and its ask."""
    now = START - timedelta(hours=1)
    e = entry(game("401"), PREDICTION, now)
    assert (e.game_id, e.recorded_at, e.p_model, e.p_market) == ("NFL.20261122.401", now, 0.6, 0.55)
    assert (e.bet_side, e.bet_price, e.bet_stake) == (BetSide.HOME, 0.57, 0.01)
    plain = entry(game("402"), replace(PREDICTION, bet=None), now)
    assert (plain.bet_side, plain.bet_ticker, plain.bet_price, plain.bet_stake) == (None,) * 4


@dataclass
class Recorded:
    rows: list[Any]

    def record(self, e: Any, day: date) -> bool:
        self.rows.append((e.game_id, day))
        return True


async def test_only_games_not_yet_started_are_recorded() -> None:
    """Started, live, final games and failed predictions are skipped; the rest stored once."""
    games = [
        game("1"),
        game("2", GameState.LIVE),
        replace(game("3"), start_time=START - timedelta(hours=2)),
        game("4"),
    ]

    async def schedule(league: League, day: date) -> list[Game]:
        return games if league is League.NFL else []

    async def markets(gs: Sequence[Game]) -> list[GameMarkets]:
        return []

    async def predictions(gs: Sequence[Game], _: Any) -> list[Prediction | BaseException]:
        assert [g.id for g in gs] == ["1", "4"]
        return [PREDICTION, RuntimeError("no rating")]

    store = Recorded([])
    stored = await record_upcoming(
        [League.NFL, League.NBA],
        now=START - timedelta(hours=1),
        schedule=schedule,
        game_set=lambda gs: GameSet(gs, markets=markets, predictions=predictions),
        track=store,  # type: ignore[arg-type]
    )
    assert stored == 1 and store.rows == [("NFL.20261122.1", SUNDAY)]


# --- end to end: the app on the simulator over a simulated Sunday, with a restart -------------

BETTING = {league: LeaguePolicy(Thresholds(), Evidence(True, "test")) for league in League}
TRACK = """
query ($league: League!, $since: Date) {
  trackRecord(league: $league, since: $since) {
    since simulated settled pending unpriced
    model { n brier logLoss } kalshi { n brier logLoss }
    modelCalibration { lower upper count predicted observed }
    kalshiCalibration { count }
    pnl { bets wins staked profit roi }
  }
}
"""
FINALS = """
query ($date: Date) { games(league: NFL, date: $date) { id state homeScore awayScore } }
"""


@dataclass
class Clock:
    """The simulated wall clock, shared by the simulator and the app (moved by the test)."""

    now: float

    def __call__(self) -> float:
        return self.now


async def day_of_games(
    sim: Simulator, tmp_path: Path, clock: Clock, passes: Sequence[float]
) -> dict[str, Any]:
    """Run the app, one upkeep pass (ratings, then snapshots) at each clock time; return the
    NFL track record since Sunday and the Sunday games as GraphQL gives them."""
    async with (
        running_app(sim, tmp_path, clock=clock, policies=BETTING) as (app, url),
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        service: GameService = app.state.service
        for t in passes:
            clock.now = t
            service.clear_caches()  # cache lifetimes run on real time; the clock jumped
            await service.refresh_ratings([League.NFL])
            await service.record_track([League.NFL])
        body = await gql(client, TRACK, {"league": "NFL", "since": str(SUNDAY)})
        games = await gql(client, FINALS, {"date": str(SUNDAY)})
    assert "errors" not in body and "errors" not in games, (body, games)
    return {"record": body["data"]["trackRecord"], "games": games["data"]["games"]}


@pytest.mark.e2e
async def test_track_record_over_a_simulated_day_and_a_restart(tmp_path: Path) -> None:
    """Snapshots before kick-off, results after the final whistle, scored once; a restart
    changes nothing."""
    clock = Clock(SUNDAY_NOON_UTC)  # 07:00 US-Eastern: every Sunday game is still to come
    morning, noon = SUNDAY_NOON_UTC, SUNDAY_NOON_UTC + 5 * 3600
    monday = SUNDAY_NOON_UTC + 19 * 3600  # 02:00 ET Monday: every Sunday game is over
    db = tmp_path / "ratings.sqlite3"
    async with Simulator(clock=clock, tick_interval_s=None) as sim:
        first = await day_of_games(sim, tmp_path, clock, [morning, noon, monday])
        store = RatingStore(db)
        store.open()
        rows = store.track.entries(League.NFL, SUNDAY)
        store.close()
        again = await day_of_games(sim, tmp_path, clock, [monday])

    sunday = {f"{g['id']}": g for g in first["games"]}
    assert all(g["state"] == "FINAL" for g in sunday.values()) and len(sunday) == 13
    record = first["record"]
    settled = [r for r in rows if r.outcome is not None]
    # Every Sunday game was recorded once, before its start, and settled; Monday's is pending.
    assert len(settled) == record["settled"] == 13
    assert record["pending"] == len(rows) - 13 >= 0
    assert all(r.recorded_at < r.start_time for r in rows)
    assert {r.game_id for r in settled} == set(sunday)
    # The snapshot is the last one before the start (the noon pass, for the 13:00 ET games).
    assert {r.recorded_at.timestamp() for r in settled} == {noon}
    # Scores are the ones the final results give, on the games Kalshi priced.
    priced = [r for r in settled if r.p_market is not None]
    assert record["unpriced"] == 13 - len(priced) and priced

    def result(game_id: str) -> float:
        g = sunday[game_id]
        return 0.5 if g["homeScore"] == g["awayScore"] else float(g["homeScore"] > g["awayScore"])

    def brier(ps: list[tuple[float, float]]) -> float:
        return sum((p - y) ** 2 for p, y in ps) / len(ps)

    assert record["model"]["n"] == record["kalshi"]["n"] == len(priced)
    model_brier = brier([(r.p_model, result(r.game_id)) for r in priced])
    kalshi_brier = brier([(r.p_market or math.nan, result(r.game_id)) for r in priced])
    assert record["model"]["brier"] == pytest.approx(model_brier)
    assert record["kalshi"]["brier"] == pytest.approx(kalshi_brier)
    assert sum(b["count"] for b in record["modelCalibration"]) == len(priced)
    # Paper P&L: every recommendation settled at the ask it was made at.
    bets = [r for r in settled if r.bet_price is not None]
    assert record["pnl"]["bets"] == len(bets) > 0
    expected = sum((r.bet_stake or 0) * (r.bet_return() or 0) for r in bets)
    assert record["pnl"]["profit"] == pytest.approx(expected)
    assert record["simulated"] is True and record["since"] == str(SUNDAY)
    # After a restart and another pass: the same record, nothing lost or counted twice.
    assert again["record"] == record


@pytest.mark.e2e
async def test_track_record_with_the_default_policies_recommends_nothing(tmp_path: Path) -> None:
    """With the backtested defaults no league bets: scores accrue, the paper P&L stays empty."""
    clock = Clock(SUNDAY_NOON_UTC)
    async with (
        Simulator(clock=clock, tick_interval_s=None) as sim,
        running_app(sim, tmp_path, clock=clock, policies=DEFAULT_POLICIES) as (app, url),
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        await app.state.service.record_track([League.NBA])
        body = await gql(client, TRACK, {"league": "NBA"})
    record = body["data"]["trackRecord"]
    assert record["pending"] > 0 and record["settled"] == 0
    assert record["pnl"] == {"bets": 0, "wins": 0, "staked": 0.0, "profit": 0.0, "roi": None}
    assert record["model"] is None and record["kalshi"] is None


def test_the_track_table_lives_in_the_rating_store_file(tmp_path: Path) -> None:
    """One SQLite file: the rating store creates the track table and serves it."""
    with RatingStore(tmp_path / "r.sqlite3", history=lambda league: ()) as store:
        assert store.track.entries(League.NFL) == []
    tables = sqlite3.connect(tmp_path / "r.sqlite3").execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'"
    )
    assert "track_record" in {t[0] for t in tables}
