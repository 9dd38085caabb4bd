"""Real-browser tests: GraphiQL at /graphql and the live page at /, in headless Chromium.

How it works: one Debian Chromium per module, driven by Playwright for Python through
``executable_path`` (never ``playwright install``), and one uvicorn serving ``create_app``
against an in-process simulator that ticks every 0.2 s. Every browser context aborts and records
each request to anything but the server's own loopback origin, and each test asserts that none
was attempted: the pages work with no internet access. Screenshots go to ``tmp_path``, and also
to ``docs/`` when ``UPDATE_SCREENSHOTS=1`` (``make screenshots``), so a test run leaves the tree
clean.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    Route,
    WebSocket,
    WebSocketRoute,
    async_playwright,
)

from graph.model.ratings import RatingStore
from graph.model.track import TrackEntry
from graph.models import League
from graph.sim import Simulator
from tests.e2e import SUNDAY_NOON_UTC, eventually, running_app

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.browser]

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCS = REPO_ROOT / "docs"

# Flags from the machine notes: no background traffic to Google's hosts, no sandbox as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TICK_S = 0.2
WAIT_MS = 15_000
TOKEN = "test-token-123"

GAMES_QUERY = '{ games(league: NFL, date: "2026-11-22") { id home { code } markets { ticker } } }'


def chromium_path() -> str:
    """Debian's Chromium; `make test` installs it, and its absence fails (never skips) the tests."""
    found = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if found is None or not Path(found).is_file():
        pytest.fail("Chromium not found: `make test` installs Debian's chromium (or set CHROMIUM)")
    return found


@dataclass
class Server:
    url: str
    ratings: Path  # the app's SQLite file (ratings and the track record)

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1)

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as client:
            response = await client.post(
                "/graphql", json={"query": query, "variables": variables or {}}
            )
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        return body


@dataclass
class Session:
    """One browser context and page, with what it tried to reach outside the server."""

    page: Page
    context: BrowserContext
    external: list[str] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def assert_offline_and_clean(self) -> None:
        assert self.external == []
        assert self.page_errors == []


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    sim = Simulator(clock=lambda: SUNDAY_NOON_UTC, tick_interval_s=TICK_S)
    folder = tmp_path_factory.mktemp("browser")
    async with sim, running_app(sim, folder) as (_, url):
        yield Server(url, folder / "ratings.sqlite3")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    playwright: Playwright
    async with async_playwright() as playwright:
        # Playwright gives every launch a fresh, temporary profile (user data dir).
        launched = await playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def session(browser: Browser, server: Server) -> AsyncIterator[Session]:
    context = await browser.new_context(
        viewport={"width": 1400, "height": 860}, timezone_id="America/New_York"
    )
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    result = Session(page=page, context=context)

    async def only_loopback(route: Route) -> None:
        url = route.request.url
        if url.startswith((server.url + "/", "data:")):
            await route.continue_()
        else:
            result.external.append(url)
            await route.abort()

    def watch(ws: WebSocket) -> None:
        if not ws.url.startswith(server.ws_url + "/"):
            result.external.append(ws.url)
        ws.on("framesent", lambda payload: result.sent.append(json.loads(payload)))

    await context.route("**/*", only_loopback)
    page.on("websocket", watch)
    page.on("pageerror", lambda error: result.page_errors.append(str(error)))
    try:
        yield result
    finally:
        await context.close()


async def screenshot(page: Page, name: str, tmp_path: Path) -> Path:
    """Save a screenshot in tmp_path (and in docs/ with UPDATE_SCREENSHOTS=1)."""
    path = tmp_path / name
    await page.screenshot(path=path)
    assert path.read_bytes().startswith(b"\x89PNG")
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(path, DOCS / name)
    return path


# --- GraphiQL ---------------------------------------------------------------------------------


async def open_graphiql(session: Session, server: Server) -> Page:
    page = session.page
    await page.goto(server.url + "/graphql")
    await page.wait_for_selector(".graphiql-execute-button")
    await page.wait_for_function(
        "document.querySelector('.graphiql-query-editor .CodeMirror') !== null"
    )
    return page


async def set_editor(page: Page, selector: str, text: str) -> None:
    # GraphiQL 3 uses CodeMirror 5: setValue fires the same change events as typing.
    await page.eval_on_selector(selector, "(el, text) => el.CodeMirror.setValue(text)", text)


