"""How ``python -m graph`` runs uvicorn: slow clients are cut off and shutdown has a deadline.

How it works
------------
uvicorn gives a connection no deadline until its first response is sent: a client that
connects and sends nothing, or sends half a request head and stops, holds a connection
(and a slot of ``limit_concurrency``) for as long as it likes. The protocol class made by
:func:`header_deadline_protocol` is uvicorn's own h11 protocol plus one timer: armed when a
connection opens and again after each response, disarmed once a complete request head has
arrived, and when it fires on a connection still waiting for a head, the connection is
closed. The body has its own deadline in the ASGI app (:mod:`graph.web.bodylimit`), where
a 408 can still be answered.

:class:`ExitDeadline` is the last resort of a graceful shutdown: started when SIGTERM or
SIGINT arrives, a daemon thread waits out the shutdown's time plus a grace and then ends
the process (status 3) whatever the event loop is doing. A loop blocked by a runaway
request cannot hear that it should stop; a thread can still stop the process.

:func:`settle_heap` runs once startup is done: it collects, then freezes what is alive
(``gc.freeze``), so a later full garbage collection no longer walks the startup heap. Without
it the first request that allocated enough set one off and paid for it: 60-80 ms for the
first fragment bomb a fresh server refused, against 5-10 ms for any later one.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

logger = logging.getLogger(__name__)

FORCED_EXIT_STATUS = 3


def settle_heap() -> None:
    """Collect garbage, then move every object still alive out of the collector's sight."""
    gc.collect()
    gc.freeze()


def header_deadline_protocol(timeout_s: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol, closing connections that take ``timeout_s`` to send a head."""

    class HeaderDeadline(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:
                self._disarm()  # a whole head arrived (or the peer is closing)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()  # keep-alive: the next head has the same deadline

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(timeout_s, self._expired)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _expired(self) -> None:
            # Armed only while waiting for a head (disarmed by one, by an upgrade, by a loss).
            self._head_timer = None
            logger.debug("Closing a connection that sent no request head in %.1f s", timeout_s)
            self.transport.close()

    return HeaderDeadline


class ExitDeadline:
    """Ends the process ``after_s`` seconds after :meth:`start`, unless it exits first."""

    def __init__(
        self,
        after_s: float,
        *,
        exit: Callable[[int], Any] = os._exit,
        status: int = FORCED_EXIT_STATUS,
    ) -> None:
        self.after_s = after_s
        self._exit = exit
        self._status = status
        self._timer: threading.Timer | None = None

    def start(self) -> None:
        """Start the countdown (again calls are no-ops: the first signal sets the deadline)."""
        if self._timer is not None:
            return
        self._timer = threading.Timer(self.after_s, self._expired)
        self._timer.daemon = True
        self._timer.name = "exit-deadline"
        self._timer.start()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _expired(self) -> None:
        logger.error(
            "Shutdown deadline passed: still running %.1f s after the signal; exiting now "
            "status=%d",
            self.after_s,
            self._status,
        )
        for handler in logging.getLogger().handlers:
            handler.flush()
        self._exit(self._status)
