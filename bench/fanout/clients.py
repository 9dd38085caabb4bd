"""The subscribers: real ``graphql-transport-ws`` clients in processes of their own.

S subscribers are spread over ``CLIENT_PROCESSES`` processes, so the clients are not
the bottleneck of the server they measure (their CPU is reported beside the server's).
Each subscriber opens a WebSocket, subscribes to its markets with :data:`SUBSCRIPTION`
and records, per message, its receive time and the ``ts`` the message carries (the
simulator's send time, from Kalshi's ``ts_ms``). The benchmark talks to each process
over a pipe: ``report`` returns and forgets what was recorded, ``stop`` ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import time
from array import array
from asyncio import FIRST_COMPLETED
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from bench.proc import cpu_seconds

SUBSCRIPTION = (
    "subscription ($t: [String!]!) "
    "{ tickerUpdates(marketTickers: $t) { marketTicker price yesBid yesAsk ts } }"
)
CLIENT_PROCESSES = 2


@dataclass
class _Record:
    recv_ms: array[float] = field(default_factory=lambda: array("d"))
    ts_ms: array[float] = field(default_factory=lambda: array("d"))
    sub: array[int] = field(default_factory=lambda: array("i"))
    errors: list[str] = field(default_factory=list)


async def _subscriber(
    url: str, index: int, tickers: list[str], record: _Record, ready: asyncio.Event
) -> None:
    ws: ClientConnection
    async with connect(
        url, subprotocols=[Subprotocol("graphql-transport-ws")], ping_interval=None, max_queue=None
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        ack = json.loads(await ws.recv())
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"no connection_ack: {ack}")
        payload = {"query": SUBSCRIPTION, "variables": {"t": tickers}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        async for raw in ws:
            now_ms = time.time() * 1000
            message = json.loads(raw)
            kind = message.get("type")
            if kind == "next":
                data = message["payload"].get("data")
                if data is None:
                    record.errors.append(str(message["payload"])[:200])
                    continue
                ts = datetime.fromisoformat(data["tickerUpdates"]["ts"]).timestamp() * 1000
                record.recv_ms.append(now_ms)
                record.ts_ms.append(ts)
                record.sub.append(index)
                ready.set()
            elif kind == "ping":
                await ws.send(json.dumps({"type": "pong"}))
            elif kind in ("error", "complete"):
                record.errors.append(str(message)[:200])
                return


async def _client(url: str, subs: list[tuple[int, list[str]]], conn: Connection) -> None:
    record = _Record()
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[str] = asyncio.Queue()

    def on_command() -> None:
        try:
            commands.put_nowait(conn.recv())
        except EOFError:  # the benchmark went away: stop too
            loop.remove_reader(conn.fileno())
            commands.put_nowait("stop")

    loop.add_reader(conn.fileno(), on_command)
    readies = [asyncio.Event() for _ in subs]
    gate = asyncio.Semaphore(50)  # do not open hundreds of handshakes in the same instant

    async def one(i: int, tickers: list[str], ready: asyncio.Event) -> None:
        try:
            async with gate:
                task = asyncio.ensure_future(_subscriber(url, i, tickers, record, ready))
                waiter = asyncio.ensure_future(ready.wait())
                await asyncio.wait([task, waiter], timeout=60, return_when=FIRST_COMPLETED)
                waiter.cancel()
            await task
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            record.errors.append(f"subscriber {i}: {type(exc).__name__}: {exc}"[:200])
        finally:
            ready.set()  # ended or failed: nothing more to wait for

    tasks = [asyncio.create_task(one(i, t, r)) for (i, t), r in zip(subs, readies, strict=True)]
    await asyncio.gather(*(r.wait() for r in readies))
    conn.send(("ready", len(record.errors)))
    while (command := await commands.get()) != "stop":
        if command == "report":
            conn.send(
                (
                    record.recv_ms.tobytes(),
                    record.ts_ms.tobytes(),
                    record.sub.tobytes(),
                    list(record.errors),
                )
            )
            record.recv_ms, record.ts_ms, record.sub = array("d"), array("d"), array("i")
    loop.remove_reader(conn.fileno())  # a no-op when already removed
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    with contextlib.suppress(OSError):
        conn.send("bye")


def client_main(url: str, subs: list[tuple[int, list[str]]], conn: Connection) -> None:
    """Entry point of one client process."""
    asyncio.run(_client(url, subs, conn))


@dataclass
class Clients:
    """The client processes of one measurement and their pipes."""

    processes: Sequence[multiprocessing.process.BaseProcess]
    pipes: list[Connection]

    @classmethod
    async def start(cls, url: str, assignments: Sequence[list[str]]) -> tuple[Clients, int]:
        ctx = multiprocessing.get_context("spawn")
        count = min(CLIENT_PROCESSES, len(assignments))
        shares: list[list[tuple[int, list[str]]]] = [[] for _ in range(count)]
        for i, tickers in enumerate(assignments):
            shares[i % count].append((i, tickers))
        processes, pipes = [], []
        for share in shares:
            ours, theirs = ctx.Pipe()
            process = ctx.Process(target=client_main, args=(url, share, theirs), daemon=True)
            process.start()
            theirs.close()
            processes.append(process)
            pipes.append(ours)
        clients = cls(processes, pipes)
        replies = await asyncio.gather(*(clients._recv(p, 120) for p in pipes))
        return clients, sum(failed for _, failed in replies)

    @staticmethod
    async def _recv(pipe: Connection, timeout: float) -> Any:
        ready = await asyncio.to_thread(pipe.poll, timeout)
        if not ready:
            raise TimeoutError("client process did not answer")
        return pipe.recv()

    async def report(self) -> tuple[list[tuple[float, float, int]], list[str]]:
        """Every (recv_ms, ts_ms, subscriber) recorded since the last report."""
        for pipe in self.pipes:
            pipe.send("report")
        rows: list[tuple[float, float, int]] = []
        errors: list[str] = []
        for pipe in self.pipes:
            recv_b, ts_b, sub_b, errs = await self._recv(pipe, 60)
            recv, ts, sub = array("d"), array("d"), array("i")
            recv.frombytes(recv_b)
            ts.frombytes(ts_b)
            sub.frombytes(sub_b)
            rows += zip(recv, ts, sub, strict=True)
            errors += errs
        return rows, errors

    def cpu_s(self) -> float:
        """CPU time all client processes have used so far."""
        return sum(cpu_seconds(p.pid) for p in self.processes if p.pid is not None)

    async def stop(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send("stop")
        for pipe in self.pipes:
            with contextlib.suppress(Exception):
                await self._recv(pipe, 30)
            pipe.close()
        for process in self.processes:
            await asyncio.to_thread(process.join, 10)
            if process.is_alive():
                process.kill()
                await asyncio.to_thread(process.join, 5)
