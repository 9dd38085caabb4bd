"""Reading a Kalshi listing as events: date filter, HHMM, G1/G2, hyphenated codes, start times."""

from __future__ import annotations

from datetime import UTC, date, datetime

from graph.games.evidence import Resolver
from graph.games.listing import day_code, read_events
from graph.games.matching import resolver
from graph.models import League, Market

NO_ONE = Resolver([])


def _market(
    event: str,
    code: str,
    occurs_at: datetime | None = None,
    expected_expiration: datetime | None = None,
) -> Market:
    return Market(
        ticker=f"{event}-{code}",
        event_ticker=event,
        title="",
        status="active",
        occurs_at=occurs_at,
        expected_expiration=expected_expiration,
    )


def test_day_code_is_kalshis_date() -> None:
    """YYMONDD with an upper-case month."""
    assert day_code(date(2026, 9, 4)) == "26SEP04"


def test_only_the_series_and_day_asked_for_are_read() -> None:
    """Other days and other series in the same listing are ignored."""
    markets = [
        *(_market("KXMLBGAME-26SEP04DETCLE", c) for c in ("DET", "CLE")),
        *(_market("KXMLBGAME-26SEP05DETCLE", c) for c in ("DET", "CLE")),
        *(_market("KXNBAGAME-26SEP04DETCLE", c) for c in ("DET", "CLE")),
    ]
    events = read_events("KXMLBGAME", date(2026, 9, 4), markets, NO_ONE)
    assert [e.ticker for e in events] == ["KXMLBGAME-26SEP04DETCLE"]


def test_hhmm_and_game_number_are_read_around_the_teams() -> None:
    """KXMLBGAME-26SEP041410DETCLEG2: 14:10 Eastern, DET away, CLE home, game 2."""
    event = "KXMLBGAME-26SEP041410DETCLEG2"
    markets = [_market(event, "CLE"), _market(event, "DET")]
    (found,) = read_events("KXMLBGAME", date(2026, 9, 4), markets, NO_ONE)
    assert [s.code for s in found.sides] == ["DET", "CLE"]
    assert found.game_number == 2
    assert found.start == datetime(2026, 9, 4, 18, 10, tzinfo=UTC)
    assert found.market("CLE") is markets[0] and found.market("XXX") is None


def test_hyphenated_codes_split_by_the_markets_own_codes() -> None:
    """TOLM-OH splits into TOL and M-OH because the markets say so, not a table."""
    event = "KXNCAAFGAME-25NOV12TOLM-OH"
    markets = [_market(event, "M-OH"), _market(event, "TOL")]
    (found,) = read_events("KXNCAAFGAME", date(2025, 11, 12), markets, NO_ONE)
    assert [s.code for s in found.sides] == ["TOL", "M-OH"]
    assert found.game_number == 0 and found.start is None


def test_an_event_with_one_listed_market_takes_the_other_code_from_its_ticker() -> None:
    """Only the home market listed: the away side is named by the ticker and has no market."""
    event = "KXNHLGAME-26SEP19VGKLAG1"
    (found,) = read_events(
        "KXNHLGAME",
        date(2026, 9, 19),
        [_market(event, "LA")],
        resolver(League.NHL, {}),
    )
    away, home = found.sides
    assert (away.code, away.market, away.teams) == ("VGK", None, frozenset({"VGK"}))
    assert home.code == "LA" and home.market is not None and found.game_number == 1
    (first,) = read_events(
        "KXNHLGAME", date(2026, 9, 19), [_market("KXNHLGAME-26SEP19VGKLA", "VGK")], NO_ONE
    )
    assert [s.code for s in first.sides] == ["VGK", "LA"]


def test_events_that_are_not_two_team_winners_are_skipped() -> None:
    """Three outcomes (a tie market), or codes that do not spell the ticker, are not read."""
    tie = "KXNHLGAME-26SEP19VGKLA"
    markets = [_market(tie, c) for c in ("VGK", "LA", "TIE")]
    markets += [_market("KXNHLGAME-26SEP19BOSBUF", c) for c in ("NYR", "NYI")]
    markets += [_market("KXNHLGAME-26SEP19ANA", "ANA")]
    markets += [_market("KXNHLGAME-26SEP19BOSNYRX", c) for c in ("BOS", "NYR")]  # a foreign tail
    assert read_events("KXNHLGAME", date(2026, 9, 19), markets, NO_ONE) == []


def test_occurrence_time_wins_over_the_tickers_hhmm() -> None:
    """occurrence_datetime is the start; the expected expiration bounds it."""
    event = "KXMLBGAME-26AUG291605MIAWSH"
    start = datetime(2026, 8, 29, 20, 10, tzinfo=UTC)
    expires = datetime(2026, 8, 29, 23, 5, tzinfo=UTC)
    markets = [
        _market(event, code, occurs_at=start, expected_expiration=expires)
        for code in ("MIA", "WSH")
    ]
    (found,) = read_events("KXMLBGAME", date(2026, 8, 29), markets, NO_ONE)
    assert (found.start, found.latest) == (start, expires)
    bad_time = [_market("KXMLBGAME-26AUG292575MIAWSH", c) for c in ("MIA", "WSH")]
    (odd,) = read_events("KXMLBGAME", date(2026, 8, 29), bad_time, NO_ONE)
    assert odd.start is None
