"""GraphiQL without a CDN: serve Strawberry's page with its scripts and styles from our package.

How it works: Strawberry's GraphiQL page loads React, GraphiQL, the explorer plugin and
js-cookie from unpkg.com, each tag pinned by a sha384 ``integrity`` attribute. ``package.json``
pins the same versions, and ``npm ci`` puts byte-identical files in ``node_modules/``;
``make`` then copies the files of :data:`ASSETS` into this package (``graph/web/vendor/``,
:func:`vendor`), so they are package data: a wheel built from the checkout carries them and an
installed service needs no checkout. :func:`localize` rewrites each unpkg URL in the page to
``{prefix}/{path}`` and keeps the integrity attributes, which still hold; :func:`assets_app`
serves exactly the files in :data:`ASSETS` and nothing else, so the page renders with no
internet access.

:func:`find_assets` looks in the package first, then in a checkout's ``node_modules``. Where
neither has every file, the page keeps its unpkg URLs (it then needs internet access) rather
than staying blank; either way it logs which source is in use.
:func:`page` also swaps Strawberry's welcome text for :data:`DEFAULT_QUERY`, a runnable query
for today's games with predictions.

Tokens: GraphiQL's fetcher (``@graphiql/toolkit`` inside ``graphiql.min.js``) sends the
headers editor's JSON as HTTP headers *and* as the WebSocket ``connection_init`` payload
(``{...wsConnectionParams, ...headers}``), so ``{"Authorization": "Bearer <token>"}`` pasted
there authorizes both queries and subscriptions; tests/test_browser.py checks both.

This module is an edge adapter that knows nothing of Strawberry: the schema module hands it
Strawberry's HTML.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

from starlette.applications import Starlette

from graph.web.assets import allow_list_app

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

# Strawberry's welcome text is a JS template literal assigned to EXAMPLE_QUERY.
_EXAMPLE_QUERY = re.compile(r"(const EXAMPLE_QUERY = `)(.*?)(`;)", re.S)

DEFAULT_QUERY = """\
# Today's NBA games: Kalshi prices, our model, the edge.
# Another league or day: games(league: NHL, date: "2026-11-22")
# Leagues: NFL NBA MLB NHL WNBA NCAAF NCAAMB. Dates are
# US-Eastern; no date means today. Run: Ctrl-Enter.
# Live prices: a subscription with tickers from the result:
#   subscription { tickerUpdates(marketTickers:
#     ["KXNBAGAME-..."]) { marketTicker yesBid yesAsk ts } }
# Token required? Paste in the Headers tab below:
#   {"Authorization": "Bearer <token>"}
query TodaysGames {
  games(league: NBA, sortBy: EDGE) {
    startTime
    state
    away { code name }
    home { code name }
    markets { ticker team yesBid yesAsk lastPrice }
    prediction {
      homeWinProbability
      marketHomeWinProbability
      edge
      confidence
      recommendation
    }
  }
}
"""

VENDOR_DIR = Path(__file__).resolve().parent / "vendor"
# A checkout's node_modules, for a development tree where `make` has not vendored yet.
_CHECKOUT_NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"


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


def find_assets(
    places: Sequence[Path] = (VENDOR_DIR, _CHECKOUT_NODE_MODULES),
) -> Path | None:
    """The first of ``places`` holding every file in :data:`ASSETS`, else ``None`` (logged)."""
    for place in places:
        if all((place / path).is_file() for path in ASSETS.values()):
            logger.info("GraphiQL assets served locally source=local dir=%s", place)
            return place
    missing = sorted(p for p in ASSETS.values() if not (places[0] / p).is_file()) if places else []
    logger.warning(
        "%s; GraphiQL will load them from the CDN source=cdn looked_in=%s missing=%s",
        MISSING_HINT,
        ",".join(map(str, places)),
        ",".join(missing),
    )
    return None


def vendor(node_modules: Path, target: Path = VENDOR_DIR) -> None:
    """Copy the files of :data:`ASSETS` from ``node_modules`` into ``target`` (package data)."""
    for path in ASSETS.values():
        destination = target / path
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(node_modules / path, destination)


def with_default_query(html: str, query: str = DEFAULT_QUERY) -> str:
    """Replace the text GraphiQL's editor starts with (when the URL has no ``?q=``)."""
    # Escape what a JS template literal would interpret (and a CR, which it would turn into a
    # LF), and "</" so the text cannot close the page's <script> element.
    literal = (
        query.replace("\\", "\\\\")
        .replace("`", "\\`")
        .replace("${", "\\${")
        .replace("\r", "\\r")
        .replace("</", "<\\/")
    )
    replaced, count = _EXAMPLE_QUERY.subn(lambda m: m.group(1) + literal + m.group(3), html, 1)
    if count == 0:
        logger.warning("GraphiQL page has no EXAMPLE_QUERY; default query not set")
    return replaced


def page(html: str, *, offline: bool, prefix: str = DEFAULT_PREFIX) -> str:
    """Strawberry's GraphiQL page with our default query, on local assets when ``offline``."""
    html = with_default_query(html)
    return localize(html, prefix=prefix) if offline else html


def assets_app(folder: Path) -> Starlette:
    """An ASGI app serving the files of :data:`ASSETS` from ``folder``; all else is 404.

    Mount it at the prefix given to :func:`localize`. Only GET and HEAD are allowed.
    """
    return allow_list_app(folder, ASSETS.values())


if __name__ == "__main__":
    # `make` runs this after `npm ci`: node_modules/ -> graph/web/vendor/.
    vendor(_CHECKOUT_NODE_MODULES)
