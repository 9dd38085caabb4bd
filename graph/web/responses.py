"""GraphQL-shaped JSON error answers for requests refused outside GraphQL (edge).

Middleware (the token check, the body limit) and the view's HTTP errors answer with the same
shape as a GraphQL error, ``{"errors": [{"message", "extensions": {"code"}}]}``, so a client
reads every refusal one way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from starlette.types import Send


def error_body(message: str, code: str) -> bytes:
    """A GraphQL-shaped JSON body for answers given outside GraphQL (413, 401, 400)."""
    return json.dumps({"errors": [{"message": message, "extensions": {"code": code}}]}).encode()


async def send_error(
    send: Send,
    status: int,
    message: str,
    code: str,
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    """Answer an HTTP request from ASGI middleware with :func:`error_body`."""
    body = error_body(message, code)
    start_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": start_headers})
    await send({"type": "http.response.body", "body": body})
