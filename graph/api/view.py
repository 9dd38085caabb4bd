"""The ASGI view: GraphQL over HTTP and over WebSockets (both subprotocols), with our
context, limits, error shapes, token check and an offline GraphiQL (edge)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, Mapping
from datetime import timedelta
from typing import Any, cast

import strawberry
from cross_web import HTTPException
from graphql import GraphQLError, GraphQLSyntaxError, get_operation_ast
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.types import ExecutionResult

from graph.api import errors as errorpolicy, wsmessages as wsguard
from graph.api.context import Context
from graph.api.execution import SharedResult
from graph.api.fanout import FrameSink, forget_target, target_of_subscribe
from graph.errors import (
    BadRequest,
    BatchingNotSupported,
    RequestRefused,
    TooManySubscriptions,
)
from graph.web import graphiql
from graph.web.auth import TokenCheck
from graph.web.responses import error_body
from graph.web.wsadmission import SCOPE_KEY, Operations

logger = logging.getLogger(__name__)

TOKEN_REQUIRED = "a valid API token is required"


def _limit_error(op_id: str, cap: int) -> GraphQLError:
    return errorpolicy.public(
        errorpolicy.error_of(
            TooManySubscriptions(
                f"at most {cap} operations at once per connection; complete one first "
                f"(refused id {op_id[:40]!r})"
            )
        )
    )


def _unrunnable(schema: Any, payload: Mapping[str, Any]) -> GraphQLError | None:
    """Why a subscribe message cannot start (its document does not parse, or names no
    operation it holds), as a public error; else None. Strawberry would close the socket
    with 4400 on these; we answer with an ``error`` message and keep the socket."""
    try:
        document = schema.parse(payload["query"])
    except GraphQLSyntaxError as exc:
        return errorpolicy.public(exc)
    if get_operation_ast(document, payload.get("operationName")) is None:
        name = payload.get("operationName")
        message = f"Unknown operation named '{name}'." if name else "Can't get GraphQL operation."
        return errorpolicy.public(GraphQLError(message))
    return None


class _TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws with checked messages, coded errors, and syntax errors
    answered with an ``error`` message (Strawberry closes the socket, or with its
    parser cache sends a bare ``complete``)."""

    async def handle_message(self, message: Any) -> None:
        if reason := wsguard.problem(message, GRAPHQL_TRANSPORT_WS_PROTOCOL):
            await self.handle_invalid_message(reason)
            return
        _track(self.websocket, message)
        if message.get("type") == "connection_init" and message.get("payload", {}) is None:
            # The protocol allows a null payload (graphql-ws sends one); Strawberry would 4400.
            message = {"type": "connection_init"}
        await super().handle_message(message)

    async def handle_subscribe(self, message: Any) -> None:
        cap = self.max_subscriptions_per_connection
        op_id = message["id"]
        if (
            self.connection_acknowledged
            and op_id not in self.operations
            and cap is not None
            and len(self.operations) >= cap
        ):
            await self._send_error(op_id, _limit_error(op_id, cap))
            return
        if self.connection_acknowledged and (error := _unrunnable(self.schema, message["payload"])):
            await self._send_error(op_id, error)
            return
        # The operation's task, created in there, learns where its frames go (graph.api.fanout).
        token = target_of_subscribe(cast(FrameSink, self.websocket), op_id)
        try:
            await super().handle_subscribe(message)
        finally:
            forget_target(token)

    async def _send_error(self, op_id: str, error: GraphQLError) -> None:
        await self.send_message(
            cast(Any, {"id": op_id, "type": "error", "payload": [error.formatted]})
        )


class _LegacyWSHandler(BaseGraphQLWSHandler[Context, None]):
    """Legacy graphql-ws with checked messages, a coded per-connection limit, and a refused
    token closing with 4403 as on graphql-transport-ws (Strawberry closes with 1011)."""

    async def handle_connection_init(self, message: Any) -> None:
        payload = message.get("payload")
        if not cast("GraphQLView", self.view).tokens.connection_params_ok(payload):
            logger.info("WebSocket refused reason=missing or invalid API token")
            await self.send_message(
                cast(Any, {"type": "connection_error", "payload": {"message": TOKEN_REQUIRED}})
            )
            await self.websocket.close(4403, "Forbidden")
            return
        await super().handle_connection_init(message)

    async def handle_message(self, message: Any) -> None:
        if reason := wsguard.problem(message, GRAPHQL_WS_PROTOCOL):
            await self.websocket.close(4400, reason)
            return
        _track(self.websocket, message)
        await super().handle_message(message)

    async def handle_start(self, message: Any) -> None:
        cap = self.max_subscriptions_per_connection
        op_id = message["id"]
        if (
            self.connection_acknowledged
            and op_id not in self.tasks
            and cap is not None
            and len(self.tasks) >= cap
        ):
            error = _limit_error(op_id, cap)
            await self.send_message(
                cast(Any, {"id": op_id, "type": "error", "payload": error.formatted})
            )
            return
        await super().handle_start(message)


