"""Pairing a day's games with listed events: recorded quirks, ambiguity, and property tests on
simulated listings with perturbed codes and titles (right event or none, never a wrong one)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from graph.espn.parse import parse_scoreboard
from graph.games.matching import guess_tickers, match_day, outcome_team
from graph.kalshi.payloads import parse_market
from graph.models import Game, GameState, League, Market, TeamRef
from graph.sim import espn_shapes, kalshi_shapes
from graph.sim.faults import Faults
from graph.sim.listing import listed
from graph.sim.prices import PriceBook
from graph.sim.slate import SimGame, Slates
from graph.sim.teams import SimTeam, teams
from graph.teams import SERIES, Team, teams as table_teams

FIRST_DAY = date(2025, 9, 1)


# Recorded-shape fixtures (tests/data/kalshi, one per quirk of real listings)

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "kalshi"


def fixture(name: str) -> list[Market]:
    body = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return [parse_market(raw) for raw in body["markets"]]


def game(
    game_id: str,
    league: League,
    away: str,
    home: str,
    start: str,
    *,
    neutral: bool = False,
    names: tuple[str, str] | None = None,
) -> Game:
    away_name, home_name = names or (away, home)
    return Game(
        id=game_id,
        league=league,
        start_time=datetime.fromisoformat(start),
        state=GameState.SCHEDULED,
        home=TeamRef(code=home, name=home_name),
        away=TeamRef(code=away, name=away_name),
        neutral_site=neutral,
    )


@pytest.mark.parametrize(
    ("name", "league", "day", "away", "home", "start", "event", "codes"),
    [
        pytest.param(
            "nhl_short_codes",
            League.NHL,
            date(2026, 9, 19),
            "VGK",
            "LA",
            "2026-09-20T02:00:00+00:00",
            "KXNHLGAME-26SEP19VGKLA",
            ("VGK", "LA"),
            id="nhl-LA",
        ),
        pytest.param(
            "nhl_short_codes",
            League.NHL,
            date(2025, 10, 30),
            "NJ",
            "SJ",
            "2025-10-31T02:30:00+00:00",
            "KXNHLGAME-25OCT30NJSJ",
            ("NJ", "SJ"),
            id="nhl-NJ-SJ",
        ),
        pytest.param(
            "mlb_washington_wsh",
            League.MLB,
            date(2026, 8, 29),
            "MIA",
            "WSH",
            "2026-08-29T20:05:00+00:00",
            "KXMLBGAME-26AUG291605MIAWSH",
            ("MIA", "WSH"),
            id="mlb-WSH",
        ),
        pytest.param(
            "nfl_rams_la_2025_26",
            League.NFL,
            date(2026, 1, 4),
            "ARI",
            "LAR",
            "2026-01-04T21:25:00+00:00",
            "KXNFLGAME-26JAN04ARILA",
            ("ARI", "LA"),
            id="rams-LA",
        ),
        pytest.param(
            "nfl_rams_lar_2026_27",
            League.NFL,
            date(2026, 9, 21),
            "NYG",
            "LAR",
            "2026-09-21T20:05:00+00:00",
            "KXNFLGAME-26SEP21NYGLAR",
            ("NYG", "LAR"),
            id="rams-LAR",
        ),
        pytest.param(
            "mlb_2025_no_hhmm",
            League.MLB,
            date(2025, 10, 31),
            "LAD",
            "TOR",
            "2025-11-01T00:00:00+00:00",
            "KXMLBGAME-25OCT31LADTOR",
            ("LAD", "TOR"),
            id="no-hhmm",
        ),
        pytest.param(
            "wnba_vs_titles",
            League.WNBA,
            date(2026, 7, 12),
            "IND",
            "PHX",
            "2026-07-12T19:00:00+00:00",
            "KXWNBAGAME-26JUL12INDPHX",
            ("IND", "PHX"),
            id="vs-title",
        ),
        pytest.param(
            "wnba_vs_titles",
            League.WNBA,
            date(2026, 7, 12),
            "POR",
            "SEA",
            "2026-07-13T02:00:00+00:00",
            "KXWNBAGAME-26JUL12PORSEA",
            ("POR", "SEA"),
            id="portland",
        ),
    ],
)
def test_recorded_listings_match_their_games(
    name: str,
    league: League,
    day: date,
    away: str,
    home: str,
    start: str,
    event: str,
    codes: tuple[str, str],
) -> None:
    """Each quirk of a real listing (codes our table gets wrong, codes that changed with the
    season, HHMM or none, title styles) still matches, and teaches Kalshi's codes."""
    markets = fixture(name)
    found = match_day(league, day, [game("1", league, away, home, start)], markets)
    result = found.markets["1"]
    assert result.event_ticker == event and found.unmatched == {}
    assert result.away is not None and result.away.ticker == f"{event}-{codes[0]}"
    assert result.home is not None and result.home.ticker == f"{event}-{codes[1]}"
    assert found.codes == {away: codes[0], home: codes[1]}
    assert found.rate == 1.0


