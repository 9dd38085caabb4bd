"""Readiness: phase, state checks, and upstream probes cached so scrapes cannot hammer them."""

from __future__ import annotations

import httpx
import pytest

from graph.errors import FeedFatalError, RateLimited
from graph.kalshi.feed import FeedState
from graph.web.readiness import Phase, Readiness, feed_check, http_probe


async def test_probes_run_once_per_period_however_often_readiness_is_asked() -> None:
    """A cached check runs again only after cache_s; uncached ones run every time."""
    now = [0.0]
    calls = {"probe": 0, "state": 0}

    async def probe() -> str | None:
        calls["probe"] += 1
        return "unreachable (ConnectError)" if calls["probe"] == 1 else None

    async def state() -> str | None:
        calls["state"] += 1
        return None

    readiness = Readiness(cache_s=5.0, clock=lambda: now[0])
    readiness.add("upstream", probe, cached=True)
    readiness.add("feed", state)
    readiness.phase = Phase.SERVING
    first = [await readiness.report() for _ in range(10)]
    now[0] = 5.1
    later = await readiness.report()
    await readiness.aclose()
    assert calls == {"probe": 2, "state": 11}
    assert first[0].ready is False
    assert first[0].as_json() == {
        "status": "not ready",
        "checks": {"lifecycle": "ok", "upstream": "unreachable (ConnectError)", "feed": "ok"},
    }
    assert later.ready and later.as_json()["status"] == "ready"


@pytest.mark.parametrize(
    ("phase", "ready"),
    [
        pytest.param(Phase.STARTING, False, id="starting"),
        pytest.param(Phase.SERVING, True, id="serving"),
        pytest.param(Phase.DRAINING, False, id="draining"),
    ],
)
async def test_only_a_serving_app_is_ready(phase: Phase, ready: bool) -> None:
    """Before startup finished and once shutdown began, readiness says so."""
    readiness = Readiness()
    readiness.phase = phase
    report = await readiness.report()
    assert report.ready is ready
    assert report.checks["lifecycle"] == ("ok" if ready else phase.value)


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        pytest.param(FeedState.IDLE, None, id="idle-nobody-asked-yet"),
        pytest.param(FeedState.CONNECTING, None, id="connecting"),
        pytest.param(FeedState.CONNECTED, None, id="connected"),
        pytest.param(FeedState.BACKOFF, None, id="backoff-retrying"),
        pytest.param(FeedState.FAILED, "feed failed: key refused", id="failed"),
        pytest.param(FeedState.CLOSED, "feed closed", id="closed"),
    ],
)
async def test_feed_check(state: FeedState, reason: str | None) -> None:
    """Only a fatal or closed feed makes the service unready."""
    check = feed_check(lambda: state, lambda: FeedFatalError("key refused"))
    assert await check() == reason


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        pytest.param(200, None, id="ok"),
        pytest.param(404, None, id="404-still-reachable"),
        pytest.param(401, "HTTP 401: our key or signature was refused", id="401-key-refused"),
        pytest.param(403, "HTTP 403: our key or signature was refused", id="403-key-refused"),
        pytest.param(503, "HTTP 503", id="5xx"),
        pytest.param("connect", "unreachable (ConnectError)", id="refused"),
        pytest.param("timeout", "unreachable (ReadTimeout)", id="timeout"),
        pytest.param("budget", None, id="our-read-budget-said-wait"),
    ],
)
async def test_http_probe(answer: int | str, reason: str | None) -> None:
    """Usable is any answer below 500 but 401/403 (a refused key fails every request); no
    answer, a refused key or a 5xx is the reason given."""

    def handler(request: httpx.Request) -> httpx.Response:
        if answer == "connect":
            raise httpx.ConnectError("refused", request=request)
        if answer == "timeout":
            raise httpx.ReadTimeout("slow", request=request)
        if answer == "budget":  # what RateLimitedTransport raises when KALSHI_READ_RATE is spent
            raise RateLimited("Kalshi read rate limit")
        assert isinstance(answer, int)
        return httpx.Response(answer)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        assert await http_probe(client, "http://upstream/status", timeout_s=1) == reason


async def test_a_probe_of_a_malformed_url_is_a_reason_not_a_crash() -> None:
    """A URL httpx cannot even parse reports as unreachable."""
    async with httpx.AsyncClient() as client:
        assert await http_probe(client, "http://[::1", timeout_s=1) == "unreachable (InvalidURL)"


async def test_details_are_shown_but_never_make_it_unready() -> None:
    """describe() adds lines under details; a report with details alone stays ready."""
    readiness = Readiness()
    readiness.phase = Phase.SERVING
    readiness.describe(lambda: {"redis": "unavailable for 3.0 s"})
    report = await readiness.report()
    assert report.ready
    assert report.as_json()["details"] == {"redis": "unavailable for 3.0 s"}
    readiness.clear()
    assert "details" not in (await readiness.report()).as_json()


async def test_clear_forgets_checks() -> None:
    """After clear() (shutdown) only the phase is reported."""
    readiness = Readiness()

    async def broken() -> str | None:
        return "down"

    readiness.add("x", broken, cached=True)
    readiness.clear()
    readiness.phase = Phase.SERVING
    assert (await readiness.report()).checks == {"lifecycle": "ok"}
