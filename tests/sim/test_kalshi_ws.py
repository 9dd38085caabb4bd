"""The simulator's Kalshi WebSocket over a real loopback server, with a websockets client."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from graph.kalshi.signing import WS_PATH, Signer, load_private_key
from graph.models import League
from graph.sim import Simulator
from graph.sim.kalshi_ws import MALFORMED_FRAMES, QUEUE_LIMIT, Connection, WsHub
from graph.sim.slate import Slates

pytestmark = pytest.mark.e2e

# 18:00 ET on Monday 2025-11-24, before any NBA tip-off.
NOW = datetime(2025, 11, 24, 23, 0, tzinfo=UTC).timestamp()
NOW_MS = int(NOW * 1000)
MONDAY = date(2025, 11, 24)
TICKER_FIELDS = {
    "market_ticker",
    "market_id",
    "price_dollars",
    "yes_bid_dollars",
    "yes_ask_dollars",
    "yes_bid_size_fp",
    "yes_ask_size_fp",
    "last_trade_size_fp",
    "volume_fp",
    "open_interest_fp",
    "dollar_volume",
    "dollar_open_interest",
    "ts",
    "ts_ms",
    "time",
}
TIMEOUT = 5


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(seed=5, tick_interval_s=None, clock=lambda: NOW) as simulator:
        yield simulator


def _headers(sim: Simulator, ts_ms: int = NOW_MS) -> dict[str, str]:
    return Signer(sim.key_id, load_private_key(sim.private_key_pem)).headers(ts_ms, "GET", WS_PATH)


def _connect(sim: Simulator, **kwargs: Any) -> Any:
    return websockets.connect(sim.ws_url, additional_headers=_headers(sim), **kwargs)


def _tickers(sim: Simulator, count: int) -> list[str]:
    return [m["ticker"] for m in sim.markets_for(League.NBA, MONDAY)[:count]]


async def _send(ws: ClientConnection, cmd_id: int, cmd: str, **params: Any) -> None:
    frame: dict[str, Any] = {"id": cmd_id, "cmd": cmd}
    if params:
        frame["params"] = params
    await ws.send(json.dumps(frame))


async def _recv(ws: ClientConnection) -> Any:
    return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))


async def _subscribe(ws: ClientConnection, tickers: list[str], cmd_id: int = 1) -> int:
    await _send(ws, cmd_id, "subscribe", channels=["ticker"], market_tickers=tickers)
    reply = await _recv(ws)
    assert reply["type"] == "subscribed", reply
    return int(reply["msg"]["sid"])


async def test_unsigned_handshake_is_refused_with_http_401(sim: Simulator) -> None:
    """Without headers the handshake gets a Kalshi-shaped HTTP 401, counted in stats."""
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(sim.ws_url):
            pass
    assert refused.value.response.status_code == 401
    body = json.loads(bytes(refused.value.response.body or b""))
    assert body["error"]["code"] == "authentication_error"
    assert sim.stats.requests["ws_auth_failed"] == 1
    assert sim.stats.requests["ws_connect"] == 0
    assert sim.ws_connection_count() == 0


async def test_refused_handshake_keeps_uvicorns_spurious_error_out_of_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 401 denial reaches the client but not uvicorn's 'without completing handshake' error."""
    caplog.set_level(logging.INFO, logger="uvicorn.error")
    uvicorn_log = logging.getLogger("uvicorn.error")
    sim = Simulator(seed=5, tick_interval_s=None, clock=lambda: NOW)
    async with sim:
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(sim.ws_url):
                pass
        assert refused.value.response.status_code == 401
        uvicorn_log.error("ASGI callable returned without sending handshake.")
        # uvicorn's shutdown waits for the handler task that would log the line.
        await sim.stop()
    messages = [r.getMessage() for r in caplog.records if r.name == "uvicorn.error"]
    assert "ASGI callable returned without completing handshake." not in messages
    assert "ASGI callable returned without sending handshake." in messages


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        pytest.param(lambda h: {**h, "KALSHI-ACCESS-KEY": "other"}, "unknown API key id", id="key"),
        pytest.param(
            lambda h: {**h, "KALSHI-ACCESS-TIMESTAMP": str(NOW_MS - 61_000)},
            "timestamp outside the allowed window of 60000 ms",
            id="stale",
        ),
    ],
)
async def test_bad_signed_handshakes_are_refused(sim: Simulator, mutate: Any, reason: str) -> None:
    """A wrong key id or a stale timestamp is a 401 that says why."""
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(sim.ws_url, additional_headers=mutate(_headers(sim))):
            pass
    assert refused.value.response.status_code == 401
    assert json.loads(bytes(refused.value.response.body or b""))["error"]["message"] == reason