def test_a_hyphenated_code_and_a_school_missing_from_our_tables_match() -> None:
    """TOL at M-OH: Miami (OH) is known only from the scoreboard, its code holds a hyphen."""
    toledo = game(
        "1",
        League.NCAAF,
        "TOL",
        "M-OH",
        "2025-11-13T00:00:00+00:00",
        names=("Toledo Rockets", "Miami (OH) RedHawks"),
    )
    found = match_day(League.NCAAF, date(2025, 11, 12), [toledo], fixture("ncaaf_hyphen_code"))
    result = found.markets["1"]
    assert result.home is not None and result.home.ticker == "KXNCAAFGAME-25NOV12TOLM-OH-M-OH"
    assert result.away is not None and result.away.ticker == "KXNCAAFGAME-25NOV12TOLM-OH-TOL"
    ball = game(
        "2",
        League.NCAAMB,
        "BALL",
        "NIU",
        "2026-01-10T19:00:00+00:00",
        names=("Ball State Cardinals", "Northern Illinois Huskies"),
    )
    missing = fixture("teams_missing_from_tables")
    found = match_day(League.NCAAMB, date(2026, 1, 10), [ball], missing)
    assert found.markets["2"].event_ticker == "KXNCAAMBGAME-26JAN10BALLNIU"


def test_a_doubleheader_yields_two_games_with_two_distinct_events() -> None:
    """G1 goes to the earlier game and G2 to the later, though G2 lists G1's start time."""
    games = [
        game("late", League.MLB, "DET", "CLE", "2026-09-04T22:40:00+00:00"),
        game("early", League.MLB, "DET", "CLE", "2026-09-04T18:10:00+00:00"),
    ]
    found = match_day(League.MLB, date(2026, 9, 4), games, fixture("mlb_doubleheader_g1_g2"))
    assert found.markets["early"].event_ticker == "KXMLBGAME-26SEP041410DETCLEG1"
    assert found.markets["late"].event_ticker == "KXMLBGAME-26SEP041410DETCLEG2"
    late = found.markets["late"]
    assert late.home is not None and late.home.ticker.endswith("G2-CLE")


@pytest.mark.parametrize("name", ["never_traded_empty_book", "never_traded_penny_book"])
def test_never_traded_markets_match_but_carry_no_probability(name: str) -> None:
    """A never-traded event is still the game's event; its markets imply nothing."""
    markets = fixture(name)
    event = markets[0].event_ticker
    league = League.NBA if event.startswith("KXNBA") else League.NHL
    away, home = (m.outcome for m in markets)
    away_key = "NY" if away == "NYK" else away
    one = game("1", league, away_key, home, "2026-03-31T23:30:00+00:00")
    result = match_day(league, date(2026, 3, 31), [one], markets).markets["1"]
    assert result.event_ticker == event
    assert [m.implied_probability for m in result.markets] == [None, None]
    assert all(m.last_price == 0.0 and m.volume == 0.0 for m in result.markets)


