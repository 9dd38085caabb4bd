"""The Kalshi WebSocket feed: one signed upstream connection, kept alive (the only websockets user).

How it works
------------
``KalshiFeed`` implements the hub's ``FeedControl``: ``set_wanted(tickers)`` hands the set to
the sans-I/O :class:`~graph.kalshi.protocol.FeedProtocol` and wakes the writer. The connection
task starts lazily, the first time something is wanted; it then stays connected even when
nothing is wanted (the next subscriber pays no handshake); ``aclose()`` ends it.

Each attempt signs ``GET`` + the URL's path with a fresh timestamp from ``clock``. Per
connection two coroutines run: the reader feeds every frame to the protocol and publishes
``Ticker`` events through ``on_update``; the writer sends whatever the protocol queued. When the
connection ends the loop waits ``backoff_delay(attempt)`` (full jitter from ``rng``, via the
injected ``sleep``) and reconnects; the protocol then resubscribes to every wanted ticker.
``attempt`` goes back to 0 once a connection stayed up for ``healthy_after_s``.

What each protocol event leads to is :mod:`graph.kalshi.reactions`: Kalshi's limits (26,
27, 25) are answered on the same connection (markets refused to the hub; a backoff before
the next command, the newest subscriptions shed for 25). The protocol asks for a new
connection (``ReconnectRequired``) only when a command fails in a way a retry on the same
connection would not fix: the loop closes the socket and goes through the same backoff, so
such errors can neither stall the subscription nor spin.

A 401/403 at the handshake (or a bad URL) is fatal: ``fatal_error`` is set, the task ends and
``on_fatal`` is called (the app wires it to ``Hub.fail``). The failure stays in force for
``fatal_cooldown_s`` (by ``clock``): ``set_wanted`` only records the set. The first
``set_wanted`` with a non-empty set after that clears ``fatal_error`` and starts the task
again, so a key that works again (e.g. after clock skew) brings live prices back; a second
refusal is fatal again with a new cool-down: at most one attempt per cool-down, and only while
somebody wants prices. The hub learns about the retry by reading ``fatal_error`` when a
subscriber arrives. Malformed frames are logged and counted; the connection stays. Headers and
keys are never logged: the websockets library logs request headers at DEBUG, so it gets a
logger without DEBUG.
"""

from __future__ import annotations

