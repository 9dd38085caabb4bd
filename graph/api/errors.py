"""What a client sees of an error, and what the log sees (edge).

How it works: every GraphQL error leaving the service passes :func:`public` once.
It gets a stable ``extensions.code`` (the README's "Errors" table):

- our own exceptions (:mod:`graph.errors`) keep their message and carry their
  class's ``code``; :func:`error_of` wraps one in a GraphQL error;
- Strawberry's request errors (no such operation name; a query sent where only
  subscriptions run) are validation failures;
- GraphQL's own errors are classified: a syntax error is ``GRAPHQL_PARSE_FAILED``,
  a validation error ``GRAPHQL_VALIDATION_FAILED``, and the query limits
  (Strawberry's depth, token and alias limiters, disabled introspection) get a code
  each, recognised by the fixed wording of their messages;
- anything else that went wrong in our code is masked to ``Unexpected error.`` with
  ``INTERNAL_SERVER_ERROR`` and a fresh ``correlationId``, and logged at ERROR with
  its traceback and the same id, so an operator can find the one from the other.

Expected errors are logged as one line without a traceback: WARNING for upstream
trouble (an operator may need to act), INFO for a client's mistake.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterable

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

from graph.errors import GraphError, OperationTimeout, QueryTooLarge, UpstreamError

logger = logging.getLogger(__name__)

UNEXPECTED = "Unexpected error."
INTERNAL = "INTERNAL_SERVER_ERROR"
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"

# The limiters' messages (Strawberry 0.341, graphql-core 3.3); tests pin each one.
_LIMIT_CODES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^(Syntax Error: )?Document contains more than \d+ tokens"), "TOO_MANY_TOKENS"),
    (re.compile(r"exceeds maximum operation depth of \d+$"), "QUERY_TOO_DEEP"),
    (re.compile(r"^\d+ aliases found\. Allowed: \d+$"), "TOO_MANY_ALIASES"),
    (re.compile(r"^GraphQL introspection has been disabled"), "INTROSPECTION_DISABLED"),
)
# Codes of requests that never ran (GraphQL over HTTP: 400 under graphql-response+json).
REQUEST_ERROR_CODES = frozenset(
    {PARSE_FAILED, VALIDATION_FAILED, QueryTooLarge.code, *(code for _, code in _LIMIT_CODES)}
)
_REQUEST_ERRORS = (CannotGetOperationTypeError, InvalidOperationTypeError)


def error_of(exc: GraphError) -> GraphQLError:
    """One of our exceptions as a GraphQL error (coded by :func:`public` when it leaves)."""
    return GraphQLError(str(exc), original_error=exc)


def code_of(error: GraphQLError) -> str:
    """The stable code of ``error`` (see the module docstring)."""
    known = (error.extensions or {}).get("code")
    if isinstance(known, str):
        return known
    original = error.original_error
    if isinstance(original, GraphError):
        return original.code
    if isinstance(original, _REQUEST_ERRORS):
        return VALIDATION_FAILED
    if original is not None and not isinstance(original, GraphQLError):
        return INTERNAL
    for pattern, code in _LIMIT_CODES:
        if pattern.search(error.message):
            return code
    if isinstance(error, GraphQLSyntaxError):
        return PARSE_FAILED
    # Pathless errors come from before execution (validation, variable coercion);
    # an error with a path and no exception is graphql-core refusing our own result.
    return VALIDATION_FAILED if error.path is None else INTERNAL


def public(
    error: GraphQLError, *, new_id: Callable[[], str] = lambda: uuid.uuid4().hex
) -> GraphQLError:
    """``error`` as a client may see it, logged once. Already public errors pass as they are."""
    extensions = error.extensions or {}
    if isinstance(extensions.get("code"), str):
        return error
    code = code_of(error)
    path = ".".join(map(str, error.path or ())) or "-"
    original = error.original_error
    if isinstance(original, _REQUEST_ERRORS):
        original = None  # Strawberry's wording is meant for clients; nothing to mask
    if original is not None and not isinstance(original, GraphError | GraphQLError):
        correlation_id = new_id()
        logger.error(
            "Unexpected error correlation_id=%s path=%s exception=%s",
            correlation_id,
            path,
            type(original).__name__,
            exc_info=(type(original), original, original.__traceback__),
        )
        return GraphQLError(
            UNEXPECTED,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": INTERNAL, "correlationId": correlation_id},
        )
    if code == INTERNAL:
        level = logging.ERROR
    elif isinstance(original, UpstreamError | OperationTimeout):
        level = logging.WARNING
    else:
        level = logging.INFO
    logger.log(level, "GraphQL error code=%s path=%s message=%s", code, path, error.message)
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=original,
        extensions={**extensions, "code": code},
    )


def is_request_error(errors: Iterable[GraphQLError]) -> bool:
    """True when the document was refused before it ran (parse, validation, a limit).

    The GraphQL-over-HTTP spec answers these with 400 under
    ``application/graphql-response+json``; anything else (a timeout, a failed field)
    is a 200 with errors.
    """
    codes = [(e.extensions or {}).get("code") for e in errors]
    return bool(codes) and all(code in REQUEST_ERROR_CODES for code in codes)


GRAPHQL_RESPONSE = "application/graphql-response+json"


def wants_graphql_response(accept: str) -> bool:
    """Whether an ``Accept`` header prefers ``application/graphql-response+json``
    to ``application/json`` (by q-value, then by order)."""
    best: tuple[float, int, str] | None = None
    for index, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        if media.lower() not in (GRAPHQL_RESPONSE, "application/json"):
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        candidate = (q, -index, media.lower())
        if q > 0 and (best is None or candidate > best):
            best = candidate
    return best is not None and best[2] == GRAPHQL_RESPONSE
