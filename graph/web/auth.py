"""Optional bearer-token access control (edge; off unless ``GRAPH_API_TOKENS`` is set).

How it works: :class:`TokenCheck` holds the configured tokens and answers "is this
``Authorization`` value one of them?" with :func:`hmac.compare_digest` against every
token, so the time taken says nothing about which token, or how much of one, matched.

- HTTP: the :class:`BearerAuth` middleware wants ``Authorization: Bearer <token>`` on
  every request and answers 401 with a GraphQL-shaped JSON error and a
  ``WWW-Authenticate`` header otherwise. Open by design: the GraphiQL page (a GET of
  the GraphQL path asking for HTML, without a query) and its assets, so a person can
  load it and paste a token, and the probes (``/healthz``, ``/readyz``, ``/metrics``).
- WebSocket: browsers cannot set headers on the handshake, so the socket is let
  through here and the GraphQL view checks ``connection_init``'s payload with
  :meth:`TokenCheck.connection_params_ok` (``{"Authorization": "Bearer <token>"}``,
  key in any case, as Apollo, urql and graphql-ws clients send ``connectionParams``).

Tokens never appear in a repr, a log line or an error message.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from graph.errors import Unauthenticated
from graph.web.responses import send_error

# Probes and the live page ("/" asks for a token itself) stay open.
OPEN_PATHS = frozenset({"/", "/healthz", "/readyz", "/metrics"})
REALM = "kalshi-graph"


class TokenCheck:
    """The configured API tokens; empty means access control is off."""

    def __init__(self, tokens: Iterable[str]) -> None:
        self._tokens = [t.encode() for t in tokens if t]

    def __repr__(self) -> str:
        return f"TokenCheck(tokens={len(self._tokens)})"

    @property
    def enabled(self) -> bool:
        return bool(self._tokens)

    def authorization_ok(self, value: object) -> bool:
        """Whether ``value`` is ``Bearer <one of the tokens>`` (scheme in any case)."""
        return self._match(value) is not None

    def principal(self, value: object) -> str | None:
        """Who a request with this ``Authorization`` value runs as, to key what it may share
        with others: ``"token-<n>"`` for the n-th configured token, ``""`` for everyone
        while access control is off, None for no good token. Never the token itself."""
        if not self.enabled:
            return ""
        index = self._match(value)
        return None if index is None else f"token-{index}"

    def _match(self, value: object) -> int | None:
        if not isinstance(value, str):
            return None
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        given = token.strip().encode("utf-8", "surrogateescape")
        matched: int | None = None
        for index, known in enumerate(self._tokens):
            # No early exit: every token is compared whatever matched before.
            if hmac.compare_digest(given, known):
                matched = index
        return matched

    def connection_principal(self, params: object) -> str | None:
        """:meth:`principal` of a ``connection_init`` payload's ``Authorization`` entry."""
        if not self.enabled:
            return ""
        value = _authorization(params)
        return None if value is None else self.principal(value)

    def connection_params_ok(self, params: object) -> bool:
        """Whether a ``connection_init`` payload carries a good ``Authorization`` entry."""
        return self.connection_principal(params) is not None


def _authorization(params: object) -> object | None:
    """The one ``Authorization`` entry (key in any case) of a payload, else None."""
    if not isinstance(params, Mapping):
        return None
    values = [v for k, v in params.items() if isinstance(k, str) and k.lower() == "authorization"]
    return values[0] if len(values) == 1 else None


def _is_ide_page(scope: Scope, ide_path: str) -> bool:
    """The request Strawberry answers with the GraphiQL page rather than a result."""
    if scope["method"] != "GET" or scope["path"] != ide_path:
        return False
    if "query" in parse_qs(scope.get("query_string", b"").decode("latin-1")):
        return False
    accept = _header(scope, b"accept") or ""
    return "text/html" in accept or "*/*" in accept


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class BearerAuth:
    """ASGI middleware: HTTP requests need a good bearer token (see the module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        check: TokenCheck,
        ide_path: str = "/graphql",
        open_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.check = check
        self.ide_path = ide_path
        self.open_prefixes = open_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not self.check.enabled
            or scope["path"] in OPEN_PATHS
            or scope["path"].startswith(self.open_prefixes)
            or _is_ide_page(scope, self.ide_path)
        ):
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"authorization")
        if self.check.authorization_ok(given):
            await self.app(scope, receive, send)
            return
        await self._refuse(send, wrong=given is not None)

    async def _refuse(self, send: Send, *, wrong: bool) -> None:
        challenge = f'Bearer realm="{REALM}"' + (', error="invalid_token"' if wrong else "")
        await send_error(
            send,
            401,
            "a valid API token is required: send Authorization: Bearer <token>",
            Unauthenticated.code,
            [(b"www-authenticate", challenge.encode())],
        )
