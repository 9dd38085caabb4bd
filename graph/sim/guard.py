"""The wrapper every simulated HTTP endpoint runs in: stats, latency, faults, auth.

Order per request: count it and mark it in flight; wait while its kind is held (see
``Faults.held``); answer a scripted or random fault if one is due, verify Kalshi auth
headers when present (or required), else run the real handler; send the answer once the
configured latency has passed since the request came in (the simulator's own work counts
within it, as a remote host's would). Error bodies follow each
upstream: Kalshi wraps errors as ``{"error": {"code", "message"}}`` except its
429 (``{"error": "too many requests"}``); ESPN answers ``{"code", "message"}``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response

from graph.sim.auth import has_auth_headers
from graph.sim.state import SimState

Handler = Callable[[Request], Awaitable[Response]]


class BadRequest(Exception):
    """A handler's way to answer 400 with a message."""


def kalshi_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def too_many_requests() -> JSONResponse:
    return JSONResponse({"error": "too many requests"}, status_code=429)


def espn_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"code": status, "message": message}, status_code=status)


def request_path(conn: HTTPConnection) -> str:
    """The path exactly as the client sent it, without the query (what Kalshi signs)."""
    raw: Any = conn.scope.get("raw_path")
    if isinstance(raw, bytes) and raw:
        return raw.decode("latin-1").split("?", 1)[0]
    return str(conn.scope["path"])


def auth_problem(
    state: SimState, conn: HTTPConnection, method: str, *, required: bool
) -> str | None:
    """Why a request fails Kalshi auth, or ``None``; unsigned requests pass unless required."""
    if not has_auth_headers(conn.headers) and not (required and state.require_auth):
        return None
    return state.verifier.problem(conn.headers, method, request_path(conn), state.now_ms())


def _kalshi_status(status: int) -> JSONResponse:
    if status == 429:
        return too_many_requests()
    if status == 401:
        return kalshi_error(401, "authentication_error", "scripted authentication failure")
    if status >= 500:
        return kalshi_error(status, "internal_server_error", "scripted server error")
    return kalshi_error(status, "scripted_error", f"scripted status {status}")


def _random_fault(state: SimState, kalshi: bool) -> Response | None:
    faults, rng = state.faults, state.rng
    if faults.error_rate > 0 and rng.random() < faults.error_rate:
        if kalshi:
            return kalshi_error(500, "internal_server_error", "simulated server error")
        return espn_error(500, "simulated server error")
    if faults.rate_limit_rate > 0 and rng.random() < faults.rate_limit_rate:
        return too_many_requests() if kalshi else espn_error(429, "too many requests")
    return None


def guarded(
    state: SimState, kind: str, handler: Handler, *, kalshi: bool, private: bool = False
) -> Handler:
    """Wrap ``handler`` as the endpoint of one route kind."""

    async def endpoint(request: Request) -> Response:
        with state.stats.track(kind):
            # The latency is when the answer arrives, as from a remote host, whose own work
            # is part of that time: building the answer happens within it, not after it.
            loop = asyncio.get_running_loop()
            due = loop.time() + state.faults.latency_s
            held = state.faults.held.get(kind)
            if held is not None:
                await held.wait()
            response = await answer(request)
            if (wait := due - loop.time()) > 0:
                await asyncio.sleep(wait)
            return response

    async def answer(request: Request) -> Response:
        if kalshi and state.faults.scripted_statuses:
            status = state.faults.scripted_statuses.popleft()
            if status != 200:
                return _kalshi_status(status)
        fault = _random_fault(state, kalshi)
        if fault is not None:
            return fault
        if kalshi:
            problem = auth_problem(state, request, request.method, required=private)
            if problem is not None:
                return kalshi_error(401, "authentication_error", problem)
        try:
            return await handler(request)
        except BadRequest as exc:
            if kalshi:
                return kalshi_error(400, "bad_request", str(exc))
            return espn_error(400, str(exc))

    return endpoint
