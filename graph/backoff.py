"""Exponential backoff with full jitter (pure: randomness is passed in).

``delay = rng() * min(cap, base * 2**attempt)``: the ceiling doubles per attempt up
to ``cap`` and the actual wait is drawn uniformly below it, so many clients that
failed together do not retry together (AWS "full jitter").
"""

from __future__ import annotations

import math
from collections.abc import Callable


def backoff_delay(attempt: int, *, base_s: float, cap_s: float, rng: Callable[[], float]) -> float:
    """Seconds to wait before retry number ``attempt`` (counting from 0).

    Always in ``[0, min(cap_s, base_s * 2**attempt)]``; never more than ``cap_s``.
    """
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    try:
        ceiling = min(cap_s, math.ldexp(base_s, attempt))
    except OverflowError:  # base_s * 2**attempt is beyond any float, so far above the cap
        ceiling = cap_s
    return max(0.0, min(1.0, rng())) * ceiling
