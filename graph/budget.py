"""What one GraphQL operation may spend: upstream requests and predictions (shared, asyncio).

How it works: the GraphQL edge opens a :class:`Budget` for each operation with
:func:`spending` (a context variable, so every task the operation starts, DataLoader
batches and cache loads included, sees the same budget), and :class:`BudgetedTransport`,
wrapped around each upstream HTTP client's transport, charges one request per attempt
before sending it. Past the limit it raises :class:`~graph.errors.UpstreamBudgetExceeded`
instead of sending: the field that needed the request fails alone, with that code.

Requests outside any operation (the rating refresh, readiness probes) are not charged. A
load shared by several operations (single-flight caches) is charged to the operation that
started it.

The same budget counts the games an operation asks predictions for
(``MAX_GAMES_PER_QUERY``), across every loader batch of the operation: aliases over many
leagues or dates share one allowance (:meth:`Budget.take_games`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import httpx

from graph.errors import UpstreamBudgetExceeded


@dataclass(slots=True)
class Budget:
    """Upstream requests one operation may still make, and predictions it may ask for."""

    limit: int
    max_games: int | None = None
    spent: int = 0
    refused: int = 0
    games: int = 0

    def take_games(self, wanted: int) -> int:
        """How many of ``wanted`` more predictions this operation may still have."""
        if self.max_games is None:
            return wanted
        granted = max(0, min(wanted, self.max_games - self.games))
        self.games += granted
        return granted

    def charge(self) -> None:
        """Count one request, or raise when the limit is already reached."""
        if self.spent >= self.limit:
            self.refused += 1
            raise UpstreamBudgetExceeded(
                f"this operation already made {self.limit} upstream requests, the most one "
                "operation may make; ask for less (fewer games, dates or markets)"
            )
        self.spent += 1


UNLIMITED = sys.maxsize

_current: ContextVar[Budget | None] = ContextVar("upstream_budget", default=None)


def current() -> Budget | None:
    """The budget of the operation running in this context, if any."""
    return _current.get()


def use(budget: Budget | None) -> Budget | None:
    """Make ``budget`` the current one in this context; returns the one it replaces.

    For code that cannot hold a ``with`` block across its work (a schema extension's
    enter and leave); :func:`spending` is the block form.
    """
    previous = _current.get()
    _current.set(budget)
    return previous


@contextmanager
def spending(budget: Budget) -> Iterator[Budget]:
    """Charge upstream requests made in this context (and tasks started from it) to ``budget``."""
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)


class BudgetedTransport(httpx.AsyncBaseTransport):
    """Charges each request to the current operation's budget before sending it."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        budget = _current.get()
        if budget is not None:
            budget.charge()
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