# Wrong is worse than missing


def _listing(
    event: str,
    away: tuple[str, str],
    home: tuple[str, str],
    occurs_at: datetime | None = None,
    expected_expiration: datetime | None = None,
) -> list[Market]:
    return [
        Market(
            ticker=f"{event}-{code}",
            event_ticker=event,
            title="",
            status="active",
            yes_sub_title=label,
            occurs_at=occurs_at,
            expected_expiration=expected_expiration,
        )
        for code, label in (away, home)
    ]


SUNDAY = date(2026, 11, 22)
ONE_PM = "2026-11-22T18:00:00+00:00"


def test_two_events_fitting_one_game_leave_it_unmatched_and_named() -> None:
    """Two listed events for the same pair and time: ambiguous, both named as candidates."""
    markets = _listing("KXNFLGAME-26NOV22BUFKC", ("BUF", "Buffalo"), ("KC", "Kansas City"))
    markets += _listing("KXNFLGAME-26NOV22BUFFKCC", ("BUFF", "Buffalo"), ("KCC", "Kansas City"))
    found = match_day(League.NFL, SUNDAY, [game("1", League.NFL, "BUF", "KC", ONE_PM)], markets)
    assert not found.markets["1"].matched
    assert found.unmatched["1"].reason == "ambiguous"
    assert set(found.unmatched["1"].candidates) == {
        "KXNFLGAME-26NOV22BUFKC",
        "KXNFLGAME-26NOV22BUFFKCC",
    }
    assert found.rate == 0.0 and found.codes == {}


def test_an_unlisted_game_names_the_events_of_its_teams() -> None:
    """No fitting event: not_listed, with the listed events that name one of its teams."""
    markets = _listing("KXNFLGAME-26NOV22BUFMIA", ("BUF", "Buffalo"), ("MIA", "Miami"))
    found = match_day(League.NFL, SUNDAY, [game("1", League.NFL, "BUF", "KC", ONE_PM)], markets)
    assert found.unmatched["1"].reason == "not_listed"
    assert found.unmatched["1"].candidates == ("KXNFLGAME-26NOV22BUFMIA",)


def test_home_and_away_come_from_the_tickers_order_unless_the_site_is_neutral() -> None:
    """A game listed the other way round matches only at a neutral site, with sides by team."""
    markets = _listing("KXNFLGAME-26NOV22KCBUF", ("KC", "Kansas City"), ("BUF", "Buffalo"))
    home_game = game("1", League.NFL, "BUF", "KC", ONE_PM)
    assert not match_day(League.NFL, SUNDAY, [home_game], markets).markets["1"].matched
    london = game("1", League.NFL, "BUF", "KC", ONE_PM, neutral=True)
    result = match_day(League.NFL, SUNDAY, [london], markets).markets["1"]
    assert result.home is not None and result.home.ticker.endswith("-KC")
    assert result.away is not None and result.away.ticker.endswith("-BUF")


def test_a_neutral_site_pair_the_evidence_cannot_tell_apart_stays_unmatched() -> None:
    """Both sides "Los Angeles" with unknown codes at a neutral site: which is which is unknown."""
    markets = _listing("KXNFLGAME-26NOV22XXYY", ("XX", "Los Angeles"), ("YY", "Los Angeles"))
    mexico = game("1", League.NFL, "LAC", "LAR", ONE_PM, neutral=True)
    found = match_day(League.NFL, SUNDAY, [mexico], markets)
    assert found.unmatched["1"].reason == "not_listed"
    at_home = game("1", League.NFL, "LAC", "LAR", ONE_PM)
    found = match_day(League.NFL, SUNDAY, [at_home], markets)  # the ticker's order decides
    assert found.markets["1"].event_ticker == "KXNFLGAME-26NOV22XXYY"


