from __future__ import annotations

import socket
from pathlib import Path

import pytest

from graph.cluster.local import RedisServer, RedisServerError, find_redis_server, free_port

pytestmark = pytest.mark.e2e  # a real redis-server


def command(port: int, *parts: str) -> bytes:
    """Send one inline command and return the raw reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall((" ".join(parts) + "\r\n").encode())
        return sock.recv(256)


def test_answers_on_a_loopback_port(redis_server: RedisServer) -> None:
    """The server is up on 127.0.0.1 at the port its URL names."""
    assert redis_server.running
    assert redis_server.url == f"redis://127.0.0.1:{redis_server.port}/0"
    assert command(redis_server.port or 0, "PING") == b"+PONG\r\n"


def test_restart_keeps_the_port_and_starts_empty(redis_server: RedisServer) -> None:
    """A restart comes back on the same port with no data: nothing is persisted."""
    port = redis_server.port or 0
    assert command(port, "SET", "k", "v") == b"+OK\r\n"
    redis_server.restart()
    assert redis_server.port == port
    assert command(port, "GET", "k") == b"$-1\r\n"
    assert not list(redis_server.folder.glob("*.rdb"))


def test_stop_is_idempotent_and_frees_the_port(redis_server: RedisServer) -> None:
    """After stop nothing listens; stopping twice is harmless."""
    port = redis_server.port or 0
    redis_server.stop()
    redis_server.stop()
    assert not redis_server.running and redis_server.pid is None
    with pytest.raises(OSError):
        command(port, "PING")


def test_close_removes_its_own_folder() -> None:
    """A server given no folder makes a temporary one and removes it on close."""
    with RedisServer() as server:
        folder = server.folder
        assert folder.is_dir()
        server.start()  # already running: a no-op
    assert not folder.exists()


def test_missing_executable_is_a_clear_error() -> None:
    """No redis-server on PATH: the error says how to get one."""
    with pytest.raises(RedisServerError, match="make pytest"):
        find_redis_server("no-such-redis-server")


def test_url_before_start_is_an_error(tmp_path: Path) -> None:
    """Asking for the URL of a server never started fails clearly."""
    with pytest.raises(RedisServerError, match="not been started"):
        _ = RedisServer(folder=tmp_path).url


def test_a_taken_port_fails_to_start(tmp_path: Path) -> None:
    """Starting on a port somebody else holds raises with redis-server's own reason."""
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        server = RedisServer(folder=tmp_path)
        server.port = blocker.getsockname()[1]
        with pytest.raises(RedisServerError, match="did not start"):
            server.start()


def test_free_port_is_bindable() -> None:
    """free_port names a port that can be bound right away."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port()))
