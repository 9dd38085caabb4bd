"""Request bodies: a size limit, a time limit, and clients that leave (edge, ASGI middleware).

GraphQL documents are small and the token limit bounds what gets parsed, but not what
gets read: without a cap a client could make us buffer any amount of JSON, or trickle it
for as long as it likes. Requests whose declared or actual body exceeds ``max_bytes`` get
413, and requests whose body has not fully arrived ``timeout_s`` after the app first asked
for it get 408, both GraphQL-shaped and before the app reads on. A client that disconnects
before its body is complete is logged at DEBUG (it is not our error, and nobody is left to
answer), instead of surfacing as a traceback from deep inside the app.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graph.web.responses import send_error

logger = logging.getLogger(__name__)

REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
REQUEST_TIMEOUT = "REQUEST_TIMEOUT"


class _TooLarge(Exception):
    pass


class _TooSlow(Exception):
    pass


class BodyLimit:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        timeout_s: float | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse_large(send)
            return
        seen = 0
        started = False
        done = False
        deadline: float | None = None
        clock = asyncio.get_running_loop().time

        async def limited_receive() -> Message:
            nonlocal seen, done, deadline
            if done or self.timeout_s is None:
                message = await receive()
            else:
                if deadline is None:
                    deadline = clock() + self.timeout_s
                try:
                    async with asyncio.timeout(max(deadline - clock(), 0)):
                        message = await receive()
                except TimeoutError:
                    raise _TooSlow from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
                done = not message.get("more_body", False)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse_large(send)
        except _TooSlow:
            if not started:
                await send_error(
                    send,
                    408,
                    f"the request body did not arrive within {self.timeout_s:g} s",
                    REQUEST_TIMEOUT,
                    [(b"connection", b"close")],
                )
        except ClientDisconnect:
            logger.debug(
                "Client disconnected before sending its whole request body path=%s",
                scope.get("path"),
            )

    async def _refuse_large(self, send: Send) -> None:
        await send_error(
            send, 413, f"request body too large (limit {self.max_bytes} bytes)", REQUEST_TOO_LARGE
        )