async def set_query(page: Page, text: str) -> None:
    """Replace the query editor's text, then wait until GraphiQL has taken it in.

    GraphiQL reads the operation name in a 100 ms debounced change handler, which then calls
    the page's onEditQuery, which writes ``?q=``; a click before that would run the new text
    under the old operation name.
    """
    await set_editor(page, QUERY_EDITOR, text)
    await page.wait_for_function(
        "text => new URLSearchParams(location.search).get('q') === text", arg=text
    )


async def editor_text(page: Page, selector: str) -> str:
    text: str = await page.eval_on_selector(selector, "el => el.CodeMirror.getValue()")
    return text


QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
RESULT = ".result-window .CodeMirror"
HEADERS_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"


async def run_and_wait(page: Page, expected: str) -> dict[str, Any]:
    """Click the run button and return the result pane's JSON once it contains ``expected``."""
    await page.click(".graphiql-execute-button")
    await page.wait_for_function(
        """([selector, expected]) => {
            const el = document.querySelector(selector);
            return el !== null && el.CodeMirror.getValue().includes(expected);
        }""",
        arg=[RESULT, expected],
    )
    result: dict[str, Any] = json.loads(await editor_text(page, RESULT))
    return result


async def test_graphiql_offers_and_runs_todays_games_offline(
    session: Session, server: Server, tmp_path: Path
) -> None:
    """/graphql renders with no external request, starts on the games query, and runs it."""
    page = await open_graphiql(session, server)
    text = await editor_text(page, QUERY_EDITOR)
    assert "query TodaysGames" in text
    assert "games(league: NBA" in text
    result = await run_and_wait(page, "homeWinProbability")
    expected = await server.post("{ games(league: NBA) { home { code } } }")
    games = result["data"]["games"]
    assert len(games) == len(expected["data"]["games"]) > 0
    assert {g["home"]["code"] for g in games} == {
        g["home"]["code"] for g in expected["data"]["games"]
    }
    assert all(g["prediction"]["homeWinProbability"] is not None for g in games)
    await screenshot(page, "graphiql.png", tmp_path)
    session.assert_offline_and_clean()


async def test_graphiql_runs_a_query_typed_into_the_editor(
    session: Session, server: Server
) -> None:
    """A games query set in the editor renders exactly what the HTTP API answers."""
    page = await open_graphiql(session, server)
    await set_query(page, GAMES_QUERY)
    result = await run_and_wait(page, '"games"')
    assert result == await server.post(GAMES_QUERY)
    session.assert_offline_and_clean()


async def test_graphiql_shows_docs_from_introspection(session: Session, server: Server) -> None:
    """The documentation explorer lists the schema's root types, read by introspection."""
    page = await open_graphiql(session, server)
    await page.click("button[aria-label='Show Documentation Explorer']")
    explorer = page.locator(".graphiql-doc-explorer")
    await explorer.get_by_text("Subscription", exact=True).wait_for()
    await explorer.get_by_text("Query", exact=True).first.wait_for()
    session.assert_offline_and_clean()


async def tickers(server: Server, count: int) -> list[str]:
    body = await server.post(GAMES_QUERY)
    found = [m["ticker"] for g in body["data"]["games"] for m in g["markets"]]
    assert len(found) >= count
    return found[:count]


async def test_graphiql_subscription_renders_live_updates(
    session: Session, server: Server, tmp_path: Path
) -> None:
    """A tickerUpdates subscription run in GraphiQL shows one update after another."""
    wanted = await tickers(server, 4)
    page = await open_graphiql(session, server)
    listed = "".join(f'\n    "{t}"' for t in wanted)
    subscription = (
        f"subscription LivePrices {{\n  tickerUpdates(marketTickers: [{listed}\n  ]) {{\n"
        "    marketTicker price yesBid yesAsk volume ts\n  }\n}\n"
    )
    await set_query(page, subscription)
    first = await run_and_wait(page, "tickerUpdates")
    assert first["data"]["tickerUpdates"]["marketTicker"] in wanted
    # The pane shows the latest event: wait for it to be replaced by a later one.
    await page.wait_for_function(
        "([selector, before]) => document.querySelector(selector).CodeMirror.getValue() !== before",
        arg=[RESULT, await editor_text(page, RESULT)],
    )
    later = json.loads(await editor_text(page, RESULT))
    assert later["data"]["tickerUpdates"]["marketTicker"] in wanted
    assert later != first
    await screenshot(page, "graphiql-subscription.png", tmp_path)
    session.assert_offline_and_clean()


