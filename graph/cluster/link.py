"""The process's Redis connection and whether Redis answers (adapter).

How it works
------------
:class:`RedisLink` owns one ``redis.asyncio`` client (a connection pool) with short
timeouts and the key prefix every cluster key starts with. Every cluster piece runs its
Redis calls through :meth:`RedisLink.call`: a Redis or socket error becomes
:class:`RedisUnavailable` (so callers catch one type and fall back), and the outcome
drives a two-state health record. The first failure after a success (or at start)
marks the link down, the first success after a failure marks it up again; each
transition is logged once, counted, and handed to the registered listeners (the live
path starts its grace timer there). Nothing in between is logged, however many calls
fail while Redis is away.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import ConnectionError, RedisError

logger = logging.getLogger(__name__)

T = TypeVar("T")
Listener = Callable[[bool], None]

DEFAULT_PREFIX = "kalshi-graph:"


def reraise_cancel(task: asyncio.Task[Any] | None, cancels: int) -> None:
    """Raise CancelledError if ``task`` was cancelled during a Redis call.

    redis-py can turn a cancellation that lands while it tears a connection down into
    an ordinary return or a ConnectionError; a loop that retries Redis trouble would then
    never end (seen on Python 3.11 with redis-py 8.1). The cancel request count tells.
    """
    if task is not None and task.cancelling() > cancels:
        raise asyncio.CancelledError


class RedisUnavailable(Exception):
    """A Redis call failed (connection refused or lost, timeout, error reply)."""


@dataclass(slots=True)
class LinkStats:
    downs: int = 0  # transitions to "down"
    ups: int = 0  # transitions to "up" (the first success counts)
    errors: int = 0  # failed calls


def redacted(url: str) -> str:
    """``url`` without a password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


class RedisLink:
    """A Redis client plus its health: ``up`` is None until the first call's outcome."""

    def __init__(
        self,
        client: Redis,
        *,
        pubsub_client: Redis | None = None,
        prefix: str = DEFAULT_PREFIX,
        name: str = "redis",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        # Pub/sub gets a client without retries: redis-py would otherwise reconnect and
        # resubscribe behind our back, and we would not know that messages were lost.
        self.pubsub_client = pubsub_client if pubsub_client is not None else client
        self.prefix = prefix
        self.name = name  # the redacted URL, for logs
        self.up: bool | None = None
        self.since: float = clock()  # by ``clock``: when ``up`` last changed
        self.last_error = ""
        self.stats = LinkStats()
        self._clock = clock
        self._listeners: list[Listener] = []

    @classmethod
    def from_url(
        cls, url: str, *, timeout_s: float = 1.0, prefix: str = DEFAULT_PREFIX
    ) -> RedisLink:
        options: dict[str, Any] = {
            "socket_timeout": timeout_s,
            "socket_connect_timeout": timeout_s,
            "health_check_interval": max(1, int(timeout_s * 5)),
        }
        client = Redis.from_url(
            url,
            # One quick retry on a dropped connection (a pooled socket from before a Redis
            # restart fails once); no retry on timeouts: a replica must notice a hung Redis
            # in about timeout_s, not after redis-py's default attempts with backoff.
            retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), 1),
            retry_on_error=[ConnectionError],
            **options,
        )
        pubsub = Redis.from_url(url, retry=Retry(NoBackoff(), 0), **options)
        return cls(client, pubsub_client=pubsub, prefix=prefix, name=redacted(url))

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def listen(self, listener: Listener) -> None:
        """Call ``listener(up)`` on every transition (never twice in a row with one value)."""
        self._listeners.append(listener)

    @property
    def down_for(self) -> float:
        """Seconds (by ``clock``) the link has been down; 0 while up or unknown."""
        return self._clock() - self.since if self.up is False else 0.0

    async def call(self, op: Callable[[Redis], Awaitable[T]], what: str) -> T:
        """Run ``op(client)``; Redis trouble raises :class:`RedisUnavailable`."""
        task = asyncio.current_task()
        cancels = task.cancelling() if task is not None else 0
        try:
            result = await op(self.client)
        except (RedisError, OSError) as exc:
            reraise_cancel(task, cancels)
            self.failed(exc, what)
            raise RedisUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc
        reraise_cancel(task, cancels)
        self.succeeded()
        return result

    def succeeded(self) -> None:
        if self.up is True:
            return
        was_down = self.up is False
        down_s = self._clock() - self.since
        self._set(True)
        if was_down:
            logger.warning("Redis available again url=%s down_s=%.1f", self.name, down_s)
        else:
            logger.info("Connected to Redis url=%s", self.name)

    def failed(self, exc: BaseException, what: str) -> None:
        self.stats.errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        if self.up is False:
            return
        self._set(False)
        logger.warning(
            "Redis unavailable url=%s during=%s error=%s", self.name, what, self.last_error
        )

    def _set(self, up: bool) -> None:
        self.up = up
        self.since = self._clock()
        if up:
            self.stats.ups += 1
        else:
            self.stats.downs += 1
        for listener in list(self._listeners):
            try:
                listener(up)
            except Exception:  # one listener's bug must not hide the transition from others
                logger.exception("Redis link listener failed")

    async def ping(self) -> bool:
        try:
            await self.call(lambda r: r.ping(), "ping")
        except RedisUnavailable:
            return False
        return True

    async def aclose(self) -> None:
        await self.client.aclose()
        if self.pubsub_client is not self.client:
            await self.pubsub_client.aclose()

    def __repr__(self) -> str:
        return f"RedisLink(url={self.name!r}, up={self.up})"
