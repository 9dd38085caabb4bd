"""WebSocket connections: an overall cap, and a drain that ends them in order (adapter).

How it works
------------
:class:`ConnectionGate` is shared state; :class:`WebSocketGate` is the ASGI middleware
that consults it. A handshake beyond ``max_connections``, or any handshake once a drain
has begun, is refused before it is accepted: HTTP 503 with ``Retry-After`` where the
server offers the ASGI denial-response extension (uvicorn does), else a close with 1013
("try again later"), which servers answer with HTTP 403. Refusals are counted and
logged, at most one line per ``log_every_s``.

For each accepted connection the middleware puts an :class:`Operations` record in the ASGI
scope (:data:`SCOPE_KEY`); the GraphQL view, which decodes every client message anyway,
tells it which operations open (a client ``subscribe``, ``start`` in legacy ``graphql-ws``)
and end (a client ``complete``/``stop``, or a server ``complete``/``error`` once sent).
Nothing here parses a message.

``drain()`` is the middle of a graceful shutdown. The caller has already ended the
streams behind the open operations (``Hub.close``), so GraphQL is sending ``complete``
for each; the drain waits until every connection has no open operation, *then* closes
each socket with 1001 (going away), so clients see every ``complete`` before the close.
An operation is forgotten only after its final message was handed to the server, which
is what makes that order hold. Both waits are bounded by the caller's deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

GOING_AWAY = 1001
TRY_AGAIN_LATER = 1013
# Where a WebSocket's ASGI scope carries its :class:`Operations` record.
SCOPE_KEY = "graph.ws_operations"


class Operations:
    """The GraphQL operations open on one WebSocket, as the view reports them."""

    def __init__(self, on_idle: Callable[[], None] = lambda: None) -> None:
        self._on_idle = on_idle
        self.ids: set[str] = set()

    def opened(self, op_id: str) -> None:
        self.ids.add(op_id)

    def ended(self, op_id: str) -> None:
        """``op_id`` is over: for a server message, only once it was handed to the server."""
        if op_id in self.ids:
            self.ids.discard(op_id)
            if not self.ids:
                self._on_idle()


class _Connection:
    def __init__(self, send: Send, on_idle: Callable[[], None]) -> None:
        self._send = send
        self.ops = Operations(on_idle)
        self.closed = False

    async def send(self, message: Message) -> None:
        if self.closed:
            return  # after our close (drain): the socket is going away, drop the rest
        if message["type"] == "websocket.close":
            self.closed = True
        await self._send(message)

    async def close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):  # a peer that vanished meanwhile is fine
            await self.send({"type": "websocket.close", "code": code, "reason": reason})


class ConnectionGate:
    """Open WebSocket connections: counted, capped, and drained on shutdown."""

    def __init__(
        self,
        max_connections: int,
        *,
        retry_after_s: int = 5,
        log_every_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_connections = max_connections
        self.retry_after_s = retry_after_s
        self.refused = 0
        self.draining = False
        self._connections: set[_Connection] = set()
        self._changed = asyncio.Event()
        self._log_every_s = log_every_s
        self._clock = clock
        self._logged_at: float | None = None

    @property
    def active(self) -> int:
        return len(self._connections)

    @property
    def open_operations(self) -> int:
        return sum(len(c.ops.ids) for c in self._connections)

    def _admit(self) -> str | None:
        """Why a new handshake is refused, or None to accept it."""
        if self.draining:
            return "shutting down"
        if len(self._connections) >= self.max_connections:
            return "connection limit reached"
        return None

    def _refused(self, reason: str) -> None:
        self.refused += 1
        now = self._clock()
        if self._logged_at is None or now - self._logged_at >= self._log_every_s:
            self._logged_at = now
            logger.warning(
                "Refused WebSocket connection reason=%s active=%d limit=%d refused_total=%d",
                reason.replace(" ", "_"),
                len(self._connections),
                self.max_connections,
                self.refused,
            )

    def _notify(self) -> None:
        self._changed.set()

    async def drain(self, deadline: float) -> None:
        """Refuse new connections, wait for open operations to finish, then close every socket.

        ``deadline`` is by ``loop.time()``; past it, sockets are closed regardless.
        """
        self.draining = True
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(deadline):
                while any(c.ops.ids for c in self._connections if not c.closed):
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            logger.warning(
                "Shutdown deadline reached with operations still open operations=%d",
                self.open_operations,
            )
        closing = [
            asyncio.create_task(c.close(GOING_AWAY, "server shutting down"))
            for c in self._connections
            if not c.closed
        ]
        if closing:
            logger.info("Closing WebSocket connections count=%d", len(closing))
            _, late = await asyncio.wait(closing, timeout=max(deadline - loop.time(), 0.05))
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)


class WebSocketGate:
    """ASGI middleware: applies a :class:`ConnectionGate` to every WebSocket."""

    def __init__(self, app: ASGIApp, *, gate: ConnectionGate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        gate = self.gate
        reason = gate._admit()
        if reason is not None:
            gate._refused(reason)
            await self._refuse(scope, send, reason)
            return
        conn = _Connection(send, gate._notify)
        gate._connections.add(conn)
        try:
            await self.app({**scope, SCOPE_KEY: conn.ops}, receive, conn.send)
        finally:
            gate._connections.discard(conn)
            gate._notify()

    async def _refuse(self, scope: Scope, send: Send, reason: str) -> None:
        if "websocket.http.response" in scope.get("extensions", {}):
            body = json.dumps({"errors": [{"message": f"WebSocket refused: {reason}"}]}).encode()
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(self.gate.retry_after_s).encode()),
            ]
            await send({"type": "websocket.http.response.start", "status": 503, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await send({"type": "websocket.close", "code": TRY_AGAIN_LATER, "reason": reason})
