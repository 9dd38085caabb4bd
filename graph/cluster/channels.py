"""One Redis pub/sub connection per process, subscribed to exactly the channels wanted (adapter).

How it works
------------
Callers register a handler per channel (:meth:`Channels.add`) and drop it again
(:meth:`Channels.remove`); both are synchronous and only change the wanted set. One
task per connection sends ``SUBSCRIBE``/``UNSUBSCRIBE`` for the difference between the
wanted set and what it already asked for; another reads and hands each message to its
channel's handler (synchronously: handlers must not block). Redis confirms each
channel; :attr:`Channels.subscribed` is the confirmed set.

When the connection fails the loop reports it to the link, waits (exponential backoff
with full jitter) and opens a new connection that subscribes to the whole wanted set
again. Messages published in between are lost - pub/sub keeps no history - so after a
reconnect every ``on_resubscribed`` callback runs once the wanted set is confirmed
(the tick bus then reads the latest stored values). The connection is opened only
while something is wanted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from graph.backoff import backoff_delay
from graph.cluster.link import RedisLink, reraise_cancel

logger = logging.getLogger(__name__)

Handler = Callable[[bytes], None]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(slots=True)
class ChannelStats:
    messages: int = 0  # messages handed to a handler
    connects: int = 0  # pub/sub connections that confirmed their first channel


class Channels:
    def __init__(
        self,
        link: RedisLink,
        *,
        backoff_base_s: float = 0.1,
        backoff_cap_s: float = 2.0,
        rng: Callable[[], float] = random.random,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._link = link
        self._handlers: dict[str, Handler] = {}
        self._asked: set[str] = set()  # sent SUBSCRIBE for, on this connection
        self._confirmed: set[str] = set()
        self._changed = asyncio.Event()
        self._resubscribed: list[Callable[[], None]] = []
        self._backoff = (backoff_base_s, backoff_cap_s)
        self._rng = rng
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._fresh = True  # the current connection has not confirmed a channel yet
        self.stats = ChannelStats()

    @property
    def subscribed(self) -> frozenset[str]:
        """Channels Redis confirmed on the current connection."""
        return frozenset(self._confirmed)

    @property
    def wanted(self) -> frozenset[str]:
        return frozenset(self._handlers)

    def add(self, channel: str, handler: Handler) -> None:
        """Deliver ``channel``'s messages to ``handler`` (replacing an earlier one)."""
        self._handlers[channel] = handler
        self._wake()

    def remove(self, channel: str) -> None:
        if self._handlers.pop(channel, None) is not None:
            self._wake()

    def on_resubscribed(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` whenever a new connection (after a failed one) confirmed a channel."""
        self._resubscribed.append(callback)

    def _wake(self) -> None:
        self._changed.set()
        if self._task is None and not self._closed and self._handlers:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="redis-pubsub")

    async def aclose(self) -> None:
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])

    async def _run(self) -> None:
        attempt = 0
        while True:
            while not self._handlers:
                self._changed.clear()
                await self._changed.wait()
            pubsub = self._link.pubsub_client.pubsub()
            self._asked.clear()
            self._fresh = True
            task = asyncio.current_task()
            cancels = task.cancelling() if task is not None else 0
            try:
                await self._session(pubsub)
            except (RedisError, OSError) as exc:
                reraise_cancel(task, cancels)
                self._link.failed(exc, "pubsub")
            except Exception:  # a bug of ours must not end pub/sub for good
                reraise_cancel(task, cancels)
                logger.exception("Redis pub/sub session failed")
            finally:
                self._confirmed.clear()
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py: no hints
            attempt = 0 if not self._fresh else attempt + 1
            delay = backoff_delay(
                attempt, base_s=self._backoff[0], cap_s=self._backoff[1], rng=self._rng
            )
            await self._sleep(delay)

    async def _session(self, pubsub: PubSub) -> None:
        """Until the connection fails: keep the subscription in sync and read messages."""
        await self._sync(pubsub)  # the first SUBSCRIBE opens the connection
        tasks = [
            asyncio.create_task(self._writer(pubsub), name="redis-pubsub-writer"),
            asyncio.create_task(self._reader(pubsub), name="redis-pubsub-reader"),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)
        for task in done:
            task.result()  # both loop forever: this raises what ended one of them

    async def _sync(self, pubsub: PubSub) -> None:
        self._changed.clear()
        wanted = set(self._handlers)
        add, drop = wanted - self._asked, self._asked - wanted
        if add:
            await pubsub.subscribe(*sorted(add))
        if drop:
            await pubsub.unsubscribe(*sorted(drop))
        self._asked = wanted

    async def _writer(self, pubsub: PubSub) -> None:
        task = asyncio.current_task()
        cancels = task.cancelling() if task is not None else 0
        while True:
            await self._changed.wait()
            await self._sync(pubsub)
            reraise_cancel(task, cancels)

    async def _reader(self, pubsub: PubSub) -> None:
        reconnected = self.stats.connects > 0
        task = asyncio.current_task()
        cancels = task.cancelling() if task is not None else 0
        while True:
            message: dict[str, Any] | None = await pubsub.get_message(timeout=None)
            # A cancel landing while redis-py tears the connection down can come back as a
            # plain return: without this the session's teardown waited for this loop forever.
            reraise_cancel(task, cancels)
            if message is None:  # pragma: no cover - only without a subscription, never here
                continue
            kind = message["type"]
            channel = message["channel"].decode()
            if kind == "message":
                handler = self._handlers.get(channel)
                if handler is not None:
                    self.stats.messages += 1
                    self._deliver(handler, channel, message["data"])
            elif kind == "subscribe":
                self._confirmed.add(channel)
                if self._fresh:
                    self._fresh = False
                    self.stats.connects += 1
                    self._link.succeeded()
                    if reconnected:
                        self._after_reconnect()
            elif kind == "unsubscribe":
                self._confirmed.discard(channel)

    def _deliver(self, handler: Handler, channel: str, data: bytes) -> None:
        try:
            handler(data)
        except Exception:  # one bad handler must not cost every channel its connection
            logger.exception("Redis channel handler failed channel=%s", channel)

    def _after_reconnect(self) -> None:
        for callback in list(self._resubscribed):
            try:
                callback()
            except Exception:
                logger.exception("Redis resubscribe callback failed")
