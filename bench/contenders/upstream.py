"""The Kalshi side of the two peer servers: one signed WebSocket, every tick handed on.

Both peers get the same tick source as ours (the benchmark's simulator) and do the
least a relay of Kalshi's ``ticker`` channel must: sign the handshake, subscribe once
to the markets of the run (``BENCH_TICKERS``) with an initial snapshot, parse each
``ticker`` message and hand it on. No reconnect, no reference counting: a peer lives for
one measurement and is measured only while ticks flow.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from websockets.asyncio.client import connect

from graph.kalshi.signing import WS_PATH, Signer, load_private_key


@dataclass
class Tick:
    """What one ``ticker`` message says, in the schema's names and units."""

    market_ticker: str
    price: float | None
    yes_bid: float | None
    yes_ask: float | None
    volume: float | None
    open_interest: float | None
    ts: datetime

    def selection(self) -> dict[str, Any]:
        """The benchmark's selection set (``marketTicker price yesBid yesAsk ts``) as JSON."""
        return {
            "marketTicker": self.market_ticker,
            "price": self.price,
            "yesBid": self.yes_bid,
            "yesAsk": self.yes_ask,
            "ts": self.ts.isoformat(),
        }


def _number(body: dict[str, Any], key: str) -> float | None:
    raw = body.get(key)
    return None if raw is None else float(raw)


T = TypeVar("T", bound=Tick)


def parse_tick(body: dict[str, Any], kind: type[T]) -> T:
    return kind(
        market_ticker=body["market_ticker"],
        price=_number(body, "price_dollars"),
        yes_bid=_number(body, "yes_bid_dollars"),
        yes_ask=_number(body, "yes_ask_dollars"),
        volume=_number(body, "volume_fp"),
        open_interest=_number(body, "open_interest_fp"),
        ts=datetime.fromtimestamp(body["ts_ms"] / 1000, tz=UTC),
    )


class Upstream:
    """The simulator named by the environment, read until the connection ends.

    It subscribes with Kalshi's initial snapshot, keeps the latest tick per market (what a
    new subscriber is sent first, as ours does) and sets :attr:`ready` once every market
    has one.
    """

    def __init__(self, on_tick: Callable[[T], None], kind: type[T]) -> None:
        self._on_tick: Callable[[Any], None] = on_tick
        self._kind: type[Tick] = kind
        self.tickers: list[str] = []
        self.latest: dict[str, Tick] = {}
        self.ready = asyncio.Event()

    async def run(self) -> None:
        self.tickers = os.environ["BENCH_TICKERS"].split(",")
        signer = Signer(
            os.environ["KALSHI_API_KEY_ID"],
            load_private_key(os.environ["KALSHI_PRIVATE_KEY"].encode()),
        )
        headers = signer.headers(int(time.time() * 1000), "GET", WS_PATH)
        async with connect(
            os.environ["KALSHI_WS_URL"], additional_headers=headers, max_queue=None
        ) as ws:
            params = {
                "channels": ["ticker"],
                "market_tickers": self.tickers,
                "send_initial_snapshot": True,
            }
            await ws.send(json.dumps({"id": 1, "cmd": "subscribe", "params": params}))
            async for raw in ws:
                message = json.loads(raw)
                if message.get("type") == "ticker":
                    tick = parse_tick(message["msg"], self._kind)
                    self.latest[tick.market_ticker] = tick
                    if len(self.latest) == len(self.tickers):
                        self.ready.set()
                    self._on_tick(tick)

    async def start(self) -> asyncio.Task[None]:
        """Run in the background; returns once every market has its first tick."""
        task = asyncio.create_task(self.run())
        ready = asyncio.create_task(self.ready.wait())
        await asyncio.wait([task, ready], return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            ready.cancel()
            task.result()
            raise RuntimeError("the upstream ended before its snapshot")
        return task
