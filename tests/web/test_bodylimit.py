"""The request body limit, on a real server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

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
