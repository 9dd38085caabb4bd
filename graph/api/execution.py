"""How operations run: the limits that are not validation rules, the deadline, error
policy, and shared subscription results (edge; only graph.api imports Strawberry).

How it works
------------
:class:`LimitedSchema` checks the size of the query string before parsing and bounds a query
or mutation by ``QUERY_TIMEOUT_S`` over HTTP and WebSockets alike; subscriptions are exempt.
:class:`SharedExecutor` lets every subscriber of one ticker update who sent the same document
and variables share one execution (see its docstring).
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import AsyncGenerator, Awaitable
from contextlib import aclosing
from inspect import isawaitable
from typing import Any, cast

import strawberry
from graphql import Executor, GraphQLError, OperationType, get_operation_ast, parse
from strawberry.extensions import MaskErrors
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError

from graph import models
from graph.api import errors as errorpolicy
from graph.api.compat import SUB_FIELDS_MEMO, StrawberryGraphQLCoreExecutionContext
from graph.errors import OperationTimeout, QueryTooLarge


class ErrorPolicy(MaskErrors):
    """Every error leaves through :func:`graph.api.errors.public`: coded, logged once,
    unexpected ones masked with a correlation id. (Strawberry's ``MaskErrors`` finds the
    errors of every result, streamed ones included; we decide what each becomes.)"""

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda _: True)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return errorpolicy.public(error)


async def _one(result: PreExecutionError) -> AsyncGenerator[Any, None]:
    yield result


_EventKey = tuple[models.TickerUpdate, str, str, str | None]


class SharedExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, made fit for fan-out.

    - graphql-core 3.3 memoises sub-field collection in a dict keyed by the *identity* of each
      field list, and keeps every list alive; each subscription event builds new lists, and
      the per-event executor shares its parent's dict, so a subscription grew by about 1.8 KB
      per event for as long as it lived. A fresh dict per event keeps the memo where it pays
      (the many rows of one result) and lets it go with the event.
    - One ticker update goes to every subscriber of its ticker, and most of them send the same
      document: the result of one (update, document, variables) is computed once and shared
      (:data:`EVENT_RESULTS`, a small LRU). That holds because a ``TickerUpdate`` result
      depends on nothing but the update: no field of that type may read the context.
    """

    _event_key: _EventKey | None = None

    def build_per_event_executor(self, payload: Any) -> Executor[Any]:
        executor = super().build_per_event_executor(payload)
        setattr(executor, SUB_FIELDS_MEMO, {})  # see graph.api.compat
        update = getattr(payload, "_update", None)
        source = self.operation.loc.source.body if self.operation.loc else None
        if isinstance(update, models.TickerUpdate) and source is not None:
            variables = json.dumps(self.variable_values, sort_keys=True, default=str)
            name = self.operation.name.value if self.operation.name else None
            cast(SharedExecutor, executor)._event_key = (update, source, variables, name)
        return executor

    def execute_operation(self, serially: bool | None = None) -> Any:
        key = self._event_key
        if key is None:
            return super().execute_operation(serially)
        if (shared := EVENT_RESULTS.get(key)) is not None:
            EVENT_RESULTS.move_to_end(key)
            return shared
        result = super().execute_operation(serially)
        if isawaitable(result):
            return self._remember_later(key, result)
        return _remember(key, result)

    @staticmethod
    async def _remember_later(key: _EventKey, pending: Awaitable[Any]) -> Any:
        return _remember(key, await pending)


# Results of recent subscription events by (update, document, variables, operation name).
EVENT_RESULTS: OrderedDict[_EventKey, Any] = OrderedDict()
EVENT_RESULTS_SIZE = 1024


def _remember(key: _EventKey, result: Any) -> Any:
    if getattr(result, "errors", None):
        return result  # errors carry paths and ids of their own: never shared
    EVENT_RESULTS[key] = result
    if len(EVENT_RESULTS) > EVENT_RESULTS_SIZE:
        EVENT_RESULTS.popitem(last=False)
    return result


class LimitedSchema(strawberry.Schema):
    """The schema plus the limits that are not validation rules: the size of the query
    string (checked before parsing) and the time one HTTP operation may take."""

    def __init__(self, *args: Any, max_query_bytes: int, timeout_s: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._max_query_bytes = max_query_bytes
        self._timeout_s = timeout_s

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Strawberry logs every error with its traceback here; ours are logged once,
        as :mod:`graph.api.errors` decides, when they leave."""

    def _too_large(self, query: str | None) -> GraphQLError | None:
        size = len(query.encode("utf-8", "surrogatepass")) if query else 0
        if size <= self._max_query_bytes:
            return None
        return errorpolicy.public(
            errorpolicy.error_of(
                QueryTooLarge(
                    f"the query is {size} bytes long; the limit is {self._max_query_bytes}"
                )
            )
        )

    async def execute(self, query: str | None, *args: Any, **kwargs: Any) -> ExecutionResult:
        if too_large := self._too_large(query):
            return ExecutionResult(data=None, errors=[too_large])
        try:
            async with asyncio.timeout(self._timeout_s):
                return await super().execute(query, *args, **kwargs)
        except TimeoutError:
            # Only the deadline's own: graphql-core turns a resolver's errors into results.
            return self._timed_out()

    def _timed_out(self) -> ExecutionResult:
        timeout = OperationTimeout(
            f"the operation took longer than {self._timeout_s:g} s and was stopped"
        )
        # Coded here: this result never passes the schema's error extension.
        error = errorpolicy.public(errorpolicy.error_of(timeout))
        return ExecutionResult(data=None, errors=[error])

    async def stream(self, query: str | None, *args: Any, **kwargs: Any) -> Any:
        if too_large := self._too_large(query):
            return _one(PreExecutionError(data=None, errors=[too_large]))
        source = await super().stream(query, *args, **kwargs)
        if _is_subscription(query, kwargs.get("operation_name")):
            return source  # a subscription runs as long as its subscriber wants
        return self._bounded(source)

    async def _bounded(self, source: AsyncGenerator[Any, None]) -> AsyncGenerator[Any, None]:
        """A query or mutation sent over a WebSocket, under the same deadline as over HTTP."""
        async with aclosing(source):
            try:
                async with asyncio.timeout(self._timeout_s):
                    results = [result async for result in source]
            except TimeoutError:
                results = [self._timed_out()]
        for result in results:
            yield result


def _is_subscription(query: str | None, operation_name: str | None) -> bool:
    """Whether the document's chosen operation is a subscription (unparseable: no)."""
    try:
        operation = get_operation_ast(parse(query or ""), operation_name)
    except GraphQLError:
        return False
    return operation is not None and operation.operation is OperationType.SUBSCRIPTION
