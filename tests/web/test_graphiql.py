"""Tests for graph.web.graphiql: GraphiQL's page and assets served without a CDN."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from graphql import build_schema, parse, validate
from hypothesis import given, strategies as st
from starlette.applications import Starlette
from starlette.routing import Mount
from strawberry.http.ides import get_graphql_ide_html

from graph.web.graphiql import (
    ASSETS,
    DEFAULT_QUERY,
    MISSING_HINT,
    VENDOR_DIR,
    assets_app,
    find_assets,
    localize,
    page,
    vendor,
    with_default_query,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
PREFIX = "/graphiql-assets"

# src="..." / href="..." followed by integrity="...", as in strawberry's page.
_TAG_URL = re.compile(r'\b(?:src|href)="([^"]+)"\s+integrity="(sha384-[^"]+)"')
_UNPKG = re.compile(
    r"^https://unpkg\.com/(?P<name>@?[^@/]+(?:/[^@/]+)?)@(?P<ver>[^/]+)/(?P<path>.+)$"
)


def _stock_page() -> str:
    return get_graphql_ide_html("graphiql")


def _integrity(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


@pytest.fixture
def node_modules() -> Path:
    """The package's vendored copy, as an installed service serves it."""
    if find_assets((VENDOR_DIR,)) is None:
        pytest.fail("graph/web/vendor/ is missing GraphiQL's assets: run `make` (make test does)")
    return VENDOR_DIR


@pytest.fixture
async def base_url(node_modules: Path) -> AsyncIterator[str]:
    app = Starlette(routes=[Mount(PREFIX, app=assets_app(node_modules))])
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(5):
        while not server.started:
            await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def test_stock_page_has_only_mapped_unpkg_urls() -> None:
    """Every unpkg URL in strawberry's GraphiQL page is in ASSETS, and every ASSETS key is used."""
    page = _stock_page()
    urls = set(re.findall(r"https://unpkg\.com/[^\s\"'<>`]+", page))
    assert urls == set(ASSETS)


def test_localize_leaves_no_external_script_or_stylesheet() -> None:
    """After localize, no src/href on the page points to http(s): all assets are local."""
    page = localize(_stock_page())
    assert "unpkg.com" not in page
    external = re.findall(r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert external == []
    for path in ASSETS.values():
        assert f'"{PREFIX}/{path}"' in page


def test_localize_keeps_integrity_attributes() -> None:
    """localize changes only URLs: each tag keeps its integrity hash, now on the local path."""
    stock = dict(_TAG_URL.findall(_stock_page()))
    local = dict(_TAG_URL.findall(localize(_stock_page())))
    assert len(stock) == len(ASSETS)
    assert local == {f"{PREFIX}/{ASSETS[url]}": sri for url, sri in stock.items()}


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        pytest.param("/static/ide", "/static/ide/graphiql/graphiql.min.js", id="custom"),
        pytest.param("/static/ide/", "/static/ide/graphiql/graphiql.min.js", id="trailing-slash"),
        pytest.param("", "/graphiql/graphiql.min.js", id="root"),
    ],
)
def test_localize_uses_prefix(prefix: str, expected: str) -> None:
    """The rewritten URL is the prefix (without a doubled slash) plus the node_modules path."""
    html = '<script src="https://unpkg.com/graphiql@3.8.3/graphiql.min.js"></script>'
    assert localize(html, prefix=prefix) == f'<script src="{expected}"></script>'


def test_localize_leaves_and_logs_unknown_unpkg_url(caplog: pytest.LogCaptureFixture) -> None:
    """An unpkg URL not in ASSETS stays as it is and is named in a warning."""
    url = "https://unpkg.com/graphiql@9.9.9/graphiql.min.js"
    html = f'<script src="{url}"></script>'
    with caplog.at_level(logging.WARNING, logger="graph.web.graphiql"):
        assert localize(html) == html
    assert url in caplog.text


@given(st.text())
def test_localize_is_identity_without_unpkg(text: str) -> None:
    """Text with no unpkg URL comes back unchanged."""
    text = text.replace("https://unpkg.com/", "")
    assert localize(text) == text


