from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from graph.errors import FeedFatalError
from graph.kalshi.feed import FeedState, KalshiFeed
from graph.kalshi.protocol import MAX_RESUBSCRIBES
from graph.kalshi.signing import (
    HEADER_KEY,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    WS_PATH,
    Signer,
    generate_private_key,
    load_private_key,
    verify,
)
from graph.live.hub import Hub
from graph.models import League, TickerUpdate
from graph.sim import Simulator
from tests.e2e import eventually

TIMEOUT_S = 5.0
KEY_ID = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"

_DOC = json.loads((Path(__file__).parents[1] / "data" / "kalshi_ws_frames.json").read_text("utf-8"))
FRAMES: dict[str, str] = {f["name"]: f["text"] for f in _DOC["frames"]}


def frame(name: str, msg: dict[str, Any] | None = None, **top: Any) -> str:
    """A documented frame with some top-level (and ``msg``) values replaced."""
    data = json.loads(FRAMES[name])
    data.update(top)
    if msg is not None:
        data["msg"] = {**data["msg"], **msg}
    return json.dumps(data)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return generate_private_key()


@dataclass
class Handshake:
    key_id: str | None
    timestamp_ms: int | None
    valid: bool


class FakeKalshi:
    """A loopback Kalshi WS: verifies the signed handshake, answers commands from doc frames."""

    def __init__(self, public_key: rsa.RSAPublicKey) -> None:
        self.public_key = public_key
        self.handshakes: list[Handshake] = []
        self.reject: list[int] = []  # statuses for the next handshakes, then accept
        self.requests = 0  # handshake requests, accepted or not
        self.refuse: dict[str, list[int]] = {}  # cmd -> error codes for its next uses
        self.commands: asyncio.Queue[tuple[ServerConnection, dict[str, Any]]] = asyncio.Queue()
        self.connected: asyncio.Queue[ServerConnection] = asyncio.Queue()
        # None from it: the subscribe goes unanswered.
        self.reply_to_subscribe: Callable[[dict[str, Any]], str | None] | None = None
        self.markets: set[str] = set()
        self.url = ""
        self._next_sid = 1

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self.requests += 1
        if self.reject:
            return connection.respond(HTTPStatus(self.reject.pop(0)), "go away\n")
        headers = request.headers
        signature, stamp = headers.get(HEADER_SIGNATURE), headers.get(HEADER_TIMESTAMP)
        valid = (
            signature is not None
            and stamp is not None
            and stamp.isdigit()
            and verify(self.public_key, signature, int(stamp), "GET", request.path)
        )
        ts = int(stamp) if stamp is not None and stamp.isdigit() else None
        self.handshakes.append(Handshake(headers.get(HEADER_KEY), ts, valid))
        if not valid:
            return connection.respond(HTTPStatus.UNAUTHORIZED, "unauthorized\n")
        return None

    async def handler(self, ws: ServerConnection) -> None:
        await self.connected.put(ws)
        with contextlib.suppress(ConnectionClosed):  # tests drop connections on purpose
            async for text in ws:
                cmd = json.loads(text)
                await self.commands.put((ws, cmd))
                reply = self.reply(cmd)
                if reply is not None:
                    await ws.send(reply)

    def reply(self, cmd: dict[str, Any]) -> str | None:
        params = cmd.get("params", {})
        codes = self.refuse.get(cmd["cmd"])
        if codes:
            return frame("error", id=cmd["id"], msg={"code": codes.pop(0), "msg": "refused"})
        if cmd["cmd"] == "subscribe":
            if self.reply_to_subscribe is not None:
                return self.reply_to_subscribe(cmd)
            sid, self._next_sid = self._next_sid, self._next_sid + 1
            self.markets = set(params["market_tickers"])
            return frame("subscribed", id=cmd["id"], msg={"channel": "ticker", "sid": sid})
        if cmd["cmd"] == "update_subscription":
            if params["action"] == "add_markets":
                self.markets |= set(params["market_tickers"])
            else:
                self.markets -= set(params["market_tickers"])
            tickers = {"market_tickers": sorted(self.markets)}
            return frame("ok_update", id=cmd["id"], sid=params["sids"][0], msg=tickers)
        if cmd["cmd"] == "unsubscribe":
            self.markets = set()
            return frame("unsubscribed", id=cmd["id"], sid=params["sids"][0])
        return None

    async def next_command(self) -> tuple[ServerConnection, dict[str, Any]]:
        return await asyncio.wait_for(self.commands.get(), TIMEOUT_S)

    async def next_connection(self) -> ServerConnection:
        return await asyncio.wait_for(self.connected.get(), TIMEOUT_S)


