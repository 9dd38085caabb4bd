"""The ASGI view: GraphQL over HTTP and over WebSockets (both subprotocols), with our
context, limits, error shapes, token check and an offline GraphiQL (edge).

Both WebSocket protocols follow the same rules: ``connection_init`` within
``CONNECTION_INIT_TIMEOUT_S`` (else 4408) and only once (else 4429), so the legacy
``graphql-ws`` can neither hold a connection slot unannounced nor start a keep-alive task per
``connection_init`` (its one keep-alive task ends with its socket); a ``subscribe``/``start``
takes a token of the client's rate limit (``TOO_MANY_REQUESTS`` with ``retryAfter``).
Answers to requests refused before they ran carry no ``data`` entry, as the GraphQL spec and
GraphQL over HTTP say.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import strawberry
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types import ExecutionResult

from graph.api import errors as errorpolicy
from graph.api.context import Context
from graph.api.execution import SharedResult
from graph.api.wshandlers import (
    TOKEN_REQUIRED,
    LegacyWSHandler,
    TransportWSHandler,
    WebSocketAdapter,
)
from graph.errors import (
    BadRequest,
    BatchingNotSupported,
    RequestRefused,
)
from graph.web import graphiql
from graph.web.auth import TokenCheck
from graph.web.ratelimit import RateLimiter
from graph.web.responses import error_body

logger = logging.getLogger(__name__)


class GraphQLView(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context, limits, error shapes, token check on
    WebSockets and an offline GraphiQL."""

    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler
    websocket_adapter_class = WebSocketAdapter

    def __init__(
        self,
        schema: strawberry.Schema,
        *,
        settings: Any,
        tokens: TokenCheck | None = None,
        offline_ide: bool = True,
        limiter: RateLimiter | None = None,
    ) -> None:
        super().__init__(
            schema,
            keep_alive=True,
            keep_alive_interval=settings.ws_keepalive_s,
            connection_init_wait_timeout=timedelta(seconds=settings.connection_init_timeout_s),
            max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
            allowed_origins=settings.cors_origins,
        )
        self._settings = settings
        self.tokens = tokens or TokenCheck(())
        self.limiter = limiter
        self.max_message_bytes: int = settings.max_body_bytes
        # Without the vendored assets, fall back to Strawberry's CDN page rather than a blank one.
        self._offline_ide = offline_ide

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            await _check_body(request)
            response = await self.run(request)
        except HTTPException as exc:  # Strawberry's own refusals of what it cannot read
            response = _refusal(exc.reason, BadRequest.code, exc.status_code)
        except RequestRefused as exc:
            response = _refusal(str(exc), exc.code, exc.status)
        if response.media_type == "application/json" and errorpolicy.wants_graphql_response(
            request.headers.get("accept", "")
        ):
            # GraphQL over HTTP: this media type says "status codes mean something".
            response.headers["content-type"] = errorpolicy.GRAPHQL_RESPONSE
            if response.status_code == 200 and getattr(request.state, "request_error", False):
                response.status_code = 400
        await response(scope, receive, send)

    async def process_result(self, request: Request, result: ExecutionResult) -> Any:
        refused = False
        if result.errors:
            # Errors that bypassed the schema's extension (a limit, a timeout) get coded here.
            result.errors = [errorpolicy.public(e) for e in result.errors]
            refused = result.data is None and errorpolicy.is_request_error(result.errors)
            request.state.request_error = refused
        elif isinstance(result, SharedResult):
            # Answered to every identical request: encoded by the first, sent by all.
            if result.body is None:
                result.body = self.encode_json_string(await super().process_result(request, result))
            return _Encoded(result.body)
        body = await super().process_result(request, result)
        if refused:
            body.pop("data", None)  # it never ran: no `data` entry at all (spec, 7.1.2)
        return body

    def encode_json(self, data: object) -> str | bytes:
        return data if isinstance(data, _Encoded) else super().encode_json(data)

    async def on_ws_connect(self, context: Context) -> Any:
        context.principal = self.tokens.connection_principal(context.connection_params)
        if context.principal is None:
            logger.info("WebSocket refused reason=missing or invalid API token")
            raise ConnectionRejectionError({"message": TOKEN_REQUIRED})
        return await super().on_ws_connect(context)

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        state = request.app.state
        return Context(
            service=state.service,
            hub=state.hub,
            settings=self._settings,
            snapshot=state.snapshot,
            request=request,
            response=response,
            # HTTP: BearerAuth let the request in; a WebSocket's comes with connection_init.
            principal=(
                None
                if isinstance(request, WebSocket)
                else self.tokens.principal(request.headers.get("authorization"))
            ),
        )

    def decode_json(self, data: str | bytes) -> object:
        """JSON that cannot be decoded (not UTF-8, nested too deep) is a JSONDecodeError like
        any other bad JSON: a 400 over HTTP, a 4400 close on a WebSocket, never a crash."""
        try:
            return json.loads(data)
        except (UnicodeDecodeError, RecursionError) as exc:
            raise json.JSONDecodeError(type(exc).__name__, "", 0) from None

    async def render_graphql_ide(self, request: Request) -> Response:
        html = graphiql.page(self.graphql_ide_html, offline=self._offline_ide)
        policy = graphiql.content_security_policy(html, offline=self._offline_ide)
        return HTMLResponse(html, headers={"content-security-policy": policy})


class _Encoded(str):
    """A response body already encoded as JSON."""


def _refusal(message: str, code: str, status: int) -> Response:
    return Response(error_body(message, code), status_code=status, media_type="application/json")


async def _check_body(request: Request) -> None:
    """Refuse a JSON POST body that is not one GraphQL request object: not UTF-8 JSON, nested
    past the parser's depth, an array (batching), or any other value. The body is read once
    (Starlette keeps it for Strawberry) and parsed here first, so Strawberry only ever sees
    an object."""
    if request.method != "POST" or "json" not in request.headers.get("content-type", ""):
        return
    try:
        body = json.loads(await request.body())
    except (ValueError, RecursionError):  # invalid UTF-8 is a ValueError too
        raise BadRequest("the request body is not JSON (UTF-8 encoded)") from None
    if isinstance(body, list):
        raise BatchingNotSupported(
            "batched operations (a JSON array) are not supported: send one operation per request"
        )
    if not isinstance(body, dict):
        raise BadRequest('the request body must be a JSON object like {"query": "..."}')
