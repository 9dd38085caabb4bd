"""The simulator's core pieces (slates, prices, auth, stats) and its lifecycle and CLI."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
import signal
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import websockets
from hypothesis import given, settings, strategies as st

from graph.kalshi.signing import Signer, generate_private_key, load_private_key
from graph.models import GameState, League
from graph.sim import Faults, Simulator, Stats
from graph.sim.__main__ import parse_args, serve, write_key
from graph.sim.auth import Verifier
from graph.sim.prices import PriceBook
from graph.sim.slate import ET, SimGame, Slates, event_date_code, parse_event_ticker
from graph.sim.teams import SERIES, season, teams
from graph.teams import by_espn

pytestmark = pytest.mark.e2e

MONDAY = date(2025, 11, 24)
SUNDAY = date(2025, 11, 23)
EVENT_RE = re.compile(r"^KX[A-Z]+GAME-\d{2}[A-Z]{3}\d{2}(\d{4})?[A-Z&-]+(G\d)?$")


def test_same_seed_same_slate_different_seed_different_slate() -> None:
    """A slate is a pure function of (seed, league, date), whatever else was asked before."""
    first = Slates(3).games(League.NBA, MONDAY)
    other = Slates(3)
    other.games(League.NHL, MONDAY)
    assert other.games(League.NBA, MONDAY) == first
    assert Slates(4).games(League.NBA, MONDAY) != first


@pytest.mark.parametrize(
    ("day", "count"),
    [
        pytest.param(SUNDAY, 13, id="sunday"),
        pytest.param(MONDAY, 1, id="monday-night"),
        pytest.param(date(2025, 11, 27), 1, id="thursday-night"),
        pytest.param(date(2025, 11, 25), 0, id="tuesday"),
    ],
)
def test_nfl_plays_sundays_plus_monday_and_thursday_nights(day: date, count: int) -> None:
    """NFL slates follow the weekly rhythm documented in graph/sim/slate.py."""
    assert len(Slates(0).games(League.NFL, day)) == count


@pytest.mark.parametrize("league", list(League))
def test_regular_slates_use_each_team_at_most_once(league: League) -> None:
    """Without an override nobody plays twice a day, except an MLB doubleheader pair."""
    slates = Slates(1)
    for offset in range(14):
        games = slates.games(league, MONDAY + timedelta(days=offset))
        pairs = {(g.away.key, g.home.key) for g in games}
        keys = [k for pair in pairs for k in pair]
        assert len(keys) == len(set(keys))


def test_slate_size_override_keeps_event_tickers_unique() -> None:
    """A load-test slate of 200 NBA games has 200 distinct events and 400 markets."""
    games = Slates(0, {League.NBA: 200}).games(League.NBA, MONDAY)
    assert len(games) == 200
    assert len({g.event_ticker for g in games}) == 200
    assert len({g.espn_id for g in games}) == 200
    assert len({t for g in games for t in (g.away_ticker, g.home_ticker)}) == 400


def _doubleheaders(day0: date, days: int = 60) -> list[list[SimGame]]:
    slates = Slates(0)
    found = []
    for offset in range(days):
        games = slates.games(League.MLB, day0 + timedelta(days=offset))
        pairs = [(g.away.key, g.home.key) for g in games]
        for pair in {p for p in pairs if pairs.count(p) > 1}:
            found.append([g for g in games if (g.away.key, g.home.key) == pair])
    return found


def test_mlb_doubleheaders_are_two_events_suffixed_g1_and_g2() -> None:
    """A doubleheader's events name the first game's HHMM and differ only by G1/G2 after the
    teams (KXMLBGAME-26SEP041410DETCLEG1); their start times differ (13:05 and 18:40 ET)."""
    twins_seen = _doubleheaders(date(2026, 6, 1))
    assert twins_seen
    for twins in twins_seen:
        first, second = sorted(twins, key=lambda g: g.start)
        assert (first.game_number, second.game_number) == (1, 2)
        assert first.event_ticker.endswith("G1") and second.event_ticker.endswith("G2")
        assert first.event_ticker[:-2] == second.event_ticker[:-2]
        assert first.event_ticker[17:21] == "1305"
        assert [g.start.astimezone(ET).strftime("%H%M") for g in (first, second)] == [
            "1305",
            "1840",
        ]


def test_2025_mlb_tickers_have_no_start_time() -> None:
    """2025 MLB tickers carry no HHMM (KXMLBGAME-25OCT31LADTOR), doubleheaders only G1/G2."""
    games = Slates(0).games(League.MLB, date(2025, 10, 1))
    assert games and all(EVENT_RE.match(g.event_ticker) for g in games)
    assert all(g.event_ticker[len("KXMLBGAME-25OCT01") :][:1].isalpha() for g in games)
    for twins in _doubleheaders(date(2025, 6, 1)):
        assert sorted(g.event_ticker[-2:] for g in twins) == ["G1", "G2"]
        assert twins[0].event_ticker[:-2] == twins[1].event_ticker[:-2]


@pytest.mark.parametrize("league", list(League))
def test_event_tickers_follow_kalshi_grammar(league: League) -> None:
    """Event tickers are SERIES-YYMONDD[HHMM]AWAYHOME[Gn] with Kalshi's codes of the season;
    HHMM only for MLB from 2026; market tickers end with the outcome code."""
    days = (SUNDAY, MONDAY, date(2026, 6, 7), date(2026, 6, 8))
    for day in days:
        timed = league is League.MLB and day.year >= 2026
        for game in Slates(2).games(league, day):
            assert EVENT_RE.match(game.event_ticker.replace("&", ""))
            assert game.event_ticker.startswith(f"{SERIES[league]}-{event_date_code(day)}")
            has_time = game.event_ticker[len(SERIES[league]) + 8 :][:4].isdigit()
            assert has_time == timed
            suffix = f"G{game.game_number}" if game.game_number else ""
            codes = (game.away.kalshi(day), game.home.kalshi(day))
            assert game.event_ticker.endswith("".join(codes) + suffix)
            assert game.home_ticker == f"{game.event_ticker}-{codes[1]}"


def test_kalshi_codes_are_not_espn_codes_in_every_league() -> None:
    """Every league lists some team under a code that is not ESPN's (the service cannot derive
    Kalshi's codes from the scoreboard), and codes stay unique per league and day."""
    for league in League:
        day = date(2026, 1, 15)
        differing = [t.key for t in teams(league) if t.kalshi(day) != t.espn]
        assert differing, league
        codes = [t.kalshi(day) for t in teams(league)]
        assert len(codes) == len(set(codes)), league