@pytest.fixture
async def server(key: rsa.RSAPrivateKey) -> AsyncIterator[FakeKalshi]:
    fake = FakeKalshi(key.public_key())
    async with serve(fake.handler, "127.0.0.1", 0, process_request=fake.process_request) as srv:
        fake.url = f"ws://127.0.0.1:{_port(srv)}{WS_PATH}"
        yield fake


def _port(srv: Server) -> int:
    port: int = next(iter(srv.sockets)).getsockname()[1]
    return port


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_763_900_000.0

    def __call__(self) -> float:
        self.now += 0.001  # every reading is later, so every handshake has a new timestamp
        return self.now


class FakeSleep:
    """Records delays instead of sleeping; optionally holds until ``gate`` is set."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.called: asyncio.Queue[float] = asyncio.Queue()
        self.gate: asyncio.Event | None = None

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await self.called.put(delay)
        if self.gate is not None:
            await self.gate.wait()

    async def next_call(self) -> float:
        return await asyncio.wait_for(self.called.get(), TIMEOUT_S)


class Rng:
    def __init__(self, values: list[float]) -> None:
        self.values = values
        self.i = 0

    def __call__(self) -> float:
        value = self.values[self.i % len(self.values)]
        self.i += 1
        return value


@dataclass
class Harness:
    feed: KalshiFeed
    updates: asyncio.Queue[TickerUpdate]
    fatal: list[FeedFatalError]
    clock: FakeClock
    sleep: FakeSleep

    async def next_update(self) -> TickerUpdate:
        return await asyncio.wait_for(self.updates.get(), TIMEOUT_S)


@pytest.fixture
async def make_feed(key: rsa.RSAPrivateKey) -> AsyncIterator[Callable[..., Harness]]:
    harnesses: list[Harness] = []

    def make(url: str, signer: Signer | None | str = "default", **kwargs: Any) -> Harness:
        updates: asyncio.Queue[TickerUpdate] = asyncio.Queue()
        fatal: list[FeedFatalError] = []
        clock, sleep = FakeClock(), FakeSleep()
        feed = KalshiFeed(
            url,
            Signer(KEY_ID, key) if signer == "default" else signer,  # type: ignore[arg-type]
            on_update=updates.put_nowait,
            on_fatal=fatal.append,
            clock=kwargs.pop("clock", clock),
            sleep=sleep,
            rng=kwargs.pop("rng", Rng([0.5])),
            **kwargs,
        )
        harness = Harness(feed, updates, fatal, clock, sleep)
        harnesses.append(harness)
        return harness

    yield make
    for harness in harnesses:  # also when a test failed before its own aclose()
        await harness.feed.aclose()


async def wait_for_state(feed: KalshiFeed, state: FeedState) -> None:
    async def poll() -> None:
        while feed.state is not state:
            await asyncio.sleep(0)

    await asyncio.wait_for(poll(), TIMEOUT_S)


async def test_connects_lazily_with_signed_headers_and_relays_tickers(
    server: FakeKalshi, make_feed: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    """First set_wanted connects with a valid signature over the WS path, subscribes, relays."""
    caplog.set_level(logging.DEBUG)
    h = make_feed(server.url)
    h.feed.set_wanted(frozenset())
    assert h.feed.state.value == "idle"  # lazy: nothing wanted, no connection
    h.feed.set_wanted(frozenset({"FED-23DEC-T3.00", "B"}))
    ws, cmd = await server.next_command()
    assert cmd == {
        "id": 1,
        "cmd": "subscribe",
        "params": {"channels": ["ticker"], "market_tickers": ["B", "FED-23DEC-T3.00"]},
    }
    assert [(s.key_id, s.valid) for s in server.handshakes] == [(KEY_ID, True)]
    await ws.send(FRAMES["ticker"])
    update = await h.next_update()
    assert (update.market_ticker, update.price, update.ts_ms) == (
        "FED-23DEC-T3.00",
        0.48,
        1669149841000,
    )
    assert h.feed.subscribed == {"FED-23DEC-T3.00", "B"}
    assert h.feed.connected
    await h.feed.aclose()
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("graph."))
    assert f"Connected to Kalshi WebSocket url={server.url}" in ours
    assert "Subscribed to ticker channel sid=1 markets=2" in ours
    assert KEY_ID not in ours
    assert "KALSHI-ACCESS" not in ours.upper()
    assert h.feed.stats.connects == 1
    assert h.feed.state is FeedState.CLOSED


async def test_wanted_changes_become_update_and_unsubscribe_commands(
    server: FakeKalshi, make_feed: Callable[..., Harness]
) -> None:
    """Adding and removing tickers sends add_markets/delete_markets; none left -> unsubscribe."""
    h = make_feed(server.url)
    h.feed.set_wanted(frozenset({"A"}))
    await server.next_command()
    h.feed.set_wanted(frozenset({"A", "B"}))
    _, add = await server.next_command()
    assert add["params"] == {"sids": [1], "market_tickers": ["B"], "action": "add_markets"}
    h.feed.set_wanted(frozenset({"B"}))
    _, delete = await server.next_command()
    assert delete["params"] == {"sids": [1], "market_tickers": ["A"], "action": "delete_markets"}
    h.feed.set_wanted(frozenset())
    _, unsub = await server.next_command()
    assert unsub == {"id": 4, "cmd": "unsubscribe", "params": {"sids": [1]}}
    assert server.markets == set()
    await h.feed.aclose()


async def test_drop_reconnects_resigns_and_resubscribes_every_wanted_ticker(
    server: FakeKalshi, make_feed: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    """After a drop the feed re-signs and subscribes to everything wanted, incl. later adds."""
    caplog.set_level(logging.INFO)
    h = make_feed(server.url)
    h.sleep.gate = asyncio.Event()
    h.feed.set_wanted(frozenset({"A", "B"}))
    ws, _ = await server.next_command()
    await ws.close(code=1011, reason="simulated drop")
    assert await h.sleep.next_call() == pytest.approx(0.25)  # rng 0.5 * base 0.5
    h.feed.set_wanted(frozenset({"A", "B", "C"}))  # while disconnected
    h.sleep.gate.set()
    ws2, cmd = await server.next_command()
    assert ws2 is not ws
    assert cmd["cmd"] == "subscribe"
    assert cmd["params"]["market_tickers"] == ["A", "B", "C"]
    first, second = server.handshakes
    assert first.valid and second.valid
    assert first.timestamp_ms is not None and second.timestamp_ms is not None
    assert second.timestamp_ms > first.timestamp_ms
    await ws2.send(frame("ticker", msg={"market_ticker": "C"}))
    assert (await h.next_update()).market_ticker == "C"
    assert (h.feed.stats.connects, h.feed.stats.reconnects) == (2, 1)
    assert "Reconnecting to Kalshi WebSocket attempt=1 delay_s=0.25 reason=" in caplog.text
    await h.feed.aclose()


async def test_backoff_is_bounded_and_jittered(
    server: FakeKalshi, make_feed: Callable[..., Harness]
) -> None:
    """Failed handshakes wait rng() * min(cap, base * 2**n) each, never more than the cap."""
    rng_values = [0.9, 0.1, 1.0, 0.3, 0.7, 1.0, 0.05, 1.0]
    h = make_feed(server.url, rng=Rng(rng_values), backoff_base_s=0.5, backoff_cap_s=4.0)
    server.reject = [503] * len(rng_values)
    h.feed.set_wanted(frozenset({"A"}))
    _, cmd = await server.next_command()
    assert cmd["cmd"] == "subscribe"
    expected = [r * min(4.0, 0.5 * 2**n) for n, r in enumerate(rng_values)]
    assert h.sleep.delays == pytest.approx(expected)
    assert max(h.sleep.delays) <= 4.0
    assert h.sleep.delays[-1] == pytest.approx(4.0)  # capped, not 0.5 * 2**7
    assert len(set(h.sleep.delays)) > 1
    assert h.feed.stats.reconnects == len(rng_values)
    await h.feed.aclose()


async def test_backoff_attempts_reset_after_a_healthy_connection(
    server: FakeKalshi, make_feed: Callable[..., Harness]
) -> None:
    """A short-lived connection keeps growing the delay; one up for healthy_after_s resets it."""
    h = make_feed(server.url, rng=Rng([1.0]), backoff_base_s=1.0, healthy_after_s=60.0)
    server.reject = [503, 503]
    h.feed.set_wanted(frozenset({"A"}))
    ws, _ = await server.next_command()
    h.clock.now += 1  # unhealthy: up for about a second
    await ws.close(code=1011)
    ws, _ = await server.next_command()
    h.clock.now += 61  # healthy
    await ws.close(code=1011)
    await server.next_command()
    assert h.sleep.delays == [1.0, 2.0, 4.0, 1.0]
    await h.feed.aclose()


async def test_malformed_frames_are_counted_and_the_connection_kept(
    server: FakeKalshi, make_feed: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    """Garbage, out-of-range prices and bad bytes are logged and counted; ticks keep flowing."""
    h = make_feed(server.url)
    h.feed.set_wanted(frozenset({"A"}))
    ws, _ = await server.next_command()
    await ws.send("not json")
    await ws.send(frame("ticker", msg={"market_ticker": "A", "price_dollars": "7.0"}))
    await ws.send(b"\xff\xfe")
    await ws.send(frame("ticker", msg={"market_ticker": "A"}))
    assert (await h.next_update()).market_ticker == "A"
    assert h.feed.stats.malformed == 3
    assert h.feed.stats.connects == 1
    assert caplog.text.count("Malformed frame from Kalshi WebSocket") == 3
    await h.feed.aclose()


async def test_terminal_error_resubscribes_on_the_same_connection(
    server: FakeKalshi, make_feed: Callable[..., Harness]
) -> None:
    """Error 17 ends the subscription: the feed subscribes again without reconnecting."""
    h = make_feed(server.url)
    h.feed.set_wanted(frozenset({"A", "B"}))
    ws, _ = await server.next_command()
    await ws.send(frame("error", id=None, msg={"code": 17, "msg": "Internal error"}))
    ws2, cmd = await server.next_command()
    assert ws2 is ws
    assert cmd["cmd"] == "subscribe"
    assert cmd["params"]["market_tickers"] == ["A", "B"]
    assert (h.feed.stats.connects, h.feed.stats.errors) == (1, 1)
    await h.feed.aclose()


async def test_subscribe_failing_terminally_forever_reconnects_with_backoff(
    server: FakeKalshi, make_feed: Callable[..., Harness]
) -> None:
    """A subscribe that always gets error 10 leads to a new connection after a backoff wait."""

    def refuse(cmd: dict[str, Any]) -> str:
        return frame("error", id=cmd["id"], msg={"code": 10, "msg": "Channel error"})

    server.reply_to_subscribe = refuse
    h = make_feed(server.url)
    h.feed.set_wanted(frozenset({"A"}))
    first, _ = await server.next_connection(), await server.next_command()
    for _ in range(MAX_RESUBSCRIBES):
        await server.next_command()
    await h.sleep.next_call()
    second, cmd = await server.next_command()
    assert second is not first
    assert cmd["cmd"] == "subscribe"
    assert h.feed.stats.connects == 2
    await h.feed.aclose()


_COMMAND_ERRORS = [
    pytest.param(27, id="too-many-requests"),
    pytest.param(18, id="command-timeout"),
    pytest.param(26, id="market-limit"),
    pytest.param(16, id="market-not-found-unnamed"),
    pytest.param(6, id="already-subscribed"),
    pytest.param(99, id="unknown-code"),
]


@pytest.mark.parametrize("code", _COMMAND_ERRORS)
@pytest.mark.parametrize("command", ["subscribe", "update_subscription"])
async def test_command_errors_reconnect_with_backoff_and_resubscribe(
    server: FakeKalshi, make_feed: Callable[..., Harness], command: str, code: int
) -> None:
    """A refused subscribe/update: backoff wait, new connection, subscribed to the wanted set."""
    server.refuse[command] = [code]
    h = make_feed(server.url)
    wanted = frozenset({"A"}) if command == "subscribe" else frozenset({"A", "B"})
    h.feed.set_wanted(frozenset({"A"}))
    first = await server.next_connection()
    _, cmd = await server.next_command()
    if command == "update_subscription":
        h.feed.set_wanted(wanted)
        _, cmd = await server.next_command()
    assert cmd["cmd"] == command
    assert await h.sleep.next_call() == pytest.approx(0.25)  # rng 0.5 * base 0.5
    second = await server.next_connection()
    ws, cmd = await server.next_command()
    assert second is not first and ws is second
    assert cmd["cmd"] == "subscribe"
    assert cmd["params"]["market_tickers"] == sorted(wanted)
    await ws.send(frame("ticker", msg={"market_ticker": "A"}))
    assert (await h.next_update()).market_ticker == "A"
    assert h.feed.subscribed == server.markets == wanted
    assert (h.feed.stats.connects, h.feed.stats.reconnects, h.feed.stats.errors) == (2, 1, 1)
    assert h.sleep.delays == [pytest.approx(0.25)]


async def test_an_unanswered_command_reconnects_even_while_ticks_flow(
    server: FakeKalshi, make_feed: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    """A subscribe Kalshi never answers closes the connection after command_timeout_s,
    however many other frames arrive meanwhile; the next connection subscribes again."""
    caplog.set_level(logging.INFO, logger="graph.kalshi.feed")
    server.reply_to_subscribe = lambda cmd: None
    h = make_feed(server.url, command_timeout_s=0.3)
    h.feed.set_wanted(frozenset({"A"}))
    first = await server.next_connection()
    _, cmd = await server.next_command()
    assert cmd["cmd"] == "subscribe"
    ticking = asyncio.create_task(_tick_until_closed(first))
    assert await h.sleep.next_call() == pytest.approx(0.25)  # the normal backoff, then retry
    await ticking
    assert ticking.result() >= 3  # the deadline held while frames kept arriving
    server.reply_to_subscribe = None
    second = await server.next_connection()
    ws, cmd = await server.next_command()
    assert second is not first and ws is second and cmd["cmd"] == "subscribe"
    assert h.feed.stats.reconnects == 1
    assert "no answer to a command within 0.3 s" in caplog.text


async def _tick_until_closed(ws: ServerConnection) -> int:
    """Send ticks every 50 ms until the client closes; how many were sent."""
    sent = 0
    with contextlib.suppress(ConnectionClosed):
        while True:
            await ws.send(frame("ticker", msg={"market_ticker": "OTHER"}))
            sent += 1
            await asyncio.sleep(0.05)
    return sent


async def test_a_persistent_rate_limit_backs_off_exponentially(
    server: FakeKalshi, make_feed: Callable[..., Harness]
) -> None:
    """Three rate-limited subscribes in a row wait 0.5, 1 and 2 s, then the fourth succeeds."""
    server.refuse["subscribe"] = [27, 27, 27]
    h = make_feed(server.url, rng=Rng([1.0]), backoff_base_s=0.5)
    h.feed.set_wanted(frozenset({"A", "B"}))
    for _ in range(4):
        ws, cmd = await server.next_command()
        assert cmd["cmd"] == "subscribe"
    await ws.send(frame("ticker", msg={"market_ticker": "B"}))
    assert (await h.next_update()).market_ticker == "B"
    assert h.sleep.delays == [0.5, 1.0, 2.0]
    assert h.feed.subscribed == {"A", "B"}
    assert h.feed.stats.connects == 4


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_refusal_is_fatal_and_not_retried(
    server: FakeKalshi, make_feed: Callable[..., Harness], status: int
) -> None:
    """401/403 at the handshake: on_fatal with a clear message, no retry, no secrets."""
    server.reject = [status]
    h = make_feed(server.url)
    h.feed.set_wanted(frozenset({"A"}))
    await wait_for_state(h.feed, FeedState.FAILED)
    (fatal,) = h.fatal
    assert fatal is h.feed.fatal_error
    assert str(fatal).startswith(f"Kalshi refused the WebSocket handshake (HTTP {status})")
    assert "KALSHI_API_KEY_ID" in str(fatal)
    assert KEY_ID not in str(fatal)
    h.feed.set_wanted(frozenset({"A", "B"}))
    await h.feed.aclose()
    assert h.sleep.delays == []
    assert server.reject == []
    assert server.handshakes == []  # the one attempt was answered before verification
    assert h.feed.state is FeedState.FAILED


async def test_wrong_key_is_fatal_after_one_attempt(
    server: FakeKalshi, make_feed: Callable[..., Harness]
) -> None:
    """A signature from another key gets 401 once and the feed stops trying."""
    h = make_feed(server.url, signer=Signer(KEY_ID, generate_private_key()))
    h.feed.set_wanted(frozenset({"A"}))
    await wait_for_state(h.feed, FeedState.FAILED)
    assert [s.valid for s in server.handshakes] == [False]
    assert "HTTP 401" in str(h.fatal[0])
    await h.feed.aclose()
    assert len(server.handshakes) == 1


async def test_missing_key_against_an_auth_server_is_fatal_and_says_so(
    server: FakeKalshi, make_feed: Callable[..., Harness]
) -> None:
    """No signer: the handshake carries no headers, and the fatal error says no key is set."""
    h = make_feed(server.url, signer=None)
    h.feed.set_wanted(frozenset({"A"}))
    await wait_for_state(h.feed, FeedState.FAILED)
    assert [(s.key_id, s.timestamp_ms) for s in server.handshakes] == [(None, None)]
    assert "no API key is configured" in str(h.fatal[0])
    await h.feed.aclose()


async def test_unreachable_server_is_retried_not_fatal(
    make_feed: Callable[..., Harness],
) -> None:
    """Connection refused is transient: the feed backs off and tries again."""
    async with serve(lambda ws: ws.wait_closed(), "127.0.0.1", 0) as srv:
        url = f"ws://127.0.0.1:{_port(srv)}{WS_PATH}"
    h = make_feed(url)  # the port is closed now
    h.feed.set_wanted(frozenset({"A"}))
    await h.sleep.next_call()
    await h.sleep.next_call()
    assert h.fatal == []
    assert h.feed.stats.connects == 0
    await h.feed.aclose()


async def test_invalid_url_is_fatal(make_feed: Callable[..., Harness]) -> None:
    """A URL websockets cannot use is a configuration error, reported once."""
    h = make_feed("http://127.0.0.1:1/trade-api/ws/v2")
    h.feed.set_wanted(frozenset({"A"}))
    await wait_for_state(h.feed, FeedState.FAILED)
    assert "invalid Kalshi WebSocket URL" in str(h.fatal[0])
    await h.feed.aclose()


async def test_fatal_error_holds_for_the_cooldown_then_allows_one_attempt(
    server: FakeKalshi, make_feed: Callable[..., Harness]
) -> None:
    """No attempt within fatal_cooldown_s; after it, one attempt per non-empty set_wanted."""
    server.reject = [401, 401]
    h = make_feed(server.url, fatal_cooldown_s=60.0)
    h.feed.set_wanted(frozenset({"A"}))
    await wait_for_state(h.feed, FeedState.FAILED)
    h.clock.now += 59.0
    h.feed.set_wanted(frozenset({"A", "B"}))
    assert h.feed.state is FeedState.FAILED  # decided synchronously: no task was started
    h.clock.now += 2.0
    h.feed.set_wanted(frozenset())  # nothing wanted: no reason to try
    assert h.feed.state is FeedState.FAILED
    h.feed.set_wanted(frozenset({"A"}))
    assert (h.feed.state, h.feed.fatal_error) == (FeedState.CONNECTING, None)
    await wait_for_state(h.feed, FeedState.FAILED)  # refused again
    h.feed.set_wanted(frozenset({"A", "B"}))  # a new cool-down started at the second refusal
    assert h.feed.state is FeedState.FAILED
    await h.feed.aclose()
    assert server.requests == 2
    assert len(h.fatal) == 2
    assert h.sleep.delays == []


@pytest.mark.parametrize("key_works", [pytest.param(True, id="key-works"), False])
async def test_hub_fails_fast_during_the_cooldown_and_recovers_after_it(
    server: FakeKalshi, key: rsa.RSAPrivateKey, key_works: bool
) -> None:
    """Wired like the app: fail fast in the cool-down; after it one attempt, updates or refusal."""
    server.reject = [401]
    clock = FakeClock()
    hub: Hub
    feed = KalshiFeed(
        server.url,
        Signer(KEY_ID, key),
        on_update=lambda update: hub.publish(update),
        clock=clock,
        sleep=FakeSleep(),
        fatal_cooldown_s=60.0,
    )
    hub = Hub(feed)
    feed.on_fatal = hub.fail
    try:
        await _fail_fast_then_recover(server, feed, hub, clock, key_works)
    finally:
        await feed.aclose()
    assert server.requests == 2


async def _fail_fast_then_recover(
    server: FakeKalshi, feed: KalshiFeed, hub: Hub, clock: FakeClock, key_works: bool
) -> None:
    """The scenario of the test above, with the feed and hub already wired."""
    async with hub.subscribe(["A"]) as first:
        with pytest.raises(FeedFatalError) as caught:
            await asyncio.wait_for(anext(first), TIMEOUT_S)
    message = str(caught.value)
    assert "HTTP 401" in message
    clock.now += 30.0
    for _ in range(3):
        async with hub.subscribe(["A", "B"]) as early:
            with pytest.raises(FeedFatalError) as caught:
                await asyncio.wait_for(anext(early), TIMEOUT_S)
        assert str(caught.value) == message
    assert (server.requests, feed.state) == (1, FeedState.FAILED)

    clock.now += 31.0
    if not key_works:
        server.reject = [401]
    async with hub.subscribe(["A"]) as later:
        if key_works:
            ws, cmd = await server.next_command()
            assert cmd["params"]["market_tickers"] == ["A"]
            await ws.send(frame("ticker", msg={"market_ticker": "A"}))
            update = await asyncio.wait_for(anext(later), TIMEOUT_S)
            assert update.market_ticker == "A"
            assert (hub.failure, feed.fatal_error) == (None, None)
        else:
            with pytest.raises(FeedFatalError, match="HTTP 401"):
                await asyncio.wait_for(anext(later), TIMEOUT_S)
    assert server.requests == 2
    if not key_works:
        async with hub.subscribe(["A"]) as again:  # a fresh cool-down: fail fast again
            with pytest.raises(FeedFatalError, match="HTTP 401"):
                await asyncio.wait_for(anext(again), TIMEOUT_S)
        assert (server.requests, feed.state) == (2, FeedState.FAILED)


async def test_server_pings_are_answered(
    server: FakeKalshi, make_feed: Callable[..., Harness]
) -> None:
    """Kalshi's heartbeat pings get a pong."""
    h = make_feed(server.url)
    h.feed.set_wanted(frozenset({"A"}))
    ws, _ = await server.next_command()
    pong = await ws.ping(b"heartbeat")
    latency = await asyncio.wait_for(pong, TIMEOUT_S)
    assert latency >= 0
    await h.feed.aclose()


