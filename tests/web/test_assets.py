"""Tests for graph.web.assets: allow-listed static files with fixed content types and caching."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from graph.sim.loopback import serve_app
from graph.web.assets import CACHE_CONTROL, allow_list_app, file_response, media_type


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("app.js", "text/javascript; charset=utf-8", id="js"),
        pytest.param("a/b/style.css", "text/css; charset=utf-8", id="css"),
        pytest.param("index.html", "text/html; charset=utf-8", id="html"),
        pytest.param("data.json", "application/octet-stream", id="unknown"),
        pytest.param("Makefile", "application/octet-stream", id="no-suffix"),
    ],
)
def test_media_type_by_suffix(name: str, expected: str) -> None:
    """Known suffixes get their text type with charset; anything else is opaque bytes."""
    assert media_type(name) == expected


def test_file_response_headers_can_be_extended(tmp_path: Path) -> None:
    """Extra headers are added next to the fixed caching and nosniff headers."""
    path = tmp_path / "index.html"
    path.write_text("<p>hi</p>")
    response = file_response(path, headers={"content-security-policy": "default-src 'none'"})
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == CACHE_CONTROL
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == "default-src 'none'"


@pytest.fixture
async def base_url(tmp_path: Path) -> AsyncIterator[str]:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "listed.js").write_text("export {};")
    (tmp_path / "secret.txt").write_text("no")
    async with serve_app(allow_list_app(tmp_path, ["sub/./listed.js"])) as url:
        yield url


async def test_only_listed_paths_are_served(base_url: str) -> None:
    """A listed file (given in any normalisable form) is 200; its unlisted neighbour is 404."""
    async with httpx.AsyncClient(base_url=base_url) as client:
        listed = await client.get("/sub/listed.js")
        secret = await client.get("/secret.txt")
        folder = await client.get("/sub/")
    assert listed.status_code == 200
    assert listed.text == "export {};"
    assert listed.headers["content-type"] == "text/javascript; charset=utf-8"
    assert secret.status_code == 404
    assert folder.status_code == 404


async def test_conditional_get_is_304(base_url: str) -> None:
    """If-None-Match with the served ETag answers 304 with the same caching header."""
    async with httpx.AsyncClient(base_url=base_url) as client:
        first = await client.get("/sub/listed.js")
        again = await client.get("/sub/listed.js", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.headers["cache-control"] == CACHE_CONTROL
