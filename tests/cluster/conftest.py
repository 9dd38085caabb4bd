"""A real redis-server per test (fresh, empty, on a free loopback port) and a link to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from graph.cluster.link import RedisLink
from graph.cluster.local import RedisServer, RedisServerError


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A private redis-server; tests may stop and start it (same port, empty again)."""
    folder = tmp_path / "redis"
    folder.mkdir()
    try:
        server = RedisServer(folder=folder)
        server.start()
    except RedisServerError as exc:
        # Never a skip: CI installs redis-server through the Makefile, so missing is a bug.
        pytest.fail(str(exc))
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
async def link(redis_server: RedisServer) -> AsyncIterator[RedisLink]:
    link = RedisLink.from_url(redis_server.url, timeout_s=0.5)
    try:
        yield link
    finally:
        await link.aclose()


@pytest.fixture
async def other_link(redis_server: RedisServer) -> AsyncIterator[RedisLink]:
    """A second replica's link to the same Redis."""
    link = RedisLink.from_url(redis_server.url, timeout_s=0.5)
    try:
        yield link
    finally:
        await link.aclose()
