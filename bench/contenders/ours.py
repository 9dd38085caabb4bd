"""``python -m bench.contenders.ours``: the app in a process of its own.

Settings come from the environment like ``python -m graph`` (the benchmark points them
at its simulator). ``GET /bench/stats`` answers the hub's counters
(:attr:`graph.hub.Hub.stats`) and the feed's state; everything else is the app. With
``BENCH_PROFILE=<file>`` the whole run is under cProfile and the stats are written to
that file on exit (``--profile-fanout``); with ``BENCH_TRACEMALLOC=<file>``, the top
allocations are written there on SIGTERM, while every connection is still open.
"""

from __future__ import annotations

import asyncio
import cProfile
import logging
import os
import tracemalloc
from pathlib import Path

from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from bench.contenders.process import serve_uvicorn
from graph.app import create_app
from graph.settings import load_settings


def _write_tracemalloc(path: str) -> None:
    if tracemalloc.is_tracing():
        top = tracemalloc.take_snapshot().statistics("traceback")[:8]
        Path(path).write_text(
            "\n\n".join(
                f"{s.size / 1e6:.1f} MB in {s.count} blocks\n" + "\n".join(s.traceback.format())
                for s in top
            )
        )


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

    trace_path = os.environ.get("BENCH_TRACEMALLOC")
    if trace_path:
        tracemalloc.start(8)
    on_stop = (lambda: _write_tracemalloc(trace_path)) if trace_path else (lambda: None)
    profile_path = os.environ.get("BENCH_PROFILE")
    if not profile_path:
        asyncio.run(serve_uvicorn(asgi, on_stop=on_stop))
        return
    profile = cProfile.Profile()
    profile.enable()
    try:
        asyncio.run(serve_uvicorn(asgi, on_stop=on_stop))
    finally:
        profile.disable()
        profile.dump_stats(profile_path)


if __name__ == "__main__":
    main()
