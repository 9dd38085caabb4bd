"""graph.web.hosts: only allowed Host names get through, over HTTP and WebSocket."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from graph.sim.loopback import serve_app
from graph.web.hosts import TrustedHosts, allowed, host_name


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("Example.COM", "example.com"),
        ("example.com:8000", "example.com"),
        ("127.0.0.1:80", "127.0.0.1"),
        ("[::1]:8000", "[::1]"),
        ("[::1]", "[::1]"),
        ("[::1", "[::1"),
        ("::1", "::1"),
        ("", ""),
    ],
)
def test_host_name_drops_the_port(header: str, name: str) -> None:
    """The port goes; bracketed IPv6 keeps its brackets; a bare IPv6 is left whole."""
    assert host_name(header) == name


def test_patterns_match_exact_names_subdomains_and_anything() -> None:
    """Exact names, *.domain (subdomains only) and * (anything)."""
    assert allowed("a.example.com", ["*.example.com"])
    assert not allowed("example.com", ["*.example.com"])
    assert not allowed("evilexample.com", ["*.example.com"])
    assert allowed("localhost", ["127.0.0.1", "localhost"])
    assert allowed("anything", ["*"])
    assert not allowed("evil.example", ["localhost"])


async def page(request: Request) -> Response:
    return PlainTextResponse("ok")


async def socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.close()


@asynccontextmanager
async def served(hosts: list[str]) -> AsyncIterator[str]:
    app = Starlette(routes=[Route("/", page), WebSocketRoute("/ws", socket)])
    async with serve_app(TrustedHosts(app, hosts=hosts)) as url:
        yield url


async def handshake(url: str, host: str) -> bytes:
    """A WebSocket upgrade request with ``host`` (and a matching Origin); the answer's head."""
    reader, writer = await asyncio.open_connection(*url.removeprefix("http://").split(":"))
    writer.write(
        f"GET /ws HTTP/1.1\r\nHost: {host}\r\nOrigin: http://{host}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    answer = await reader.read(4096)
    writer.close()
    await writer.wait_closed()
    return answer


async def test_http_from_another_host_gets_a_coded_400_and_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Host: evil.example is refused with HOST_NOT_ALLOWED; allowed names pass; repeated
    refusals log once per period."""
    async with served(["127.0.0.1", "*.example.com"]) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            ok = await http.get("/")
            sub = await http.get("/", headers={"host": "api.example.com:8443"})
            refused = [await http.get("/", headers={"host": "evil.example"}) for _ in range(3)]
    assert ok.status_code == sub.status_code == 200
    assert all(r.status_code == 400 for r in refused)
    assert refused[0].json()["errors"][0]["extensions"]["code"] == "HOST_NOT_ALLOWED"
    lines = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(lines) == 1 and "evil.example" in lines[0].getMessage()


async def test_a_websocket_from_another_host_is_denied_before_it_opens() -> None:
    """A rebinding page's WebSocket (foreign Host, matching Origin) is denied with 400."""
    async with served(["127.0.0.1"]) as url:
        port = url.rsplit(":", 1)[1]
        accepted = await handshake(url, f"127.0.0.1:{port}")
        denied = await handshake(url, f"evil.example:{port}")
    assert accepted.startswith(b"HTTP/1.1 101")
    assert denied.startswith(b"HTTP/1.1 400")
    assert b'"HOST_NOT_ALLOWED"' in denied


async def test_a_missing_host_header_is_refused() -> None:
    """A request without a Host header names no allowed host."""
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    middleware = TrustedHosts(never, hosts=["localhost"])
    await middleware({"type": "http", "headers": []}, receive, send)
    assert sent[0]["status"] == 400


async def never(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("must not be called")


async def unused(message: Any) -> None:
    raise AssertionError("must not send")


async def receive() -> dict[str, Any]:
    return {"type": "websocket.connect"}


async def test_without_the_denial_extension_the_socket_is_closed_with_1008() -> None:
    """A server without the denial-response extension gets a policy-violation close."""
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    middleware = TrustedHosts(never, hosts=["localhost"])
    scope = {"type": "websocket", "headers": [(b"host", b"evil.example")], "extensions": {}}
    await middleware(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": sent[0]["reason"]}]


async def test_a_star_and_lifespan_pass_untouched() -> None:
    """ALLOWED_HOSTS=* disables the check; non-HTTP scopes are not looked at."""
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(str(scope["type"]))

    await TrustedHosts(app, hosts=["*"])({"type": "http", "headers": []}, receive, unused)
    await TrustedHosts(app, hosts=["localhost"])({"type": "lifespan"}, receive, unused)
    assert seen == ["http", "lifespan"]
