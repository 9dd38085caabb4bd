"""Tests for graph.games.batches: one markets and one predictions batch per response."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence

import pytest

from graph.games.batches import GameSet
from graph.games.matching import GameMarkets
from graph.games.ordering import GameSort
from graph.models import Confidence, Game, Market, Prediction
from tests.games.test_ordering import game


class Counting:
    """Batch functions that record each call and what they were given."""

    def __init__(self, fail_markets: bool = False) -> None:
        self.markets_calls: list[list[str]] = []
        self.prediction_calls: list[list[str]] = []
        self.fail_markets = fail_markets

    async def markets(self, games: Sequence[Game]) -> list[GameMarkets]:
        self.markets_calls.append([g.id for g in games])
        await asyncio.sleep(0)
        if self.fail_markets:
            raise RuntimeError("listing down")
        return [GameMarkets(home=_market(g.id)) for g in games]

    async def predictions(
        self, games: Sequence[Game], markets: Awaitable[Sequence[GameMarkets]]
    ) -> list[Prediction | BaseException]:
        self.prediction_calls.append([g.id for g in games])
        try:
            found = await markets
        except RuntimeError:
            found = [GameMarkets() for _ in games]
        out: list[Prediction | BaseException] = []
        for g, m in zip(games, found, strict=True):
            if g.id == "bad":
                out.append(ValueError("no rating"))
            else:
                edge = 0.3 if m.home is None else float(len(g.id)) / 10
                out.append(Prediction(0.6, 0.4, Confidence.HIGH, "m", edge=edge))
        return out


def _market(gid: str) -> Market:
    return Market(ticker=f"T-{gid}", event_ticker="T", title=gid, status="open")


async def test_every_field_shares_one_markets_and_one_predictions_batch() -> None:
    """Fields of all games resolve from one call of each batch, whatever their order."""
    batches = Counting()
    games = [game("a"), game("bb", 5), game("ccc", 10)]
    gs = GameSet(games, markets=batches.markets, predictions=batches.predictions)
    results = await asyncio.gather(
        *(gs.prediction(g) for g in games), *(gs.markets(g) for g in games)
    )
    assert batches.markets_calls == [["a", "bb", "ccc"]]
    assert batches.prediction_calls == [["a", "bb", "ccc"]]
    assert [m.home.ticker for m in results[3:] if isinstance(m, GameMarkets) and m.home] == [
        "T-a",
        "T-bb",
        "T-ccc",
    ]


async def test_sorting_by_prediction_reuses_the_batch_the_fields_read() -> None:
    """Sorting by EDGE loads predictions once; the prediction fields read the same results."""
    batches = Counting()
    games = [game("a"), game("ccc", 5), game("bb", 10)]
    gs = GameSet(games, markets=batches.markets, predictions=batches.predictions)
    ordered = await gs.ordered(GameSort.EDGE)
    await asyncio.gather(*(gs.prediction(g) for g in ordered))
    assert [g.id for g in ordered] == ["ccc", "bb", "a"]
    assert len(batches.prediction_calls) == 1


async def test_start_time_order_loads_nothing() -> None:
    """START_TIME needs no prediction: no batch runs unless a field asks."""
    batches = Counting()
    gs = GameSet(
        [game("b", 5), game("a")], markets=batches.markets, predictions=batches.predictions
    )
    assert [g.id for g in await gs.ordered(GameSort.START_TIME)] == ["a", "b"]
    assert batches.markets_calls == batches.prediction_calls == []


async def test_a_failed_prediction_fails_only_its_game() -> None:
    """One game's failure is raised by its own field; the others answer."""
    batches = Counting()
    games = [game("ok"), game("bad")]
    gs = GameSet(games, markets=batches.markets, predictions=batches.predictions)
    assert (await gs.prediction(games[0])).edge is not None
    with pytest.raises(ValueError, match="no rating"):
        await gs.prediction(games[1])


async def test_a_failed_markets_batch_fails_the_markets_fields_not_the_predictions() -> None:
    """A listing outage fails each markets field; predictions go on without prices."""
    batches = Counting(fail_markets=True)
    games = [game("a")]
    gs = GameSet(games, markets=batches.markets, predictions=batches.predictions)
    with pytest.raises(RuntimeError, match="listing down"):
        await gs.markets(games[0])
    assert (await gs.prediction(games[0])).edge == 0.3


async def test_a_cancelled_reader_leaves_the_batch_to_the_others() -> None:
    """Cancelling one field's await does not cancel the shared batch for the rest."""
    batches = Counting()
    games = [game("a"), game("bb")]
    gs = GameSet(games, markets=batches.markets, predictions=batches.predictions)
    first = asyncio.ensure_future(gs.markets(games[0]))
    await asyncio.sleep(0)
    first.cancel()
    second = await gs.markets(games[1])
    assert second.home is not None and second.home.ticker == "T-bb"
    assert batches.markets_calls == [["a", "bb"]]