@pytest.mark.parametrize(
    ("league", "espn", "day", "code"),
    [
        pytest.param(League.NHL, "LA", date(2026, 9, 19), "LA", id="nhl-kings-LA"),
        pytest.param(League.NHL, "NJ", date(2025, 10, 30), "NJ", id="nhl-devils-NJ"),
        pytest.param(League.NHL, "SJ", date(2025, 10, 30), "SJ", id="nhl-sharks-SJ"),
        pytest.param(League.NHL, "TB", date(2025, 10, 30), "TB", id="nhl-lightning-TB"),
        pytest.param(League.MLB, "WSH", date(2026, 8, 29), "WSH", id="mlb-nationals-WSH"),
        pytest.param(League.NFL, "LAR", date(2026, 1, 4), "LA", id="nfl-rams-2025-26"),
        pytest.param(League.NFL, "LAR", date(2026, 9, 21), "LAR", id="nfl-rams-2026-27"),
        pytest.param(League.NFL, "WSH", date(2026, 9, 21), "WAS", id="nfl-commanders"),
        pytest.param(League.NBA, "GS", date(2026, 3, 1), "GSW", id="nba-warriors-2025-26"),
        pytest.param(League.NBA, "GS", date(2026, 11, 1), "GS", id="nba-warriors-2026-27"),
        pytest.param(League.WNBA, "CONN", date(2026, 6, 1), "CON", id="wnba-sun"),
        pytest.param(League.NCAAF, "M-OH", date(2025, 11, 12), "M-OH", id="ncaaf-hyphen"),
    ],
)
def test_kalshi_codes_follow_real_listings_and_change_with_the_season(
    league: League, espn: str, day: date, code: str
) -> None:
    """Codes are Kalshi's real ones (sports-data.md §1.5), by season."""
    team = next(t for t in teams(league) if t.espn == espn)
    assert team.kalshi(day) == code