async def test_handshake_signed_over_the_rest_path_is_refused(sim: Simulator) -> None:
    """The WS handshake must sign GET /trade-api/ws/v2, not a REST path."""
    signer = Signer(sim.key_id, load_private_key(sim.private_key_pem))
    headers = signer.headers(NOW_MS, "GET", "/trade-api/v2")
    with pytest.raises(websockets.InvalidStatus):
        async with websockets.connect(sim.ws_url, additional_headers=headers):
            pass


async def test_handshake_query_string_is_not_signed(sim: Simulator) -> None:
    """A query on the WS URL does not change what is signed: GET + /trade-api/ws/v2."""
    url = f"{sim.ws_url}?client=test"
    async with websockets.connect(url, additional_headers=_headers(sim)) as ws:
        await _send(ws, 1, "list_subscriptions")
        assert (await _recv(ws))["type"] == "ok"


async def test_unsigned_handshake_is_accepted_when_auth_is_not_required() -> None:
    """require_auth=False accepts an unsigned connection."""
    async with Simulator(require_auth=False, tick_interval_s=None) as sim:
        async with websockets.connect(sim.ws_url) as ws:
            await _send(ws, 1, "list_subscriptions")
            assert await _recv(ws) == {"id": 1, "type": "ok", "msg": []}
        assert sim.stats.requests["ws_connect"] == 1


async def test_subscribe_with_initial_snapshot(sim: Simulator) -> None:
    """subscribed carries channel+sid; send_initial_snapshot sends one ticker per market."""
    tickers = _tickers(sim, 2)
    async with _connect(sim) as ws:
        await _send(
            ws,
            1,
            "subscribe",
            channels=["ticker"],
            market_tickers=tickers,
            send_initial_snapshot=True,
        )
        assert await _recv(ws) == {
            "id": 1,
            "type": "subscribed",
            "msg": {"channel": "ticker", "sid": 1},
        }
        snapshot = [await _recv(ws), await _recv(ws)]
    assert [m["msg"]["market_ticker"] for m in snapshot] == tickers
    for message in snapshot:
        assert message["type"] == "ticker" and message["sid"] == 1
        assert message["msg"].keys() == TICKER_FIELDS
    assert sim.stats.requests["ws_connect"] == 1


async def test_ticker_messages_after_publish_tick_have_the_current_shape(sim: Simulator) -> None:
    """publish_tick sends §4.5 ticker messages: 3-decimal dollars, 2-decimal counts, ts/ts_ms."""
    ticker = _tickers(sim, 1)[0]
    async with _connect(sim) as ws:
        sid = await _subscribe(ws, [ticker])
        await sim.publish_tick()
        message = await _recv(ws)
    assert message["type"] == "ticker" and message["sid"] == sid and "seq" not in message
    msg = message["msg"]
    assert msg.keys() == TICKER_FIELDS
    assert msg["market_ticker"] == ticker
    for name in ("price_dollars", "yes_bid_dollars", "yes_ask_dollars"):
        assert re.fullmatch(r"[01]\.\d{3}", msg[name])
    for name in ("yes_bid_size_fp", "yes_ask_size_fp", "volume_fp", "open_interest_fp"):
        assert re.fullmatch(r"\d+\.\d{2}", msg[name])
    assert float(msg["yes_bid_dollars"]) < float(msg["yes_ask_dollars"])
    assert msg["ts_ms"] == NOW_MS and msg["ts"] == NOW_MS // 1000
    assert msg["time"] == "2025-11-24T23:00:00Z"
    assert isinstance(msg["dollar_volume"], int)
    assert re.fullmatch(r"[0-9a-f-]{36}", msg["market_id"])


async def test_publish_tick_for_one_ticker_sends_only_that_ticker(sim: Simulator) -> None:
    """publish_tick(ticker) updates one market; the next frame is about it alone."""
    first, second = _tickers(sim, 2)
    async with _connect(sim) as ws:
        await _subscribe(ws, [first, second])
        await sim.publish_tick(second)
        await sim.send_raw_ws("end")
        assert (await _recv(ws))["msg"]["market_ticker"] == second
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "end"


