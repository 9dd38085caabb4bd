"""GraphiQL without a CDN: serve Strawberry's page with its scripts and styles from node_modules.

How it works: Strawberry's GraphiQL page loads React, GraphiQL, the explorer plugin and
js-cookie from unpkg.com, each tag pinned by a sha384 ``integrity`` attribute. ``package.json``
pins the same versions, and ``npm ci`` puts byte-identical files in ``node_modules/``.
:func:`localize` rewrites each unpkg URL in the page to ``{prefix}/{path}`` and keeps the
integrity attributes, which still hold; :func:`assets_app` serves exactly the files in
:data:`ASSETS` and nothing else, so the page renders with no internet access.

This module is an edge adapter that knows nothing of Strawberry: the schema module hands it
Strawberry's HTML.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Scope

logger = logging.getLogger(__name__)

# Each unpkg URL in strawberry 0.341's static/graphiql.html -> that file inside node_modules.
# The versions here must equal package.json's; tests/test_graphiql.py checks both, and that
# strawberry's page references no unpkg URL missing from this map.
ASSETS: Mapping[str, str] = MappingProxyType(
    {
        "https://unpkg.com/react@18.2.0/umd/react.production.min.js": (
            "react/umd/react.production.min.js"
        ),
        "https://unpkg.com/react-dom@18.2.0/umd/react-dom.production.min.js": (
            "react-dom/umd/react-dom.production.min.js"
        ),
        "https://unpkg.com/js-cookie@3.0.5/dist/js.cookie.min.js": (
            "js-cookie/dist/js.cookie.min.js"
        ),
        "https://unpkg.com/graphiql@3.8.3/graphiql.min.css": "graphiql/graphiql.min.css",
        "https://unpkg.com/graphiql@3.8.3/graphiql.min.js": "graphiql/graphiql.min.js",
        "https://unpkg.com/@graphiql/plugin-explorer@1.0.2/dist/style.css": (
            "@graphiql/plugin-explorer/dist/style.css"
        ),
        "https://unpkg.com/@graphiql/plugin-explorer@1.0.2/dist/index.umd.js": (
            "@graphiql/plugin-explorer/dist/index.umd.js"
        ),
    }
)

DEFAULT_PREFIX = "/graphiql-assets"
MISSING_HINT = "GraphiQL assets not installed; run `make serve` or `npm ci`"

# The URL ends where an HTML attribute value or JS string would: quote, whitespace or bracket.
_UNPKG_URL = re.compile(r"https://unpkg\.com/[^\s\"'<>`]+")

_MEDIA_TYPES: Mapping[str, str] = MappingProxyType(
    {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
)

# The local URLs carry no version, and a stale cached copy would fail its integrity check
# after an upgrade, so browsers keep the files but revalidate each time (a cheap 304).
_CACHE_CONTROL = "no-cache"

_REPO_ROOT = Path(__file__).resolve().parent.parent


def localize(html: str, *, prefix: str = DEFAULT_PREFIX) -> str:
    """Point every mapped unpkg URL in ``html`` at ``{prefix}/{path}``.

    An unpkg URL we do not map is left alone (the page then still needs the CDN for it) and
    logged, so a Strawberry upgrade that adds an asset shows up in the log, not as a blank page.
    """
    base = prefix.rstrip("/")

    def replace(match: re.Match[str]) -> str:
        url = match.group(0)
        path = ASSETS.get(url)
        if path is None:
            logger.warning("GraphiQL asset not vendored, left on the CDN url=%s", url)
            return url
        return f"{base}/{path}"

    return _UNPKG_URL.sub(replace, html)


def find_node_modules(root: Path = _REPO_ROOT) -> Path | None:
    """Return ``root/node_modules`` if it holds every file in :data:`ASSETS`, else ``None``.

    ``root`` defaults to the repository root, the parent of the ``graph`` package.
    """
    node_modules = root / "node_modules"
    missing = sorted(path for path in ASSETS.values() if not (node_modules / path).is_file())
    if missing:
        logger.warning(
            "%s node_modules=%s missing=%s", MISSING_HINT, node_modules, ",".join(missing)
        )
        return None
    return node_modules


class _AssetFiles(StaticFiles):
    """StaticFiles that serves only an allow-list of relative paths, with fixed headers."""

    def __init__(self, directory: Path, allowed: frozenset[str]) -> None:
        super().__init__(directory=directory)
        self._allowed = allowed

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        # ``path`` is already normalised by get_path, so "../" tricks cannot match an entry.
        if path not in self._allowed:
            return "", None
        return super().lookup_path(path)

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        suffix = Path(full_path).suffix
        response = FileResponse(
            full_path,
            status_code=status_code,
            stat_result=stat_result,
            media_type=_MEDIA_TYPES.get(suffix, "application/octet-stream"),
            headers={"cache-control": _CACHE_CONTROL, "x-content-type-options": "nosniff"},
        )
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response


def assets_app(node_modules: Path) -> Starlette:
    """An ASGI app serving the files of :data:`ASSETS` from ``node_modules``; all else is 404.

    Mount it at the prefix given to :func:`localize`. Only GET and HEAD are allowed.
    """
    allowed = frozenset(os.path.normpath(path) for path in ASSETS.values())
    # The Starlette wrapper turns StaticFiles' HTTPException into plain 404/405 responses.
    return Starlette(routes=[Mount("/", app=_AssetFiles(node_modules, allowed))])
