"""The games of one response, each of whose fields is loaded for all of them at once.

How it works: a ``games`` (or ``game``) resolver wraps the games it returns in a
:class:`GameSet` and hands it to each game. The first ``markets`` field that runs starts the
markets batch for every game of the set, the first ``prediction`` field the predictions batch
(which reuses the markets batch rather than asking again); every later field awaits the same
task. A set lives exactly as long as one operation, so nothing is cached from one operation to
the next, over a WebSocket too, and sorting by prediction computes each prediction once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from graph.games.matching import GameMarkets
from graph.games.ordering import GameSort, by_start_time, rank
from graph.models import Game, Prediction

T = TypeVar("T")

MarketsBatch = Callable[[Sequence[Game]], Awaitable[list[GameMarkets]]]
PredictionsBatch = Callable[
    [Sequence[Game], Awaitable[Sequence[GameMarkets]]], Awaitable[list[Prediction | BaseException]]
]


class GameSet:
    def __init__(
        self, games: Sequence[Game], *, markets: MarketsBatch, predictions: PredictionsBatch
    ) -> None:
        self.games = list(games)
        self._index = {g.id: i for i, g in enumerate(self.games)}
        self._load_markets = markets
        self._load_predictions = predictions
        self._markets: asyncio.Future[list[GameMarkets]] | None = None
        self._predictions: asyncio.Future[list[Prediction | BaseException]] | None = None

    def _markets_task(self) -> asyncio.Future[list[GameMarkets]]:
        if self._markets is None:
            self._markets = _spawn(self._load_markets(self.games))
        return self._markets

    def _predictions_task(self) -> asyncio.Future[list[Prediction | BaseException]]:
        if self._predictions is None:
            batch = self._load_predictions(self.games, self._markets_task())
            self._predictions = _spawn(batch)
        return self._predictions

    async def markets(self, game: Game) -> GameMarkets:
        return (await asyncio.shield(self._markets_task()))[self._index[game.id]]

    async def prediction(self, game: Game) -> Prediction:
        result = (await self.predictions())[self._index[game.id]]
        if isinstance(result, BaseException):
            raise result
        return result

    async def predictions(self) -> list[Prediction | BaseException]:
        return await asyncio.shield(self._predictions_task())

    async def ordered(self, sort_by: GameSort) -> list[Game]:
        if sort_by is GameSort.START_TIME:
            return by_start_time(self.games)
        return rank(self.games, await self.predictions(), sort_by)


def _spawn(batch: Awaitable[T]) -> asyncio.Future[T]:
    task = asyncio.ensure_future(batch)
    # A batch nobody awaits any more (the operation was cancelled) must not log its failure.
    task.add_done_callback(lambda t: t.cancelled() or t.exception())
    return task