async def test_update_subscription_add_and_delete_returns_the_full_list(sim: Simulator) -> None:
    """ok replies carry the whole ticker list and an increasing seq; sid or sids both work."""
    a, b, c = _tickers(sim, 3)
    async with _connect(sim) as ws:
        sid = await _subscribe(ws, [a])
        await _send(
            ws, 2, "update_subscription", sids=[sid], market_tickers=[b, c], action="add_markets"
        )
        assert await _recv(ws) == {
            "id": 2,
            "sid": sid,
            "seq": 1,
            "type": "ok",
            "msg": {"market_tickers": [a, b, c]},
        }
        assert sim.ws_subscribed_tickers() == {a, b, c}
        await _send(ws, 3, "update_subscription", sid=sid, market_ticker=a, action="delete_markets")
        reply = await _recv(ws)
        assert (reply["seq"], reply["msg"]) == (2, {"market_tickers": [b, c]})
        assert sim.ws_subscribed_tickers() == {b, c}


async def test_update_subscription_can_send_a_snapshot_of_added_markets(sim: Simulator) -> None:
    """send_initial_snapshot on add_markets sends a ticker for each newly added market."""
    a, b = _tickers(sim, 2)
    async with _connect(sim) as ws:
        sid = await _subscribe(ws, [])
        await _send(
            ws,
            2,
            "update_subscription",
            sids=[sid],
            market_tickers=[a, b],
            action="add_markets",
            send_initial_snapshot=True,
        )
        assert (await _recv(ws))["type"] == "ok"
        assert [(await _recv(ws))["msg"]["market_ticker"] for _ in range(2)] == [a, b]


async def test_list_subscriptions_and_unsubscribe(sim: Simulator) -> None:
    """list_subscriptions shows channel+sid; unsubscribe answers one unsubscribed per sid."""
    async with _connect(sim) as ws:
        sid = await _subscribe(ws, _tickers(sim, 1))
        await _send(ws, 2, "list_subscriptions")
        assert await _recv(ws) == {
            "id": 2,
            "type": "ok",
            "msg": [{"channel": "ticker", "sid": sid}],
        }
        await _send(ws, 3, "unsubscribe", sids=[sid, 99])
        replies = [await _recv(ws), await _recv(ws)]
        assert replies == [
            {"id": 3, "sid": sid, "seq": 1, "type": "unsubscribed"},
            {"id": 3, "type": "error", "msg": {"code": 7, "msg": "Unknown subscription ID"}},
        ]
        assert sim.ws_subscribed_tickers() == set()
        sid = await _subscribe(ws, _tickers(sim, 1), cmd_id=4)
        assert sid == 2


def _cmd(cmd: str, params: Any = None, cmd_id: int = 9) -> str:
    frame: dict[str, Any] = {"id": cmd_id, "cmd": cmd}
    if params is not None:
        frame["params"] = params
    return json.dumps(frame)


SUB = {"channels": ["ticker"], "market_tickers": ["X-1"]}


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        pytest.param("{not json", 1, id="bad-json"),
        pytest.param("[1, 2]", 1, id="not-an-object"),
        pytest.param('{"id": "one", "cmd": "list_subscriptions"}', 1, id="id-not-int"),
        pytest.param(_cmd("subscribe"), 2, id="params-required"),
        pytest.param(_cmd("subscribe", []), 1, id="params-not-object"),
        pytest.param(_cmd("subscribe", {"market_tickers": ["X-1"]}), 3, id="channels-required"),
        pytest.param(_cmd("subscribe", {"channels": "ticker"}), 1, id="channels-not-list"),
        pytest.param(_cmd("unsubscribe", {}), 4, id="sids-required"),
        pytest.param(_cmd("unsubscribe", {"sids": 1}), 1, id="sids-not-list"),
        pytest.param(_cmd("resubscribe", {}), 5, id="unknown-command"),
        pytest.param(_cmd("subscribe", {**SUB, "channels": ["orderbook_delta"]}), 8, id="channel"),
        pytest.param(
            _cmd("subscribe", {**SUB, "channels": ["ticker_v2"]}), 8, id="removed-channel"
        ),
        pytest.param(_cmd("subscribe", {**SUB, "market_ticker": "X-2"}), 11, id="both-filters"),
        pytest.param(_cmd("subscribe", {**SUB, "market_tickers": [""]}), 11, id="empty-ticker"),
        pytest.param(_cmd("subscribe", {**SUB, "market_tickers": "X-1"}), 11, id="tickers-string"),
        pytest.param(_cmd("subscribe", {"channels": ["ticker"]}), 14, id="firehose-refused"),
        pytest.param(_cmd("update_subscription", {"sids": [1, 2]}), 12, id="two-sids"),
        pytest.param(_cmd("update_subscription", {"action": "add_markets"}), 12, id="no-sid"),
        pytest.param(
            _cmd("update_subscription", {"sid": 42, "action": "add_markets"}), 7, id="sid"
        ),
        pytest.param(_cmd("update_subscription", {"sid": "1"}), 1, id="sid-not-int"),
    ],
)
async def test_command_errors_use_kalshi_codes(sim: Simulator, frame: str, code: int) -> None:
    """Each malformed command gets its documented error code; the connection stays open."""
    async with _connect(sim) as ws:
        await ws.send(frame)
        reply = await _recv(ws)
        assert reply["type"] == "error" and reply["msg"]["code"] == code, reply
        assert isinstance(reply["msg"]["msg"], str) and reply["msg"]["msg"]
        await _send(ws, 10, "list_subscriptions")
        assert (await _recv(ws))["id"] == 10