@pytest.mark.parametrize(
    ("fields", "matched"),
    [
        pytest.param({"occurs_at": datetime(2026, 11, 22, 19, 30, tzinfo=UTC)}, True, id="near"),
        pytest.param({"occurs_at": datetime(2026, 11, 22, 21, 5, tzinfo=UTC)}, False, id="far"),
        pytest.param(
            {"expected_expiration": datetime(2026, 11, 22, 21, 0, tzinfo=UTC)},
            True,
            id="expires-after-start",
        ),
        pytest.param(
            {"expected_expiration": datetime(2026, 11, 22, 17, 0, tzinfo=UTC)},
            False,
            id="expires-before-start",
        ),
        pytest.param(
            {"expected_expiration": datetime(2026, 11, 23, 3, 0, tzinfo=UTC)},
            False,
            id="expires-too-late",
        ),
    ],
)
def test_start_times_must_agree(fields: dict[str, datetime], matched: bool) -> None:
    """The listed start within two hours of the scoreboard's, or an expected expiration within
    eight hours after it."""
    markets = _listing(
        "KXNFLGAME-26NOV22BUFKC", ("BUF", "Buffalo"), ("KC", "Kansas City"), **fields
    )
    found = match_day(League.NFL, SUNDAY, [game("1", League.NFL, "BUF", "KC", ONE_PM)], markets)
    assert found.markets["1"].matched is matched


def test_a_doubleheader_without_game_numbers_goes_by_start_time() -> None:
    """Same pair twice, no G1/G2: each event goes to the game whose start it lists; if the two
    events list the same start, neither game is matched."""

    def dh(first: datetime, second: datetime) -> list[Market]:
        return _listing(
            "KXMLBGAME-26JUL041310DETCLE", ("DET", "Detroit"), ("CLE", "Cleveland"), occurs_at=first
        ) + _listing(
            "KXMLBGAME-26JUL041440DETCLE",
            ("DET", "Detroit"),
            ("CLE", "Cleveland"),
            occurs_at=second,
        )

    games = [
        game("a", League.MLB, "DET", "CLE", "2026-07-04T17:10:00+00:00"),
        game("b", League.MLB, "DET", "CLE", "2026-07-04T18:40:00+00:00"),
    ]
    t1, t2 = datetime(2026, 7, 4, 17, 10, tzinfo=UTC), datetime(2026, 7, 4, 18, 40, tzinfo=UTC)
    found = match_day(League.MLB, date(2026, 7, 4), games, dh(t1, t2))
    assert found.markets["a"].event_ticker == "KXMLBGAME-26JUL041310DETCLE"
    assert found.markets["b"].event_ticker == "KXMLBGAME-26JUL041440DETCLE"
    found = match_day(League.MLB, date(2026, 7, 4), games, dh(t1, t1))
    assert {u.reason for u in found.unmatched.values()} == {"ambiguous"} and len(
        found.unmatched
    ) == 2


def test_a_game_number_beyond_the_days_games_matches_nothing() -> None:
    """G1 and G2 listed but the scoreboard has one game of the pair: nothing is guessed."""
    games = [game("only", League.MLB, "DET", "CLE", "2026-09-04T18:10:00+00:00")]
    found = match_day(League.MLB, date(2026, 9, 4), games, fixture("mlb_doubleheader_g1_g2"))
    assert found.unmatched["only"].reason == "ambiguous"


def test_an_empty_day_has_no_rate() -> None:
    """No games, no match rate."""
    assert match_day(League.NBA, SUNDAY, [], []).rate is None


MAJORS = (League.NFL, League.NBA, League.MLB, League.NHL)


