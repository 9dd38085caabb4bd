from __future__ import annotations

import random
from fractions import Fraction

import pytest
from hypothesis import given, strategies as st

from graph.backoff import backoff_delay


@given(
    attempt=st.integers(min_value=0, max_value=5000),
    base=st.floats(min_value=0.0, max_value=10.0),
    cap=st.floats(min_value=0.0, max_value=120.0),
    draw=st.floats(min_value=0.0, max_value=1.0),
)
def test_delay_within_full_jitter_bounds(
    attempt: int, base: float, cap: float, draw: float
) -> None:
    """Every delay lies in [0, min(cap, base * 2**attempt)]."""
    delay = backoff_delay(attempt, base_s=base, cap_s=cap, rng=lambda: draw)
    assert 0.0 <= delay <= cap
    # Exact arithmetic: base * 2**attempt overflows a float for large attempts.
    assert Fraction(delay) <= Fraction(base) * 2**attempt


def test_ceiling_doubles_per_attempt() -> None:
    """With the top draw the delay is base * 2**attempt: 0.1, 0.2, 0.4, ..."""
    delays = [backoff_delay(n, base_s=0.1, cap_s=1000.0, rng=lambda: 1.0) for n in range(8)]
    assert delays == pytest.approx([0.1 * 2**n for n in range(8)])


def test_ceiling_is_capped() -> None:
    """Once base * 2**attempt passes the cap, the top delay stays at the cap."""
    delays = [backoff_delay(n, base_s=1.0, cap_s=5.0, rng=lambda: 1.0) for n in range(2, 12)]
    assert delays == [4.0] + [5.0] * 9


def test_delay_is_the_draw_times_the_ceiling() -> None:
    """Full jitter: the draw scales the ceiling linearly (0 gives no wait)."""
    assert backoff_delay(3, base_s=0.5, cap_s=10.0, rng=lambda: 0.0) == 0.0
    assert backoff_delay(3, base_s=0.5, cap_s=10.0, rng=lambda: 0.25) == pytest.approx(1.0)


def test_delays_are_jittered() -> None:
    """Different draws give different delays for the same attempt (no lockstep retries)."""
    rng = random.Random(7)
    delays = {backoff_delay(4, base_s=0.2, cap_s=5.0, rng=rng.random) for _ in range(20)}
    assert len(delays) == 20
    assert all(0.0 <= d <= 3.2 for d in delays)


@pytest.mark.parametrize("draw", [pytest.param(-0.5, id="below"), pytest.param(1.5, id="above")])
def test_out_of_range_draw_is_clamped(draw: float) -> None:
    """A misbehaving rng cannot push the delay below 0 or above the ceiling."""
    delay = backoff_delay(1, base_s=1.0, cap_s=10.0, rng=lambda: draw)
    assert 0.0 <= delay <= 2.0


def test_negative_attempt_rejected() -> None:
    """attempt counts from 0; a negative attempt is a ValueError."""
    with pytest.raises(ValueError, match="attempt"):
        backoff_delay(-1, base_s=0.2, cap_s=5.0, rng=lambda: 0.5)


@pytest.mark.parametrize("attempt", [64, 1100, 10**6, 10**18])
def test_huge_attempt_does_not_overflow(attempt: int) -> None:
    """Huge attempt numbers give the cap, not an OverflowError."""
    assert backoff_delay(attempt, base_s=0.2, cap_s=5.0, rng=lambda: 1.0) == 5.0


@pytest.mark.parametrize("attempt", [0, 63, 5000, 10**18])
def test_zero_base_never_waits(attempt: int) -> None:
    """base_s=0 means retry at once, however many attempts came before."""
    assert backoff_delay(attempt, base_s=0.0, cap_s=5.0, rng=lambda: 1.0) == 0.0