async def test_graphiql_headers_editor_authorizes_queries_and_subscriptions(
    session: Session, server: Server
) -> None:
    """A token pasted in the headers editor goes out as HTTP header and as connectionParams."""
    wanted = await tickers(server, 1)
    page = await open_graphiql(session, server)
    await page.click(".graphiql-editor-tools button[data-name='headers']")
    await set_editor(page, HEADERS_EDITOR, json.dumps({"Authorization": f"Bearer {TOKEN}"}))
    await set_query(page, GAMES_QUERY)
    async with page.expect_request(
        lambda r: (
            r.url.endswith("/graphql") and r.method == "POST" and "games" in (r.post_data or "")
        )
    ) as request_info:
        await run_and_wait(page, '"games"')
    request = await request_info.value
    assert await request.header_value("authorization") == f"Bearer {TOKEN}"

    await set_query(
        page,
        f"subscription {{ tickerUpdates(marketTickers: {json.dumps(wanted)}) {{ marketTicker }} }}",
    )
    await run_and_wait(page, "tickerUpdates")
    inits = [m for m in session.sent if m["type"] == "connection_init"]
    assert inits == [{"type": "connection_init", "payload": {"Authorization": f"Bearer {TOKEN}"}}]
    session.assert_offline_and_clean()


# --- the live page ----------------------------------------------------------------------------

QUOTES = "[...document.querySelectorAll('#games .market .quote')].map(e => e.textContent)"


async def open_live(session: Session, server: Server, query: str = "") -> Page:
    page = session.page
    await page.goto(server.url + "/" + query)
    await page.wait_for_selector("#games tbody tr")
    await page.wait_for_selector("#status[data-state='live']")
    return page


async def test_live_page_renders_games_and_prices_change(
    session: Session, server: Server, tmp_path: Path
) -> None:
    """/ lists today's NBA games with model, market and edge, and a price changes live."""
    expected = await server.post(
        "{ games(league: NBA) { id markets { ticker } prediction { homeWinProbability } } }"
    )
    page = await open_live(session, server)
    rows = await page.eval_on_selector_all(
        "#games tbody tr", "rows => rows.map(r => r.dataset.game)"
    )
    assert rows == [g["id"] for g in expected["data"]["games"]]
    first = expected["data"]["games"][0]
    row = page.locator(f"tr[data-game='{first['id']}']")
    model = f"{first['prediction']['homeWinProbability'] * 100:.1f}%"
    assert await row.locator(".model").text_content() == model
    assert re.fullmatch(r"\d+\.\d%", await row.locator(".market-p").text_content() or "")
    assert re.fullmatch(r"[+-]?\d+\.\d", await row.locator(".edge").text_content() or "")
    tickers_shown = await page.eval_on_selector_all(
        "#games .market", "els => els.map(e => e.dataset.ticker)"
    )
    assert tickers_shown == [m["ticker"] for g in expected["data"]["games"] for m in g["markets"]]

    before = await page.evaluate(QUOTES)
    await page.wait_for_function(f"before => {QUOTES}.some((q, i) => q !== before[i])", arg=before)
    assert await page.locator("#games .market.changed").count() > 0
    await screenshot(page, "live.png", tmp_path)
    session.assert_offline_and_clean()


def settled_games(path: Path, league: League, n: int) -> list[TrackEntry]:
    """Write n finished games into the app's track record, as the upkeep would have."""
    start = datetime.fromtimestamp(SUNDAY_NOON_UTC, UTC) - timedelta(days=1)
    entries = [
        TrackEntry(
            league=league,
            game_id=f"{league}.20261121.{i}",
            start_time=start,
            recorded_at=start - timedelta(hours=1),
            model="elo",
            p_model=0.3 + 0.05 * i,
            p_market=0.35 + 0.04 * i,
            outcome=float(i % 2),
        )
        for i in range(n)
    ]
    with RatingStore(path) as store:
        for e in entries:
            assert store.track.record(e, start.date())
            assert store.track.settle(league, e.game_id, e.outcome or 0.0, start)
    return entries