@pytest.mark.parametrize(
    ("params", "code"),
    [
        pytest.param({"action": "add_markets"}, 14, id="market-ticker-required"),
        pytest.param({"market_tickers": ["X-2"]}, 15, id="action-required"),
        pytest.param({"market_tickers": ["X-2"], "action": "get_snapshot"}, 13, id="action"),
    ],
)
async def test_update_subscription_errors(
    sim: Simulator, params: dict[str, Any], code: int
) -> None:
    """update_subscription validates its action and market list against a live sid."""
    async with _connect(sim) as ws:
        sid = await _subscribe(ws, ["X-1"])
        await ws.send(_cmd("update_subscription", {"sids": [sid], **params}))
        reply = await _recv(ws)
        assert reply["msg"]["code"] == code and reply["id"] == 9


async def test_second_ticker_subscription_is_already_subscribed(sim: Simulator) -> None:
    """One ticker subscription per connection: a second subscribe is error 6."""
    async with _connect(sim) as ws:
        await _subscribe(ws, ["X-1"])
        await ws.send(_cmd("subscribe", SUB))
        assert (await _recv(ws))["msg"] == {"code": 6, "msg": "Already subscribed"}


async def test_subscribed_tickers_are_the_union_over_connections(sim: Simulator) -> None:
    """ws_subscribed_tickers() is the union of every connection's tickers; leaving shrinks it."""
    a, b, c = _tickers(sim, 3)
    async with _connect(sim) as first:
        await _subscribe(first, [a, b])
        async with _connect(sim) as second:
            await _subscribe(second, [b, c])
            assert sim.ws_subscribed_tickers() == {a, b, c}
            assert sim.ws_connection_count() == 2
            await sim.publish_tick()
            got_first = {(await _recv(first))["msg"]["market_ticker"] for _ in range(2)}
            got_second = {(await _recv(second))["msg"]["market_ticker"] for _ in range(2)}
            assert (got_first, got_second) == ({a, b}, {b, c})
        await _eventually(lambda: sim.ws_connection_count() == 1)
        assert sim.ws_subscribed_tickers() == {a, b}


async def test_drop_ws_connections_closes_every_client(sim: Simulator) -> None:
    """drop_ws_connections closes clients abnormally and forgets their subscriptions."""
    async with _connect(sim) as first, _connect(sim) as second:
        await _subscribe(first, ["X-1"])
        await _subscribe(second, ["X-2"])
        await sim.drop_ws_connections()
        assert sim.ws_connection_count() == 0
        assert sim.ws_subscribed_tickers() == set()
        for ws in (first, second):
            with pytest.raises(websockets.ConnectionClosedError) as closed:
                await asyncio.wait_for(ws.recv(), TIMEOUT)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011


async def test_send_raw_ws_delivers_text_to_every_connection(sim: Simulator) -> None:
    """Arbitrary (malformed) text reaches every client as one text frame."""
    async with _connect(sim) as first, _connect(sim) as second:
        await sim.send_raw_ws('{"type": "ticker", "msg": ')
        for ws in (first, second):
            assert await asyncio.wait_for(ws.recv(), TIMEOUT) == '{"type": "ticker", "msg": '


