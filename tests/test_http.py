from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from graph.errors import (
    RateLimited,
    UpstreamAuthError,
    UpstreamHTTPError,
    UpstreamProtocolError,
    UpstreamUnavailable,
)
from graph.http import DEFAULT_POLICY, RetryPolicy, get_json

URL = "https://upstream.test/trade-api/v2/markets"

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """Counts requests and records the delays get_json asked to sleep."""

    def __init__(self, responses: Iterator[httpx.Response | Exception]) -> None:
        self.responses = responses
        self.requests: list[httpx.Request] = []
        self.delays: list[float] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        item = next(self.responses)
        if isinstance(item, Exception):
            raise item
        return item

    async def sleep(self, delay: float) -> None:
        self.delays.append(delay)


def _seq(*items: httpx.Response | Exception) -> Iterator[httpx.Response | Exception]:
    return iter(items)


def _forever(item: httpx.Response | Exception) -> Iterator[httpx.Response | Exception]:
    while True:
        yield item


async def _call(
    recorder: Recorder,
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
    rng: Callable[[], float] = lambda: 0.5,
    params: dict[str, str] | None = None,
    auth_hint: str = "",
) -> Any:
    transport = httpx.MockTransport(recorder.handler)
    async with httpx.AsyncClient(transport=transport) as client:
        return await get_json(
            client,
            URL,
            params=params,
            policy=policy,
            what="Kalshi",
            auth_hint=auth_hint,
            sleep=recorder.sleep,
            rng=rng,
        )


def test_default_policy_is_bounded() -> None:
    """The default budget is 4 tries with waits between 0.2 s and 5 s ceilings."""
    assert DEFAULT_POLICY == RetryPolicy(attempts=4, base_delay_s=0.2, max_delay_s=5.0)


async def test_429_twice_then_200_succeeds_with_jittered_backoff() -> None:
    """Two 429s are retried after full-jitter delays; the third answer's JSON is returned."""
    recorder = Recorder(
        _seq(
            httpx.Response(429, json={"error": "too many requests"}),
            httpx.Response(429, json={"error": "too many requests"}),
            httpx.Response(200, json={"markets": [], "cursor": ""}),
        )
    )
    body = await _call(recorder, rng=lambda: 0.5)
    assert body == {"markets": [], "cursor": ""}
    assert len(recorder.requests) == 3
    # rng 0.5 times the ceilings 0.2 and 0.4 of retries 0 and 1.
    assert recorder.delays == pytest.approx([0.1, 0.2])


async def test_retry_delays_stay_within_policy_bounds() -> None:
    """Each wait is in [0, min(max_delay_s, base_delay_s * 2**n)] and the draws differ."""
    policy = RetryPolicy(attempts=8, base_delay_s=0.2, max_delay_s=1.0)
    recorder = Recorder(_forever(httpx.Response(503)))
    with pytest.raises(UpstreamUnavailable):
        await _call(recorder, policy=policy, rng=random.Random(3).random)
    assert len(recorder.delays) == policy.attempts - 1
    for n, delay in enumerate(recorder.delays):
        assert 0.0 <= delay <= min(policy.max_delay_s, policy.base_delay_s * 2**n)
    assert len(set(recorder.delays)) == len(recorder.delays)


async def test_retry_delays_never_exceed_the_cap() -> None:
    """With the top draw, waits double and then stay at max_delay_s."""
    policy = RetryPolicy(attempts=6, base_delay_s=0.5, max_delay_s=2.0)
    recorder = Recorder(_forever(httpx.Response(500)))
    with pytest.raises(UpstreamUnavailable):
        await _call(recorder, policy=policy, rng=lambda: 1.0)
    assert recorder.delays == pytest.approx([0.5, 1.0, 2.0, 2.0, 2.0])


@pytest.mark.parametrize("attempts", [1, 3, 4])
async def test_always_500_fails_after_exactly_attempts(attempts: int) -> None:
    """An always-500 server gets exactly policy.attempts requests, then a clear error."""
    recorder = Recorder(_forever(httpx.Response(500, text="boom")))
    with pytest.raises(UpstreamUnavailable) as info:
        await _call(recorder, policy=RetryPolicy(attempts=attempts))
    assert len(recorder.requests) == attempts
    assert len(recorder.delays) == attempts - 1
    message = str(info.value)
    assert "Kalshi" in message
    assert "/trade-api/v2/markets" in message
    assert f"{attempts} times" in message
    assert "HTTP 500" in message