async def test_a_failing_on_update_does_not_drop_the_connection(
    server: FakeKalshi, key: rsa.RSAPrivateKey
) -> None:
    """An exception in on_update is logged; the next tick still arrives."""
    seen: asyncio.Queue[str] = asyncio.Queue()

    def on_update(update: TickerUpdate) -> None:
        seen.put_nowait(update.market_ticker)
        if update.market_ticker == "BOOM":
            raise RuntimeError("subscriber bug")

    feed = KalshiFeed(server.url, Signer(KEY_ID, key), on_update=on_update, sleep=FakeSleep())
    feed.set_wanted(frozenset({"BOOM", "A"}))
    ws, _ = await server.next_command()
    await ws.send(frame("ticker", msg={"market_ticker": "BOOM"}))
    await ws.send(frame("ticker", msg={"market_ticker": "A"}))
    assert [await asyncio.wait_for(seen.get(), TIMEOUT_S) for _ in range(2)] == ["BOOM", "A"]
    assert feed.stats.connects == 1
    await feed.aclose()


async def test_aclose_leaves_no_tasks_behind(key: rsa.RSAPrivateKey) -> None:
    """After aclose() and server shutdown, the set of running tasks is what it was before."""
    before = asyncio.all_tasks()
    fake = FakeKalshi(key.public_key())
    async with serve(fake.handler, "127.0.0.1", 0, process_request=fake.process_request) as srv:
        url = f"ws://127.0.0.1:{_port(srv)}{WS_PATH}"
        feed = KalshiFeed(url, Signer(KEY_ID, key), on_update=lambda u: None)
        feed.set_wanted(frozenset({"A"}))
        await fake.next_command()
        await feed.aclose()
        await feed.aclose()
        assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("kalshi-feed")]
    assert asyncio.all_tasks() == before


