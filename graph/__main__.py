"""``python -m graph``: serve on HOST:PORT (what ``make serve`` runs).

Graceful shutdown: uvicorn, on SIGTERM or SIGINT, closes its listening sockets, fails
every WebSocket with 1012 and only then runs the lifespan shutdown - too late for
subscribers to hear ``complete``. :class:`GracefulServer` runs :func:`graph.app.drain`
first (streams end with ``complete``, sockets close with 1001), then uvicorn's own
shutdown with what is left of ``SHUTDOWN_TIMEOUT_S``. A SIGTERM handled that way is
a clean exit (status 0), not a death by signal. A shutdown still running
``EXIT_GRACE_S`` after that (an event loop blocked by a runaway request never even
starts it) ends with a forced exit, status 3 (:class:`graph.web.serving.ExitDeadline`).

Slow clients are cut off (``HTTP_HEADER_TIMEOUT_S``; the body's deadline is the app's)
and ``MAX_CONNECTIONS`` caps open connections (uvicorn's ``limit_concurrency``: 503 past
it).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from types import FrameType

import uvicorn

from graph.app import create_app, drain
from graph.errors import ConfigError
from graph.settings import load_settings
from graph.web.logs import configure_logging
from graph.web.serving import ExitDeadline, header_deadline_protocol, settle_heap
from graph.workers import check_workers, exit_with_parent, serve_workers

# Seconds a graceful shutdown may overrun SHUTDOWN_TIMEOUT_S before the process is ended.
EXIT_GRACE_S = 2.0

logger = logging.getLogger(__name__)


class GracefulServer(uvicorn.Server):
    """uvicorn's server, running ``drain`` before it closes the connections.

    ``drain`` should finish within ``timeout_s``; uvicorn's own wait for open
    connections gets what is left of it (at least a second).
    """

    def __init__(
        self, config: uvicorn.Config, *, drain: Callable[[], Awaitable[None]], timeout_s: float
    ) -> None:
        super().__init__(config)
        self._drain = drain
        self._timeout_s = timeout_s
        self.exit_deadline = ExitDeadline(timeout_s + EXIT_GRACE_S)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Runs in the signal handler: even with the event loop blocked, the countdown starts.
        self.exit_deadline.start()
        super().handle_exit(sig, frame)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        settle_heap()  # the app is up (lifespan done): later collections skip its heap

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout_s
        logger.info("Graceful shutdown timeout_s=%.1f", self._timeout_s)
        for server in self.servers:
            server.close()  # stop accepting before draining; uvicorn's close repeats it
        try:
            await self._drain()
        except Exception:  # a failed drain must not keep the process from stopping
            logger.exception("Drain failed; shutting down anyway")
        self.config.timeout_graceful_shutdown = max(int(deadline - loop.time()), 1)
        await super().shutdown(sockets)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m graph", description="Serve kalshi-graph.")
    parser.add_argument(
        "--workers",
        type=int,
        help="server processes sharing HOST:PORT, supervised (more than 1 needs REDIS_URL)",
    )
    # A worker started by the supervisor: serve on this inherited listening socket.
    parser.add_argument("--fd", type=int, help=argparse.SUPPRESS)
    # ...whose supervisor has this pid: when it is gone, shut down (no orphan keeps the port).
    parser.add_argument("--supervisor", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args([] if argv is None else argv)
    try:
        settings = load_settings()
        problem = check_workers(args.workers, settings.redis) if args.workers is not None else None
        if problem is not None:
            print(f"kalshi-graph: {problem}", file=sys.stderr)
            return 2
        app = create_app(settings, ratings_refresh_s=settings.ratings_refresh_s or None)
    except ConfigError as exc:
        print(f"kalshi-graph: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    if args.workers is not None:
        grace_s = settings.shutdown_timeout_s + 5  # each worker drains within its own timeout
        return serve_workers(
            settings.host,
            settings.port,
            args.workers,
            grace_s=grace_s,
            ratings_file=settings.ratings_file,
        )
    # A worker serves on the socket its supervisor bound (and printed) for every worker.
    sockets = [socket.socket(fileno=args.fd)] if args.fd is not None else None
    if args.supervisor is not None:
        exit_with_parent(args.supervisor)
    if sockets is None:
        base = f"http://{settings.host}:{settings.port}"
        print(f"kalshi-graph: GraphiQL at {base}/graphql, live prices at {base}/", flush=True)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,  # configure_logging's format for uvicorn's lines too
        # Strawberry never pings on graphql-transport-ws; protocol-level pings keep sockets honest.
        ws_ping_interval=settings.ws_keepalive_s,
        ws_ping_timeout=settings.ws_keepalive_s,
        # Refuse oversized frames while reading them, not after buffering up to 16 MiB.
        ws_max_size=settings.max_body_bytes,
        http=header_deadline_protocol(settings.http_header_timeout_s),
        limit_concurrency=settings.max_connections,
        ws_per_message_deflate=settings.ws_per_message_deflate,
    )
    timeout_s = settings.shutdown_timeout_s
    server = GracefulServer(config, drain=lambda: drain(app, timeout_s), timeout_s=timeout_s)
    # uvicorn restores the handler it found and re-raises the signal once it has shut down;
    # SIGTERM's default action would then kill the process after a clean shutdown.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        server.run(sockets=sockets)
    except KeyboardInterrupt:
        pass  # Ctrl-C: the shutdown already ran
    except SystemExit as exc:
        return int(exc.code or 0)
    finally:
        server.exit_deadline.cancel()
    return 0


def _exit_cleanly(sig: int, frame: FrameType | None) -> None:
    """SIGTERM outside uvicorn's own handling: the shutdown already ran; leave with 0."""
    raise SystemExit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