_OPENS = frozenset({"subscribe", "start"})
_CLIENT_ENDS = frozenset({"complete", "stop"})
_SERVER_ENDS = frozenset({"complete", "error"})


def _track(websocket: Any, message: Mapping[str, Any]) -> None:
    """Report a well-formed client message that opens or ends an operation."""
    kind, op_id = message.get("type"), message.get("id")
    if isinstance(op_id, str) and isinstance(websocket, _WebSocketAdapter):
        if kind in _OPENS:
            websocket.operations.opened(op_id)
        elif kind in _CLIENT_ENDS:
            websocket.operations.ended(op_id)


class _WebSocketAdapter(ASGIWebSocketAdapter):
    """Closes with 1009 on a text message larger than MAX_BODY_BYTES before decoding it,
    and drops what operations still send after the socket was closed (Strawberry would
    raise in their tasks, and log each one as an unretrieved task exception)."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        if self.ws.application_state != WebSocketState.DISCONNECTED:
            await super().send_json(message)
        if message.get("type") in _SERVER_ENDS and isinstance(op_id := message.get("id"), str):
            self.operations.ended(op_id)

    async def send_text(self, text: str) -> None:
        """A ``next`` frame made elsewhere (graph.api.fanout): it ends no operation."""
        if self.ws.application_state != WebSocketState.DISCONNECTED:
            await self.ws.send_text(text)

    async def close(self, code: int, reason: str) -> None:
        if self.ws.application_state != WebSocketState.DISCONNECTED:
            await super().close(code, reason)

    def __init__(self, view: Any, request: WebSocket, response: WebSocket) -> None:
        super().__init__(view, request, response)
        self._max_bytes: int = view.max_message_bytes
        # Told which operations open and end, for the graceful drain (graph.web.wsadmission).
        self.operations: Operations = request.scope.get(SCOPE_KEY) or Operations()

    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        async for text in self._texts():
            if len(text) > self._max_bytes:
                await self.close(1009, f"message larger than {self._max_bytes} bytes")
                return
            try:
                yield self.view.decode_json(text)
            except json.JSONDecodeError as exc:
                if not ignore_parsing_errors:
                    raise NonJsonMessageReceived from exc

    async def _texts(self) -> AsyncGenerator[str, None]:
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                yield await self.ws.receive_text()
        except KeyError as exc:  # a binary frame
            raise NonTextMessageReceived from exc
        except WebSocketDisconnect:
            pass


class GraphQLView(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context, limits, error shapes, token check on
    WebSockets and an offline GraphiQL."""

    graphql_transport_ws_handler_class = _TransportWSHandler
    graphql_ws_handler_class = _LegacyWSHandler
    websocket_adapter_class = _WebSocketAdapter

    def __init__(
        self,
        schema: strawberry.Schema,
        *,
        settings: Any,
        tokens: TokenCheck | None = None,
        offline_ide: bool = True,
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
        self.max_message_bytes: int = settings.max_body_bytes
        # Without the vendored assets, fall back to Strawberry's CDN page rather than a blank one.
        self._offline_ide = offline_ide

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            if await _is_batch(request):
                raise BatchingNotSupported(
                    "batched operations (a JSON array) are not supported: "
                    "send one operation per request"
                )
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
        if result.errors:
            # Errors that bypassed the schema's extension (a limit, a timeout) get coded here.
            result.errors = [errorpolicy.public(e) for e in result.errors]
            request.state.request_error = result.data is None and errorpolicy.is_request_error(
                result.errors
            )
        elif isinstance(result, SharedResult):
            # Answered to every identical request: encoded by the first, sent by all.
            if result.body is None:
                result.body = self.encode_json_string(await super().process_result(request, result))
            return _Encoded(result.body)
        return await super().process_result(request, result)

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

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(graphiql.page(self.graphql_ide_html, offline=self._offline_ide))


class _Encoded(str):
    """A response body already encoded as JSON."""


def _refusal(message: str, code: str, status: int) -> Response:
    return Response(error_body(message, code), status_code=status, media_type="application/json")


async def _is_batch(request: Request) -> bool:
    """Whether a POST body is a JSON array (read once: Starlette keeps it for Strawberry)."""
    if request.method != "POST" or "json" not in request.headers.get("content-type", ""):
        return False
    return (await request.body()).lstrip()[:1] == b"["