async def test_background_tick_sends_malformed_frames_on_demand() -> None:
    """ws_malformed_rate=1 makes every background tick send one malformed frame."""
    ticking = Simulator(seed=5, tick_interval_s=0.01)
    ticking.faults.ws_malformed_rate = 1.0
    async with ticking, _connect_now(ticking) as ws:
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) in MALFORMED_FRAMES


async def test_background_tick_drops_connections_on_demand() -> None:
    """ws_drop_rate=1 makes the next background tick close every connection abnormally."""
    ticking = Simulator(seed=5, tick_interval_s=0.01)
    ticking.faults.ws_drop_rate = 1.0
    async with ticking, _connect_now(ticking) as ws:
        with pytest.raises(websockets.ConnectionClosedError):
            await asyncio.wait_for(ws.recv(), TIMEOUT)
    assert ticking.stats.requests["ws_connect"] == 1


async def test_server_sends_protocol_pings() -> None:
    """uvicorn pings every ping_interval_s; the websockets client logs each PING it gets."""
    seen = asyncio.Event()

    class PingSpotter(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "< PING" in record.getMessage():
                seen.set()

    client_logger = logging.getLogger("websockets.client")
    spotter = PingSpotter(logging.DEBUG)
    level = client_logger.level
    client_logger.addHandler(spotter)
    client_logger.setLevel(logging.DEBUG)
    try:
        async with Simulator(tick_interval_s=None, ping_interval_s=0.05) as sim:
            async with _connect_now(sim):
                await asyncio.wait_for(seen.wait(), TIMEOUT)
    finally:
        client_logger.removeHandler(spotter)
        client_logger.setLevel(level)


def _connect_now(sim: Simulator) -> Any:
    signer = Signer(sim.key_id, load_private_key(sim.private_key_pem))
    headers = signer.headers(int(time.time() * 1000), "GET", WS_PATH)
    return websockets.connect(sim.ws_url, additional_headers=headers, ping_interval=None)


async def _eventually(condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Wait until ``condition()`` holds (the server cleans up in its own task)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


class _FakeSocket:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed_with: int | None = None

    async def send_text(self, text: str) -> None:
        self.sent.append(text)

    async def close(self, code: int = 1000) -> None:
        self.closed_with = code


async def test_a_slow_client_overflows_into_error_25_and_is_closed() -> None:
    """A client whose queue fills gets the terminal error 25 and a close, never a blocked sender."""
    hub = WsHub(Simulator()._state)
    socket = _FakeSocket()
    conn = Connection(hub, socket)  # type: ignore[arg-type]
    hub.connections.add(conn)
    for i in range(QUEUE_LIMIT + 5):
        conn.send({"n": i})
    conn.start()
    await _eventually(lambda: socket.closed_with is not None)
    assert [json.loads(text)["msg"]["code"] for text in socket.sent] == [25]
    assert socket.closed_with == 1011
    assert conn not in hub.connections
    conn.send({"late": True})
    assert len(socket.sent) == 1


async def test_the_market_limit_refuses_a_subscribe_or_add_past_it_with_error_26(
    sim: Simulator,
) -> None:
    """With ws_market_limit set, a subscribe or add_markets that would exceed it is refused
    whole (error 26) and the subscription keeps what it had; stats record every command."""
    sim.faults.ws_market_limit = 2
    async with _connect(sim) as ws:
        await ws.send(_cmd("subscribe", {"channels": ["ticker"], "market_tickers": list("ABC")}))
        assert (await _recv(ws))["msg"] == {"code": 26, "msg": "Subscription market limit exceeded"}
        sid = await _subscribe(ws, ["A", "B"], cmd_id=2)
        await _send(
            ws, 3, "update_subscription", sid=sid, market_tickers=["A", "C"], action="add_markets"
        )
        assert (await _recv(ws))["msg"]["code"] == 26
        assert sim.ws_subscribed_tickers() == {"A", "B"}
        await _send(
            ws, 4, "update_subscription", sid=sid, market_tickers=["B"], action="add_markets"
        )
        assert (await _recv(ws))["msg"]["market_tickers"] == ["A", "B"]  # re-adding is free
    # Every command is recorded with the number of markets it named.
    assert sim.stats.ws_commands == [
        ("subscribe", 3),
        ("subscribe", 2),
        ("update_subscription", 2),
        ("update_subscription", 1),
    ]


async def test_commands_past_the_rate_get_error_27_and_the_connection_stays(
    sim: Simulator,
) -> None:
    """With ws_commands_per_s set, a burst past one second's worth of commands is refused
    with error 27 ("Too many requests"); the connection stays usable."""
    sim.faults.ws_commands_per_s = 3
    async with _connect(sim) as ws:
        for cmd_id in range(1, 11):
            await _send(ws, cmd_id, "list_subscriptions")
        replies = [await _recv(ws) for _ in range(10)]
        refused = [r["id"] for r in replies if r["type"] == "error"]
        assert 1 <= len(refused) <= 7 and replies[0]["type"] == "ok"
        assert {r["msg"]["code"] for r in replies if r["type"] == "error"} == {27}
        sim.faults.ws_commands_per_s = None
        await _send(ws, 11, "list_subscriptions")
        assert (await _recv(ws))["type"] == "ok"


async def test_scripted_error_codes_answer_the_next_subscription_commands(sim: Simulator) -> None:
    """ws_scripted_errors answers subscription commands with the given codes, in order,
    then behaves normally; other commands are not consumed."""
    sim.faults.ws_scripted_errors.extend([26, 99])
    async with _connect(sim) as ws:
        await _send(ws, 1, "list_subscriptions")
        assert (await _recv(ws))["type"] == "ok"
        for cmd_id, code, msg in ((2, 26, "Subscription market limit exceeded"), (3, 99, "Error")):
            await ws.send(_cmd("subscribe", SUB, cmd_id))
            assert await _recv(ws) == {
                "id": cmd_id,
                "type": "error",
                "msg": {"code": code, "msg": msg},
            }
        assert await _subscribe(ws, ["X-1"], cmd_id=4) == 1


async def test_the_queue_limit_knob_makes_a_burst_overflow_into_error_25(sim: Simulator) -> None:
    """ws_queue_limit (read at connect) is how many frames may wait: one tick for more
    markets than that overflows the queue, the client gets error 25 and is closed."""
    sim.faults.ws_queue_limit = 3
    tickers = _tickers(sim, 8)
    async with _connect(sim) as ws:
        await _subscribe(ws, tickers)
        await sim.publish_tick()
        reply = await _recv(ws)
        assert reply["msg"] == {"code": 25, "msg": "Subscription buffer overflow"}
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), TIMEOUT)
    await _eventually(lambda: sim.ws_connection_count() == 0)


