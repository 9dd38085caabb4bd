from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, strategies as st

from graph.games.matching import (
    GameMarkets,
    event_ticker,
    match_markets,
    outcome_team,
    parse_event_ticker,
)
from graph.models import Game, GameState, League, Market, TeamRef
from graph.teams import Team, by_espn, teams

_MAJORS = (League.NFL, League.NBA, League.MLB, League.NHL)
_KICKOFF = datetime(2024, 11, 10, 18, 0, tzinfo=UTC)


def _game(
    league: League,
    away: str,
    home: str,
    start: datetime = _KICKOFF,
    *,
    neutral: bool = False,
    game_id: str = "1",
) -> Game:
    return Game(
        id=game_id,
        league=league,
        start_time=start,
        state=GameState.SCHEDULED,
        home=TeamRef(code=home, name=home),
        away=TeamRef(code=away, name=away),
        neutral_site=neutral,
    )


def _markets(event: str, *codes: str) -> list[Market]:
    return [
        Market(ticker=f"{event}-{code}", event_ticker=event, title="", status="active")
        for code in codes
    ]


def _opponent(team: Team) -> Team:
    league_teams = teams(team.league)
    return league_teams[1] if team is league_teams[0] else league_teams[0]


@pytest.mark.parametrize(
    "team",
    [pytest.param(t, id=f"{t.league}-{t.espn}") for league in _MAJORS for t in teams(league)],
)
def test_every_major_league_team_matches_home_and_away(team: Team) -> None:
    """For every team of the four majors, ticker -> parse -> match works as home and as away."""
    opp = _opponent(team)
    for away, home in ((opp, team), (team, opp)):
        game = _game(team.league, away.espn, home.espn)
        ticker = event_ticker(team.league, game)
        assert ticker is not None
        assert ticker.endswith(away.kalshi + home.kalshi)
        key = parse_event_ticker(ticker)
        assert key is not None
        assert (key.league, key.away, key.home, key.date) == (
            team.league,
            away,
            home,
            date(2024, 11, 10),
        )
        markets = _markets(ticker, home.kalshi, away.kalshi)
        found = match_markets(team.league, game, markets)
        assert found == GameMarkets(home=markets[0], away=markets[1], event_ticker=ticker)


@pytest.mark.parametrize(
    ("league", "away", "home", "expected"),
    [
        pytest.param(League.NFL, "WSH", "JAX", "KXNFLGAME-24NOV10WASJAC", id="nfl-wsh-jax"),
        pytest.param(League.NFL, "LAR", "LAC", "KXNFLGAME-24NOV10LALAC", id="nfl-lar-lac"),
        pytest.param(League.NFL, "LAC", "LAR", "KXNFLGAME-24NOV10LACLA", id="nfl-lac-lar"),
        pytest.param(League.NBA, "GS", "NY", "KXNBAGAME-24NOV10GSWNYK", id="nba-gs-ny"),
        pytest.param(League.NBA, "SA", "NO", "KXNBAGAME-24NOV10SASNOP", id="nba-sa-no"),
        pytest.param(League.NBA, "UTAH", "PHX", "KXNBAGAME-24NOV10UTAPHX", id="nba-utah-phx"),
        pytest.param(League.NBA, "WSH", "BKN", "KXNBAGAME-24NOV10WASBKN", id="nba-wsh-bkn"),
        pytest.param(League.NHL, "NJ", "LA", "KXNHLGAME-24NOV10NJDLAK", id="nhl-nj-la"),
        pytest.param(League.NHL, "TB", "SJ", "KXNHLGAME-24NOV10TBLSJS", id="nhl-tb-sj"),
        pytest.param(League.MLB, "ARI", "CHW", "KXMLBGAME-24NOV101300AZCWS", id="mlb-ari-chw"),
        pytest.param(League.MLB, "WSH", "ATH", "KXMLBGAME-24NOV101300WSNATH", id="mlb-wsh-ath"),
        pytest.param(League.WNBA, "GS", "CONN", "KXWNBAGAME-24NOV10GSCONN", id="wnba-gs-conn"),
        pytest.param(League.NCAAF, "MIZ", "TA&M", "KXNCAAFGAME-24NOV10MIZZTXAM", id="ncaaf"),
    ],
)
def test_tricky_codes_build_kalshi_tickers(
    league: League, away: str, home: str, expected: str
) -> None:
    """ESPN codes are translated to Kalshi's (WSH/WAS, JAX/JAC, LAR/LA, GS/GSW, ...)."""
    game = _game(league, away, home)
    assert event_ticker(league, game) == expected
    key = parse_event_ticker(expected)
    assert key is not None
    assert (key.away.espn, key.home.espn) == (away, home)


