"""Simulated order-book tops for game-winner markets (pure: the caller passes the time).

How it works: one :class:`Quote` per event holds the home team's YES book in whole
cents; the away market is its mirror image (away bid = 100 - home ask, away ask =
100 - home bid, last = 100 - last), so the two markets of an event always stay
complementary. Each :meth:`PriceBook.step` moves the home mid by a small random
walk that reverts towards the fair value; while a game is live the fair value
slides from the pre-game probability towards the (pre-decided) result.

A never-traded event (``SimGame.never_traded``) does not walk: no last price, no volume,
and a book that is empty (bid 0 / ask 1) or holds only 0.01 / 0.99 orders, as a real
listing shows before the first trade.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

from graph.models import GameState
from graph.sim.slate import SimGame

_STEP_SIGMA = 0.012
_REVERSION = 0.15


@dataclass(slots=True)
class Side:
    """One market's view of the book, in cents and contracts."""

    bid: int
    ask: int
    last: int
    bid_size: int
    ask_size: int
    last_trade_size: int
    volume: int
    open_interest: int


@dataclass(slots=True)
class Quote:
    """The state of one event's two markets."""

    mid: float  # home YES, in dollars
    spread: int  # cents
    last_home: int
    sizes: list[int] = field(default_factory=lambda: [0, 0, 0, 0])  # bid/ask sizes: home, away
    last_trade_size: int = 0
    volume: list[int] = field(default_factory=lambda: [0, 0])  # away, home
    open_interest: list[int] = field(default_factory=lambda: [0, 0])
    previous: tuple[int, int, int] = (0, 0, 0)  # home bid, ask, last ~24 h ago
    updated_ms: int = 0

    def home_book(self) -> tuple[int, int]:
        bid = min(max(round(self.mid * 100 - self.spread / 2), 1), 99 - self.spread)
        return bid, bid + self.spread


def fair_value(game: SimGame, now: datetime) -> float:
    """The home win probability a well-informed market would price at ``now``."""
    state, progress = game.phase(now)
    outcome = 1.0 if game.home_wins else 0.0
    if state is GameState.LIVE:
        return game.home_win_prob * (1 - progress) + outcome * progress
    if state is GameState.FINAL:
        return outcome
    return game.home_win_prob


class PriceBook:
    """Quotes for every event seen so far; tick randomness comes from ``rng``."""

    def __init__(self, seed: int, rng: random.Random) -> None:
        self._seed = seed
        self._rng = rng
        self._quotes: dict[str, Quote] = {}

    def quote(self, game: SimGame, now_ms: int) -> Quote:
        """The event's current quote, created deterministically on first sight."""
        quote = self._quotes.get(game.event_ticker)
        if quote is None:
            init = random.Random(f"{self._seed}|quote|{game.event_ticker}")
            mid = min(max(game.home_win_prob + init.gauss(0, 0.02), 0.03), 0.97)
            quote = Quote(mid=mid, spread=init.choice((1, 1, 2, 3)), last_home=0)
            bid, ask = quote.home_book()
            quote.last_home = init.randint(bid, ask)
            quote.sizes = [init.randint(10, 5000) for _ in range(4)]
            quote.volume = [init.randint(1000, 200_000) for _ in range(2)]
            quote.open_interest = [v // init.randint(2, 4) for v in quote.volume]
            quote.previous = (bid, ask, quote.last_home)
            quote.updated_ms = now_ms
            self._quotes[game.event_ticker] = quote
        return quote

    def step(self, game: SimGame, now_ms: int) -> Quote:
        """Advance the random walk of one event once (settled and untraded games stay put)."""
        quote = self.quote(game, now_ms)
        now = datetime.fromtimestamp(now_ms / 1000, UTC)
        state, _ = game.phase(now)
        if state is GameState.FINAL or game.never_traded:
            return quote
        rng = self._rng
        fair = fair_value(game, now)
        quote.mid += _REVERSION * (fair - quote.mid) + rng.gauss(0, _STEP_SIGMA)
        quote.mid = min(max(quote.mid, 0.01), 0.99)
        bid, ask = quote.home_book()
        quote.last_home = rng.randint(bid, ask)
        quote.sizes = [rng.randint(10, 5000) for _ in range(4)]
        quote.last_trade_size = rng.randint(1, 250)
        for i in range(2):
            quote.volume[i] += quote.last_trade_size + rng.randint(0, 400)
            quote.open_interest[i] += rng.randint(0, 150)
        quote.updated_ms = now_ms
        return quote

    def side(self, game: SimGame, home: bool, now_ms: int) -> Side:
        """One market of the event as cents; settled markets have no book."""
        quote = self.quote(game, now_ms)
        i = 1 if home else 0
        now = datetime.fromtimestamp(now_ms / 1000, UTC)
        if game.never_traded:
            return _untraded(game, now)
        if game.phase(now)[0] is GameState.FINAL:
            won = game.home_wins == home
            return Side(0, 0, 100 if won else 0, 0, 0, 0, quote.volume[i], quote.open_interest[i])
        bid, ask = quote.home_book()
        last = quote.last_home
        if not home:
            bid, ask, last = 100 - ask, 100 - bid, 100 - last
        sizes = quote.sizes[0:2] if home else quote.sizes[2:4]
        return Side(
            bid=bid,
            ask=ask,
            last=last,
            bid_size=sizes[0],
            ask_size=sizes[1],
            last_trade_size=quote.last_trade_size,
            volume=quote.volume[i],
            open_interest=quote.open_interest[i],
        )

    def previous(self, game: SimGame, home: bool, now_ms: int) -> tuple[int, int, int]:
        """(bid, ask, last) of one market as first quoted ("~24 h ago")."""
        if game.never_traded:
            side = self.side(game, home, now_ms)
            return side.bid, side.ask, side.last
        bid, ask, last = self.quote(game, now_ms).previous
        return (bid, ask, last) if home else (100 - ask, 100 - bid, 100 - last)


def _untraded(game: SimGame, now: datetime) -> Side:
    """A market nobody has traded: no last price, no volume, an empty or 1-cent book."""
    if game.phase(now)[0] is GameState.FINAL:
        return Side(0, 0, 0, 0, 0, 0, 0, 0)
    if game.never_traded == "penny":
        return Side(
            bid=1,
            ask=99,
            last=0,
            bid_size=10,
            ask_size=10,
            last_trade_size=0,
            volume=0,
            open_interest=0,
        )
    return Side(
        bid=0, ask=100, last=0, bid_size=0, ask_size=0, last_trade_size=0, volume=0, open_interest=0
    )