@pytest.mark.parametrize(
    ("league", "espn", "sub_title"),
    [
        (League.NFL, "LAR", "Los Angeles R"),
        (League.NFL, "NYG", "New York G"),
        (League.NBA, "LAC", "Los Angeles C"),
        (League.MLB, "CHW", "Chicago WS"),
        (League.NHL, "VGK", "Vegas"),
        (League.WNBA, "POR", "Portland"),
        (League.NCAAF, "M-OH", "Miami (OH)"),
    ],
)
def test_sub_titles_are_kalshi_short_labels(league: League, espn: str, sub_title: str) -> None:
    """yes_sub_title is Kalshi's label: a shared location gets the nickname's initial."""
    assert next(t for t in teams(league) if t.espn == espn).sub_title == sub_title


def test_sub_titles_and_espn_codes_are_unique_per_league() -> None:
    """Within a league no two teams share a sub-title or an ESPN abbreviation."""
    for league in League:
        assert len({t.sub_title for t in teams(league)}) == len(teams(league)), league
        assert len({t.espn for t in teams(league)}) == len(teams(league)), league


def test_seasons_start_in_their_league_month() -> None:
    """A January NFL game belongs to the season that began the August before."""
    assert season(League.NFL, date(2026, 1, 4)) == 2025
    assert season(League.NFL, date(2026, 9, 21)) == 2026
    assert season(League.MLB, date(2026, 2, 1)) == 2025


def test_college_slates_include_teams_the_service_does_not_know() -> None:
    """Some college games name schools missing from the service's tables (e.g. Miami (OH))."""
    saturdays = [date(2025, 11, 1) + timedelta(weeks=w) for w in range(8)]
    games = [g for day in saturdays for g in Slates(0).games(League.NCAAF, day)]
    unknown = {t.espn for g in games for t in (g.away, g.home) if by_espn(g.league, t.espn) is None}
    assert unknown and unknown <= {t.espn for t in teams(League.NCAAF)}


def test_about_one_event_in_twelve_never_trades() -> None:
    """Never-traded events exist in both book styles, and stay rare."""
    games = [
        g
        for offset in range(30)
        for g in Slates(0).games(League.NBA, MONDAY + timedelta(days=offset))
    ]
    untraded = [g for g in games if g.never_traded]
    assert 0 < len(untraded) < len(games) / 6
    assert {g.never_traded for g in untraded} == {"empty", "penny"}


def test_late_evening_games_start_on_the_next_utc_day() -> None:
    """Start times are US-Eastern evening slots, so some games fall on the next UTC date."""
    games = [
        g
        for offset in range(7)
        for g in Slates(0).games(League.NBA, MONDAY + timedelta(days=offset))
    ]
    assert all(g.start.astimezone(ET).date() == g.et_date for g in games)
    assert any(g.start.date() != g.et_date for g in games)


def test_game_phase_follows_the_clock() -> None:
    """Scheduled before the start, live for three hours with partial scores, then final."""
    game = next(g for g in Slates(0).games(League.NBA, MONDAY) if not g.postponed)
    assert game.phase(game.start - timedelta(minutes=1)) == (GameState.SCHEDULED, 0.0)
    assert game.scores(game.start - timedelta(minutes=1)) == (0, 0)
    state, progress = game.phase(game.start + timedelta(minutes=90))
    assert state is GameState.LIVE and progress == pytest.approx(0.5)
    away, home = game.scores(game.start + timedelta(minutes=90))
    assert away <= game.final_away and home <= game.final_home
    assert game.phase(game.start + timedelta(hours=3)) == (GameState.FINAL, 1.0)
    assert game.scores(game.start + timedelta(hours=3)) == (game.final_away, game.final_home)
    assert (game.final_home > game.final_away) == game.home_wins


def test_about_one_game_in_fifty_is_postponed() -> None:
    """Postponements exist but are rare, and they never turn final."""
    slates = Slates(0)
    games = [
        g for offset in range(60) for g in slates.games(League.MLB, MONDAY + timedelta(days=offset))
    ]
    postponed = [g for g in games if g.postponed]
    assert 0 < len(postponed) < len(games) / 20
    far_future = datetime(2100, 1, 1, tzinfo=UTC)
    assert all(g.phase(far_future)[0] is GameState.POSTPONED for g in postponed)


