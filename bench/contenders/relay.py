"""``python -m bench.contenders.relay``: the ceiling, a raw ``websockets`` relay.

It speaks just enough ``graphql-transport-ws`` for the benchmark's clients
(``connection_init``/``ack``, ``ping``/``pong``, ``subscribe``, ``complete``), takes the
markets from the first list-valued variable of a ``subscribe`` and ignores the document:
every ``next`` carries the benchmark's selection set. Each tick is encoded once; the
frames of its subscribers differ only by the operation id, so one frame is built per
distinct id and handed to :func:`websockets.asyncio.server.broadcast`, which writes it to
every connection without a task or an await per subscriber. No GraphQL runs at all.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from bench.contenders.process import announce, deflate_wanted, on_sigterm
from bench.contenders.upstream import Tick, Upstream

# market ticker -> operation id -> the connections that subscribed under that id
_subscribers: dict[str, dict[str, set[ServerConnection]]] = defaultdict(lambda: defaultdict(set))


def _frame(op_id: str, payload: str) -> str:
    return f'{{"id":{json.dumps(op_id)},"type":"next","payload":{payload}}}'


def _payload(tick: Tick) -> str:
    return json.dumps({"data": {"tickerUpdates": tick.selection()}}, separators=(",", ":"))


def _on_tick(tick: Tick) -> None:
    by_id = _subscribers.get(tick.market_ticker)
    if not by_id:
        return
    payload = _payload(tick)
    for op_id, connections in by_id.items():
        broadcast(connections, _frame(op_id, payload))


_upstream = Upstream(_on_tick, Tick)


def _tickers(payload: object) -> list[str]:
    variables = payload.get("variables") if isinstance(payload, dict) else None
    for value in (variables or {}).values():
        if isinstance(value, list):
            return [str(t) for t in value]
    return []


def _forget(ws: ServerConnection, ops: dict[str, list[str]], op_id: str) -> None:
    for ticker in ops.pop(op_id, ()):
        by_id = _subscribers[ticker]
        by_id[op_id].discard(ws)
        if not by_id[op_id]:
            del by_id[op_id]


async def _handler(ws: ServerConnection) -> None:
    ops: dict[str, list[str]] = {}  # this connection's operations and their markets
    try:
        async for raw in ws:
            message = json.loads(raw)
            kind, op_id = message.get("type"), message.get("id")
            if kind == "connection_init":
                await ws.send('{"type":"connection_ack"}')
            elif kind == "ping":
                await ws.send('{"type":"pong"}')
            elif kind == "subscribe" and isinstance(op_id, str):
                ops[op_id] = _tickers(message.get("payload"))
                for ticker in ops[op_id]:
                    _subscribers[ticker][op_id].add(ws)
                    if (latest := _upstream.latest.get(ticker)) is not None:
                        await ws.send(_frame(op_id, _payload(latest)))
            elif kind == "complete" and isinstance(op_id, str):
                _forget(ws, ops, op_id)
    except ConnectionClosed:
        pass
    finally:
        for op_id in list(ops):
            _forget(ws, ops, op_id)


async def _serve() -> None:
    stop = asyncio.Event()
    on_sigterm(stop.set)
    upstream = await _upstream.start()
    async with serve(
        _handler,
        "127.0.0.1",
        0,
        subprotocols=[Subprotocol("graphql-transport-ws")],
        compression="deflate" if deflate_wanted() else None,
        ping_interval=None,
    ) as server:
        announce(next(iter(server.sockets)).getsockname()[1])
        await stop.wait()
    upstream.cancel()


if __name__ == "__main__":
    asyncio.run(_serve())
