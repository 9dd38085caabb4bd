"""``python -m bench.server``: the app in a process of its own, for the fan-out benchmark.

Settings come from the environment like ``python -m graph`` (the benchmark points them
at its simulator). Uvicorn listens on a free loopback port, printed as ``PORT <n>`` on
stdout once it accepts connections. ``GET /bench/stats`` answers the hub's counters
(:meth:`graph.live.hub.Hub.stats`) and the feed's state; everything else is the app.
SIGTERM stops it cleanly. With ``BENCH_PROFILE=<file>`` set, the whole run is under
cProfile and the stats are written to that file on exit (for ``--profile-fanout``).
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import logging
import os
import signal
import tracemalloc
from collections.abc import Callable, Coroutine, Generator
from pathlib import Path
from typing import Any

import uvicorn
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from graph.app import create_app
from graph.settings import load_settings


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    def stop(self) -> None:
        trace_path = os.environ.get("BENCH_TRACEMALLOC")
        if trace_path and tracemalloc.is_tracing():  # while every connection is still open
            top = tracemalloc.take_snapshot().statistics("traceback")[:8]
            Path(trace_path).write_text(
                "\n\n".join(
                    f"{s.size / 1e6:.1f} MB in {s.count} blocks\n" + "\n".join(s.traceback.format())
                    for s in top
                )
            )
        self.should_exit = True


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    app = create_app(load_settings(), ratings_refresh_s=None)

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/bench/stats":
            state = app.state
            hub = state.hub
            body = {
                "subscribers": hub.subscriber_count,
                "tickers": len(hub.refcounts()),
                "delivered": hub.stats.delivered,
                "dropped": hub.stats.conflated,
                "feed": str(state.feed.state),
            }
            await JSONResponse(body)(scope, receive, send)
        else:
            await app(scope, receive, send)

    async def serve() -> None:
        config = uvicorn.Config(
            asgi,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="on",
            ws_ping_interval=None,
        )
        server = _Server(config)
        # Our own handler: uvicorn's re-raises SIGTERM after shutdown, which would kill the
        # process before the profile is written.
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, server.stop)
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()
                return
            await asyncio.sleep(0.01)
        print(f"PORT {server.servers[0].sockets[0].getsockname()[1]}", flush=True)
        await task

    trace_path = os.environ.get("BENCH_TRACEMALLOC")
    if trace_path:
        tracemalloc.start(8)
    _run(serve, os.environ.get("BENCH_PROFILE"))


def _run(serve: Callable[[], Coroutine[Any, Any, None]], profile_path: str | None) -> None:
    if not profile_path:
        asyncio.run(serve())
        return
    profile = cProfile.Profile()
    profile.enable()
    try:
        asyncio.run(serve())
    finally:
        profile.disable()
        profile.dump_stats(profile_path)


if __name__ == "__main__":
    main()
