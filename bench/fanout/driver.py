"""The tick source every contender shares: the simulator, driven at a fixed rate.

The simulator runs in the benchmark's process with its own clock; every 10 ms the
driver publishes the ticks that are due so that each of M markets ticks ``rate`` times
a second, round robin, and remembers when each was sent: the offered load of a window
is every (subscriber, tick) pair with a tick of one of its markets sent in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence

from graph.sim import Simulator

TICK_EVERY_S = 0.01


class Driver:
    """Publishes ``rate`` ticks per second per market, round robin, and logs send times."""

    def __init__(self, sim: Simulator, tickers: Sequence[str], rate: float) -> None:
        self._sim = sim
        self._tickers = list(tickers)
        self._rate = rate
        self.sent: list[tuple[float, str]] = []  # (time ms, ticker)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        per_step = self._rate * len(self._tickers) * TICK_EVERY_S
        owed, i, next_at = 0.0, 0, loop.time()
        while True:
            owed += per_step
            while owed >= 1:
                ticker = self._tickers[i % len(self._tickers)]
                self.sent.append((time.time() * 1000, ticker))
                await self._sim.publish_tick(ticker)
                i += 1
                owed -= 1
            next_at += TICK_EVERY_S
            await asyncio.sleep(max(0.0, next_at - loop.time()))


def assignments(subscribers: int, tickers: Sequence[str], per_sub: int) -> list[list[str]]:
    """Subscriber i watches ``per_sub`` consecutive markets starting at ``i * per_sub``."""
    m = len(tickers)
    return [[tickers[(i * per_sub + j) % m] for j in range(per_sub)] for i in range(subscribers)]
