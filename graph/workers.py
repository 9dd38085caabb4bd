"""``python -m graph --workers N``: N server processes on one listening socket.

How it works
------------
The parent binds HOST:PORT once and starts N children, each an ordinary
``python -m graph`` handed the socket's file descriptor (``--fd``): every child builds
its own app (hub, caches, its share of the feed work) and accepts connections from the
shared socket, so the kernel spreads clients over them. The children coordinate
through Redis - one Kalshi WebSocket among them, shared caches, one read budget - which
is why ``REDIS_URL`` is required (:func:`check_workers`).

Each child gets its own ratings file (``RATINGS_DB_PATH`` with ``-worker<i>`` added): the
rating store keeps its ratings in memory and is written by its own refresh, so two
processes sharing one file would race and drift apart. The refresh reads schedules
through the shared cache, so N files cost no extra upstream requests.

The parent restarts a child that dies (after ``restart_delay_s``, so a crash loop does
not spin) and, on SIGTERM or SIGINT, sends SIGTERM to every child (each drains its
subscriptions, see :mod:`graph.__main__`) and waits ``grace_s`` before killing what is
left. A child whose parent dies without that (``kill -9``) notices within a second and
shuts down the same graceful way (:func:`exit_with_parent`), so no orphan keeps the port.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

logger = logging.getLogger(__name__)


def check_workers(workers: int, redis_url: str | None) -> str | None:
    """Why ``workers`` processes cannot run with this configuration, or None."""
    if workers < 1:
        return f"--workers must be at least 1 (got {workers})"
    if workers > 1 and not redis_url:
        return (
            f"--workers {workers} needs REDIS_URL: several processes share one Kalshi "
            "connection, caches and rate limit through Redis (e.g. REDIS_URL="
            "redis://127.0.0.1:6379/0; `make cluster` starts a local one)"
        )
    return None


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one), inheritable by children."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class Supervisor:
    """Keeps ``count`` children of ``command + ['--fd', fd]`` running until stopped."""

    def __init__(
        self,
        sock: socket.socket,
        count: int,
        *,
        command: Sequence[str] = (sys.executable, "-m", "graph"),
        grace_s: float = 10.0,
        restart_delay_s: float = 1.0,
        poll_s: float = 0.2,
        env_for: Callable[[int], dict[str, str]] | None = None,
        spawn: Callable[..., subprocess.Popen[bytes]] = subprocess.Popen,
    ) -> None:
        self._sock = sock
        self._count = count
        self._command = [*command, "--fd", str(sock.fileno()), "--supervisor", str(os.getpid())]
        self._grace_s = grace_s
        self._restart_delay_s = restart_delay_s
        self._poll_s = poll_s
        self._spawn = spawn
        self._env_for = env_for
        self._stop = threading.Event()
        self.children: list[subprocess.Popen[bytes]] = []
        self.restarts = 0

    def stop(self, signum: int | None = None, frame: FrameType | None = None) -> None:
        """Ask the supervisor to stop (usable as a signal handler)."""
        self._stop.set()

    def _start_child(self, slot: int) -> subprocess.Popen[bytes]:
        env = {**os.environ, **self._env_for(slot)} if self._env_for is not None else None
        child = self._spawn(self._command, pass_fds=(self._sock.fileno(),), env=env)
        logger.info("Started worker pid=%d", child.pid)
        return child

    def run(self) -> int:
        """Run until ``stop``; returns 0 (children that failed were restarted meanwhile)."""
        self.children = [self._start_child(slot) for slot in range(self._count)]
        restart_at: dict[int, float] = {}  # slot -> when to restart it
        while not self._stop.wait(self._poll_s):
            now = time.monotonic()
            for slot, child in enumerate(self.children):
                code = child.poll()
                if code is None:
                    continue
                if slot not in restart_at:
                    logger.warning(
                        "Worker exited pid=%d code=%d restarting_in_s=%.1f",
                        child.pid,
                        code,
                        self._restart_delay_s,
                    )
                    restart_at[slot] = now + self._restart_delay_s
                elif now >= restart_at[slot]:
                    del restart_at[slot]
                    self.children[slot] = self._start_child(slot)
                    self.restarts += 1
        self._shutdown()
        return 0

    def _shutdown(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self._grace_s
        for child in self.children:
            try:
                child.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("Worker did not stop in time pid=%d; killing it", child.pid)
                child.kill()
                child.wait()


def ratings_path(base: str, slot: int) -> str:
    """``ratings-sim.sqlite3`` -> ``ratings-sim-worker0.sqlite3`` (worker ``slot``'s own file)."""
    path = Path(base)
    return str(path.with_name(f"{path.stem}-worker{slot}{path.suffix}"))


def exit_with_parent(parent: int, *, every_s: float = 1.0) -> threading.Thread:
    """SIGTERM this process (a graceful shutdown) once ``parent`` is no longer its parent."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        logger.warning("Supervisor pid=%d is gone; shutting down", parent)
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=watch, name="parent-watch", daemon=True)
    thread.start()
    return thread


def serve_workers(host: str, port: int, count: int, *, grace_s: float, ratings_file: str) -> int:
    """Bind, print where, supervise ``count`` workers until SIGTERM/SIGINT."""
    sock = bind(host, port)
    actual = sock.getsockname()[1]
    base = f"http://{host}:{actual}"
    print(
        f"kalshi-graph: {count} workers, GraphiQL at {base}/graphql, live prices at {base}/",
        flush=True,
    )
    supervisor = Supervisor(
        sock,
        count,
        grace_s=grace_s,
        env_for=lambda slot: {"RATINGS_DB_PATH": ratings_path(ratings_file, slot)},
    )
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, supervisor.stop)
    try:
        return supervisor.run()
    finally:
        sock.close()
        logger.info("Workers stopped pid=%d", os.getpid())