def test_localize_is_idempotent() -> None:
    """Localizing an already localized page changes nothing."""
    once = localize(_stock_page())
    assert localize(once) == once


def test_assets_match_package_json_pins() -> None:
    """Each ASSETS entry is name@version/path with the version package.json pins exactly."""
    deps = json.loads((REPO_ROOT / "package.json").read_text())["dependencies"]
    pinned = set()
    for url, path in ASSETS.items():
        match = _UNPKG.match(url)
        assert match is not None, url
        assert deps[match["name"]] == match["ver"]
        assert path == f"{match['name']}/{match['path']}"
        pinned.add(match["name"])
    assert pinned == set(deps)


def test_node_modules_files_match_page_integrity(node_modules: Path) -> None:
    """The sha384 of every installed asset equals the page's integrity, so SRI passes offline."""
    integrity = dict(_TAG_URL.findall(_stock_page()))
    assert set(integrity) == set(ASSETS)
    for url, path in ASSETS.items():
        assert _integrity((node_modules / path).read_bytes()) == integrity[url], path


def test_find_assets_warns_when_missing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Where no place has every asset it returns None and logs how to fix it."""
    with caplog.at_level(logging.WARNING, logger="graph.web.graphiql"):
        assert find_assets((tmp_path / "vendor", tmp_path / "node_modules")) is None
    assert MISSING_HINT in caplog.text
    assert "graphiql/graphiql.min.js" in caplog.text
    assert find_assets(()) is None


def test_find_assets_prefers_the_package_to_a_checkout(tmp_path: Path) -> None:
    """A complete vendored copy wins; without it, a complete node_modules is used."""
    for path in ASSETS.values():
        target = tmp_path / "node_modules" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("x")
    places = (tmp_path / "vendor", tmp_path / "node_modules")
    assert find_assets(places) == tmp_path / "node_modules"
    vendor(tmp_path / "node_modules", tmp_path / "vendor")
    assert find_assets(places) == tmp_path / "vendor"


def test_the_vendored_copy_is_package_data() -> None:
    """pyproject ships graph/web/vendor in the wheel, so an installed service is offline too."""
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert "vendor/**/*" in config["tool"]["setuptools"]["package-data"]["graph.web"]
    assert VENDOR_DIR.parent.name == "web"


async def test_served_assets_match_integrity(base_url: str) -> None:
    """Each localized URL is served with 200, the right content type and SRI-valid bytes."""
    page = localize(_stock_page())
    integrity = dict(_TAG_URL.findall(page))
    assert len(integrity) == len(ASSETS)
    async with httpx.AsyncClient(base_url=base_url) as client:
        for local_url, sri in integrity.items():
            response = await client.get(local_url)
            assert response.status_code == 200, local_url
            kind = "text/css" if local_url.endswith(".css") else "text/javascript"
            assert response.headers["content-type"] == f"{kind}; charset=utf-8"
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["cache-control"] == "no-cache"
            assert _integrity(response.content) == sri, local_url


async def test_percent_encoded_at_sign_is_served(base_url: str) -> None:
    """Browsers send "@graphiql" as "%40graphiql"; the scoped package's file is still served."""
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.get(f"{PREFIX}/%40graphiql/plugin-explorer/dist/index.umd.js")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"


async def test_revalidation_returns_304(base_url: str) -> None:
    """A conditional GET with the served ETag gets 304, keeping the cache headers."""
    url = f"{PREFIX}/graphiql/graphiql.min.css"
    async with httpx.AsyncClient(base_url=base_url) as client:
        first = await client.get(url)
        second = await client.get(url, headers={"if-none-match": first.headers["etag"]})
    assert second.status_code == 304
    assert second.content == b""
    assert second.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("graphiql/package.json", id="unmapped-file-in-node_modules"),
        pytest.param("graphiql", id="package-directory"),
        pytest.param("react/umd/", id="asset-directory"),
        pytest.param("", id="root"),
        pytest.param("..%2Fpackage.json", id="encoded-slash-traversal"),
        pytest.param("%2e%2e/%2e%2e/pyproject.toml", id="encoded-dot-traversal"),
        pytest.param("react/umd/..%2F..%2F..%2Fpackage.json", id="traversal-from-asset-dir"),
        pytest.param("%2Fetc%2Fpasswd", id="absolute-path"),
    ],
)
async def test_unmapped_paths_are_404(base_url: str, path: str) -> None:
    """Anything outside ASSETS, including ../ traversal out of node_modules, is 404."""
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.get(f"{PREFIX}/{path}")
    assert response.status_code == 404


