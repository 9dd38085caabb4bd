"""Per-operation accounting: the upstream budget, and what each operation cost (edge).

How it works: :class:`OperationAccounting` is a schema extension around every operation,
over HTTP and WebSockets. Entering it opens the operation's :class:`graph.budget.Budget`
(``MAX_UPSTREAM_REQUESTS`` upstream requests, ``MAX_GAMES_PER_QUERY`` predictions), seen
by every task the operation starts. Leaving it reports one :class:`OperationRecord` to the
``observe`` callback (the app's metrics): the operation's type, its name folded into a
bounded set (names not listed are ``other``, no name is ``anonymous``, so clients cannot
grow the label set), how long it took, the code of every error it answered with, and the
upstream requests it made. A subscription is one operation for its whole life.

The extension sits before the error policy in the schema's list, so it leaves after it
and reads the codes clients see.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from graph import budget
from graph.api import errors as errorpolicy

ANONYMOUS = "anonymous"
OTHER = "other"
UNKNOWN = "unknown"  # an operation type we never learnt (the document did not parse)


@dataclass(frozen=True, slots=True)
class OperationRecord:
    kind: str  # query, mutation, subscription, unknown
    name: str  # a listed name, "other" or "anonymous"
    seconds: float
    codes: tuple[str, ...]  # extensions.code of each error answered
    upstream_requests: int
    budget_refusals: int


Observer = Callable[[OperationRecord], None]


def label(name: str | None, known: Collection[str]) -> str:
    """The operation name as a metrics label: listed names stay, the rest fold."""
    if not name:
        return ANONYMOUS
    return name if name in known else OTHER


class OperationAccounting(SchemaExtension):
    def __init__(
        self,
        *,
        observe: Observer | None = None,
        names: Collection[str] = (),
        max_upstream_requests: int | None = None,
        max_games: int | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._observe = observe
        self._names = names
        self._max_requests = max_upstream_requests
        self._max_games = max_games
        self._clock = clock

    def on_operation(self) -> Iterator[None]:
        spent = budget.Budget(
            limit=self._max_requests or budget.UNLIMITED, max_games=self._max_games
        )
        outer = budget.use(spent)
        started = self._clock()
        try:
            yield
        finally:  # a subscription ends by cancellation: it is recorded all the same
            budget.use(outer)
            if self._observe is not None:
                self._observe(self._record(self._clock() - started, spent))

    def _record(self, seconds: float, spent: budget.Budget) -> OperationRecord:
        context = self.execution_context
        try:
            kind = context.operation_type.value
        except RuntimeError:  # no document, or no such operation in it
            kind = UNKNOWN
        result = context.result
        errors: list[GraphQLError] = list(
            (result.errors if result is not None else None) or context.pre_execution_errors or []
        )
        return OperationRecord(
            kind=kind,
            name=label(context.operation_name, self._names),
            seconds=seconds,
            codes=tuple(errorpolicy.code_of(e) for e in errors),
            upstream_requests=spent.spent,
            budget_refusals=spent.refused,
        )