def test_late_evening_game_uses_eastern_date() -> None:
    """A 22:30 ET tip-off (03:30Z next day) carries the ET date in its ticker."""
    game = _game(League.NBA, "LAL", "GS", datetime(2024, 11, 11, 3, 30, tzinfo=UTC))
    assert event_ticker(League.NBA, game) == "KXNBAGAME-24NOV10LALGSW"


def test_naive_start_time_is_taken_as_utc() -> None:
    """A naive datetime is read as UTC, so it files under the same ET date as an aware one."""
    naive = _game(League.NBA, "LAL", "GS", datetime(2024, 11, 11, 3, 30))
    assert event_ticker(League.NBA, naive) == "KXNBAGAME-24NOV10LALGSW"


def test_mlb_doubleheader_gets_two_tickers_and_each_game_its_markets() -> None:
    """Two MLB games of the same teams on one day get distinct HHMM tickers and markets."""
    first = _game(League.MLB, "NYY", "BOS", datetime(2025, 6, 27, 17, 5, tzinfo=UTC), game_id="1")
    second = _game(League.MLB, "NYY", "BOS", datetime(2025, 6, 27, 23, 10, tzinfo=UTC), game_id="2")
    t1, t2 = "KXMLBGAME-25JUN271305NYYBOS", "KXMLBGAME-25JUN271910NYYBOS"
    assert (event_ticker(League.MLB, first), event_ticker(League.MLB, second)) == (t1, t2)
    markets = _markets(t1, "BOS", "NYY") + _markets(t2, "BOS", "NYY")
    m1 = match_markets(League.MLB, first, markets)
    m2 = match_markets(League.MLB, second, markets)
    assert (m1.event_ticker, m1.home, m1.away) == (t1, markets[0], markets[1])
    assert (m2.event_ticker, m2.home, m2.away) == (t2, markets[2], markets[3])


def test_moved_start_time_falls_back_to_the_single_nearby_event() -> None:
    """An MLB game whose listed HHMM is 15 minutes off still finds its one event."""
    game = _game(League.MLB, "TEX", "LAA", datetime(2025, 6, 27, 23, 20, tzinfo=UTC))
    markets = _markets("KXMLBGAME-25JUN271905TEXLAA", "LAA", "TEX")
    found = match_markets(League.MLB, game, markets)
    assert found.event_ticker == "KXMLBGAME-25JUN271905TEXLAA"
    assert (found.home, found.away) == (markets[0], markets[1])


def test_doubleheader_fallback_never_takes_the_other_game() -> None:
    """A game whose own event is missing does not grab the other doubleheader game's markets."""
    second = _game(League.MLB, "NYY", "BOS", datetime(2025, 6, 27, 23, 10, tzinfo=UTC))
    markets = _markets("KXMLBGAME-25JUN271305NYYBOS", "BOS", "NYY")
    found = match_markets(League.MLB, second, markets)
    assert found == GameMarkets(event_ticker="KXMLBGAME-25JUN271910NYYBOS")