async def test_raw_dot_dot_request_is_404(base_url: str) -> None:
    """A request line with literal ../ segments (which httpx would normalise away) is 404."""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(
            f"GET {PREFIX}/react/../../package.json HTTP/1.1\r\n"
            f"Host: {host}\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        async with asyncio.timeout(5):
            status_line = await reader.readline()
    finally:
        writer.close()
        await writer.wait_closed()
    assert status_line.split()[1] == b"404"


async def test_only_get_and_head_are_allowed(base_url: str) -> None:
    """HEAD works on an asset; POST is refused with 405."""
    url = f"{PREFIX}/react/umd/react.production.min.js"
    async with httpx.AsyncClient(base_url=base_url) as client:
        head = await client.head(url)
        post = await client.post(url)
    assert head.status_code == 200
    assert int(head.headers["content-length"]) > 0
    assert post.status_code == 405


def _unescape_template_literal(body: str) -> str:
    """Undo the escapes with_default_query writes, as a browser reads them (\\r is a CR)."""
    return re.sub(r"\\(.)", lambda m: "\r" if m[1] == "r" else m[1], body, flags=re.S)


def _example_query(page: str) -> str:
    match = re.search(r"const EXAMPLE_QUERY = `((?:\\.|[^`\\])*)`;", page, re.S)
    assert match is not None
    return match.group(1)


def test_default_query_is_valid_against_the_schema() -> None:
    """The default query parses and validates against schema.graphql and asks for predictions."""
    schema = build_schema((REPO_ROOT / "schema.graphql").read_text())
    document = parse(DEFAULT_QUERY)
    assert validate(schema, document) == []
    assert "games(league: NBA" in DEFAULT_QUERY and "prediction {" in DEFAULT_QUERY


@pytest.mark.parametrize("offline", [pytest.param(True, id="local"), pytest.param(False, id="cdn")])
def test_page_sets_default_query_with_and_without_local_assets(offline: bool) -> None:
    """page() always swaps in the default query; only offline pages lose their unpkg URLs."""
    html = page(_stock_page(), offline=offline)
    assert _unescape_template_literal(_example_query(html)) == DEFAULT_QUERY
    assert "Welcome to GraphiQL" not in html
    assert ("unpkg.com" in html) is not offline


@given(st.text(alphabet=st.sampled_from("ab\\`${}</script>\r\n")) | st.text())
def test_default_query_survives_template_literal_escaping(query: str) -> None:
    """Any query text (backticks, ${, backslashes, CRs, </script>) reaches the editor as written."""
    html = with_default_query(_stock_page(), query)
    literal = _example_query(html)
    assert _unescape_template_literal(literal) == query
    assert "</" not in literal and "\r" not in literal


def test_page_without_example_query_is_left_alone_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A page with no EXAMPLE_QUERY (a changed Strawberry) is returned unchanged, with a warning."""
    html = "<html><script>const other = 1;</script></html>"
    with caplog.at_level(logging.WARNING, logger="graph.web.graphiql"):
        assert with_default_query(html) == html
    assert "default query not set" in caplog.text


def test_find_assets_logs_which_source_is_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Startup says whether GraphiQL's assets are served locally or come from the CDN."""
    with caplog.at_level(logging.INFO, logger="graph.web.graphiql"):
        find_assets((tmp_path,))
        find_assets()
    assert "source=cdn" in caplog.text
    assert "source=local" in caplog.text
