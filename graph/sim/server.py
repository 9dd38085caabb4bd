"""The :class:`Simulator`: Kalshi REST + WS and an ESPN scoreboard on one loopback port.

``async with Simulator(...) as sim`` starts uvicorn in the current event loop
(port 0 picks a free port), and stops it, its WebSocket connections and its tick
task on exit. The key pair is generated at construction and kept in memory; the
private key is only handed out through :attr:`Simulator.private_key_pem`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Callable, Generator, Mapping
from datetime import date
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from uvicorn.protocols.http.h11_impl import H11Protocol

from graph.models import League
from graph.sim import espn_shapes, kalshi_rest, scoreboard
from graph.sim.auth import WS_PATH, Verifier, new_key_pem
from graph.sim.faults import Faults, Stats
from graph.sim.kalshi_shapes import event_markets
from graph.sim.kalshi_ws import WsHub
from graph.sim.listing import Listing
from graph.sim.prices import PriceBook
from graph.sim.slate import Slates
from graph.sim.state import SimState

logger = logging.getLogger(__name__)
_UVICORN_LOGGER = logging.getLogger("uvicorn.error")

_STARTUP_TIMEOUT_S = 10.0


_SPURIOUS_DENIAL_LOG = "ASGI callable returned without completing handshake."


class _DenialLogFilter(logging.Filter):
    """Drops uvicorn's one spurious error line after a refused WebSocket handshake.

    uvicorn forgets to mark the handshake complete after a WebSocket Denial Response,
    so every 401 we send logs that error (Kludex/uvicorn PR #3138, open); the client
    side is right. Our handler always accepts or denies, so the line carries no news.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _SPURIOUS_DENIAL_LOG


class _QuietStartup(logging.Filter):
    """Drops uvicorn's INFO lines while the simulator starts ("Uvicorn running on ..."):
    inside the service they would announce a second address that is not the service's.
    The simulator's own "Simulator started" line says where it runs."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.INFO


class _QuietH11(H11Protocol):
    """uvicorn's h11 protocol without access lines: the service's upstream requests are in
    its metrics. Per connection of this server only: ``access_log=False`` would silence
    the process-wide ``uvicorn.access`` logger, the embedding service's lines included."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.access_log = False


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to whoever embeds it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def _serve(server: uvicorn.Server) -> None:
    # uvicorn reports a failed startup (e.g. a taken port) with sys.exit(), which
    # would escape the event loop from inside a task; turn it into an exception.
    try:
        await server.serve()
    except SystemExit as exc:
        raise RuntimeError(f"simulator could not start (uvicorn exit code {exc.code})") from None


class Simulator:
    """A loopback stand-in for Kalshi (REST + WebSocket) and ESPN's scoreboard."""

    def __init__(
        self,
        *,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        require_auth: bool = True,
        timestamp_window_ms: int | None = 60_000,
        tick_interval_s: float | None = 1.0,
        ping_interval_s: float = 10.0,
        clock: Callable[[], float] = time.time,
        slate_size: Mapping[League, int] | None = None,
        faults: Faults | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._tick_interval_s = tick_interval_s
        self._ping_interval_s = ping_interval_s
        public_key, self.private_key_pem = new_key_pem()
        self.key_id = str(uuid.uuid4())
        rng = random.Random(seed)
        slates = Slates(seed, slate_size)
        self._state = SimState(
            rng=rng,
            clock=clock,
            slates=slates,
            prices=PriceBook(seed, rng),
            faults=faults if faults is not None else Faults(),
            stats=Stats(),
            verifier=Verifier(self.key_id, public_key, timestamp_window_ms),
            require_auth=require_auth,
            listing=Listing(slates),
        )
        self._hub = WsHub(self._state)
        self.app = Starlette(
            routes=[
                *kalshi_rest.routes(self._state),
                *self._hub.routes(),
                *scoreboard.routes(self._state),
            ]
        )
        self._server: uvicorn.Server | None = None
        self._serve_task: asyncio.Task[None] | None = None
        self._tick_task: asyncio.Task[None] | None = None
        # One filter per simulator, so stopping one leaves another running one quiet.
        self._log_filter = _DenialLogFilter()

    def __repr__(self) -> str:  # never show key material
        return f"Simulator(port={self._port}, key_id={self.key_id!r})"

    @property
    def faults(self) -> Faults:
        return self._state.faults

    @faults.setter
    def faults(self, value: Faults) -> None:
        self._state.faults = value

    @property
    def stats(self) -> Stats:
        return self._state.stats

    @property
    def port(self) -> int:
        return self._port

    @property
    def rest_url(self) -> str:
        return f"http://{self._host}:{self._port}{kalshi_rest.PREFIX}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self._host}:{self._port}{WS_PATH}"

    @property
    def scoreboard_url(self) -> str:
        return f"http://{self._host}:{self._port}{scoreboard.PREFIX}"

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def settings_values(self) -> dict[str, str]:
        """Service settings (field names) that point it at this simulator with its key, as an
        operator would: ``Settings(**sim.settings_values())``."""
        return {
            "kalshi_env": "sim",
            "kalshi_rest_url": self.rest_url,
            "kalshi_ws_url": self.ws_url,
            "scoreboard_url": self.scoreboard_url,
            "kalshi_api_key_id": self.key_id,
            "kalshi_private_key": self.private_key_pem.decode(),
        }

    def app_env(self) -> dict[str, str]:
        """The same as environment variables, for a service started as a process."""
        return {name.upper(): value for name, value in self.settings_values().items()}

    async def start(self) -> None:
        """Serve on ``host:port`` in the running loop; returns once the socket listens."""
        config = uvicorn.Config(
            self.app,
            host=self._host,
            port=self._port,
            lifespan="off",
            log_config=None,  # leave the host process's logging configuration alone
            http=_QuietH11,
            ws_ping_interval=self._ping_interval_s,
        )
        server = _EmbeddedServer(config)
        self._server = server
        _UVICORN_LOGGER.addFilter(self._log_filter)
        quiet = _QuietStartup()
        _UVICORN_LOGGER.addFilter(quiet)
        try:
            await self._start(server)
        finally:
            _UVICORN_LOGGER.removeFilter(quiet)
        logger.info(
            "Simulator started rest_url=%s ws_url=%s scoreboard_url=%s key_id=%s",
            self.rest_url,
            self.ws_url,
            self.scoreboard_url,
            self.key_id,
        )

    async def _start(self, server: uvicorn.Server) -> None:
        task = asyncio.create_task(_serve(server))
        self._serve_task = task
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _STARTUP_TIMEOUT_S
        while not server.started:
            if task.done():
                self._server = self._serve_task = None
                _UVICORN_LOGGER.removeFilter(self._log_filter)
                task.result()  # raises the startup failure, e.g. "address already in use"
                raise RuntimeError(f"simulator stopped while starting on {self._host}:{self._port}")
            if loop.time() > deadline:
                await self.stop()
                raise RuntimeError("simulator did not start in time")
            await asyncio.sleep(0.005)
        self._port = server.servers[0].sockets[0].getsockname()[1]
        if self._tick_interval_s is not None:
            self._tick_task = asyncio.create_task(self._hub.run_ticks(self._tick_interval_s))

    async def stop(self) -> None:
        """Stop ticking, close every WebSocket, and shut uvicorn down (idempotent)."""
        if self._tick_task is not None:
            self._tick_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tick_task
            self._tick_task = None
        await self._hub.drop_all(1001)
        try:
            if self._server is not None and self._serve_task is not None:
                self._server.should_exit = True
                await self._serve_task
        finally:
            self._server = None
            self._serve_task = None
            # Only now: uvicorn's shutdown waits for the handlers that log the line.
            _UVICORN_LOGGER.removeFilter(self._log_filter)

    async def publish_tick(self, ticker: str | None = None) -> None:
        """Advance the random walk once and send ``ticker`` messages now."""
        await self._hub.publish_tick(ticker)

    def ws_subscribed_tickers(self) -> set[str]:
        """Union of market tickers subscribed on the ticker channel, over all connections."""
        return self._hub.subscribed_tickers()

    def ws_connection_count(self) -> int:
        return len(self._hub.connections)

    async def drop_ws_connections(self) -> None:
        """Close every WebSocket connection abnormally (code 1011)."""
        await self._hub.drop_all(1011)

    async def send_raw_ws(self, text: str) -> None:
        """Send ``text`` as one text frame to every connection."""
        await self._hub.send_raw(text)

    def markets_for(self, league: League, day: date) -> list[dict[str, Any]]:
        """The Kalshi market dicts of a day's slate (away market first per event)."""
        state = self._state
        now_ms = state.now_ms()
        return [
            market
            for game in state.slates.games(league, day)
            for market in event_markets(
                state.listed(game), state.prices, now_ms, state.faults.title_style
            )
        ]

    def games_for(self, league: League, day: date) -> list[dict[str, Any]]:
        """The ESPN scoreboard event dicts of a day's slate (``day`` is a US-Eastern date)."""
        now = self._state.now()
        slates = self._state.slates
        return [espn_shapes.event(slates, game, now) for game in slates.games(league, day)]