@pytest.mark.parametrize(
    ("neutral", "matched"),
    [pytest.param(True, True, id="neutral"), pytest.param(False, False, id="home-game")],
)
def test_reversed_listing_matches_only_at_neutral_sites(neutral: bool, matched: bool) -> None:
    """An event listing the teams in the other order is accepted only for neutral-site games."""
    game = _game(League.NFL, "KC", "PHI", neutral=neutral)
    markets = _markets("KXNFLGAME-24NOV10PHIKC", "PHI", "KC")
    found = match_markets(League.NFL, game, markets)
    if matched:
        assert (found.home, found.away) == (markets[0], markets[1])
        assert found.event_ticker == "KXNFLGAME-24NOV10PHIKC"
    else:
        assert found == GameMarkets(event_ticker="KXNFLGAME-24NOV10KCPHI")


def test_neutral_site_exact_listing_keeps_espn_order() -> None:
    """At a neutral site Kalshi's away-first listing of ESPN's away team matches directly."""
    game = _game(League.NFL, "KC", "PHI", neutral=True)
    markets = _markets("KXNFLGAME-24NOV10KCPHI", "KC", "PHI")
    found = match_markets(League.NFL, game, markets)
    assert (found.home, found.away) == (markets[1], markets[0])


def test_unknown_team_gives_no_ticker_and_no_markets() -> None:
    """A team missing from our tables yields an empty GameMarkets (counted by the caller)."""
    game = _game(League.NCAAF, "ZZZ", "ALA")
    assert event_ticker(League.NCAAF, game) is None
    found = match_markets(League.NCAAF, game, _markets("KXNCAAFGAME-24NOV10ZZZALA", "ALA"))
    assert found == GameMarkets()
    assert found.markets == ()
    assert not found.matched


@pytest.mark.parametrize(
    "markets",
    [
        pytest.param(_markets("KXNBAGAME-24NOV10BOSNYK", "BOS", "NYK"), id="other-game"),
        pytest.param(_markets("KXNBAGAME-24NOV11LALGSW", "LAL", "GSW"), id="other-day"),
        pytest.param(_markets("KXWNBAGAME-24NOV10LAGS", "LA", "GS"), id="other-league"),
        pytest.param(_markets("KXNBAGAME-24NOV10LALGSW", "GS", "LA"), id="espn-outcomes"),
        pytest.param(_markets("KXNBAGAME-24NOV10LALGSW", "TIE"), id="unknown-outcome"),
        pytest.param([], id="no-markets"),
    ],
)
def test_unrelated_markets_do_not_match(markets: list[Market]) -> None:
    """Markets of another game, day or league, or with foreign outcome codes, are ignored."""
    game = _game(League.NBA, "LAL", "GS")
    found = match_markets(League.NBA, game, markets)
    assert found == GameMarkets(event_ticker="KXNBAGAME-24NOV10LALGSW")


def test_market_without_event_ticker_uses_its_own_ticker() -> None:
    """A market with an empty event_ticker is placed by the prefix of its own ticker."""
    game = _game(League.NBA, "LAL", "GS")
    market = Market(ticker="KXNBAGAME-24NOV10LALGSW-GSW", event_ticker="", title="", status="")
    assert match_markets(League.NBA, game, [market]).home is market


def test_one_sided_event_fills_only_that_side() -> None:
    """If only one of the two markets is listed, the other side stays None."""
    game = _game(League.NBA, "LAL", "GS")
    markets = _markets("KXNBAGAME-24NOV10LALGSW", "LAL")
    found = match_markets(League.NBA, game, markets)
    assert (found.home, found.away, found.matched) == (None, markets[0], True)


