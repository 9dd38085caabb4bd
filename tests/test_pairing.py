"""Property tests: simulated listings with perturbed codes and titles match right or not at all."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings, strategies as st

from graph.espn import parse_scoreboard
from graph.games.pairing import match_day
from graph.kalshi import parse_market
from graph.models import Game, League, Market
from graph.sim import espn_shapes, kalshi_shapes
from graph.sim.faults import Faults
from graph.sim.listing import listed
from graph.sim.prices import PriceBook
from graph.sim.slate import SimGame, Slates
from graph.sim.teams import SimTeam, teams

FIRST_DAY = date(2025, 9, 1)


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


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 50), league=LEAGUES, offset=st.integers(0, 400))
def test_every_listed_game_matches_its_true_event(seed: int, league: League, offset: int) -> None:
    """Kalshi-style sub-titles, perturbed codes (permuted, new, hyphenated), titles in any style,
    start times off by up to 30 minutes or missing, some events not listed, other days' events
    around: every listed game matches its own event with the right sides, no other does."""
    _check(build(seed, league, offset), must_match=True)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 50), league=LEAGUES, offset=st.integers(0, 400))
def test_hostile_listings_never_match_a_wrong_event(seed: int, league: League, offset: int) -> None:
    """Sub-titles that name a shared city, a nickname, a code or nothing, start times off by
    hours: games may stay unmatched, but none matches a wrong event or the wrong sides."""
    _check(build(seed, league, offset, hostile=True), must_match=False)
