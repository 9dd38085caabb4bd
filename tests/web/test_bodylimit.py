"""The request body limit, on a real server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from graph.web.bodylimit import BodyLimit
from tests.e2e import serve


async def echo_size(request: Request) -> JSONResponse:
    return JSONResponse({"size": len(await request.body())})


def app(max_bytes: int) -> Starlette:
    return Starlette(
        routes=[Route("/", echo_size, methods=["POST"])],
        middleware=[Middleware(BodyLimit, max_bytes=max_bytes)],
    )


async def chunks(n: int, size: int) -> AsyncIterator[bytes]:
    for _ in range(n):
        yield b"x" * size


async def test_bodies_within_the_limit_pass() -> None:
    """A body at the limit reaches the app whole."""
    async with serve(app(1000)) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.post("/", content=b"x" * 1000)
    assert response.json() == {"size": 1000}


async def test_a_declared_oversize_body_is_refused_unread() -> None:
    """Content-Length over the limit gets 413 with a GraphQL-shaped error."""
    async with serve(app(1000)) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.post("/", content=b"x" * 1001)
    assert response.status_code == 413
    assert response.json() == {
        "errors": [
            {
                "message": "request body too large (limit 1000 bytes)",
                "extensions": {"code": "REQUEST_TOO_LARGE"},
            }
        ]
    }


async def test_a_streamed_oversize_body_is_refused() -> None:
    """A chunked body without Content-Length is counted as it arrives."""
    async with serve(app(1000)) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.post("/", content=chunks(5, 300))
        small = await client.post("/", content=chunks(3, 300))
    assert response.status_code == 413
    assert small.json() == {"size": 900}


def slow_app(timeout_s: float) -> Starlette:
    return Starlette(
        routes=[Route("/", echo_size, methods=["POST"])],
        middleware=[Middleware(BodyLimit, max_bytes=10_000, timeout_s=timeout_s)],
    )


async def test_a_body_that_does_not_arrive_in_time_gets_408_and_the_connection_closes() -> None:
    """Half a body, then nothing: 408 REQUEST_TIMEOUT after timeout_s, Connection: close."""
    async with serve(slow_app(0.2)) as url:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b'POST / HTTP/1.1\r\nHost: x\r\ncontent-length: 100\r\n\r\n{"query":')
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408")
    assert b"connection: close" in answer.lower()
    assert b'"REQUEST_TIMEOUT"' in answer


async def test_a_body_in_time_passes_whatever_the_deadline() -> None:
    """Chunks that keep within the deadline reach the app whole."""
    async with serve(slow_app(5.0)) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.post("/", content=chunks(3, 300))
    assert response.json() == {"size": 900}


async def test_a_client_leaving_mid_body_is_a_debug_line(caplog: pytest.LogCaptureFixture) -> None:
    """The app sees the disconnect (ClientDisconnect); the middleware logs it at DEBUG and
    nothing reaches the server's error log."""
    caplog.set_level(logging.DEBUG, logger="graph.web.bodylimit")
    sent: list[Message] = []
    messages: list[Message] = [
        {"type": "http.request", "body": b"{", "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [], "query_string": b""}
    await BodyLimit(echo_size_app, max_bytes=100, timeout_s=5)(scope, receive, send)
    assert sent == []
    (record,) = [r for r in caplog.records if r.name == "graph.web.bodylimit"]
    assert record.levelno == logging.DEBUG and "disconnected" in record.getMessage()


async def echo_size_app(scope: Scope, receive: Receive, send: Send) -> None:
    await echo_size(Request(scope, receive))
