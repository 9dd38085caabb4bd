"""The project's exception tree, and the stable code each error shows clients.

    GraphError
    ├── ConfigError                 settings/key problems, raised at startup
    ├── UpstreamError               anything that went wrong talking to an upstream
    │   ├── UpstreamHTTPError       non-2xx answer (status kept; body never echoed)
    │   │   └── UpstreamAuthError   401/403: the key or signature was refused
    │   ├── UpstreamUnavailable     connect/read timeout, 5xx or 429 after the retry budget
    │   │   └── RateLimited         the upstream kept answering 429
    │   ├── UpstreamProtocolError   a frame or body we could not parse
    │   └── FeedFatalError          the WebSocket feed stopped for good (auth, terminal error code)
    ├── InvalidInput                a caller's argument is not acceptable (ticker, league, ...)
    │   └── UnknownMarket           a well-formed ticker Kalshi does not list
    ├── Unauthenticated             no or a wrong API token (GRAPH_API_TOKENS)
    ├── OperationTimeout            an operation ran longer than QUERY_TIMEOUT_S
    └── RequestRefused              a request refused before it ran (HTTP status kept)
        ├── BadRequest              not a GraphQL request we can read
        ├── BatchingNotSupported    a JSON array of operations
        ├── QueryTooLarge           a query string over MAX_QUERY_BYTES
        └── TooManySubscriptions    past MAX_SUBSCRIPTIONS_PER_CONNECTION on one socket

Each class's ``code`` is what a GraphQL client sees as ``extensions.code``; the
README's "Errors" table lists them. Messages are written for people and never
contain a secret: no key material, no signature, no header value.
"""

from __future__ import annotations

from typing import ClassVar


class GraphError(Exception):
    """Base class of every error this package raises on purpose."""

    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"


class ConfigError(GraphError):
    """The configuration cannot work (e.g. a key id without a readable key)."""


class UpstreamError(GraphError):
    """Talking to Kalshi or the scoreboard failed."""

    code = "UPSTREAM_ERROR"


class UpstreamHTTPError(UpstreamError):
    """The upstream answered with a non-success HTTP status."""

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class UpstreamAuthError(UpstreamHTTPError):
    """The upstream refused our credentials (HTTP 401/403)."""

    code = "UPSTREAM_AUTH_FAILED"


class UpstreamUnavailable(UpstreamError):
    """The upstream could not be reached or kept failing within the retry budget."""

    code = "UPSTREAM_UNAVAILABLE"


class RateLimited(UpstreamUnavailable):
    """The upstream answered 429 until the retry budget ran out."""

    code = "RATE_LIMITED"


class UpstreamProtocolError(UpstreamError):
    """The upstream sent something that does not follow its protocol."""


class FeedFatalError(UpstreamError):
    """The upstream WebSocket feed stopped and will not be retried."""

    code = "UPSTREAM_UNAVAILABLE"


class InvalidInput(GraphError):
    """A caller's argument was rejected before any upstream work."""

    code = "BAD_USER_INPUT"


class UnknownMarket(InvalidInput):
    """The ticker is well-formed, but Kalshi does not list such a market."""

    code = "UNKNOWN_MARKET"


class Unauthenticated(GraphError):
    """The request carries no API token, or one that is not configured."""

    code = "UNAUTHENTICATED"


class OperationTimeout(GraphError):
    """The operation did not finish within its time budget."""

    code = "TIMEOUT"


class RequestRefused(GraphError):
    """The request was refused before anything ran; ``status`` is its HTTP status."""

    status: ClassVar[int] = 400


class BadRequest(RequestRefused):
    """Not a GraphQL request we can read (body, content type, method, field types)."""

    code = "BAD_REQUEST"


class BatchingNotSupported(RequestRefused):
    """The body is a JSON array of operations; we run one operation per request."""

    code = "BATCHING_NOT_SUPPORTED"


class QueryTooLarge(RequestRefused):
    """The query string is longer than ``MAX_QUERY_BYTES``."""

    code = "QUERY_TOO_LARGE"


class TooManySubscriptions(RequestRefused):
    """One socket already runs ``MAX_SUBSCRIPTIONS_PER_CONNECTION`` operations."""

    code = "TOO_MANY_SUBSCRIPTIONS"