async def test_never_traded_markets_tick_without_a_price(sim: Simulator) -> None:
    """A never-traded market's ticker says so (price 0, no volume, empty book) and stays put."""
    slates = Slates(5)
    game = next(
        g
        for offset in range(60)
        for g in slates.games(League.NBA, MONDAY + timedelta(days=offset))
        if g.never_traded == "empty"
    )
    async with _connect(sim) as ws:
        await _send(
            ws,
            1,
            "subscribe",
            channels=["ticker"],
            market_tickers=[game.home_ticker],
            send_initial_snapshot=True,
        )
        assert (await _recv(ws))["type"] == "subscribed"
        first = (await _recv(ws))["msg"]
        await sim.publish_tick()
        second = (await _recv(ws))["msg"]
    for msg in (first, second):
        assert (msg["price_dollars"], msg["yes_bid_dollars"], msg["yes_ask_dollars"]) == (
            "0.000",
            "0.000",
            "1.000",
        )
        assert msg["volume_fp"] == msg["open_interest_fp"] == "0.00"


async def test_renamed_codes_tick_under_their_new_ticker(sim: Simulator) -> None:
    """After a rename the WebSocket knows the market only by its new ticker."""
    game = Slates(5).games(League.NBA, MONDAY)[0]
    sim.faults.code_renames = {League.NBA: {game.home_code: "ZZZ"}}
    renamed = f"{game.event_ticker[: -len(game.home_code)]}ZZZ-ZZZ"
    assert game.home_ticker != renamed
    async with _connect(sim) as ws:
        await _subscribe(ws, [renamed, game.home_ticker])
        await sim.publish_tick()
        await sim.send_raw_ws("end")
        assert (await _recv(ws))["msg"]["market_ticker"] == renamed
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "end"