@pytest.mark.parametrize(
    "team",
    [pytest.param(t, id=f"{t.league}-{t.espn}") for lg in MAJORS for t in table_teams(lg)],
)
def test_every_major_league_team_matches_home_and_away(team: Team) -> None:
    """Every team of the four majors matches as home and as away under the table's code and its
    location as the sub-title (Kalshi's style), with sides right."""
    others = [t for t in table_teams(team.league) if t.location != team.location]
    opponent = others[0]
    start = "2026-11-22T18:00:00+00:00"
    hhmm = "1300" if team.league is League.MLB else ""
    for away, home in ((opponent, team), (team, opponent)):
        event = f"{SERIES[team.league]}-26NOV22{hhmm}{away.kalshi}{home.kalshi}"
        markets = _listing(event, (away.kalshi, away.location), (home.kalshi, home.location))
        one = game("1", team.league, away.espn, home.espn, start)
        result = match_day(team.league, SUNDAY, [one], markets).markets["1"]
        assert result.event_ticker == event
        assert (result.away, result.home) == (markets[0], markets[1])


def test_a_late_game_is_listed_under_its_eastern_date() -> None:
    """A 22:30 ET tip-off (03:30Z the next day) is found on the Eastern date's listing."""
    event = "KXNBAGAME-26NOV22LALGS"
    markets = _listing(event, ("LAL", "Los Angeles L"), ("GS", "Golden State"))
    late = game("1", League.NBA, "LAL", "GS", "2026-11-23T03:30:00+00:00")
    assert match_day(League.NBA, SUNDAY, [late], markets).markets["1"].event_ticker == event
    assert (
        not match_day(League.NBA, SUNDAY + timedelta(days=1), [late], markets).markets["1"].matched
    )


def test_other_leagues_days_and_outcomes_are_ignored() -> None:
    """Events of another series or day, and three-way events, never match."""
    one = game("1", League.NBA, "BOS", "NY", ONE_PM)
    for event in ("KXNHLGAME-26NOV22BOSNYK", "KXNBAGAME-26NOV23BOSNYK"):
        markets = _listing(event, ("BOS", "Boston"), ("NYK", "New York"))
        assert not match_day(League.NBA, SUNDAY, [one], markets).markets["1"].matched
    tie = _listing("KXNBAGAME-26NOV22BOSNYK", ("BOS", "Boston"), ("NYK", "New York"))
    tie += _listing("KXNBAGAME-26NOV22BOSNYK", ("TIE", "Tie"), ("NYK", "New York"))[:1]
    assert not match_day(League.NBA, SUNDAY, [one], tie).markets["1"].matched


def test_an_event_with_one_listed_market_fills_only_that_side() -> None:
    """Only the home market listed: the game matches, the away side stays empty."""
    markets = _listing("KXNBAGAME-26NOV22BOSNYK", ("BOS", "Boston"), ("NYK", "New York"))[1:]
    result = match_day(League.NBA, SUNDAY, [game("1", League.NBA, "BOS", "NY", ONE_PM)], markets)
    assert (result.markets["1"].away, result.markets["1"].home) == (None, markets[0])
    assert result.markets["1"].markets == (markets[0],)


def test_game_numbers_that_contradict_the_games_sides_match_nothing() -> None:
    """G2 is listed the other way round and fits only the earlier (neutral-site) game: the G
    order would pair it with the later one, so neither game is matched."""
    g1 = _listing("KXMLBGAME-26JUL04DETCLEG1", ("DET", "Detroit"), ("CLE", "Cleveland"))
    g2 = _listing("KXMLBGAME-26JUL04CLEDETG2", ("CLE", "Cleveland"), ("DET", "Detroit"))
    games = [
        game("a", League.MLB, "DET", "CLE", "2026-07-04T17:10:00+00:00", neutral=True),
        game("b", League.MLB, "DET", "CLE", "2026-07-04T22:40:00+00:00"),
    ]
    found = match_day(League.MLB, date(2026, 7, 4), games, g1 + g2)
    assert set(found.unmatched) == {"a", "b"}


