"""Markets for games: match rates on the simulator, learned codes, unmatched reports."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from graph.errors import UpstreamError
from graph.games.markets import KALSHI_UNAVAILABLE, MarketBook, event_day
from graph.model.elo import season_of
from graph.model.ratings import RatingStore
from graph.models import Game, GameState, League, Market, TeamRef
from graph.sim import Simulator
from tests.e2e import SUNDAY_NOON_UTC
from tests.games.helpers import SUNDAY, service_on

LEARNED = "Kalshi code learned league=NBA team=GS code={code} previous={previous}"


def sim_on(**kwargs: object) -> Simulator:
    return Simulator(clock=lambda: SUNDAY_NOON_UTC, tick_interval_s=None, **kwargs)  # type: ignore[arg-type]


@pytest.mark.e2e
async def test_every_simulated_game_matches_its_event(tmp_path: Path) -> None:
    """On the simulator (Kalshi's codes and styles, not our tables') every game of every league
    matches over a week: doubleheaders, hyphenated codes, schools our tables lack included."""
    async with sim_on() as sim, service_on(sim, tmp_path) as service:
        for league in League:
            for offset in range(-3, 4):
                games = await service.games(league, SUNDAY + timedelta(days=offset))
                found = await service.load_markets(games)
                unmatched = [g for g, r in zip(games, found, strict=True) if not r.matched]
                assert unmatched == [], (league, offset)
        stats = service.match_stats()
    # Today is a Sunday: every league but college football plays, all matched.
    assert stats.rate == {league: 1.0 for league in League if league is not League.NCAAF}
    assert sum(stats.unmatched.values()) == 0


@pytest.mark.e2e
async def test_learned_codes_are_logged_once_and_survive_a_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Kalshi lists Golden State as GS in 2026-27 (our table says GSW): the code is learned,
    logged once, kept in the rating store's file, and a rename mid-season is learned too."""
    caplog.set_level(logging.INFO, logger="graph.games.markets")
    async with sim_on() as sim:
        async with service_on(sim, tmp_path) as service:
            for _ in range(2):
                await service.load_markets(await service.games(League.NBA, SUNDAY))
        assert caplog.text.count(LEARNED.format(code="GS", previous="GSW")) == 1
        assert "team=LAR" not in caplog.text  # the table already knew
        caplog.clear()
        async with service_on(sim, tmp_path) as service:  # a restart on the same file
            await service.load_markets(await service.games(League.NBA, SUNDAY))
            assert "Kalshi code learned" not in caplog.text
            sim.faults.code_renames = {League.NBA: {"GS": "GSX"}}
            service.clear_caches()
            found = await service.load_markets(await service.games(League.NBA, SUNDAY))
        assert all(r.matched for r in found)
        assert caplog.text.count(LEARNED.format(code="GSX", previous="GS")) == 1
    with RatingStore(tmp_path / "ratings.sqlite3") as store:
        assert store.kalshi_codes(League.NBA, season_of(League.NBA, SUNDAY))["GS"] == "GSX"


# MarketBook with a listing written by hand


def _game(game_id: str, away: str, home: str, state: GameState = GameState.SCHEDULED) -> Game:
    return Game(
        id=game_id,
        league=League.NFL,
        start_time=datetime(2026, 11, 22, 18, 0, tzinfo=UTC),
        state=state,
        home=TeamRef(home, home),
        away=TeamRef(away, away),
    )


def _event(event: str, *sides: tuple[str, str]) -> list[Market]:
    return [
        Market(
            ticker=f"{event}-{c}", event_ticker=event, title="", status="active", yes_sub_title=s
        )
        for c, s in sides
    ]


class FakeRest:
    """Answers the day's listing and ticker look-ups from fixed lists; counts the requests."""

    def __init__(self, listing: Sequence[Market], closed: Sequence[Market] = ()) -> None:
        self.listing, self.closed = list(listing), list(closed)
        self.asked: list[list[str]] = []
        self.down = False

    async def markets(
        self,
        *,
        tickers: Sequence[str] | None = None,
        series_ticker: str | None = None,
        status: str | None = None,
        **since: int,
    ) -> list[Market]:
        if self.down:
            raise UpstreamError("Kalshi is down")
        if tickers is None:
            if status in ("closed", "settled"):
                return []  # finished games are found by ticker here
            return [m for m in self.listing if m.ticker.startswith(f"{series_ticker}-")]
        self.asked.append(list(tickers))
        return [m for m in self.closed if m.ticker in tickers]


def _book(rest: FakeRest, games: list[Game], store: RatingStore) -> MarketBook:
    async def schedule(league: League, day: date) -> list[Game]:
        return games

    return MarketBook(
        rest=rest,  # type: ignore[arg-type]
        ratings=store,
        schedule=schedule,
        today=lambda: SUNDAY,
        ttl_s=0.0,
    )


@pytest.fixture
def store(tmp_path: Path) -> RatingStore:
    opened = RatingStore(tmp_path / "ratings.sqlite3", history=lambda league: ())
    opened.open()
    return opened


