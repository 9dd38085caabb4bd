"""The two WebSocket subprotocols' handlers, with our checks before Strawberry's (edge).

How it works: ``graphql-transport-ws`` (:class:`TransportWSHandler`) and the legacy
``graphql-ws`` (:class:`LegacyWSHandler`) subclass Strawberry's handlers. Before a
``subscribe``/``start`` reaches Strawberry they refuse, with an ``error`` message that keeps
the socket, an operation past the per-socket cap, a document that cannot run (it does not
parse, or names no operation) and a client past its rate limit; the operation's frames are
routed to the shared fan-out (:mod:`graph.api.fanout`). ``connection_init`` is accepted
once and only within ``CONNECTION_INIT_TIMEOUT_S``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, Mapping
from typing import TYPE_CHECKING, Any, cast

from graphql import GraphQLError, GraphQLSyntaxError, get_operation_ast
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import (
    NonJsonMessageReceived,
    NonTextMessageReceived,
    WebSocketDisconnected,
)
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

from graph.api import errors as errorpolicy, wsmessages as wsguard
from graph.api.context import Context
from graph.api.fanout import FrameSink, forget_target, target_of_subscribe
from graph.errors import TooManySubscriptions
from graph.web import ratelimit
from graph.web.ratelimit import RateLimiter
from graph.web.wsadmission import SCOPE_KEY, Operations

if TYPE_CHECKING:
    from graph.api.view import GraphQLView

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


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
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
        if self.connection_acknowledged and (
            error := _unrunnable(self.schema, message["payload"]) or _rate_limited(self)
        ):
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


class LegacyWSHandler(BaseGraphQLWSHandler[Context, None]):
    """Legacy graphql-ws held to graphql-transport-ws's rules (see the module docstring):
    checked messages, an init deadline, one init, a coded per-connection limit, the rate
    limit, and a refused token closing with 4403 (Strawberry closes with 1011)."""

    _init_seen = False

    async def handle(self) -> None:
        deadline = asyncio.create_task(self._close_unless_initialised())
        try:
            await super().handle()
        finally:
            deadline.cancel()
            await asyncio.gather(deadline, return_exceptions=True)

    async def _close_unless_initialised(self) -> None:
        await asyncio.sleep(self.view.connection_init_wait_timeout.total_seconds())
        if not self._init_seen:
            await self.websocket.close(4408, "Connection initialisation timeout")

    async def handle_connection_init(self, message: Any) -> None:
        if self._init_seen:
            await self.websocket.close(4429, "Too many initialisation requests")
            return
        self._init_seen = True
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
            await self._send_error(op_id, _limit_error(op_id, cap))
            return
        if self.connection_acknowledged and (error := _rate_limited(self)):
            await self._send_error(op_id, error)
            return
        await super().handle_start(message)

    async def _send_error(self, op_id: str, error: GraphQLError) -> None:
        await self.send_message(
            cast(Any, {"id": op_id, "type": "error", "payload": error.formatted})
        )


def _rate_limited(handler: Any) -> GraphQLError | None:
    """A coded error when this socket's client is past its rate limit (a subscribe each)."""
    view: GraphQLView = handler.view
    limiter = view.limiter
    if limiter is None or not limiter.enabled:
        return None
    token = None
    if view.tokens.enabled:  # checked at connection_init: a real token, not an invented one
        params = getattr(handler.context, "connection_params", None)
        token = ratelimit.token_of(params)
    wait_s = limiter.take(ratelimit.client_key(token, handler.websocket.client_host), "subscribe")
    if not wait_s:
        return None
    return errorpolicy.public(
        GraphQLError(
            ratelimit.message(wait_s),
            extensions={
                "code": ratelimit.TOO_MANY_REQUESTS,
                "retryAfter": RateLimiter.retry_after(wait_s),
            },
        )
    )


_OPENS = frozenset({"subscribe", "start"})
_CLIENT_ENDS = frozenset({"complete", "stop"})
_SERVER_ENDS = frozenset({"complete", "error"})


def _track(websocket: Any, message: Mapping[str, Any]) -> None:
    """Report a well-formed client message that opens or ends an operation."""
    kind, op_id = message.get("type"), message.get("id")
    if isinstance(op_id, str) and isinstance(websocket, WebSocketAdapter):
        if kind in _OPENS:
            websocket.operations.opened(op_id)
        elif kind in _CLIENT_ENDS:
            websocket.operations.ended(op_id)


class WebSocketAdapter(ASGIWebSocketAdapter):
    """Closes with 1009 on a text message larger than MAX_BODY_BYTES before decoding it,
    and drops what operations still send after the socket was closed (Strawberry would
    raise in their tasks, and log each one as an unretrieved task exception)."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        if self.ws.application_state != WebSocketState.DISCONNECTED:
            try:
                await super().send_json(message)
            except WebSocketDisconnected:  # the client left mid-stream: not our error
                logger.debug("WebSocket client gone; message dropped type=%s", message.get("type"))
        if message.get("type") in _SERVER_ENDS and isinstance(op_id := message.get("id"), str):
            self.operations.ended(op_id)

    async def send_text(self, text: str) -> None:
        """A ``next`` frame made elsewhere (graph.api.fanout): it ends no operation."""
        if self.ws.application_state != WebSocketState.DISCONNECTED:
            try:
                await self.ws.send_text(text)
            except WebSocketDisconnect:  # the client left mid-stream: not our error
                logger.debug("WebSocket client gone; frame dropped")

    async def close(self, code: int, reason: str) -> None:
        if self.ws.application_state != WebSocketState.DISCONNECTED:
            await super().close(code, reason)

    def __init__(self, view: Any, request: WebSocket, response: WebSocket) -> None:
        super().__init__(view, request, response)
        self._max_bytes: int = view.max_message_bytes
        # Told which operations open and end, for the graceful drain (graph.web.wsadmission).
        self.operations: Operations = request.scope.get(SCOPE_KEY) or Operations()

    @property
    def client_host(self) -> str | None:
        """The client's address as the server sees it (the rate limit's key without a token)."""
        client = self.ws.client
        return client.host if client else None

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
