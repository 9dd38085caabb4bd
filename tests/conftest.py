from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import AliasChoices, AliasPath

from graph.cluster.link import RedisLink
from graph.cluster.local import RedisServer, RedisServerError
from graph.kalshi.signing import generate_private_key
from graph.settings import Settings


def _settings_env_names() -> frozenset[str]:
    """Every environment variable name Settings reads, upper-cased (pydantic matches any case)."""
    names: set[str] = set()
    for name, field in Settings.model_fields.items():
        names.add(name.upper())
        alias = field.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
        for choice in choices:
            if isinstance(choice, str):
                names.add(choice.upper())
            elif isinstance(choice, AliasPath) and isinstance(choice.path[0], str):
                names.add(choice.path[0].upper())
    return frozenset(names)


SETTINGS_ENV_NAMES = _settings_env_names()


@pytest.fixture(autouse=True)
def _clean_settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's shell (or an exported .env) out of every test."""
    for var in list(os.environ):
        if var.upper() in SETTINGS_ENV_NAMES:
            monkeypatch.delenv(var)


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    """One 2048-bit key per test session (generating keys is slow)."""
    return generate_private_key()


# A real redis-server per test (fresh, empty, on a free loopback port) and links to it.


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


@contextlib.asynccontextmanager
async def _link_to(redis_server: RedisServer) -> AsyncIterator[RedisLink]:
    link = RedisLink.from_url(redis_server.url, timeout_s=0.5)
    try:
        yield link
    finally:
        await link.aclose()


@pytest.fixture
async def link(redis_server: RedisServer) -> AsyncIterator[RedisLink]:
    """One replica's link to the test's Redis."""
    async with _link_to(redis_server) as link:
        yield link


@pytest.fixture
async def other_link(redis_server: RedisServer) -> AsyncIterator[RedisLink]:
    """A second replica's link to the same Redis."""
    async with _link_to(redis_server) as link:
        yield link