BUF_KC = _event("KXNFLGAME-26NOV22BUFKC", ("BUF", "Buffalo"), ("KC", "Kansas City"))
TWIN = _event("KXNFLGAME-26NOV22BUFFKCC", ("BUFF", "Buffalo"), ("KCC", "Kansas City"))


async def test_an_ambiguous_game_is_logged_with_its_candidates_and_counted_once(
    store: RatingStore, caplog: pytest.LogCaptureFixture
) -> None:
    """Two events fit one game: no markets, a warning naming both, the counter once."""
    games = [_game("1", "BUF", "KC"), _game("2", "NYJ", "MIA")]
    book = _book(FakeRest([*BUF_KC, *TWIN]), games, store)
    for _ in range(2):
        found = await book.load(games[:1])
    assert not found[0].matched
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "Kalshi game unmatched league=NFL game=NFL.20261122.1 away=BUF home=KC reason=ambiguous "
        "candidates=KXNFLGAME-26NOV22BUFFKCC,KXNFLGAME-26NOV22BUFKC"
    ]
    assert book.stats.unmatched == {(League.NFL, "ambiguous"): 1, (League.NFL, "not_listed"): 1}
    assert book.stats.rate == {League.NFL: 0.0}


async def test_finished_games_are_looked_up_by_their_likely_tickers(store: RatingStore) -> None:
    """A final game missing from the open listing is found by one tickers= request."""
    games = [_game("1", "BUF", "KC", GameState.FINAL)]
    rest = FakeRest([], closed=BUF_KC)
    found = await _book(rest, games, store).load(games)
    assert found[0].event_ticker == "KXNFLGAME-26NOV22BUFKC"
    assert len(rest.asked) == 1 and "KXNFLGAME-26NOV22BUFKC-KC" in rest.asked[0]


async def test_kalshi_down_leaves_games_unmatched_for_that_reason(store: RatingStore) -> None:
    """An upstream failure is its own reason, and no game is matched."""
    games = [_game("1", "BUF", "KC")]
    rest = FakeRest(BUF_KC)
    rest.down = True
    book = _book(rest, games, store)
    assert not (await book.load(games))[0].matched
    assert book.stats.unmatched == {(League.NFL, KALSHI_UNAVAILABLE): 1}


async def test_a_market_names_its_team_by_its_own_evidence(store: RatingStore) -> None:
    """Market.team outside a game: the sub-title and code decide; a foreign ticker is None."""
    book = _book(FakeRest([]), [], store)
    (away, home) = _event("KXNHLGAME-26SEP19VGKLA", ("VGK", "Vegas"), ("LA", "Los Angeles"))
    assert (book.team_of(away), book.team_of(home)) == ("VGK", "LA")
    stray = Market(ticker="KXFOO-1-X", event_ticker="KXFOO-1", title="", status="active")
    assert book.team_of(stray) is None
    assert event_day("KXNHLGAME-26SEP19VGKLA") == date(2026, 9, 19)
    assert event_day("KXNHLGAME-XX") is None


async def test_upstream_failures_after_the_listing_leave_what_was_found(
    store: RatingStore, caplog: pytest.LogCaptureFixture
) -> None:
    """A scoreboard failure while reading the whole day, and a failed look-up of finished
    games, cost those games their markets, not the batch."""
    games = [_game("1", "BUF", "KC", GameState.FINAL), _game("2", "NYJ", "MIA")]
    nyj = _event("KXNFLGAME-26NOV22NYJMIA", ("NYJ", "New York J"), ("MIA", "Miami"))

    class FailingRest(FakeRest):
        async def markets(self, **kwargs: object) -> list[Market]:
            if "tickers" in kwargs:
                raise UpstreamError("Kalshi is down for tickers")
            return await super().markets(**kwargs)  # type: ignore[arg-type]

    async def schedule(league: League, day: date) -> list[Game]:
        raise UpstreamError("scoreboard down")

    book = MarketBook(
        rest=FailingRest(nyj),  # type: ignore[arg-type]
        ratings=store,
        schedule=schedule,
        today=lambda: SUNDAY,
        ttl_s=0.0,
    )
    found = await book.load(games)
    assert [r.matched for r in found] == [False, True]
    assert "Kalshi closed markets unavailable league=NFL" in caplog.text


async def test_reports_forget_past_days_beyond_their_bound(store: RatingStore) -> None:
    """Past the bound, games of earlier days are forgotten, so a report may count again."""
    old = Game(
        id="old",
        league=League.NFL,
        start_time=datetime(2026, 11, 15, 18, tzinfo=UTC),
        state=GameState.SCHEDULED,
        home=TeamRef("KC", "KC"),
        away=TeamRef("BUF", "BUF"),
    )
    games = [old, _game("1", "NYJ", "MIA"), _game("2", "DAL", "PHI")]

    async def schedule(league: League, day: date) -> list[Game]:
        return [g for g in games if g.start_time.date() == day]

    book = MarketBook(
        rest=FakeRest([]),  # type: ignore[arg-type]
        ratings=store,
        schedule=schedule,
        today=lambda: SUNDAY,
        ttl_s=0.0,
        max_reported=1,
    )
    await book.load(games)
    await book.load(games)
    assert book.stats.unmatched[(League.NFL, "not_listed")] == 4  # the old game twice