def test_an_event_two_pairs_could_take_stays_with_neither() -> None:
    """ "New York at Los Angeles" with unknown codes fits NYG at LAR and NYJ at LAC: ambiguous."""
    markets = _listing("KXNFLGAME-26NOV22XXYY", ("XX", "New York"), ("YY", "Los Angeles"))
    games = [
        game("g", League.NFL, "NYG", "LAR", ONE_PM),
        game("j", League.NFL, "NYJ", "LAC", ONE_PM),
    ]
    found = match_day(League.NFL, SUNDAY, games, markets)
    assert {k: u.reason for k, u in found.unmatched.items()} == {"g": "ambiguous", "j": "ambiguous"}


def test_finished_games_tickers_are_guessed_from_the_best_codes_we_know() -> None:
    """Learned code first (else the table's), the scoreboard's code too; HHMM or not for MLB;
    G1/G2 where a pair plays twice."""
    games = [
        game("a", League.MLB, "WSH", "NYM", "2026-07-04T17:10:00+00:00"),
        game("b", League.MLB, "WSH", "NYM", "2026-07-04T22:40:00+00:00"),
    ]
    tickers = guess_tickers(League.MLB, games, {"WSH": "WAS"})
    assert "KXMLBGAME-26JUL041310WASNYMG1-WAS" in tickers
    assert "KXMLBGAME-26JUL04WSHNYMG2-NYM" in tickers
    assert not any(t.endswith("NYM-NYM") for t in tickers)  # always a game number here
    single = guess_tickers(League.NBA, [game("c", League.NBA, "GS", "NY", ONE_PM)], {})
    assert sorted(single) == sorted(
        f"KXNBAGAME-26NOV22{a}{h}-{c}" for a in ("GSW", "GS") for h in ("NYK", "NY") for c in (a, h)
    )


def test_a_market_names_its_team_when_its_evidence_is_clear() -> None:
    """outcome_team: the sub-title and code decide; a label naming two teams decides nothing."""
    (away, home) = _listing("KXNFLGAME-26NOV22LAXX", ("LA", "Los Angeles"), ("XX", "Seattle"))
    assert outcome_team(League.NFL, home, {}) == "SEA"
    assert outcome_team(League.NFL, away, {}) is None
    assert outcome_team(League.NFL, away, {"LAR": "LA"}) == "LAR"


# Property tests on simulated listings


@dataclass(frozen=True, slots=True)
class Slate:
    league: League
    day: date
    games: list[Game]
    markets: list[Market]
    truth: dict[str, tuple[str, str, str]]  # game id -> (event, away market, home market)


def _labels(team: SimTeam, league: League, hostile: bool, rng: random.Random) -> str:
    """A sub-title for ``team``: one of Kalshi's unambiguous styles, or (hostile) any name."""
    shared = sum(t.location == team.location for t in teams(league)) > 1
    styles = [team.sub_title, team.name, f"{team.location} {team.nickname}"]
    if not shared:
        styles.append(team.location)
    if hostile:
        styles += [team.location, team.nickname, "", team.key]
    return rng.choice(styles)


def _renames(league: League, day: date, rng: random.Random) -> dict[str, str]:
    """Kalshi codes changed without notice: some permuted among teams, some brand new."""
    codes = [t.kalshi(day) for t in teams(league)]
    chosen = rng.sample(codes, k=rng.randint(0, min(8, len(codes))))
    renames = dict(zip(chosen, rng.sample(chosen, k=len(chosen)), strict=True))
    taken = set(codes)
    # Now and then every code is new: only the sub-titles and the start times are left.
    fresh_count = len(codes) if rng.random() < 0.25 else rng.randint(0, 4)
    for code in rng.sample(codes, k=fresh_count):
        fresh = "".join(rng.choice("ABCDEFGHJKMNPQRSTUVWXZ") for _ in range(rng.randint(2, 4)))
        if rng.random() < 0.2:
            fresh = f"{fresh[0]}-{fresh[1:]}"
        if fresh not in taken:
            renames[code] = fresh
            taken.add(fresh)
    return renames