def test_espn_ids_and_event_tickers_resolve_back_to_their_games() -> None:
    """Summary ids and tickers of any date resolve lazily to the same game."""
    game = Slates(5).games(League.NHL, date(2031, 2, 3))[2]
    fresh = Slates(5)
    assert fresh.by_espn_id(game.espn_id) == game
    assert fresh.event(game.event_ticker) == game
    assert fresh.market(game.home_ticker) == game
    assert fresh.market(game.event_ticker + "-NOPE") is None
    assert fresh.market("NOPE") is None
    assert parse_event_ticker(game.event_ticker) == (League.NHL, date(2031, 2, 3))


@pytest.mark.parametrize(
    "value",
    ["", "KXNBAGAME", "KXNBAGAME-25XYZ01ABCDEF", "KXFOO-25NOV24LALBOS", "KXNBAGAME-25FEB30AB"],
)
def test_unknown_event_tickers_resolve_to_nothing(value: str) -> None:
    """Malformed or foreign tickers are simply unknown."""
    assert Slates(0).event(value) is None


@pytest.mark.parametrize("value", ["", "123", "4" * 11, "49" + "0" * 9, "40000000" + "999"])
def test_unknown_espn_ids_resolve_to_nothing(value: str) -> None:
    """Ids the simulator never made are unknown."""
    assert Slates(0).by_espn_id(value) is None


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), steps=st.integers(0, 30))
def test_event_markets_stay_complementary(seed: int, steps: int) -> None:
    """Away bid = 1 - home ask (and vice versa) after any number of random-walk steps."""
    game = next(g for g in Slates(seed).games(League.NBA, MONDAY) if not g.never_traded)
    book = PriceBook(seed, random.Random(seed))
    now_ms = int(game.start.timestamp() * 1000) - 3_600_000
    for _ in range(steps):
        book.step(game, now_ms)
    home, away = book.side(game, True, now_ms), book.side(game, False, now_ms)
    assert (away.bid, away.ask, away.last) == (100 - home.ask, 100 - home.bid, 100 - home.last)
    assert 1 <= home.bid < home.ask <= 99
    assert home.bid <= home.last <= home.ask


def test_prices_follow_the_fair_value() -> None:
    """Over many steps the home mid stays near the pre-game probability."""
    game = Slates(0).games(League.NBA, MONDAY)[0]
    book = PriceBook(0, random.Random(0))
    now_ms = int(game.start.timestamp() * 1000) - 3_600_000
    mids = [book.step(game, now_ms).mid for _ in range(400)]
    assert sum(mids) / len(mids) == pytest.approx(game.home_win_prob, abs=0.08)


def test_settled_markets_have_no_book_and_pay_the_winner() -> None:
    """After the game the winner's market last trades at 1.00, the loser's at 0.00."""
    game = next(g for g in Slates(0).games(League.NBA, MONDAY) if not g.postponed)
    book = PriceBook(0, random.Random(0))
    after_ms = int((game.start + timedelta(hours=4)).timestamp() * 1000)
    before = book.quote(game, after_ms).mid
    book.step(game, after_ms)
    assert book.quote(game, after_ms).mid == before
    winner = book.side(game, game.home_wins, after_ms)
    loser = book.side(game, not game.home_wins, after_ms)
    assert (winner.bid, winner.ask, winner.last) == (0, 0, 100)
    assert loser.last == 0


def _verifier(window: int | None = 60_000) -> tuple[Verifier, Signer]:
    key = generate_private_key()
    return Verifier("kid", key.public_key(), window), Signer("kid", key)


