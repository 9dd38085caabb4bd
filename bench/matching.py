"""Matching cost: 200 games against 2,000 listed markets, next to the old exact-ticker matcher.

How it works: one simulated NBA day of 200 games (a slate-size override) and the Kalshi listing
of that day and the two days either side (5 x 400 = 2,000 markets), built by the simulator's
pure modules and read by the service's own parsers, once. Each matcher then runs ``repeat``
times on the same input; a row is the median CPU time (``time.process_time``) of one run. The
baseline is the exact-ticker matcher the service used before issue 14
(:mod:`bench.exact_matcher`), timed in the same run; a second row holds the new matcher against
issue 14's target (20 ms of CPU).
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench.exact_matcher import match_league
from bench.report import Row
from graph.espn.parse import parse_scoreboard
from graph.games.matching import match_day
from graph.kalshi.payloads import parse_market
from graph.models import Game, League, Market
from graph.sim import espn_shapes, kalshi_shapes
from graph.sim.faults import Faults
from graph.sim.listing import listed
from graph.sim.prices import PriceBook
from graph.sim.slate import Slates

TARGET_MS = 20.0
LEAGUE = League.NBA
DAY = date(2026, 1, 15)  # 2025-26 season: the old tables still knew the NBA's codes


def workload(games: int = 200, days_around: int = 2) -> tuple[list[Game], list[Market]]:
    """The day's scoreboard games and the listing around it, parsed as the service would."""
    slates = Slates(0, {LEAGUE: games})
    prices = PriceBook(0, random.Random(0))
    now = datetime.combine(DAY, datetime.min.time(), UTC)
    now_ms = int(now.timestamp() * 1000)
    events = [espn_shapes.event(slates, g, now) for g in slates.games(LEAGUE, DAY)]
    markets = [
        parse_market(kalshi_shapes.market_dict(listed(game, Faults()), home, prices, now_ms))
        for offset in range(-days_around, days_around + 1)
        for game in slates.games(LEAGUE, DAY + timedelta(days=offset))
        for home in (False, True)
    ]
    return parse_scoreboard(LEAGUE, {"events": events}), markets


def _cpu_ms(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.process_time()
        run()
        times.append((time.process_time() - started) * 1000)
    return statistics.median(times)


def matching_section(repeat: int = 30) -> tuple[list[Row], dict[str, Any]]:
    games, markets = workload()
    new = match_day(LEAGUE, DAY, games, markets)
    old_matched = match_league(LEAGUE, games, markets)
    new_ms = _cpu_ms(lambda: match_day(LEAGUE, DAY, games, markets), repeat)
    old_ms = _cpu_ms(lambda: match_league(LEAGUE, games, markets), repeat)
    name = f"matching {len(games)} games / {len(markets)} markets"
    rows = [
        Row.of(f"{name}: CPU (vs exact-ticker)", new_ms, "ms", old_ms),
        Row.of(f"{name}: CPU (vs target)", new_ms, "ms", TARGET_MS),
    ]
    notes = {
        "games": len(games),
        "markets": len(markets),
        "repeat": repeat,
        "new_ms": round(new_ms, 3),
        "exact_ms": round(old_ms, 3),
        "new_matched": len(games) - len(new.unmatched),
        "exact_matched": old_matched,
    }
    return rows, notes
