"""graph.web.ratelimit: token buckets per client, and the HTTP middleware's 429."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from graph.web.ratelimit import (
    HttpRateLimit,
    RateLimiter,
    bearer_token,
    client_key,
    token_of,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_grants_its_burst_then_refills_at_the_rate() -> None:
    """burst tokens at once, then one per 1/rate seconds; a refusal says how long to wait."""
    clock = Clock()
    limiter = RateLimiter(rate_per_s=2, burst=3, clock=clock)
    assert [limiter.take("a", "http") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a", "http") == 0.5
    clock.now += 0.5
    assert limiter.take("a", "http") == 0.0
    clock.now += 10  # refills to the burst, not beyond
    assert [limiter.take("a", "subscribe") for _ in range(4)][-1] == 0.5
    assert limiter.refused == {"http": 1, "subscribe": 1}
    assert limiter.take("b", "http") == 0.0  # another client has its own bucket


def test_a_zero_rate_turns_the_limit_off() -> None:
    """RATE_LIMIT_PER_S=0: every take is granted and nothing is stored."""
    limiter = RateLimiter(rate_per_s=0, burst=1)
    assert not limiter.enabled
    assert all(limiter.take("a", "http") == 0.0 for _ in range(100))


def test_buckets_are_bounded_and_forget_the_least_recent_client() -> None:
    """Past max_clients the least recently seen client is forgotten (full bucket again)."""
    clock = Clock()
    limiter = RateLimiter(rate_per_s=1, burst=1, max_clients=2, clock=clock)
    for key in ("a", "b"):
        assert limiter.take(key, "http") == 0.0
    assert limiter.take("a", "http") > 0  # "a" is now the most recent
    assert limiter.take("c", "http") == 0.0  # evicts "b"
    assert limiter.take("a", "http") > 0
    assert limiter.take("b", "http") == 0.0


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    """Retry-After rounds up and never says 0."""
    assert [RateLimiter.retry_after(s) for s in (0.01, 1.0, 1.2)] == [1, 1, 2]


def test_keys_hash_tokens_and_fall_back_to_the_address() -> None:
    """A token never appears in its key; without one the address is the key."""
    key = client_key("s3cret", "10.0.0.1")
    assert key.startswith("token:") and "s3cret" not in key
    assert client_key(None, "10.0.0.1") == "address:10.0.0.1"
    assert client_key(None, None) == "address:unknown"
    assert bearer_token("Bearer  abc ") == "abc"
    assert bearer_token("basic abc") is None and bearer_token("Bearer ") is None
    assert bearer_token(None) is None
    assert token_of({"authorization": "Bearer t"}) == token_of({"Authorization": "Bearer t"}) == "t"
    assert token_of(None) is None and token_of(["Bearer t"]) is None
    assert token_of({"authorization": "Bearer a", "Authorization": "Bearer b"}) is None


async def ok(request: Request) -> Response:
    return PlainTextResponse("ok")


def limited_app(limiter: RateLimiter, *, by_token: bool) -> HttpRateLimit:
    app = Starlette(routes=[Route("/graphql", ok, methods=["GET", "POST"]), Route("/x", ok)])
    return HttpRateLimit(app, limiter=limiter, by_token=by_token)


async def test_the_middleware_answers_429_with_retry_after_and_a_code() -> None:
    """Past the burst, /graphql answers 429, Retry-After and TOO_MANY_REQUESTS; other paths
    are not counted."""
    limiter = RateLimiter(rate_per_s=0.5, burst=2, clock=Clock())
    transport = httpx.ASGITransport(app=limited_app(limiter, by_token=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        statuses = [(await client.post("/graphql")).status_code for _ in range(2)]
        refused = await client.post("/graphql")
        other = await client.get("/x")
    assert statuses == [200, 200]
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "2"
    assert refused.json()["errors"][0]["extensions"]["code"] == "TOO_MANY_REQUESTS"
    assert other.status_code == 200
    assert limiter.refused == {"http": 1}


async def test_the_middleware_keys_by_token_when_tokens_are_checked() -> None:
    """With tokens configured each token has its own bucket; without, the address counts."""
    for by_token, expected in ((True, [200, 200]), (False, [200, 429])):
        limiter = RateLimiter(rate_per_s=1, burst=1, clock=Clock())
        transport = httpx.ASGITransport(app=limited_app(limiter, by_token=by_token))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answers = [
                (await client.get("/graphql", headers={"authorization": f"Bearer t{i}"}))
                for i in range(2)
            ]
        assert [a.status_code for a in answers] == expected
