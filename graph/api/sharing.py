"""One execution for identical work.

How it works
------------
Operations: :class:`SharedOperations` identifies a query by its document, variables,
operation name and the principal it runs for (:class:`OperationKey`). The first request
for a key starts the execution in a task of its own; requests with the same key arriving
while it runs wait for that task (shielded: one client leaving does not cancel it for the
others). A result without errors is then kept for ``ttl_s`` and answers repeats at once. A
result with errors is never shared: it goes to the request that started it, and each
request that was waiting runs the operation itself. The principal is part of the key, so
one token's result can never answer another token's request.

Documents are parsed once per text (:func:`graph.api.limits.parsed`) and validated once per
text (:class:`graph.api.limits.OperationLimits`).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar


class _Result(Protocol):
    @property
    def errors(self) -> Any: ...


R = TypeVar("R", bound=_Result)
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class OperationKey:
    document: str
    variables: str  # canonical JSON
    operation_name: str | None
    principal: str


@dataclass(slots=True)
class SharingStats:
    executed: int = 0  # executions started
    joined: int = 0  # requests that waited for another's execution and took its result
    recent: int = 0  # requests answered from a recent result
    unshared: int = 0  # requests that waited, but the result had errors: they ran their own


class LRU(Generic[K, V]):
    """A small least-recently-used map (``get`` refreshes an entry, ``put`` evicts the oldest)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        if len(self._items) > self._size:
            self._items.popitem(last=False)

    def pop(self, key: K) -> None:
        self._items.pop(key, None)

    def clear(self) -> None:
        self._items.clear()


class SharedOperations(Generic[R]):
    """Identical operations in flight share one execution; recent results answer repeats."""

    def __init__(
        self, *, ttl_s: float, size: int = 256, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._recent: LRU[OperationKey, tuple[float, R]] = LRU(size)
        self._running: dict[OperationKey, asyncio.Task[R]] = {}
        self.stats = SharingStats()

    async def run(self, key: OperationKey, execute: Callable[[], Awaitable[R]]) -> R:
        recent = self._recent.get(key)
        if recent is not None:
            if recent[0] > self._clock():
                self.stats.recent += 1
                return recent[1]
            self._recent.pop(key)
        task = self._running.get(key)
        if task is None:
            self.stats.executed += 1
            task = asyncio.ensure_future(self._execute(key, execute))
            self._running[key] = task
            return await asyncio.shield(task)  # the starter takes its result, errors or not
        result = await asyncio.shield(task)
        if result.errors:
            self.stats.unshared += 1
            return await execute()
        self.stats.joined += 1
        return result

    async def _execute(self, key: OperationKey, execute: Callable[[], Awaitable[R]]) -> R:
        try:
            result = await execute()
        finally:
            del self._running[key]
        if not result.errors and self._ttl_s > 0:
            self._recent.put(key, (self._clock() + self._ttl_s, result))
        return result

    def clear(self) -> None:
        """Forget every recent result (executions in flight still finish)."""
        self._recent.clear()
