from __future__ import annotations

import logging

import pytest

from graph.cluster.link import RedisLink, RedisUnavailable, redacted
from graph.cluster.local import RedisServer

pytestmark = pytest.mark.e2e  # a real redis-server


async def test_first_success_marks_the_link_up(
    link: RedisLink, caplog: pytest.LogCaptureFixture
) -> None:
    """The first answered call sets up=True, logs the connection once and tells listeners."""
    seen: list[bool] = []
    link.listen(seen.append)
    caplog.set_level(logging.INFO, "graph.cluster.link")
    assert link.up is None
    assert await link.ping()
    assert await link.ping()
    assert link.up is True and seen == [True] and link.stats.ups == 1
    assert [r.getMessage() for r in caplog.records] == [f"Connected to Redis url={link.name}"]


async def test_outage_and_return_are_each_reported_once(
    link: RedisLink, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Many failed calls log one 'unavailable' line; the first success after logs one 'again'."""
    seen: list[bool] = []
    link.listen(seen.append)
    assert await link.ping()
    redis_server.stop()
    caplog.set_level(logging.INFO, "graph.cluster.link")
    for _ in range(3):
        with pytest.raises(RedisUnavailable, match="get"):
            await link.call(lambda r: r.get("k"), "get")
    assert link.up is False and link.down_for >= 0 and link.stats.errors == 3
    redis_server.start()
    assert await link.ping()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert messages[0].startswith("Redis unavailable") and "during=get" in messages[0]
    assert messages[1].startswith("Redis available again")
    assert seen == [True, False, True]
    assert (link.stats.downs, link.stats.ups) == (1, 2)
    assert link.down_for == 0


async def test_down_at_start_is_reported(redis_server: RedisServer) -> None:
    """A link whose first call fails starts down, and ping says False instead of raising."""
    redis_server.stop()
    link = RedisLink.from_url(redis_server.url, timeout_s=0.2)
    try:
        assert not await link.ping()
        assert link.up is False and link.stats.downs == 1 and link.last_error
    finally:
        await link.aclose()


async def test_a_failing_listener_does_not_hide_the_transition(link: RedisLink) -> None:
    """A listener that raises is logged; the others still hear about the change."""
    seen: list[bool] = []

    def broken(up: bool) -> None:
        raise RuntimeError("bug")

    link.listen(broken)
    link.listen(seen.append)
    assert await link.ping()
    assert seen == [True]


def test_keys_share_the_prefix(link: RedisLink) -> None:
    """Every key is the prefix plus colon-joined parts."""
    assert link.key("feed", "lease") == "kalshi-graph:feed:lease"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:s3cret@host:6379/1", "redis://:***@host:6379/1"),
        ("rediss://user:s3cret@host/0", "rediss://user:***@host/0"),
    ],
)
def test_urls_are_logged_without_passwords(url: str, shown: str) -> None:
    """A password in REDIS_URL never reaches a log line."""
    assert redacted(url) == shown
    assert repr(RedisLink.from_url(url)).startswith(f"RedisLink(url={shown!r}")