@pytest.mark.parametrize(
    ("last", "error"),
    [
        pytest.param(httpx.Response(429), RateLimited, id="429-last"),
        pytest.param(httpx.Response(503), UpstreamUnavailable, id="503-last"),
    ],
)
async def test_a_spent_budget_says_whether_we_were_rate_limited(
    last: httpx.Response, error: type[Exception]
) -> None:
    """429 on the last attempt is RateLimited (code RATE_LIMITED); anything else is not."""
    recorder = Recorder(iter([httpx.Response(503), httpx.Response(429), last]))
    with pytest.raises(UpstreamUnavailable) as info:
        await _call(recorder, policy=RetryPolicy(attempts=3))
    assert type(info.value) is error


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_refusal_is_not_retried(status: int) -> None:
    """401/403 raise UpstreamAuthError at once, keeping the status and the caller's hint."""
    recorder = Recorder(_forever(httpx.Response(status, json={"error": {"code": "auth"}})))
    with pytest.raises(UpstreamAuthError) as info:
        await _call(recorder, auth_hint="; check KALSHI_API_KEY_ID")
    assert info.value.status_code == status
    assert len(recorder.requests) == 1
    assert recorder.delays == []
    assert "KALSHI_API_KEY_ID" in str(info.value)


@pytest.mark.parametrize("status", [400, 404, 409])
async def test_other_4xx_maps_to_http_error_with_status(status: int) -> None:
    """Other 4xx raise UpstreamHTTPError (not the auth subclass) without retry or body echo."""
    recorder = Recorder(_forever(httpx.Response(status, text="private-body-text")))
    with pytest.raises(UpstreamHTTPError) as info:
        await _call(recorder)
    assert type(info.value) is UpstreamHTTPError
    assert info.value.status_code == status
    assert f"HTTP {status}" in str(info.value)
    assert "private-body-text" not in str(info.value)
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    "response",
    [
        pytest.param(httpx.Response(200, text="<html>maintenance</html>"), id="html"),
        pytest.param(httpx.Response(200, text=""), id="empty"),
        pytest.param(httpx.Response(200, content=b"\xff\xfe{"), id="bytes"),
    ],
)
async def test_non_json_success_is_protocol_error(response: httpx.Response) -> None:
    """A 2xx body that is not JSON raises UpstreamProtocolError and is not retried."""
    recorder = Recorder(_forever(response))
    with pytest.raises(UpstreamProtocolError, match="not JSON"):
        await _call(recorder)
    assert len(recorder.requests) == 1


async def test_transport_error_is_retried() -> None:
    """A connect failure is retried and a later success is returned."""
    recorder = Recorder(_seq(httpx.ConnectError("refused"), httpx.Response(200, json=[1, 2])))
    assert await _call(recorder) == [1, 2]
    assert len(recorder.requests) == 2
    assert len(recorder.delays) == 1


async def test_persistent_transport_error_is_unavailable() -> None:
    """Transport errors on every attempt raise UpstreamUnavailable naming the failure kind."""
    recorder = Recorder(_forever(httpx.ReadTimeout("slow")))
    with pytest.raises(UpstreamUnavailable, match="ReadTimeout"):
        await _call(recorder, policy=RetryPolicy(attempts=2))
    assert len(recorder.requests) == 2


async def test_params_are_sent_and_secrets_not_echoed() -> None:
    """Query params reach the server; error messages never contain request header values."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(404)

    transport = httpx.MockTransport(handler)
    headers = {"KALSHI-ACCESS-SIGNATURE": "sig-secret-value"}
    async with httpx.AsyncClient(transport=transport, headers=headers) as client:
        with pytest.raises(UpstreamHTTPError) as info:
            await get_json(client, URL, params={"status": "open"}, what="Kalshi")
    assert seen[0].url.params["status"] == "open"
    assert "sig-secret-value" not in str(info.value)
    assert info.value.status_code == 404