@pytest.mark.parametrize(
    "ticker",
    [
        pytest.param("", id="empty"),
        pytest.param("KXNFLGAME", id="series-only"),
        pytest.param("KXNFLGAME-25NOV23BUFHOU-BUF", id="market-ticker"),
        pytest.param("KXFOOGAME-25NOV23BUFHOU", id="unknown-series"),
        pytest.param("KXNFLGAME-25NVB23BUFHOU", id="bad-month"),
        pytest.param("KXNFLGAME-25FEB30BUFHOU", id="bad-day"),
        pytest.param("KXMLBGAME-25JUN272460TEXLAA", id="bad-hhmm"),
        pytest.param("KXNFLGAME-25NOV23BUFXXX", id="unknown-team"),
        pytest.param("KXNFLGAME-25NOV23BUFBUF", id="same-team"),
        pytest.param("KXNFLGAME-25NOV23BUF", id="one-team"),
        pytest.param("KXNFLGAME-25nov23BUFHOU", id="lower-case"),
    ],
)
def test_bad_event_tickers_do_not_parse(ticker: str) -> None:
    """Anything but a well-formed game event ticker of known teams parses to None."""
    assert parse_event_ticker(ticker) is None


def test_parse_real_tickers() -> None:
    """Real tickers from the reference parse into their parts."""
    key = parse_event_ticker("KXMLBGAME-25JUN271905TEXLAA")
    assert key is not None
    assert (key.series, key.league, key.date, key.hhmm) == (
        "KXMLBGAME",
        League.MLB,
        date(2025, 6, 27),
        "1905",
    )
    assert (key.away.espn, key.home.espn) == ("TEX", "LAA")
    nfl = parse_event_ticker("KXNFLGAME-26JAN11BUFJAC")
    assert nfl is not None
    assert (nfl.away, nfl.home) == (by_espn(League.NFL, "BUF"), by_espn(League.NFL, "JAX"))


@st.composite
def _league_pair(draw: st.DrawFn) -> tuple[League, Team, Team]:
    league = draw(st.sampled_from(list(League)))
    away, home = draw(st.lists(st.sampled_from(teams(league)), min_size=2, max_size=2, unique=True))
    return league, away, home


@given(
    pair=_league_pair(),
    start=st.datetimes(
        min_value=datetime(2001, 1, 1), max_value=datetime(2098, 12, 31), timezones=st.just(UTC)
    ),
)
def test_event_ticker_round_trips(pair: tuple[League, Team, Team], start: datetime) -> None:
    """event_ticker -> parse_event_ticker gives back league, teams and the ET date, any time."""
    league, away, home = pair
    ticker = event_ticker(league, _game(league, away.espn, home.espn, start))
    assert ticker is not None
    key = parse_event_ticker(ticker)
    assert key is not None
    # Eastern time is UTC-4 or UTC-5, so the ET date is one of these two.
    edt, est = (start.astimezone(timezone(timedelta(hours=h))).date() for h in (-4, -5))
    assert key.date in (edt, est)
    assert (key.league, key.away, key.home) == (league, away, home)
    assert (key.hhmm is not None) == (league is League.MLB)


@pytest.mark.parametrize(
    ("ticker", "expected"),
    [
        pytest.param("KXNBAGAME-26NOV22GSWNYK-GSW", "GS", id="nba-gsw"),
        pytest.param("KXNBAGAME-26NOV22GSWNYK-NYK", "NY", id="nba-nyk"),
        pytest.param("KXNFLGAME-26NOV22WASJAC-JAC", "JAX", id="nfl-jac"),
        pytest.param("KXNFLGAME-26NOV22LABUF-LA", "LAR", id="nfl-la"),
        pytest.param("KXMLBGAME-26JUN271905TEXLAA-TEX", "TEX", id="mlb-hhmm"),
        pytest.param("KXNBAGAME-26NOV22GSWNYK-BOS", None, id="team-not-in-event"),
        pytest.param("KXNBAGAME-26NOV22GSWNYK", None, id="event-not-market"),
        pytest.param("FED-23DEC-T3.00", None, id="not-a-game"),
        pytest.param("", None, id="empty"),
    ],
)
def test_outcome_team_maps_kalshi_codes_to_ours(ticker: str, expected: str | None) -> None:
    """A market's YES team is reported in our (ESPN) codes, or None when it is not a game."""
    team = outcome_team(ticker)
    assert (team.key if team else None) == expected
