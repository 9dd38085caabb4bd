"""What every contender program shares: listen on a free loopback port, say which, stop
on SIGTERM, and honour the benchmark's permessage-deflate choice (``BENCH_DEFLATE``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Generator

import uvicorn
from starlette.types import ASGIApp

from graph.web.serving import settle_heap


def deflate_wanted() -> bool:
    """Whether the benchmark asked for permessage-deflate (``BENCH_DEFLATE=1``)."""
    return os.environ.get("BENCH_DEFLATE", "1") == "1"


def announce(port: int) -> None:
    print(f"PORT {port}", flush=True)


def on_sigterm(stop: Callable[[], None]) -> None:
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # ours below: uvicorn's re-raises SIGTERM after shutdown


async def serve_uvicorn(
    app: ASGIApp,
    *,
    lifespan: bool = True,
    deflate: bool | None = None,
    on_stop: Callable[[], None] = lambda: None,
) -> None:
    """Serve ``app`` until SIGTERM; ``on_stop`` runs first, while connections are open.
    ``deflate`` defaults to the benchmark's choice (``BENCH_DEFLATE``)."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="on" if lifespan else "off",
        ws_ping_interval=None,
        ws_per_message_deflate=deflate_wanted() if deflate is None else deflate,
    )
    server = _Server(config)

    def stop() -> None:
        on_stop()
        server.should_exit = True

    on_sigterm(stop)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            return
        await asyncio.sleep(0.01)
    settle_heap()  # as python -m graph does once it is up
    announce(server.servers[0].sockets[0].getsockname()[1])
    await task