import asyncio
import contextvars
import enum
import logging
import random
import time
from collections.abc import Awaitable, Callable, Collection
from urllib.parse import urlparse

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from graph.backoff import backoff_delay
from graph.errors import FeedFatalError, UpstreamProtocolError
from graph.kalshi.protocol import MARKETS_PER_COMMAND, FeedProtocol
from graph.kalshi.reactions import FeedStats, Reactions
from graph.kalshi.signing import Signer
from graph.models import TickerUpdate

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class _NoDebug(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Hides DEBUG from websockets, which would otherwise log our signed headers."""

    def isEnabledFor(self, level: int) -> bool:
        return level > logging.DEBUG and self.logger.isEnabledFor(level)


_WS_LOGGER = _NoDebug(logging.getLogger(f"{__name__}.websockets"), {})


class FeedState(enum.StrEnum):
    IDLE = "idle"  # nothing wanted yet: no connection task
    CONNECTING = "connecting"
    CONNECTED = "connected"
    BACKOFF = "backoff"  # waiting before the next attempt
    FAILED = "failed"  # fatal error, see ``fatal_error``; retried on demand after the cool-down
    CLOSED = "closed"


__all__ = ["FeedState", "FeedStats", "KalshiFeed"]


class KalshiFeed:
    """One authenticated Kalshi WebSocket per process, subscribed to what the hub wants."""

    def __init__(
        self,
        url: str,
        signer: Signer | None,
        *,
        on_update: Callable[[TickerUpdate], None],
        on_fatal: Callable[[FeedFatalError], None] | None = None,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        sleep: Sleep = asyncio.sleep,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        healthy_after_s: float = 60.0,
        fatal_cooldown_s: float = 60.0,
        open_timeout_s: float = 10.0,
        ping_interval_s: float = 20.0,
        ping_timeout_s: float = 20.0,
        close_timeout_s: float = 5.0,
        command_timeout_s: float = 10.0,
        markets_per_command: int = MARKETS_PER_COMMAND,
        stats: FeedStats | None = None,
    ) -> None:
        parts = urlparse(url)
        self._url = url
        self._path = parts.path or "/"
        self._log_url = f"{parts.scheme}://{parts.netloc}{parts.path}"
        self._signer = signer
        self.on_fatal = on_fatal  # settable: the app wires it to hub.fail after building the hub
        self._clock = clock
        self._rng = rng
        self._sleep = sleep
        self._backoff_base_s = backoff_base_s
        self._backoff_cap_s = backoff_cap_s
        self._healthy_after_s = healthy_after_s
        self._fatal_cooldown_s = fatal_cooldown_s
        self._open_timeout_s = open_timeout_s
        self._ping_interval_s = ping_interval_s
        self._ping_timeout_s = ping_timeout_s
        self._close_timeout_s = close_timeout_s
        self._command_timeout_s = command_timeout_s
        self._stalled = False  # this connection left a command unanswered past its time
        self._pause_s: float | None = None  # wait before the protocol may send again

        self._protocol = FeedProtocol(chunk_size=markets_per_command)
        self._outgoing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.state = FeedState.IDLE
        # Several feeds of one process (a replica's shared and local ones) may count together.
        self.stats = stats or FeedStats()
        # What each protocol event leads to; its on_refused/on_overloaded are settable.
        self.reactions = Reactions(
            on_update=on_update,
            stats=self.stats,
            backoff_base_s=backoff_base_s,
            backoff_cap_s=backoff_cap_s,
            rng=rng,
        )
        self.fatal_error: FeedFatalError | None = None
        self._failed_at = 0.0  # by ``clock``, when ``fatal_error`` was set
        self.last_message_at: float | None = None  # by ``clock``, for readiness checks

    @property
    def connected(self) -> bool:
        """True while a handshake-complete connection is up (for readiness checks)."""
        return self.state is FeedState.CONNECTED

    @property
    def wanted(self) -> frozenset[str]:
        return self._protocol.desired

    @property
    def subscribed(self) -> frozenset[str]:
        """Tickers the server confirmed on the current connection."""
        return self._protocol.confirmed

    def set_wanted(self, tickers: Collection[str]) -> None:
        """Make the upstream ticker subscription equal ``tickers``, given oldest first
        (starts the feed lazily)."""
        if self._closed:
            return
        self._protocol.want(tickers)
        self._outgoing.set()
        if tickers and (self._task is None or self._task.done()) and self._may_start():
            self._start()

    def _start(self) -> None:
        old = self._task
        if old is not None and not old.cancelled() and old.exception() is not None:
            logger.error("Kalshi WebSocket task failed", exc_info=old.exception())
        # A fresh context: the first subscriber's request id must not tag the feed's logs forever.
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name="kalshi-feed", context=contextvars.Context()
        )

    def _may_start(self) -> bool:
        """False while a fatal error's cool-down lasts; after it, clear the error and retry."""
        if self.fatal_error is None:
            return True
        waited_s = self._clock() - self._failed_at
        if waited_s < self._fatal_cooldown_s:
            return False
        logger.info(
            "Retrying Kalshi WebSocket after fatal error waited_s=%.0f error=%s",
            waited_s,
            self.fatal_error,
        )
        self.fatal_error = None
        self.state = FeedState.CONNECTING
        return True

    async def aclose(self) -> None:
        """Stop the connection task and close the socket; safe to call twice."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])
            if not task.cancelled() and task.exception() is not None:
                logger.error("Kalshi WebSocket task failed", exc_info=task.exception())
        if self.state is not FeedState.FAILED:
            self.state = FeedState.CLOSED

    # The connection loop -----------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        reason = ""
        while True:
            if attempt:
                delay = backoff_delay(
                    attempt - 1,
                    base_s=self._backoff_base_s,
                    cap_s=self._backoff_cap_s,
                    rng=self._rng,
                )
                self.state = FeedState.BACKOFF
                self.stats.reconnects += 1
                logger.info(
                    "Reconnecting to Kalshi WebSocket attempt=%d delay_s=%.2f reason=%s",
                    attempt,
                    delay,
                    reason,
                )
                await self._sleep(delay)
            self.state = FeedState.CONNECTING
            try:
                uptime_s, reason = await self._connect_once()
            except FeedFatalError as exc:
                self._fail(exc)
                return
            if uptime_s is not None and uptime_s >= self._healthy_after_s:
                attempt = 0
            attempt += 1

    async def _connect_once(self) -> tuple[float | None, str]:
        """One connection: how long it stayed up (None: never opened) and why it ended."""
        headers: dict[str, str] = {}
        if self._signer is not None:
            headers = self._signer.headers(int(self._clock() * 1000), "GET", self._path)
        try:
            ws = await connect(
                self._url,
                additional_headers=headers,
                open_timeout=self._open_timeout_s,
                ping_interval=self._ping_interval_s,
                ping_timeout=self._ping_timeout_s,
                close_timeout=self._close_timeout_s,
                logger=_WS_LOGGER,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise FeedFatalError(self._auth_message(status)) from exc
            return None, f"HTTP {status}"
        except InvalidURI as exc:
            raise FeedFatalError(f"invalid Kalshi WebSocket URL {self._log_url!r}") from exc
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            return None, f"{type(exc).__name__}: {exc}"
        connected_at = self._clock()
        self.stats.connects += 1
        self.state = FeedState.CONNECTED
        logger.info("Connected to Kalshi WebSocket url=%s", self._log_url)
        try:
            reason = await self._pump(ws)
        except Exception as exc:  # a bug of ours must not end the feed for good
            logger.exception("Kalshi WebSocket session failed")
            reason = f"{type(exc).__name__}: {exc}"
        finally:
            self._protocol.connection_lost()
            # A plain close (1000) even when cancelled: `async with ws` would send 1011.
            await ws.close()
        return self._clock() - connected_at, reason

    def _auth_message(self, status: int) -> str:
        prefix = f"Kalshi refused the WebSocket handshake (HTTP {status})"
        if self._signer is None:
            return (
                f"{prefix}: no API key is configured; set KALSHI_API_KEY_ID and "
                "KALSHI_PRIVATE_KEY_PATH (or KALSHI_PRIVATE_KEY)"
            )
        return (
            f"{prefix}: check KALSHI_API_KEY_ID and the private key "
            "(and that they belong to this Kalshi environment)"
        )

    def _fail(self, exc: FeedFatalError) -> None:
        self.fatal_error = exc
        self._failed_at = self._clock()
        self.state = FeedState.FAILED
        logger.error(
            "Kalshi WebSocket feed stopped error=%s retry_after_s=%.0f",
            exc,
            self._fatal_cooldown_s,
        )
        if self.on_fatal is not None:
            self.on_fatal(exc)

    # One connection ----------------------------------------------------------------

    async def _pump(self, ws: ClientConnection) -> str:
        self._protocol.connection_opened()
        self.reactions.connection_opened()
        self._stalled = False
        self._pause_s = None
        self._outgoing.set()
        writer = asyncio.create_task(self._write(ws), name="kalshi-feed-writer")
        try:
            lost = await self._read(ws)
        finally:
            writer.cancel()
            await asyncio.wait([writer])
        if self._stalled:
            return f"no answer to a command within {self._command_timeout_s:g} s"
        return lost

    async def _read(self, ws: ClientConnection) -> str:
        try:
            async for frame in ws:
                reconnect = self._receive(frame)
                if reconnect is not None:
                    await ws.close()
                    return reconnect
                self._outgoing.set()
            return f"closed code={ws.close_code}"
        except ConnectionClosed as exc:
            return f"connection lost: {exc}"

    async def _write(self, ws: ClientConnection) -> None:
        """Send what the protocol queued. A command still unanswered ``command_timeout_s``
        after it was sent closes the connection (Kalshi documents a command timeout, error
        18, but a server that stays silent would otherwise stall the subscription until the
        socket drops); unrelated frames (ticks) do not extend the deadline."""
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        try:
            while True:
                try:
                    # Not wait_for: on 3.11 it can swallow the cancel that ends this task.
                    async with asyncio.timeout_at(deadline):
                        await self._outgoing.wait()
                except TimeoutError:
                    self._stalled = True
                    await ws.close()
                    return
                self._outgoing.clear()
                if self._pause_s is not None:  # Kalshi asked us to slow down (25, 27)
                    pause_s, self._pause_s = self._pause_s, None
                    await self._sleep(pause_s)
                    self._protocol.retry()
                sent = False
                for text in self._protocol.data_to_send():
                    await ws.send(text)
                    sent = True
                if not self._protocol.busy:
                    deadline = None
                elif sent:
                    deadline = loop.time() + self._command_timeout_s
        except ConnectionClosed:
            return  # the reader sees the same closure and reports it

    def _receive(self, frame: str | bytes) -> str | None:
        """Apply one frame; return a reason when the connection must be replaced."""
        try:
            text = frame if isinstance(frame, str) else frame.decode("utf-8")
            events = self._protocol.receive_text(text)
        except (UpstreamProtocolError, UnicodeDecodeError) as exc:
            self.stats.malformed += 1
            logger.warning("Malformed frame from Kalshi WebSocket error=%s", exc)
            return None
        self.stats.messages += 1
        self.last_message_at = self._clock()
        following = self.reactions.react(events)
        if following.pause_s is not None:
            self._pause_s = following.pause_s
        return following.reconnect

    def __repr__(self) -> str:
        return f"KalshiFeed(url={self._log_url!r}, state={self.state.value})"
