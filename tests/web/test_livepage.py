"""Tests for graph.web.livepage: the live page's HTML, scripts and styles (graph/web/static)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from graph.sim.loopback import serve_app
from graph.web import livepage as live


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    app = Starlette(routes=[Route("/", live.index), Mount(live.PREFIX, live.assets_app())])
    async with serve_app(app) as url:
        yield url


async def test_index_is_html_with_a_same_origin_only_policy(base_url: str) -> None:
    """/ is the page, as UTF-8 HTML, revalidated on each visit, allowed to load only from here."""
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.get("/")
        head = await client.head("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "connect-src 'self'" in policy
    assert "http" not in policy
    assert "<table" in response.text
    assert head.status_code == 200


def test_page_references_only_its_own_files() -> None:
    """Every src/href and ES-module import points at a served file, never at another host."""
    html = (live.STATIC_DIR / "index.html").read_text()
    refs = set(re.findall(r'\b(?:src|href)="([^"]+)"', html))
    assert refs == {"/live/style.css", "/live/app.js", "data:,", "/graphql"}
    for name in live.FILES:
        if name.endswith(".js"):
            source = (live.STATIC_DIR / name).read_text()
            imports = re.findall(r'^import .* from "([^"]+)";', source, re.M)
            assert all(i.startswith("./") and i[2:] in live.FILES for i in imports), imports
            assert "http://" not in source and "https://" not in source


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        pytest.param("app.js", "text/javascript; charset=utf-8", id="app"),
        pytest.param("gqlws.js", "text/javascript; charset=utf-8", id="client"),
        pytest.param("style.css", "text/css; charset=utf-8", id="style"),
    ],
)
async def test_assets_are_served_with_their_types(
    base_url: str, path: str, content_type: str
) -> None:
    """Each script and stylesheet is served with its content type, nosniff and no-cache."""
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.get(f"{live.PREFIX}/{path}")
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-cache"
    assert response.content == (live.STATIC_DIR / path).read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("__init__.py", id="package-module"),
        pytest.param("index.html", id="page-under-prefix"),
        pytest.param("", id="folder"),
        pytest.param("..%2Flive.py", id="traversal"),
    ],
)
async def test_other_files_are_404(base_url: str, path: str) -> None:
    """Nothing but the listed files is served under the prefix (no source, no listing)."""
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.get(f"{live.PREFIX}/{path}")
    assert response.status_code == 404
