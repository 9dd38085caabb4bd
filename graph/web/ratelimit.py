"""A rate limit per client: token buckets keyed by API token, else by address (edge).

How it works: :class:`RateLimiter` keeps one token bucket per client key, refilled at
``rate_per_s`` up to ``burst``; each GraphQL request over HTTP and each WebSocket
``subscribe`` takes one token. Without a token left, :meth:`RateLimiter.take` says how
long until there is one: :class:`HttpRateLimit` answers 429 with that as ``Retry-After``,
and the WebSocket handlers answer the ``subscribe`` with an ``error`` carrying it. The
buckets live in a bounded LRU (``max_clients``), so a flood of new addresses costs
memory only up to that bound (a forgotten client starts again with a full bucket).

The key is the client's API token when tokens are configured (it was checked before this
runs, so nobody gets fresh buckets by inventing tokens), else its address as the server
sees it: behind a proxy, run uvicorn with ``--proxy-headers`` and ``--forwarded-allow-ips``
so that is the client's, not the proxy's. Tokens are hashed before they are used as keys.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from graph.web.responses import send_error

TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Token buckets per client key (see the module docstring); ``rate_per_s=0`` is off."""

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        *,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self.refused: Counter[str] = Counter()  # by kind: "http", "subscribe"

    @property
    def enabled(self) -> bool:
        return self.rate_per_s > 0

    def take(self, key: str, kind: str) -> float:
        """Take a token for ``key``: 0 when granted, else seconds until one is available."""
        if not self.enabled:
            return 0.0
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            if len(self._buckets) > self._max_clients:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate_per_s)
            bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        self.refused[kind] += 1
        return (1.0 - bucket.tokens) / self.rate_per_s

    @staticmethod
    def retry_after(wait_s: float) -> int:
        """Whole seconds for a ``Retry-After`` header (at least 1)."""
        return max(1, math.ceil(wait_s))


def client_key(token: str | None, address: str | None) -> str:
    """The bucket key: a hash of the token when there is one, else the address."""
    if token:
        return "token:" + hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()
    return f"address:{address or 'unknown'}"


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value, if it is one."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def token_of(params: object) -> str | None:
    """The bearer token of a ``connection_init`` payload (``Authorization``, any case)."""
    if not isinstance(params, Mapping):
        return None
    values = [v for k, v in params.items() if isinstance(k, str) and k.lower() == "authorization"]
    return bearer_token(values[0]) if len(values) == 1 and isinstance(values[0], str) else None


def message(wait_s: float) -> str:
    seconds = RateLimiter.retry_after(wait_s)
    return f"too many requests from this client; retry in {seconds} s"


class HttpRateLimit:
    """ASGI middleware: GraphQL requests over HTTP (``path``) take a token each."""

    def __init__(
        self, app: ASGIApp, *, limiter: RateLimiter, by_token: bool, path: str = "/graphql"
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.by_token = by_token
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or not self.limiter.enabled:
            await self.app(scope, receive, send)
            return
        token = None
        if self.by_token:
            headers = dict(scope["headers"])
            token = bearer_token(headers.get(b"authorization", b"").decode("latin-1"))
        client = scope.get("client")
        wait_s = self.limiter.take(client_key(token, client[0] if client else None), "http")
        if not wait_s:
            await self.app(scope, receive, send)
            return
        retry = str(RateLimiter.retry_after(wait_s)).encode()
        await send_error(send, 429, message(wait_s), TOO_MANY_REQUESTS, [(b"retry-after", retry)])
