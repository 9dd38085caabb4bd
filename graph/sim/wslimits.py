"""Kalshi's WebSocket limits in the simulator, per connection (knobs in ``Faults``).

How it works: :class:`CommandLimits` is asked about every command a connection receives.
It records the command (name, markets named) in ``Stats.ws_commands``, refuses it with 27
("Too many requests") past ``Faults.ws_commands_per_s`` (a bucket of one second's worth,
by real time: the simulator's clock is often frozen in tests), and answers subscription
commands with the codes queued in ``Faults.ws_scripted_errors``. :meth:`over_market_limit`
says whether a subscription would hold more than ``Faults.ws_market_limit`` markets (26).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from graph.sim.faults import Faults, Stats

SUBSCRIPTION_COMMANDS = frozenset({"subscribe", "update_subscription", "unsubscribe"})
TOO_MANY_REQUESTS = 27
MARKET_LIMIT = 26


class CommandLimits:
    def __init__(
        self, faults: Faults, stats: Stats, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._faults = faults
        self._stats = stats
        self._clock = clock
        self._tokens: float | None = None
        self._refilled_at = clock()

    def refusal(self, cmd: object, params: object) -> int | None:
        """The error code this command gets instead of running, if any."""
        markets = params.get("market_tickers") if isinstance(params, dict) else None
        self._stats.ws_commands.append(
            (str(cmd)[:40], len(markets) if isinstance(markets, list) else 0)
        )
        if self._rate_limited():
            return TOO_MANY_REQUESTS
        scripted = self._faults.ws_scripted_errors
        if cmd in SUBSCRIPTION_COMMANDS and scripted:
            return scripted.popleft()
        return None

    def over_market_limit(self, markets: int) -> bool:
        limit = self._faults.ws_market_limit
        return limit is not None and markets > limit

    def _rate_limited(self) -> bool:
        rate = self._faults.ws_commands_per_s
        if rate is None:
            return False
        now = self._clock()
        burst = max(rate, 1.0)
        tokens = burst if self._tokens is None else self._tokens
        tokens = min(burst, tokens + (now - self._refilled_at) * rate)
        self._refilled_at = now
        if tokens < 1.0:
            self._tokens = tokens
            return True
        self._tokens = tokens - 1.0
        return False
