"""``python -m bench.contenders.ours``: the app in a process of its own.

Settings come from the environment like ``python -m graph`` (the benchmark points them
at its simulator); ``BENCH_CLOCK=<Unix seconds>`` fixes the app's clock. Beside the app,
hooks for the benchmark under ``/bench/``:

- ``GET /bench/stats``: the hub's counters (:attr:`graph.live.hub.Hub.stats`), the feed's state;
- ``POST /bench/clear``: forget every cached upstream answer and recent query result, so
  the next query is cold;
- ``POST /bench/refresh?league=NBA``: one rating refresh (what the app runs in the
  background), then ``clear``;
- ``POST /bench/profile?action=start`` / ``?action=stop&out=<file>``: cProfile the
  process between the two, stats written to ``out``.

With ``BENCH_PROFILE=<file>`` the whole run is under cProfile and the stats are written
to that file on exit (``--profile-fanout``); with ``BENCH_TRACEMALLOC=<file>``, the top
allocations are written there on SIGTERM, while every connection is still open.
"""

from __future__ import annotations

import asyncio
import cProfile
import logging
import os
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from bench.contenders.process import serve_uvicorn
from graph.app import create_app
from graph.models import League
from graph.settings import load_settings


class _Hooks:
    """The app, plus the benchmark's ``/bench/`` endpoints (see the module docstring)."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self._profile: cProfile.Profile | None = None
        self._routes: dict[str, Callable[[Request], Awaitable[dict[str, Any]]]] = {
            "/bench/stats": self.stats,
            "/bench/clear": self.clear,
            "/bench/refresh": self.refresh,
            "/bench/profile": self.profile,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self._routes.get(scope["path"]) if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        body = await route(Request(scope, receive))
        await JSONResponse(body)(scope, receive, send)

    async def stats(self, request: Request) -> dict[str, Any]:
        state = self.app.state
        hub = state.hub
        return {
            "subscribers": hub.subscriber_count,
            "tickers": len(hub.refcounts()),
            "delivered": hub.stats.delivered,
            "dropped": hub.stats.conflated,
            "feed": str(state.feed.state),
        }

    async def clear(self, request: Request) -> dict[str, Any]:
        self.app.state.service.clear_caches()
        self.app.state.schema.operations.clear()  # recent query results
        return {"cleared": True}

    async def refresh(self, request: Request) -> dict[str, Any]:
        league = League(request.query_params["league"])
        applied = await self.app.state.service.refresh_ratings([league])
        await self.clear(request)
        return {"applied": applied}

    async def profile(self, request: Request) -> dict[str, Any]:
        if request.query_params["action"] == "start":
            self._profile = cProfile.Profile()
            self._profile.enable()
            return {"profiling": True}
        assert self._profile is not None, "profile stopped before it was started"
        self._profile.disable()
        self._profile.dump_stats(request.query_params["out"])
        self._profile = None
        return {"profiling": False}


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
    fixed = os.environ.get("BENCH_CLOCK")
    clock = (lambda: float(fixed)) if fixed else time.time
    settings = load_settings()
    app = _Hooks(create_app(settings, clock=clock, ratings_refresh_s=None))
    deflate = settings.ws_per_message_deflate  # as python -m graph does
    trace_path = os.environ.get("BENCH_TRACEMALLOC")
    if trace_path:
        tracemalloc.start(8)
    on_stop = (lambda: _write_tracemalloc(trace_path)) if trace_path else (lambda: None)
    profile_path = os.environ.get("BENCH_PROFILE")
    if not profile_path:
        asyncio.run(serve_uvicorn(app, deflate=deflate, on_stop=on_stop))
        return
    profile = cProfile.Profile()
    profile.enable()
    try:
        asyncio.run(serve_uvicorn(app, deflate=deflate, on_stop=on_stop))
    finally:
        profile.disable()
        profile.dump_stats(profile_path)


if __name__ == "__main__":
    main()