async def test_end_to_end_with_the_simulator_and_the_hub() -> None:
    """Feed + Hub against the simulator: union upstream, fan-out, drop, garbage, shrink to empty."""
    async with Simulator(tick_interval_s=None) as sim:
        a, b, c = (m["ticker"] for m in sim.markets_for(League.NBA, date(2025, 11, 24))[:3])
        sleep = FakeSleep()
        hub: Hub
        feed = KalshiFeed(
            sim.ws_url,
            Signer(sim.key_id, load_private_key(sim.private_key_pem)),
            on_update=lambda update: hub.publish(update),
            on_fatal=lambda exc: hub.fail(exc),
            sleep=sleep,
        )
        hub = Hub(feed)
        try:
            async with hub.subscribe([a, b]) as one:
                async with hub.subscribe([b, c]) as two:
                    await eventually(lambda: sim.ws_subscribed_tickers() == {a, b, c}, TIMEOUT_S)
                    for ticker in (a, b, c):
                        await sim.publish_tick(ticker)
                    got_one = [(await asyncio.wait_for(anext(one), TIMEOUT_S)) for _ in "ab"]
                    got_two = [(await asyncio.wait_for(anext(two), TIMEOUT_S)) for _ in "bc"]
                    assert [u.market_ticker for u in got_one] == [a, b]
                    assert [u.market_ticker for u in got_two] == [b, c]
                    assert all(u.yes_bid is None or 0 <= u.yes_bid <= 1 for u in got_one)

                    await sim.drop_ws_connections()
                    await eventually(
                        lambda: feed.stats.connects == 2 and feed.subscribed == {a, b, c}
                    )
                    assert sim.ws_subscribed_tickers() == {a, b, c}
                    assert len(sleep.delays) == 1 and 0 <= sleep.delays[0] <= 0.5

                    await sim.send_raw_ws("this is not json")
                    await sim.publish_tick(c)
                    update = await asyncio.wait_for(anext(two), TIMEOUT_S)
                    assert update.market_ticker == c
                    assert feed.stats.malformed == 1
                await eventually(lambda: sim.ws_subscribed_tickers() == {a, b}, TIMEOUT_S)
            await eventually(lambda: sim.ws_subscribed_tickers() == set(), TIMEOUT_S)
            assert hub.refcounts() == {}
            assert feed.stats.connects == 2
        finally:
            await feed.aclose()
