"""One GET with bounded retries, shared by the Kalshi REST and scoreboard clients.

Retries what a later attempt can fix (429, 5xx, connect/read failures) with
exponential backoff and full jitter, up to ``policy.attempts`` tries in total, and
maps everything else onto :mod:`graph.errors` at once. Error messages carry the
method, the path and the status, never headers or bodies we sent.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from graph.backoff import backoff_delay
from graph.errors import (
    RateLimited,
    UpstreamAuthError,
    UpstreamHTTPError,
    UpstreamProtocolError,
    UpstreamUnavailable,
)

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4
    base_delay_s: float = 0.2
    max_delay_s: float = 5.0


DEFAULT_POLICY = RetryPolicy()


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


async def get_json(
    client: httpx.AsyncClient,
    url: str,
    *,
    params: Mapping[str, str] | None = None,
    policy: RetryPolicy = DEFAULT_POLICY,
    what: str,
    auth_hint: str = "",
    sleep: Sleep = asyncio.sleep,
    rng: Callable[[], float] = random.random,
) -> Any:
    """GET ``url`` and return its JSON body, retrying transient failures.

    Raises:
        UpstreamAuthError: 401 or 403.
        UpstreamHTTPError: any other 4xx but 429 (``status_code`` kept).
        RateLimited: 429 on the last attempt (the retry budget is spent).
        UpstreamUnavailable: 5xx/transport errors on the last attempt.
        UpstreamProtocolError: a 2xx body that is not JSON.
    """
    last = ""
    for attempt in range(policy.attempts):
        if attempt:
            delay = backoff_delay(
                attempt - 1, base_s=policy.base_delay_s, cap_s=policy.max_delay_s, rng=rng
            )
            logger.info(
                "Retrying upstream request what=%s attempt=%d delay_s=%.2f reason=%s",
                what,
                attempt + 1,
                delay,
                last,
            )
            await sleep(delay)
        try:
            response = await client.get(url, params=params)
        except httpx.TransportError as exc:
            last = type(exc).__name__
            continue
        status = response.status_code
        if _retryable(status):
            last = f"HTTP {status}"
            continue
        path = response.request.url.path
        if status in (401, 403):
            raise UpstreamAuthError(
                f"{what}: {path} refused the request (HTTP {status}){auth_hint}",
                status_code=status,
            )
        if status >= 400:
            raise UpstreamHTTPError(
                f"{what}: GET {path} answered HTTP {status}", status_code=status
            )
        try:
            return response.json()
        except ValueError as exc:
            raise UpstreamProtocolError(
                f"{what}: GET {path} returned a body that is not JSON"
            ) from exc
    error = RateLimited if last == "HTTP 429" else UpstreamUnavailable
    raise error(f"{what}: GET {httpx.URL(url).path} failed {policy.attempts} times (last: {last})")


class JsonSource:
    """A base URL plus the retry settings every GET to it uses (the REST and scoreboard clients)."""

    # Appended to 401/403 messages: what the operator should check.
    AUTH_HINT = ""

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        *,
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Sleep = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._policy = policy
        self._sleep = sleep
        self._rng = rng

    async def _get_json(
        self, path: str, params: Mapping[str, str] | None = None, *, what: str
    ) -> Any:
        return await get_json(
            self._client,
            self._base + path,
            params=params,
            policy=self._policy,
            what=what,
            auth_hint=self.AUTH_HINT,
            sleep=self._sleep,
            rng=self._rng,
        )