def test_verifier_accepts_a_fresh_signature_and_names_each_problem() -> None:
    """Valid headers pass; each kind of failure gets its own message without header values."""
    verifier, signer = _verifier()
    now = 1_763_900_000_000
    good = signer.headers(now, "GET", "/trade-api/v2/markets")
    assert verifier.problem(good, "GET", "/trade-api/v2/markets", now) is None
    assert verifier.problem({}, "GET", "/x", now) == (
        "missing header(s): KALSHI-ACCESS-KEY, KALSHI-ACCESS-TIMESTAMP, KALSHI-ACCESS-SIGNATURE"
    )
    other = {**good, "KALSHI-ACCESS-KEY": "someone-else"}
    assert verifier.problem(other, "GET", "/trade-api/v2/markets", now) == "unknown API key id"
    seconds = {**good, "KALSHI-ACCESS-TIMESTAMP": "1763900000.5"}
    assert "milliseconds" in str(verifier.problem(seconds, "GET", "/trade-api/v2/markets", now))
    late = verifier.problem(good, "GET", "/trade-api/v2/markets", now + 60_001)
    assert late == "timestamp outside the allowed window of 60000 ms"
    wrong_path = verifier.problem(good, "GET", "/trade-api/v2/events", now)
    assert wrong_path == "invalid signature"


def test_verifier_without_window_accepts_old_timestamps() -> None:
    """``timestamp_window_ms=None`` turns the freshness check off."""
    verifier, signer = _verifier(None)
    headers = signer.headers(1_000, "GET", "/p")
    assert verifier.problem(headers, "GET", "/p", 10**13) is None


def test_stats_track_concurrency_and_reset() -> None:
    """In-flight counts rise and fall around a block; reset keeps only what is still running."""
    stats = Stats()
    with stats.track("markets"), stats.track("markets"):
        assert stats.in_flight["markets"] == 2
        stats.reset()
        assert stats.requests["markets"] == 0
        assert stats.max_in_flight["markets"] == 2
    with stats.track("markets"):
        pass
    assert stats.requests["markets"] == 1
    assert stats.in_flight["markets"] == 0
    assert stats.max_in_flight["markets"] == 2


def test_faults_default_to_a_healthy_server() -> None:
    """A fresh Faults injects nothing."""
    faults = Faults()
    assert (faults.latency_s, faults.error_rate, faults.rate_limit_rate) == (0.0, 0.0, 0.0)
    assert not faults.scripted_statuses and not faults.failing_summaries


async def test_simulator_serves_on_a_free_port_and_stops() -> None:
    """Port 0 picks a free port; the URLs use it; after exit nothing listens there."""
    sim = Simulator(tick_interval_s=None)
    async with sim:
        assert sim.port > 0
        assert sim.rest_url == f"http://127.0.0.1:{sim.port}/trade-api/v2"
        assert sim.ws_url == f"ws://127.0.0.1:{sim.port}/trade-api/ws/v2"
        assert sim.scoreboard_url == f"http://127.0.0.1:{sim.port}/apis/site/v2/sports"
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{sim.rest_url}/series")).status_code == 200
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"{sim.rest_url}/series")


def test_simulator_key_is_pkcs1_and_never_in_its_repr() -> None:
    """The generated key is a PKCS#1 PEM with a uuid4 key id; repr shows neither key nor PEM."""
    sim = Simulator()
    assert sim.private_key_pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    load_private_key(sim.private_key_pem)
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", sim.key_id
    )
    assert "PRIVATE" not in repr(sim) and sim.key_id in repr(sim)


async def test_simulator_start_fails_loudly_on_a_busy_port() -> None:
    """A second simulator on a taken port raises instead of hanging."""
    async with Simulator(tick_interval_s=None) as first:
        second = Simulator(port=first.port, tick_interval_s=None)
        with pytest.raises(RuntimeError, match="could not start"):
            await second.start()
        await second.stop()


async def test_each_simulator_silences_the_denial_log_only_while_it_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Stopping one of two simulators keeps the other's filter; after both, the line shows again."""
    caplog.set_level(logging.INFO, logger="uvicorn.error")
    uvicorn_log = logging.getLogger("uvicorn.error")
    spurious = "ASGI callable returned without completing handshake."

    def logged() -> bool:
        caplog.clear()
        uvicorn_log.error(spurious)
        return spurious in [r.getMessage() for r in caplog.records]

    assert logged()
    first = Simulator(tick_interval_s=None)
    second = Simulator(tick_interval_s=None)
    async with first:
        async with second:
            assert not logged()
        assert not logged()
    assert logged()


