"""graph.sim.wslimits: the simulator's per-connection command rate, scripted codes, market cap."""

from __future__ import annotations

from graph.sim.faults import Faults, Stats
from graph.sim.wslimits import CommandLimits


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_commands_past_the_rate_are_refused_with_27_until_the_bucket_refills() -> None:
    """A bucket of one second's worth: `rate` commands at once, then 27 until time passes."""
    clock = Clock()
    faults, stats = Faults(ws_commands_per_s=2), Stats()
    limits = CommandLimits(faults, stats, clock=clock)
    assert [limits.refusal("list_subscriptions", None) for _ in range(3)] == [None, None, 27]
    clock.now += 0.5
    assert limits.refusal("subscribe", {"market_tickers": ["A", "B"]}) is None
    assert limits.refusal("subscribe", {}) == 27
    assert stats.ws_commands[-2:] == [("subscribe", 2), ("subscribe", 0)]


def test_a_slow_rate_still_allows_one_command_at_once() -> None:
    """Below one command per second the bucket holds one."""
    limits = CommandLimits(Faults(ws_commands_per_s=0.5), Stats(), clock=Clock())
    assert [limits.refusal("x", None) for _ in range(2)] == [None, 27]


def test_scripted_codes_answer_subscription_commands_only() -> None:
    """Queued codes go to subscribe/update/unsubscribe in order; other commands pass."""
    faults = Faults()
    faults.ws_scripted_errors.extend([26, 18])
    limits = CommandLimits(faults, Stats())
    assert limits.refusal("list_subscriptions", None) is None
    assert [limits.refusal("update_subscription", {}) for _ in range(3)] == [26, 18, None]


def test_the_market_limit_counts_what_the_subscription_would_hold() -> None:
    """Over the limit only when it is set and passed."""
    assert not CommandLimits(Faults(), Stats()).over_market_limit(10**6)
    capped = CommandLimits(Faults(ws_market_limit=3), Stats())
    assert not capped.over_market_limit(3) and capped.over_market_limit(4)
