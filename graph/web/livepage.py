"""The live page: ``/`` serves ``static/index.html``; its scripts and styles live under ``/live``.

A single static page with plain ES modules (no build step, nothing from a CDN): it lists a
league's games with model vs market probability and edge, and streams market prices through
``tickerUpdates`` over ``graphql-transport-ws``. The Content-Security-Policy allows only this
origin, so a stray external URL fails loudly in the browser instead of leaking a request.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from graph.web.assets import allow_list_app, file_response

STATIC_DIR = Path(__file__).resolve().parent / "static"
PREFIX = "/live"
FILES = ("app.js", "gqlws.js", "style.css")

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "img-src 'self' data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)


async def index(request: Request) -> Response:
    """The page itself."""
    return file_response(
        STATIC_DIR / "index.html",
        headers={"content-security-policy": CONTENT_SECURITY_POLICY},
    )


def assets_app() -> Starlette:
    """The page's scripts and stylesheet; mount it at :data:`PREFIX`."""
    return allow_list_app(STATIC_DIR, FILES)