async def test_background_tick_pushes_prices_without_being_asked() -> None:
    """With a tick interval the simulator publishes by itself (here: to a subscriber)."""
    async with Simulator(tick_interval_s=0.01) as sim:
        signer = Signer(sim.key_id, load_private_key(sim.private_key_pem))
        ticker = sim.markets_for(League.NBA, MONDAY)[0]["ticker"]
        headers = signer.headers(int(time.time() * 1000), "GET", "/trade-api/ws/v2")
        async with websockets.connect(sim.ws_url, additional_headers=headers) as ws:
            params = {"channels": ["ticker"], "market_tickers": [ticker]}
            await ws.send(json.dumps({"id": 1, "cmd": "subscribe", "params": params}))
            assert json.loads(await ws.recv())["type"] == "subscribed"
            update = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert update["type"] == "ticker" and update["msg"]["market_ticker"] == ticker


def test_cli_arguments() -> None:
    """The CLI knobs map onto simulator settings."""
    args = parse_args(
        ["--port", "0", "--seed", "9", "--latency-ms", "25", "--error-rate", "0.1", "--no-auth"]
    )
    assert (args.port, args.seed, args.latency_ms, args.error_rate, args.no_auth) == (
        0,
        9,
        25.0,
        0.1,
        True,
    )
    assert args.write_key is None and args.host == "127.0.0.1"


async def test_cli_serve_prints_urls_and_writes_the_key_only_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """serve() prints env-style lines and writes a 0600 PKCS#1 key file when --write-key is set."""
    key_path = tmp_path / "sim.pem"
    stop = asyncio.Event()
    stop.set()
    await serve(parse_args(["--port", "0", "--write-key", str(key_path)]), stop)
    out = capsys.readouterr().out
    assert re.search(r"^KALSHI_REST_URL=http://127\.0\.0\.1:\d+/trade-api/v2$", out, re.M)
    assert re.search(r"^KALSHI_WS_URL=ws://127\.0\.0\.1:\d+/trade-api/ws/v2$", out, re.M)
    assert re.search(r"^SCOREBOARD_URL=http://127\.0\.0\.1:\d+/apis/site/v2/sports$", out, re.M)
    assert f"KALSHI_PRIVATE_KEY_PATH={key_path}" in out
    assert key_path.stat().st_mode & 0o777 == 0o600
    load_private_key(key_path.read_bytes())
    assert "PRIVATE KEY" not in out

    await serve(parse_args(["--port", "0"]), stop)
    assert "KALSHI_PRIVATE_KEY_PATH" not in capsys.readouterr().out


def test_write_key_tightens_an_existing_world_readable_file(tmp_path: Path) -> None:
    """Writing over an existing 0644 file leaves 0600 and exactly the new key."""
    key_path = tmp_path / "sim.pem"
    key_path.write_bytes(b"an older and much longer file content " * 100)
    key_path.chmod(0o644)
    write_key(key_path, b"PEM")
    assert key_path.stat().st_mode & 0o777 == 0o600
    assert key_path.read_bytes() == b"PEM"


async def test_cli_runs_as_a_module_until_interrupted(tmp_path: Path) -> None:
    """`python -m graph.sim` serves, answers requests, and exits cleanly on Ctrl-C (SIGINT)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "graph.sim",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        rest_url = line.strip().split("=", 1)[1]
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{rest_url}/series/KXNBAGAME")
        assert response.json()["series"]["ticker"] == "KXNBAGAME"
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
    assert b"Simulator started" in stderr


async def test_embedded_simulator_logs_one_start_line_and_no_access_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Inside the service the simulator announces itself once: no uvicorn "running on" line
    with a second address, no access line per upstream request."""
    caplog.set_level(logging.INFO)
    async with Simulator(tick_interval_s=None) as sim, httpx.AsyncClient() as client:
        response = await client.get(f"{sim.rest_url}/exchange/status")
        started = [r for r in caplog.records if r.getMessage().startswith("Simulator started")]
        uvicorn_lines = [r.getMessage() for r in caplog.records if r.name.startswith("uvicorn")]
    assert response.status_code in (200, 404)
    assert len(started) == 1 and sim.rest_url in started[0].getMessage()
    assert uvicorn_lines == []