async def test_live_page_shows_evidence_and_the_simulated_track_record(
    session: Session, server: Server, tmp_path: Path
) -> None:
    """Each row says why there is no bet and what the league's evidence is; the track record
    shows model and Kalshi scores, a reliability chart, and says the numbers are simulated."""
    entries = settled_games(server.ratings, League.NBA, 8)
    page = await open_live(session, server)
    for rec in await page.locator("#games tbody .rec").all_text_contents():
        assert "no bet: not validated: no NBA market history" in rec
        assert re.search(r"elo-nba v\S+ · not validated$", rec)
    await page.wait_for_selector("#track:not([hidden])")
    assert await page.locator("#track-simulated").is_visible()
    assert "Simulated" in (await page.locator("#track-summary").text_content() or "")
    model = page.locator("#track-scores tr.model td")
    assert (await model.nth(1).text_content()) == "8"
    brier = sum((e.p_model - (e.outcome or 0.0)) ** 2 for e in entries) / len(entries)
    assert (await model.nth(2).text_content()) == f"{brier:.4f}"
    assert await page.locator("#track-chart circle.dot.model").count() > 0
    assert await page.locator("#track-chart circle.dot.kalshi").count() > 0
    assert "no recommendations were made" in (await page.locator("#track-pnl").text_content() or "")
    await page.locator("#track").scroll_into_view_if_needed()
    await screenshot(page, "live-track.png", tmp_path)

    await page.select_option("#league", "NFL")
    await page.wait_for_function(
        "() => [...document.querySelectorAll('#games .evidence')]"
        ".some(e => e.textContent.includes('backtest NFL'))"
    )
    nfl = await page.locator("#games tbody .rec").first.text_content() or ""
    assert "no bet: no evidence of an edge over the closing line" in nfl
    assert "ROI −2.4% [−10.2%, +5.4%] on 1400 bets" in nfl
    session.assert_offline_and_clean()


async def test_live_page_switches_league(session: Session, server: Server) -> None:
    """Choosing another league lists that league's games and subscribes to their tickers."""
    expected = await server.post("{ games(league: NHL) { id markets { ticker } } }")
    page = await open_live(session, server)
    await page.select_option("#league", "NHL")
    ids = [g["id"] for g in expected["data"]["games"]]
    await page.wait_for_function(
        "ids => JSON.stringify([...document.querySelectorAll('#games tbody tr')]"
        ".map(r => r.dataset.game)) === JSON.stringify(ids)",
        arg=ids,
    )
    nhl = {m["ticker"] for g in expected["data"]["games"] for m in g["markets"]}
    assert nhl

    def subscribed() -> set[str]:
        sent = session.sent
        return {
            t
            for m in sent
            if m["type"] == "subscribe"
            for t in m["payload"]["variables"]["tickers"]
        }

    await eventually(lambda: nhl <= subscribed())
    assert await page.evaluate("localStorage.getItem('kalshi-graph.league')") == "NHL"
    session.assert_offline_and_clean()


async def test_live_page_sends_pasted_token(session: Session, server: Server) -> None:
    """A pasted token is kept in localStorage and sent as Authorization header and init payload."""
    page = await open_live(session, server)
    async with page.expect_request(lambda r: r.url.endswith("/graphql")) as request_info:
        await page.fill("#token", TOKEN)
        await page.press("#token", "Enter")
    request = await request_info.value
    assert await request.header_value("authorization") == f"Bearer {TOKEN}"
    authorized = {"type": "connection_init", "payload": {"Authorization": f"Bearer {TOKEN}"}}
    await eventually(lambda: authorized in session.sent)
    assert session.sent[0] == {"type": "connection_init", "payload": {}}
    assert await page.evaluate("localStorage.getItem('kalshi-graph.token')") == TOKEN
    session.assert_offline_and_clean()


async def test_live_page_reconnects_after_the_socket_drops(
    session: Session, server: Server
) -> None:
    """When the WebSocket closes, the page reconnects, resubscribes and prices flow again."""
    sockets: list[tuple[WebSocketRoute, WebSocketRoute]] = []

    def proxy(ws: WebSocketRoute) -> None:
        sockets.append((ws, ws.connect_to_server()))

    await session.context.route_web_socket(re.compile(r".*/graphql$"), proxy)
    page = await open_live(session, server)
    assert len(sockets) == 1
    page_side, server_side = sockets[0]
    await server_side.close(code=1000)
    await page_side.close(code=1012, reason="restart")
    await page.wait_for_function("document.querySelector('#status').dataset.state !== 'live'")
    await page.wait_for_selector("#status[data-state='live']")
    assert len(sockets) == 2
    before = await page.evaluate(QUOTES)
    await page.wait_for_function(f"before => {QUOTES}.some((q, i) => q !== before[i])", arg=before)
    session.assert_offline_and_clean()
