"""How operations run: the limits that are not validation rules, the deadline, error
policy, and one execution for identical queries (edge; only graph.api imports Strawberry).

How it works
------------
:class:`LimitedSchema` checks the size of the query string and its tokens before parsing,
refuses a subscription sent over HTTP (a validation error: it runs over a WebSocket), and
bounds a query or mutation by ``QUERY_TIMEOUT_S`` over HTTP and WebSockets alike;
subscriptions are exempt. The other limits are validation rules (:mod:`graph.api.limits`).
Queries over HTTP that are identical for one principal share one execution and, for
``RESULT_CACHE_TTL_S``, its result (:mod:`graph.api.sharing`); each document is parsed and
validated once per schema. Subscription results are shared by :mod:`graph.api.fanout`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Iterable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import DocumentNode, GraphQLError, OperationType, get_operation_ast, parse
from strawberry.extensions import MaskErrors
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError

from graph.api import errors as errorpolicy
from graph.api.fanout import EventResults
from graph.api.limits import parsed
from graph.api.sharing import OperationKey, SharedOperations
from graph.api.tokens import token_count
from graph.errors import OperationTimeout, QueryTooLarge, RequestRefused, TooManyTokens


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


@dataclass
class SharedResult(ExecutionResult):
    """A query's result that identical requests share, with its response body once the first
    of them encoded it (the view keeps it here: every other request sends the same bytes)."""

    body: str | None = None


class LimitedSchema(strawberry.Schema):
    """The schema plus the limits that are not validation rules: the size of the query
    string and its tokens (checked before parsing) and the time one operation may take."""

    def __init__(
        self,
        *args: Any,
        max_query_bytes: int,
        max_tokens: int,
        timeout_s: float,
        result_ttl_s: float,
        event_results: EventResults,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._max_query_bytes = max_query_bytes
        self._max_tokens = max_tokens
        self._timeout_s = timeout_s
        self.event_results = event_results
        self.operations: SharedOperations[SharedResult] = SharedOperations(ttl_s=result_ttl_s)

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Strawberry logs every error with its traceback here; ours are logged once,
        as :mod:`graph.api.errors` decides, when they leave."""

    def _too_large(self, query: str | None) -> GraphQLError | None:
        """Why the query string is refused before parsing (bytes, then tokens), if it is."""
        size = len(query.encode("utf-8", "surrogatepass")) if query else 0
        if size > self._max_query_bytes:
            refused: RequestRefused = QueryTooLarge(
                f"the query is {size} bytes long; the limit is {self._max_query_bytes}"
            )
        elif query and token_count(query, self._max_tokens) > self._max_tokens:
            refused = TooManyTokens(f"the document has more than {self._max_tokens} tokens")
        else:
            return None
        return errorpolicy.public(errorpolicy.error_of(refused))

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[Any] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        if too_large := self._too_large(query):
            return ExecutionResult(data=None, errors=[too_large])
        kwargs: dict[str, Any] = {
            "variable_values": variable_values,
            "context_value": context_value,
            "root_value": root_value,
            "operation_name": operation_name,
            "allowed_operation_types": allowed_operation_types,
            "operation_extensions": operation_extensions,
        }
        kind = self._operation_type(query, operation_name)
        if kind is OperationType.SUBSCRIPTION:
            # Only HTTP comes here: subscriptions run over a WebSocket (stream).
            return ExecutionResult(data=None, errors=[_subscription_over_http()])
        key = self._shared_key(query, kwargs) if kind is OperationType.QUERY else None
        if key is None:
            return await self._execute(query, kwargs)
        return await self.operations.run(key, lambda: self._execute_shared(query, kwargs))

    async def _execute_shared(self, query: str | None, kwargs: dict[str, Any]) -> SharedResult:
        result = await self._execute(query, kwargs)
        return SharedResult(result.data, result.errors, result.extensions)

    async def _execute(self, query: str | None, kwargs: dict[str, Any]) -> ExecutionResult:
        try:
            async with asyncio.timeout(self._timeout_s):
                return await super().execute(query, **kwargs)
        except TimeoutError:
            # Only the deadline's own: graphql-core turns a resolver's errors into results.
            return self._timed_out()

    def _shared_key(self, query: str | None, kwargs: dict[str, Any]) -> OperationKey | None:
        """What identifies a query operation for sharing, or None if it must run on its own:
        no known principal (see graph.api.context), request extensions."""
        principal = getattr(kwargs.get("context_value"), "principal", None)
        name = kwargs.get("operation_name")
        if not query or not isinstance(principal, str) or kwargs.get("operation_extensions"):
            return None
        try:
            variables = json.dumps(kwargs.get("variable_values"), sort_keys=True)
        except (TypeError, ValueError):
            return None
        return OperationKey(query, variables, name, principal)

    def parse(self, query: str) -> DocumentNode:
        """``query`` parsed as an operation of this schema would be (once per text); past the
        token limit, graphql-core's own syntax error (it stops counting there, so a deep
        document never reaches the recursive parser)."""
        if token_count(query, self._max_tokens) > self._max_tokens:
            return parse(query, max_tokens=self._max_tokens)
        return parsed(query)

    def _operation_type(
        self, query: str | None, operation_name: str | None
    ) -> OperationType | None:
        """The chosen operation's type (None if the document does not parse or has none).
        Asked only once :meth:`_too_large` let the text through: its tokens are counted."""
        try:
            document = parsed(query or "")
        except GraphQLError:
            return None
        operation = get_operation_ast(document, operation_name)
        return None if operation is None else operation.operation

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
        if self._operation_type(query, kwargs.get("operation_name")) is OperationType.SUBSCRIPTION:
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


def _subscription_over_http() -> GraphQLError:
    return errorpolicy.public(
        GraphQLError(
            "subscriptions run over a WebSocket (graphql-transport-ws), not over HTTP",
            extensions={"code": errorpolicy.VALIDATION_FAILED},
        )
    )
