"""The project's exception tree.

    GraphError
    ├── ConfigError                 settings/key problems, raised at startup
    ├── UpstreamError               anything that went wrong talking to an upstream
    │   ├── UpstreamHTTPError       non-2xx answer (status kept; body never echoed)
    │   │   └── UpstreamAuthError   401/403: the key or signature was refused
    │   ├── UpstreamUnavailable     connect/read timeout, 5xx or 429 after the retry budget
    │   ├── UpstreamProtocolError   a frame or body we could not parse
    │   └── FeedFatalError          the WebSocket feed stopped for good (auth, terminal error code)
    └── InvalidInput                a caller's argument is not acceptable (ticker, league, ...)

Messages are written for people and never contain a secret: no key material, no
signature, no header value.
"""

from __future__ import annotations


class GraphError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(GraphError):
    """The configuration cannot work (e.g. a key id without a readable key)."""


class UpstreamError(GraphError):
    """Talking to Kalshi or the scoreboard failed."""


class UpstreamHTTPError(UpstreamError):
    """The upstream answered with a non-success HTTP status."""

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class UpstreamAuthError(UpstreamHTTPError):
    """The upstream refused our credentials (HTTP 401/403)."""


class UpstreamUnavailable(UpstreamError):
    """The upstream could not be reached or kept failing within the retry budget."""


class UpstreamProtocolError(UpstreamError):
    """The upstream sent something that does not follow its protocol."""


class FeedFatalError(UpstreamError):
    """The upstream WebSocket feed stopped and will not be retried."""


class InvalidInput(GraphError):
    """A caller's argument was rejected before any upstream work."""
