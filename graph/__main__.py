"""``python -m graph``: serve on HOST:PORT (what ``make serve`` runs)."""

from __future__ import annotations

import logging
import sys

import uvicorn

from graph.app import create_app
from graph.errors import ConfigError
from graph.settings import load_settings

LOG_FORMAT = "%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"


def main() -> int:
    settings = load_settings()
    logging.basicConfig(level=settings.log_level.upper(), format=LOG_FORMAT)
    # One line per upstream request is noise; our own logs say what was fetched and why.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        app = create_app(settings)
    except ConfigError as exc:
        print(f"kalshi-graph: configuration error: {exc}", file=sys.stderr)
        return 2
    print(f"kalshi-graph: GraphiQL at http://{settings.host}:{settings.port}/graphql", flush=True)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        # Strawberry never pings on graphql-transport-ws; protocol-level pings keep sockets honest.
        ws_ping_interval=settings.ws_keepalive_s,
        ws_ping_timeout=settings.ws_keepalive_s,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
