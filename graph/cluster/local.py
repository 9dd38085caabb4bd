"""A private ``redis-server`` for tests, benchmarks and ``make cluster`` (adapter).

It listens on a free loopback port, keeps its files in a temporary folder and persists
nothing (no RDB snapshots, no append-only file), so a restart starts empty - the way a
Redis without persistence comes back after a crash. ``stop()`` and ``start()`` again
keep the port, so clients configured with the URL find it after a restart.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

_START_TIMEOUT_S = 10.0
_PORT_ATTEMPTS = 5


class RedisServerError(RuntimeError):
    """redis-server is missing or did not start."""


def free_port() -> int:
    """A loopback port nobody listens on right now (the caller binds it soon after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def find_redis_server(executable: str | None = None) -> str:
    path = shutil.which(executable or "redis-server")
    if path is None:
        raise RedisServerError(
            f"{executable or 'redis-server'} not found: install Debian's redis-server "
            "(`make pytest` does) or set REDIS_SERVER"
        )
    return path


def _pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """``with RedisServer() as redis: redis.url`` - one redis-server process, restartable."""

    def __init__(self, executable: str | None = None, *, folder: Path | None = None) -> None:
        self._executable = find_redis_server(executable)
        self._own_folder = folder is None
        self.folder = (
            Path(tempfile.mkdtemp(prefix="kalshi-graph-redis-")) if folder is None else folder
        )
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RedisServerError("redis-server has not been started")
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        """Start (or restart on the same port); returns once it answers PING."""
        if self.running:
            return
        if self.port is not None:
            self._spawn(self.port)
            return
        for attempt in range(_PORT_ATTEMPTS):
            try:
                self._spawn(free_port())
                return
            except RedisServerError:
                # Another process took the port between free_port() and the bind.
                if attempt == _PORT_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _spawn(self, port: int) -> None:
        args = [
            self._executable,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.folder),
            "--logfile", str(self.folder / "redis.log"),
        ]  # fmt: skip
        process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not _pong(port):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait()
                log = self.folder / "redis.log"
                tail = log.read_text(errors="replace")[-300:] if log.exists() else ""
                raise RedisServerError(f"redis-server did not start on port {port}: {tail}")
            time.sleep(0.01)
        self._process = process
        self.port = port

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s); the port is kept for ``start``."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
