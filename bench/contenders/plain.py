"""``python -m bench.contenders.plain``: the subscription server Strawberry's docs lead to.

One ``tickerUpdates`` async generator per subscriber, reading its own ``asyncio.Queue``
that the upstream reader fills with every tick of the subscriber's markets; Strawberry's
ASGI view with its defaults on uvicorn. Each event is executed, serialised and sent once
per subscriber: the framework's own cost, for comparison with ours.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry
from strawberry.asgi import GraphQL

from bench.contenders.process import serve_uvicorn
from bench.contenders.upstream import Tick, Upstream

_queues: dict[str, set[asyncio.Queue[TickerUpdate]]] = defaultdict(set)


@strawberry.type
class TickerUpdate(Tick):
    """Kalshi's tick as the schema's type: the upstream's own fields, ``ts`` named again
    because Strawberry resolves postponed annotations in this module."""

    ts: datetime


@strawberry.type
class Query:
    @strawberry.field
    def contender(self) -> str:
        return "plain"


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def ticker_updates(self, market_tickers: list[str]) -> AsyncGenerator[TickerUpdate, None]:
        queue: asyncio.Queue[TickerUpdate] = asyncio.Queue()
        for ticker in market_tickers:
            _queues[ticker].add(queue)
            if isinstance(latest := _upstream.latest.get(ticker), TickerUpdate):
                queue.put_nowait(latest)
        try:
            while True:
                yield await queue.get()
        finally:
            for ticker in market_tickers:
                _queues[ticker].discard(queue)


def _on_tick(tick: TickerUpdate) -> None:
    for queue in _queues.get(tick.market_ticker, ()):
        queue.put_nowait(tick)


_upstream = Upstream(_on_tick, TickerUpdate)


async def _serve() -> None:
    upstream = await _upstream.start()
    try:
        schema = strawberry.Schema(query=Query, subscription=Subscription)
        await serve_uvicorn(GraphQL(schema), lifespan=False)
    finally:
        upstream.cancel()


if __name__ == "__main__":
    asyncio.run(_serve())
