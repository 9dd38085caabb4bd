"""Kalshi market-data WebSocket of the simulator (``/trade-api/ws/v2``, kalshi-api.md §4).

How it works: the handshake must carry valid signed headers (when auth is
required; signed headers are always checked), otherwise it is refused with an
HTTP 401 through the WebSocket Denial Response extension. Each accepted
connection gets a bounded send queue drained by its own writer task, so a slow
client never blocks the simulator: when its queue overflows it gets Kalshi's
terminal error 25 and is closed. Commands are answered in the real shapes and
error codes; only the ``ticker`` channel exists.

Choices where Kalshi is vague or where the simulator is stricter on purpose:
- a ``subscribe`` without ``market_ticker``/``market_tickers`` (the firehose) is
  refused with 14 "Market Ticker required"; an empty ``market_tickers`` list is a
  valid subscription to nothing (markets can be added later);
- a second ``ticker`` subscription on one connection is 6 "Already subscribed";
- unknown but well-formed market tickers are accepted (they just never tick);
- ``publish_tick(ticker)`` sends only that ticker, not its sibling market.

Kalshi's limits are knobs (:class:`~graph.sim.faults.Faults`), off by default: markets per
subscription (error 26, the command refused whole), commands per second per connection
(error 27), the send queue of a slow client (error 25, then closed), and scripted error
codes answered to the next subscription commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket

from graph.sim.auth import WS_PATH
from graph.sim.faults import Faults
from graph.sim.guard import auth_problem
from graph.sim.kalshi_shapes import ticker_msg
from graph.sim.state import SimState
from graph.sim.wslimits import MARKET_LIMIT, CommandLimits

logger = logging.getLogger(__name__)

QUEUE_LIMIT = Faults.ws_queue_limit  # the default; Faults.ws_queue_limit sets it per run
MALFORMED_FRAMES = (
    '{"type": "ticker", "sid": 1, "msg": {"market_ticker": ',
    "this is not json",
    '{"type": "ticker", "sid": "one", "msg": []}',
)
_MESSAGES = {
    1: "Unable to process message",
    2: "Params required",
    3: "Channels required",
    4: "Subscription IDs required",
    5: "Unknown command",
    6: "Already subscribed",
    7: "Unknown subscription ID",
    8: "Unknown channel name",
    11: "Invalid parameter",
    12: "Exactly one subscription ID is required",
    13: "Unsupported action",
    14: "Market Ticker required",
    15: "Action required",
    16: "Market not found",
    17: "Internal error",
    18: "Command timeout",
    25: "Subscription buffer overflow",
    26: "Subscription market limit exceeded",
    27: "Too many requests",
}


class CommandError(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(_MESSAGES.get(code, "Error"))
        self.code = code


@dataclass
class Subscription:
    sid: int
    tickers: dict[str, None] = field(default_factory=dict)  # an ordered set
    seq: int = 0


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise CommandError(1)
    return value


def _tickers(params: dict[str, Any]) -> list[str] | None:
    """The market filter of a command, or ``None`` when it has none."""
    if "market_ticker" in params and "market_tickers" in params:
        raise CommandError(11)
    if "market_ticker" in params:
        raw: object = [params["market_ticker"]]
    elif "market_tickers" in params:
        raw = params["market_tickers"]
    else:
        return None
    if not isinstance(raw, list) or not all(isinstance(t, str) and t for t in raw):
        raise CommandError(11)
    return list(dict.fromkeys(raw))


class Connection:
    """One accepted client: its subscriptions and its send queue."""

    def __init__(self, hub: WsHub, websocket: WebSocket) -> None:
        self._hub = hub
        self._ws = websocket
        self._queue: asyncio.Queue[str | None] = asyncio.Queue(
            maxsize=hub.state.faults.ws_queue_limit
        )
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self._overflowed = False
        self._next_sid = 1
        self.subs: dict[int, Subscription] = {}
        self._limits = CommandLimits(hub.state.faults, hub.state.stats)

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write())

    async def _write(self) -> None:
        try:
            while (text := await self._queue.get()) is not None:
                await self._ws.send_text(text)
        except Exception:  # the client went away mid-send; the reader notices and cleans up
            return
        await self.close(1011)

    def send(self, payload: str | dict[str, Any]) -> None:
        """Queue a frame without waiting; an overflowing client gets error 25 and is closed."""
        if self._closed or self._overflowed:
            return
        text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
        try:
            self._queue.put_nowait(text)
        except asyncio.QueueFull:
            logger.warning("Simulator WS client too slow, closing queued=%d", self._queue.qsize())
            while not self._queue.empty():
                self._queue.get_nowait()
            self._overflowed = True
            self._queue.put_nowait(json.dumps(_error(0, 25)))
            self._queue.put_nowait(None)

    async def close(self, code: int | None) -> None:
        """Stop the writer and forget this connection; ``code`` closes the socket too."""
        if self._closed:
            return
        self._closed = True
        self._hub.connections.discard(self)
        writer = self._writer
        if writer is not None and writer is not asyncio.current_task():
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        if code is not None:
            with contextlib.suppress(Exception):
                await self._ws.close(code)

    def deliver(self, ticker: str, body: dict[str, Any]) -> None:
        for sub in self.subs.values():
            if ticker in sub.tickers:
                self.send({"type": "ticker", "sid": sub.sid, "msg": body})

    def handle(self, text: str) -> None:
        """Answer one client frame."""
        try:
            data = json.loads(text)
        except ValueError:
            self.send(_error(0, 1))
            return
        cmd_id = data.get("id", 0) if isinstance(data, dict) else None
        if not isinstance(cmd_id, int) or isinstance(cmd_id, bool):
            self.send(_error(0, 1))
            return
        assert isinstance(data, dict)
        try:
            self._dispatch(cmd_id, data.get("cmd"), data.get("params"))
        except CommandError as exc:
            self.send(_error(cmd_id, exc.code))

    def _dispatch(self, cmd_id: int, cmd: object, params: object) -> None:
        refused = self._limits.refusal(cmd, params)
        if refused is not None:
            raise CommandError(refused)
        if cmd == "list_subscriptions":
            listing = [{"channel": "ticker", "sid": sid} for sid in self.subs]
            self.send({"id": cmd_id, "type": "ok", "msg": listing})
            return
        handlers = {
            "subscribe": self._subscribe,
            "update_subscription": self._update,
            "unsubscribe": self._unsubscribe,
        }
        handler = handlers.get(cmd) if isinstance(cmd, str) else None
        if handler is None:
            raise CommandError(5)
        if params is None:
            raise CommandError(2)
        if not isinstance(params, dict):
            raise CommandError(1)
        handler(cmd_id, params)

    def _subscribe(self, cmd_id: int, params: dict[str, Any]) -> None:
        channels = params.get("channels")
        if not channels:
            raise CommandError(3)
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            raise CommandError(1)
        if any(channel != "ticker" for channel in channels):
            raise CommandError(8)
        tickers = _tickers(params)
        if tickers is None:
            raise CommandError(14)
        if self.subs:
            raise CommandError(6)
        if self._limits.over_market_limit(len(tickers)):
            raise CommandError(MARKET_LIMIT)
        sub = Subscription(sid=self._next_sid, tickers=dict.fromkeys(tickers))
        self._next_sid += 1
        self.subs[sub.sid] = sub
        self.send(
            {"id": cmd_id, "type": "subscribed", "msg": {"channel": "ticker", "sid": sub.sid}}
        )
        if params.get("send_initial_snapshot") is True:
            self._snapshot(sub, tickers)

    def _update(self, cmd_id: int, params: dict[str, Any]) -> None:
        if "sid" in params:
            sids = [params["sid"]]
        else:
            raw = params.get("sids")
            if not isinstance(raw, list) or len(raw) != 1:
                raise CommandError(12)
            sids = raw
        sub = self.subs.get(_int(sids[0]))
        if sub is None:
            raise CommandError(7)
        action = params.get("action")
        if not action:
            raise CommandError(15)
        if action not in ("add_markets", "delete_markets"):
            raise CommandError(13)
        tickers = _tickers(params)
        if tickers is None:
            raise CommandError(14)
        if action == "add_markets":
            added = [t for t in tickers if t not in sub.tickers]
            if self._limits.over_market_limit(len(sub.tickers) + len(added)):
                raise CommandError(MARKET_LIMIT)
            sub.tickers.update(dict.fromkeys(added))
        else:
            added = []
            for ticker in tickers:
                sub.tickers.pop(ticker, None)
        sub.seq += 1
        self.send(
            {
                "id": cmd_id,
                "sid": sub.sid,
                "seq": sub.seq,
                "type": "ok",
                "msg": {"market_tickers": list(sub.tickers)},
            }
        )
        if added and params.get("send_initial_snapshot") is True:
            self._snapshot(sub, added)

    def _unsubscribe(self, cmd_id: int, params: dict[str, Any]) -> None:
        sids = params.get("sids")
        if not sids:
            raise CommandError(4)
        if not isinstance(sids, list):
            raise CommandError(1)
        for raw in sids:
            sub = self.subs.pop(_int(raw), None)
            if sub is None:
                self.send(_error(cmd_id, 7))
                continue
            sub.seq += 1
            self.send({"id": cmd_id, "sid": sub.sid, "seq": sub.seq, "type": "unsubscribed"})

    def _snapshot(self, sub: Subscription, tickers: list[str]) -> None:
        state = self._hub.state
        now_ms = state.now_ms()
        for ticker in tickers:
            hit = state.find_market(ticker)
            if hit is not None:
                body = ticker_msg(*hit, state.prices, now_ms)
                self.send({"type": "ticker", "sid": sub.sid, "msg": body})


def _error(cmd_id: int, code: int) -> dict[str, Any]:
    return {
        "id": cmd_id,
        "type": "error",
        "msg": {"code": code, "msg": _MESSAGES.get(code, "Error")},
    }


class WsHub:
    """Every live connection, plus the operations the simulator exposes on them."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self.connections: set[Connection] = set()

    def routes(self) -> list[BaseRoute]:
        return [WebSocketRoute(WS_PATH, self._endpoint)]

    async def _endpoint(self, websocket: WebSocket) -> None:
        state = self.state
        problem = auth_problem(state, websocket, "GET", required=True)
        if problem is not None:
            state.stats.requests["ws_auth_failed"] += 1
            logger.info("Simulator refused WebSocket handshake reason=%s", problem)
            body = {"error": {"code": "authentication_error", "message": problem}}
            await websocket.send_denial_response(JSONResponse(body, status_code=401))
            return
        await websocket.accept()
        state.stats.requests["ws_connect"] += 1
        conn = Connection(self, websocket)
        self.connections.add(conn)
        conn.start()
        disconnected = False
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    disconnected = True
                    break
                text = message.get("text")
                if text is None:
                    text = (message.get("bytes") or b"").decode("utf-8", "replace")
                conn.handle(text)
        finally:
            await conn.close(None if disconnected else 1011)

    def subscribed_tickers(self) -> set[str]:
        return {t for conn in self.connections for sub in conn.subs.values() for t in sub.tickers}

    async def publish_tick(self, ticker: str | None = None) -> None:
        """Step the walk of the affected events once and send ``ticker`` messages."""
        state = self.state
        now_ms = state.now_ms()
        tickers = [ticker] if ticker is not None else sorted(self.subscribed_tickers())
        stepped: set[str] = set()
        for market in tickers:
            hit = state.find_market(market)
            if hit is None:
                continue
            game = hit[0].game
            if game.event_ticker not in stepped:
                state.prices.step(game, now_ms)
                stepped.add(game.event_ticker)
            body = ticker_msg(*hit, state.prices, now_ms)
            for conn in list(self.connections):
                conn.deliver(market, body)

    async def drop_all(self, code: int = 1011) -> None:
        """Close every connection at once (clients see an abnormal close)."""
        await asyncio.gather(*(conn.close(code) for conn in list(self.connections)))

    async def send_raw(self, text: str) -> None:
        for conn in list(self.connections):
            conn.send(text)

    async def run_ticks(self, interval_s: float) -> None:
        """The background tick: prices, plus the per-tick WebSocket faults."""
        state = self.state
        while True:
            await asyncio.sleep(interval_s)
            await self.publish_tick()
            faults = state.faults
            if faults.ws_malformed_rate > 0 and state.rng.random() < faults.ws_malformed_rate:
                await self.send_raw(state.rng.choice(MALFORMED_FRAMES))
            if faults.ws_drop_rate > 0 and state.rng.random() < faults.ws_drop_rate:
                logger.info(
                    "Simulator dropping WebSocket connections count=%d", len(self.connections)
                )
                await self.drop_all()
