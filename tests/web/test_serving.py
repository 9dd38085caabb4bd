"""graph.web.serving: head deadlines on uvicorn's h11 protocol, and the forced exit."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from websockets.asyncio.client import connect

from graph.web.serving import (
    FORCED_EXIT_STATUS,
    ExitDeadline,
    header_deadline_protocol,
    settle_heap,
)

HEAD = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


async def page(request: Request) -> Response:
    return PlainTextResponse("ok")


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(text)


@asynccontextmanager
async def server(timeout_s: float) -> AsyncIterator[int]:
    app = Starlette(routes=[Route("/", page), WebSocketRoute("/ws", echo)])
    config = uvicorn.Config(
        app,
        port=0,
        log_level="warning",
        lifespan="off",
        http=header_deadline_protocol(timeout_s),
        timeout_keep_alive=60,
    )
    running = uvicorn.Server(config)
    task = asyncio.create_task(running.serve())
    try:
        while not running.started:
            assert not task.done()
            await asyncio.sleep(0.005)
        yield running.servers[0].sockets[0].getsockname()[1]
    finally:
        running.should_exit = True
        await task


async def closed_after(reader: asyncio.StreamReader) -> bytes:
    """Everything read until the server closes (fails after 10 s)."""
    return await asyncio.wait_for(reader.read(), 10)


async def test_idle_and_half_sent_heads_are_closed_at_the_deadline() -> None:
    """A connection that sends nothing, or half a head, is closed without an answer."""
    async with server(0.2) as port:
        idle_r, idle_w = await asyncio.open_connection("127.0.0.1", port)
        half_r, half_w = await asyncio.open_connection("127.0.0.1", port)
        half_w.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        assert await closed_after(idle_r) == b""
        assert await closed_after(half_r) == b""
        for writer in (idle_w, half_w):
            writer.close()


async def test_keep_alive_requests_are_answered_and_the_next_head_has_a_deadline() -> None:
    """Whole heads are served; after a response the connection gets a new deadline."""
    async with server(0.3) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HEAD)
        first = await reader.readuntil(b"ok")
        writer.write(HEAD)
        second = await reader.readuntil(b"ok")
        rest = await closed_after(reader)  # then nothing more: closed at the deadline
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HEAD.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        last = await closed_after(reader)  # closed after its answer, not armed again
        writer.close()
    assert first.startswith(b"HTTP/1.1 200") and second.startswith(b"HTTP/1.1 200")
    assert rest == b""
    assert last.startswith(b"HTTP/1.1 200") and last.endswith(b"ok")


async def test_an_upgraded_websocket_outlives_the_head_deadline() -> None:
    """Once upgraded, the connection belongs to the WebSocket: the deadline does not apply."""
    async with server(0.1) as port, connect(f"ws://127.0.0.1:{port}/ws") as ws:
        await asyncio.sleep(0.3)  # past the deadline, on purpose: nothing may close it
        await ws.send("still here")
        assert await ws.recv() == "still here"


def test_the_exit_deadline_ends_the_process_after_its_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Started, it calls exit(3) from its own thread after after_s, with an ERROR line;
    a second start does not restart the countdown."""
    exited = threading.Event()
    statuses: list[int] = []

    def fake_exit(status: int) -> None:
        statuses.append(status)
        exited.set()

    deadline = ExitDeadline(0.05, exit=fake_exit)
    deadline.start()
    deadline.start()
    assert exited.wait(10)
    assert statuses == [FORCED_EXIT_STATUS]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "Shutdown deadline passed" in errors[0].getMessage()


def test_a_cancelled_exit_deadline_never_fires() -> None:
    """cancel() before the time is up: exit is never called (nor when never started)."""
    statuses: list[int] = []
    ExitDeadline(0.01, exit=statuses.append).cancel()
    deadline = ExitDeadline(0.05, exit=statuses.append)
    deadline.start()
    deadline.cancel()
    timer = deadline._timer
    assert timer is not None
    timer.join(10)
    assert statuses == []


def test_settle_heap_freezes_what_is_alive() -> None:
    """After settle_heap, the objects alive at startup are frozen: full collections skip them."""
    kept = [object() for _ in range(1000)]
    gc.unfreeze()
    try:
        settle_heap()
        assert gc.get_freeze_count() >= len(kept)
    finally:
        gc.unfreeze()  # other tests' objects must stay collectable
