"""Static files from an allow-list, with explicit content types and revalidation caching.

Used for GraphiQL's vendored scripts (``graph.web.graphiql``) and the live page
(``graph.web.livepage``).
Only the listed relative paths are served; anything else, ``../`` tricks included, is 404.
Every file is sent with ``cache-control: no-cache`` and an ETag: the URLs carry no version, so
browsers keep a copy but revalidate it each time (a cheap 304), and an upgrade is never masked
by a stale cache.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Scope

MEDIA_TYPES: Mapping[str, str] = MappingProxyType(
    {
        ".js": "text/javascript; charset=utf-8",
        ".css": "text/css; charset=utf-8",
        ".html": "text/html; charset=utf-8",
    }
)
CACHE_CONTROL = "no-cache"


def media_type(path: str | os.PathLike[str]) -> str:
    """The content type we send for ``path``, by suffix; unknown suffixes are opaque bytes."""
    return MEDIA_TYPES.get(Path(path).suffix, "application/octet-stream")


def file_response(
    path: str | os.PathLike[str],
    *,
    stat_result: os.stat_result | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> FileResponse:
    """A FileResponse with our content type, caching and ``nosniff`` headers."""
    return FileResponse(
        path,
        status_code=status_code,
        stat_result=stat_result,
        media_type=media_type(path),
        headers={
            "cache-control": CACHE_CONTROL,
            "x-content-type-options": "nosniff",
            **(headers or {}),
        },
    )


class _AllowListFiles(StaticFiles):
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
        response = file_response(full_path, stat_result=stat_result, status_code=status_code)
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response


def allow_list_app(directory: Path, paths: Iterable[str]) -> Starlette:
    """An ASGI app serving ``paths`` (relative to ``directory``) and nothing else.

    Only GET and HEAD are allowed; anything else is 405, an unlisted path 404.
    """
    allowed = frozenset(os.path.normpath(path) for path in paths)
    # The Starlette wrapper turns StaticFiles' HTTPException into plain 404/405 responses.
    return Starlette(routes=[Mount("/", app=_AllowListFiles(directory, allowed))])
