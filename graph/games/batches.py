"""The games of one response, each of whose fields is loaded for all of them at once.

How it works: a ``games`` (or ``game``) resolver wraps the games it returns in a
:class:`GameSet` and hands it to each game. The first ``markets`` field that runs starts the
markets batch for every game of the set, the first ``prediction`` field the predictions batch
(which reuses the markets batch rather than asking again); every later field awaits the same
task. A resolver that knows its fields will ask can load both up front (:meth:`GameSet.ready`):
each field then answers at once from the finished batch (:meth:`GameSet.markets_now`), which
for hundreds of games costs far less than as many fields each awaiting it. A set lives exactly
as long as one operation, so nothing is cached from one operation to the next, over a WebSocket
too, and sorting by prediction computes each prediction once. With
tracing on, each batch is a span (``DataLoader batch markets``/``predictions``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from graph.games.matching import GameMarkets
from graph.games.ordering import GameSort, by_start_time, rank
from graph.models import Game, Prediction
from graph.tracing import Tracing, batch_span

T = TypeVar("T")

MarketsBatch = Callable[[Sequence[Game]], Awaitable[list[GameMarkets]]]
PredictionsBatch = Callable[
    [Sequence[Game], Awaitable[Sequence[GameMarkets]]], Awaitable[list[Prediction | BaseException]]
]


class GameSet:
    def __init__(
        self,
        games: Sequence[Game],
        *,
        markets: MarketsBatch,
        predictions: PredictionsBatch,
        tracing: Tracing | None = None,
    ) -> None:
        self.games = list(games)
        self._tracing = tracing or Tracing()
        self._index = {g.id: i for i, g in enumerate(self.games)}
        self._load_markets = markets
        self._load_predictions = predictions
        self._markets: asyncio.Future[list[GameMarkets]] | None = None
        self._predictions: asyncio.Future[list[Prediction | BaseException]] | None = None

    def _markets_task(self) -> asyncio.Future[list[GameMarkets]]:
        if self._markets is None:
            self._markets = _spawn(self._traced("markets", self._load_markets(self.games)))
        return self._markets

    def _predictions_task(self) -> asyncio.Future[list[Prediction | BaseException]]:
        if self._predictions is None:
            batch = self._load_predictions(self.games, self._markets_task())
            self._predictions = _spawn(self._traced("predictions", batch))
        return self._predictions

    async def _traced(self, loader: str, batch: Awaitable[T]) -> T:
        with batch_span(self._tracing, loader, len(self.games)):
            return await batch

    async def ready(self, *, predictions: bool) -> None:
        """Finish the markets batch, and the predictions batch if asked, before any field
        asks; failures stay in the batches for the fields to raise."""
        tasks: list[asyncio.Future[Any]] = [self._markets_task()]
        if predictions:
            tasks.append(self._predictions_task())
        await asyncio.wait(tasks)

    def markets_now(self, game: Game) -> GameMarkets | None:
        """``game``'s markets if the batch is finished (raising its failure), else None."""
        task = self._markets
        return task.result()[self._index[game.id]] if task and task.done() else None

    def prediction_now(self, game: Game) -> Prediction | None:
        """``game``'s prediction if the batch is finished (raising a failure), else None."""
        task = self._predictions
        return _unwrap(task.result()[self._index[game.id]]) if task and task.done() else None

    async def markets(self, game: Game) -> GameMarkets:
        return (await asyncio.shield(self._markets_task()))[self._index[game.id]]

    async def prediction(self, game: Game) -> Prediction:
        return _unwrap((await self.predictions())[self._index[game.id]])

    async def predictions(self) -> list[Prediction | BaseException]:
        return await asyncio.shield(self._predictions_task())

    async def ordered(self, sort_by: GameSort) -> list[Game]:
        if sort_by is GameSort.START_TIME:
            return by_start_time(self.games)
        return rank(self.games, await self.predictions(), sort_by)


def _unwrap(result: Prediction | BaseException) -> Prediction:
    if isinstance(result, BaseException):
        raise result
    return result


def _spawn(batch: Awaitable[T]) -> asyncio.Future[T]:
    task = asyncio.ensure_future(batch)
    # A batch nobody awaits any more (the operation was cancelled) must not log its failure.
    task.add_done_callback(lambda t: t.cancelled() or t.exception())
    return task