def build(seed: int, league: League, offset: int, *, hostile: bool = False) -> Slate:
    """A simulated day of ``league``: scoreboard games, a perturbed listing and the truth."""
    rng = random.Random(f"{seed}|{league}|{offset}|{hostile}")
    slates = Slates(seed)
    day = FIRST_DAY + timedelta(days=offset)
    sim_games: list[SimGame] = list(slates.games(league, day))
    faults = Faults(
        code_renames={league: _renames(league, day, rng)},
        title_style=rng.choice((None, "at", "vs", "wins")),
    )
    prices = PriceBook(seed, random.Random(seed))
    now = datetime.combine(day, datetime.min.time(), UTC)
    now_ms = int(now.timestamp() * 1000)
    events = [espn_shapes.event(slates, g, now) for g in sim_games]
    games = {g.id: g for g in parse_scoreboard(league, {"events": events})}
    markets: list[Market] = []
    truth: dict[str, tuple[str, str, str]] = {}
    drop = rng.random() * 0.3
    for game in sim_games:
        entry = listed(game, faults)
        if rng.random() < drop:
            continue  # not (yet) listed
        truth[game.espn_id] = (entry.event_ticker, entry.ticker(False), entry.ticker(True))
        shift = timedelta(minutes=rng.randint(-300, 300) if hostile else rng.randint(-30, 30))
        timeless = rng.random() < 0.2
        for home in (False, True):
            team = game.home if home else game.away
            raw = kalshi_shapes.market_dict(entry, home, prices, now_ms, faults.title_style)
            market = parse_market(raw)
            market = replace(
                market,
                yes_sub_title=_labels(team, league, hostile, rng),
                occurs_at=None if timeless else game.start + shift,
            )
            markets.append(market)
    # Other days' events of the series sit in the same listing.
    for other in (day - timedelta(days=1), day + timedelta(days=1)):
        for game in slates.games(league, other):
            entry = listed(game, faults)
            markets += [
                parse_market(kalshi_shapes.market_dict(entry, h, prices, now_ms))
                for h in (False, True)
            ]
    rng.shuffle(markets)
    return Slate(league, day, list(games.values()), markets, truth)


def _check(slate: Slate, *, must_match: bool) -> tuple[int, int]:
    found = match_day(slate.league, slate.day, slate.games, slate.markets)
    matched = 0
    for game in slate.games:
        result = found.markets[game.id]
        expected = slate.truth.get(game.id)
        if not result.matched:
            assert not (must_match and expected), (game, expected, found.unmatched[game.id])
            continue
        matched += 1
        assert expected is not None, (game, result)
        event, away, home = expected
        assert result.event_ticker == event
        assert result.away is not None and result.away.ticker == away
        assert result.home is not None and result.home.ticker == home
    return matched, len(slate.games)


LEAGUES = st.sampled_from(list(League))


@pytest.mark.fuzz
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 50), league=LEAGUES, offset=st.integers(0, 400))
def test_every_listed_game_matches_its_true_event(seed: int, league: League, offset: int) -> None:
    """Kalshi-style sub-titles, perturbed codes (permuted, new, hyphenated), titles in any style,
    start times off by up to 30 minutes or missing, some events not listed, other days' events
    around: every listed game matches its own event with the right sides, no other does."""
    _check(build(seed, league, offset), must_match=True)


@pytest.mark.fuzz
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 50), league=LEAGUES, offset=st.integers(0, 400))
def test_hostile_listings_never_match_a_wrong_event(seed: int, league: League, offset: int) -> None:
    """Sub-titles that name a shared city, a nickname, a code or nothing, start times off by
    hours: games may stay unmatched, but none matches a wrong event or the wrong sides."""
    _check(build(seed, league, offset, hostile=True), must_match=False)
