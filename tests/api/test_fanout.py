"""Subscription fan-out: shared results per schema, frames built once, and the rule that
keeps sharing safe (no event field may read the request)."""

from __future__ import annotations

import asyncio
import gc
import json
import tracemalloc
from collections.abc import Collection
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import strawberry
from graphql import GraphQLField, GraphQLFloat, GraphQLObjectType, GraphQLSchema, parse
from strawberry.permission import BasePermission
from strawberry.types import ExecutionResult, Info

from graph.api.context import Context
from graph.api.fanout import (
    EVENT_RESULTS_SIZE,
    DirectFrames,
    EventResults,
    SharedExecutor,
    context_readers,
)
from graph.api.schema import TickerUpdateType, build_schema, schema
from graph.live.hub import Hub
from graph.models import League, TickerUpdate
from graph.settings import Settings
from graph.sim import Simulator
from tests.e2e import SUNDAY_NOON_UTC, GraphQLWebSocket, eventually, running_app
from tests.games.helpers import SUNDAY

TICKER = "KXNBAGAME-26NOV22ATLTOR-ATL"


class _IdleFeed:
    fatal_error = None

    def set_wanted(self, tickers: Collection[str]) -> None:
        pass


async def _no_snapshot(tickers: list[str]) -> list[Any]:
    return []


def _context(hub: Hub) -> Context:
    return Context(
        service=None,  # type: ignore[arg-type]
        hub=hub,
        settings=Settings(_env_file=None),  # type: ignore[call-arg]
        snapshot=_no_snapshot,  # type: ignore[arg-type]
    )


async def test_a_long_subscription_does_not_grow_with_each_event() -> None:
    """Memory per subscription stays flat over thousands of events (graphql-core 3.3 kept
    ~1.8 KB of memoised sub-fields per event; see ``SharedExecutor``)."""
    hub = Hub(_IdleFeed())
    query = (
        f'subscription {{ tickerUpdates(marketTickers: ["{TICKER}"]) '
        "{ marketTicker price yesBid yesAsk volume ts } }"
    )
    source = await schema.subscribe(query, context_value=_context(hub))
    assert not isinstance(source, ExecutionResult)
    pending = asyncio.ensure_future(anext(source))
    await eventually(lambda: hub.subscriber_count == 1)

    async def events(count: int) -> None:
        nonlocal pending
        for n in range(count):
            hub.publish(TickerUpdate(TICKER, ts_ms=n, price=0.5, volume=float(n)))
            result = await asyncio.wait_for(pending, 5)
            assert not result.errors and result.data is not None
            assert result.data["tickerUpdates"]["volume"] == n
            pending = asyncio.ensure_future(anext(source))

    tracemalloc.start()
    try:
        await events(EVENT_RESULTS_SIZE + 200)  # warm: first-use caches settle, the LRU fills
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        await events(2000)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        pending.cancel()
        await source.aclose()
    assert grown < 200_000, f"{grown} bytes kept over 2000 events"


async def test_subscribers_asking_the_same_share_one_execution_per_update() -> None:
    """Equal (update, document, variables) run once; other selections get their own fields;
    the results belong to the schema that ran them, not to the process."""
    hub = Hub(_IdleFeed())
    mine, other = build_schema(), build_schema()
    documents = [
        f'subscription {{ tickerUpdates(marketTickers: ["{TICKER}"]) {{ marketTicker price }} }}',
        f'subscription {{ tickerUpdates(marketTickers: ["{TICKER}"]) {{ marketTicker price }} }}',
        f'subscription {{ tickerUpdates(marketTickers: ["{TICKER}"]) {{ volume }} }}',
    ]
    sources = []
    for document in documents:
        source = await mine.subscribe(document, context_value=_context(hub))
        assert not isinstance(source, ExecutionResult)
        sources.append(source)
    pending = [asyncio.ensure_future(anext(source)) for source in sources]
    try:
        await eventually(lambda: hub.subscriber_count == 3)
        hub.publish(TickerUpdate(TICKER, ts_ms=1, price=0.42, volume=7.0))
        results = await asyncio.wait_for(asyncio.gather(*pending), 5)
    finally:
        for source in sources:
            await source.aclose()
    assert [r.data for r in results] == [
        {"tickerUpdates": {"marketTicker": TICKER, "price": 0.42}},
        {"tickerUpdates": {"marketTicker": TICKER, "price": 0.42}},
        {"tickerUpdates": {"volume": 7.0}},
    ]
    assert (len(mine.event_results), len(other.event_results)) == (2, 0)


def test_no_field_of_a_ticker_update_reads_the_request() -> None:
    """What subscribers share depends on the update alone: no field reachable from
    TickerUpdate takes info (the context), has permissions or field extensions."""
    types = {name: t.implementation for name, t in schema.schema_converter.type_map.items()}
    assert context_readers(types, ["TickerUpdate"]) == []
    # The check itself sees such fields, in the event type and in types it reaches.
    assert context_readers(types, ["Query"]) != []
    assert "Team.rating" in context_readers(types, ["Game"])


class _Nobody(BasePermission):
    message = "no"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return False


@strawberry.type(name="Owner")
class _Owner:
    @strawberry.field
    def secret(self, info: Info[Context, None]) -> str:
        return str(info.context)


# TickerUpdate variants, each with one field that could read the request.
@strawberry.type(name="TickerUpdate")
class _WithInfo(TickerUpdateType):
    @strawberry.field
    def viewer(self, info: Info[Context, None]) -> str:
        return str(info.context.principal)


@strawberry.type(name="TickerUpdate")
class _WithPermission(TickerUpdateType):
    viewer: str = strawberry.field(default="", permission_classes=[_Nobody])


@strawberry.type(name="TickerUpdate")
class _WithOwner(TickerUpdateType):
    owner: _Owner = strawberry.field(default_factory=_Owner)


@strawberry.type(name="Other")
class _Other:
    name: str = ""


@strawberry.interface(name="Party")
class _Party:
    name: str = ""


@strawberry.type(name="Host")
class _Host(_Party):
    @strawberry.field
    def secret(self, info: Info[Context, None]) -> str:
        return str(info.context)


@strawberry.type(name="TickerUpdate")
class _WithUnion(TickerUpdateType):
    @strawberry.field
    def either(self) -> _Owner | _Other:
        return _Other()


@strawberry.type(name="TickerUpdate")
class _WithInterface(TickerUpdateType):
    @strawberry.field
    def party(self) -> _Party:
        return _Host()


@strawberry.type(name="Query")
class _UnionQuery:
    last: _WithUnion | None = None


@strawberry.type(name="Query")
class _InterfaceQuery:
    last: _WithInterface | None = None


@strawberry.type(name="Query")
class _InfoQuery:
    last: _WithInfo | None = None


@strawberry.type(name="Query")
class _PermissionQuery:
    last: _WithPermission | None = None


@strawberry.type(name="Query")
class _OwnerQuery:
    last: _WithOwner | None = None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param(_InfoQuery, "TickerUpdate.viewer", id="resolver-taking-info"),
        pytest.param(_PermissionQuery, "TickerUpdate.viewer", id="permission-class"),
        pytest.param(_OwnerQuery, "Owner.secret", id="a-type-it-reaches"),
        pytest.param(_UnionQuery, "Owner.secret", id="a-member-of-a-union"),
        pytest.param(_InterfaceQuery, "Host.secret", id="an-implementation-of-an-interface"),
    ],
)
def test_a_field_that_could_read_the_request_is_found(query: type, field: str) -> None:
    """Adding an event field that may depend on who asks is caught, however deep."""
    built = strawberry.Schema(query=query, types=[_Host])
    types = {name: t.implementation for name, t in built.schema_converter.type_map.items()}
    assert context_readers(types, ["TickerUpdate"]) == [field]


SUBSCRIPTION = """
subscription ($t: [String!]!) { tickerUpdates(marketTickers: $t) { marketTicker price ts } }
"""


async def test_one_frame_per_group_on_graphql_transport_ws(tmp_path: Path) -> None:
    """Over graphql-transport-ws, subscribers of one group get the same payload, computed
    once per update, each in a frame with its own id; another selection gets its own;
    a legacy graphql-ws subscriber gets the same data through Strawberry's own path."""
    async with (
        Simulator(clock=lambda: SUNDAY_NOON_UTC, tick_interval_s=None) as sim,
        running_app(sim, tmp_path) as (app, url),
    ):
        ticker = sim.markets_for(League.NBA, SUNDAY)[0]["ticker"]
        async with (
            GraphQLWebSocket.connect(url) as one,
            GraphQLWebSocket.connect(url) as two,
            GraphQLWebSocket.connect(url) as other,
            GraphQLWebSocket.connect(url, "graphql-ws") as legacy,
        ):
            await one.subscribe("a", SUBSCRIPTION, {"t": [ticker]})
            await two.subscribe("b", SUBSCRIPTION, {"t": [ticker]})
            await other.subscribe("c", SUBSCRIPTION.replace("price ts", "volume"), {"t": [ticker]})
            await legacy.subscribe("d", SUBSCRIPTION, {"t": [ticker]})
            for client in (one, two, other, legacy):
                await client.receive()  # the snapshot
            before = len(app.state.schema.event_results)
            await eventually(lambda: ticker in sim.ws_subscribed_tickers())
            await sim.publish_tick(ticker)
            raw = {
                c: str(await asyncio.wait_for(c.ws.recv(), 10)) for c in (one, two, other, legacy)
            }
            got = {c: json.loads(text) for c, text in raw.items()}
        results = app.state.schema.event_results
        assert len(results) - before == 2  # one per distinct selection
    assert [got[one]["id"], got[two]["id"], got[other]["id"]] == ["a", "b", "c"]
    assert got[one]["payload"] == got[two]["payload"] == got[legacy]["payload"]
    assert got[one]["payload"]["data"]["tickerUpdates"]["marketTicker"] == ticker
    assert list(got[other]["payload"]["data"]["tickerUpdates"]) == ["marketTicker", "volume"]
    assert got[legacy]["type"] == "data" and got[one]["type"] == "next"
    # Built around the shared JSON, not encoded by Strawberry per subscriber:
    assert raw[one].startswith('{"id":"a","type":"next","payload":{"data"')
    assert raw[one].removeprefix('{"id":"a"') == raw[two].removeprefix('{"id":"b"')


class _Sink:
    def __init__(self) -> None:
        self.frames: list[str] = []

    async def send_text(self, text: str) -> None:
        self.frames.append(text)


class _Toy:
    """A bare graphql-core subscription ``{ tick { price } }`` run by a SharedExecutor."""

    def __init__(self, *, asynchronous: bool = False, failing: bool = False) -> None:
        self.calls = 0

        def price(tick: Any, info: Any) -> Any:
            self.calls += 1
            if failing:
                raise ValueError("no price")
            if asynchronous:

                async def later() -> float:
                    return float(tick.price)

                return later()
            return tick.price

        tick = GraphQLObjectType("Tick", {"price": GraphQLField(GraphQLFloat, resolve=price)})
        schema = GraphQLSchema(
            query=GraphQLObjectType("Query", {"a": GraphQLField(GraphQLFloat)}),
            subscription=GraphQLObjectType("Subscription", {"tick": GraphQLField(tick)}),
        )
        self.results = EventResults()
        built = SharedExecutor.bound_to(self.results).build(
            schema, parse("subscription { tick { price } }")
        )
        assert isinstance(built, SharedExecutor)
        self.executor = built

    def execute(self, event: Any) -> Any:
        """One event through a per-event executor (a result, or an awaitable of one)."""
        return self.executor.build_per_event_executor(event).execute_operation(False)

    @staticmethod
    def event(price: float, *, update: bool = True) -> SimpleNamespace:
        event = SimpleNamespace(tick=SimpleNamespace(price=price))
        if update:
            event._update = TickerUpdate(TICKER, ts_ms=int(price * 100), price=price)
        return event


async def test_events_not_made_of_a_ticker_update_are_never_shared() -> None:
    """Only events carrying their TickerUpdate have a key: others run every time."""
    toy = _Toy()
    for _ in range(2):
        assert toy.execute(toy.event(0.5, update=False)).data == {"tick": {"price": 0.5}}
    assert (toy.calls, len(toy.results)) == (2, 0)


async def test_asynchronous_event_results_are_shared_once_they_arrive() -> None:
    """A result that needs awaiting is remembered when it arrives, then reused as is."""
    toy = _Toy(asynchronous=True)
    assert (await toy.execute(toy.event(0.5))).data == {"tick": {"price": 0.5}}
    again = toy.execute(toy.event(0.5))
    assert again.data == {"tick": {"price": 0.5}} and (toy.calls, len(toy.results)) == (1, 1)


async def test_direct_frames_encode_once_and_differ_only_by_id() -> None:
    """Subscribers of one group: one execution and one encoding per update, each frame
    carrying its own id around the same payload."""
    toy = _Toy(asynchronous=True)
    sinks = [_Sink(), _Sink()]
    update = toy.event(0.25)._update
    senders = [
        DirectFrames(toy.executor, sink, op, lambda u: toy.event(u.price or 0.0))
        for sink, op in zip(sinks, "ab", strict=True)
    ]
    for sender in senders:
        assert await sender.send(update)
    payload = '{"data":{"tick":{"price":0.25}}}'
    assert [s.frames for s in sinks] == [
        ['{"id":"a","type":"next","payload":' + payload + "}"],
        ['{"id":"b","type":"next","payload":' + payload + "}"],
    ]
    assert toy.calls == 1


async def test_a_result_with_errors_is_left_to_strawberry() -> None:
    """An event whose result has errors is neither remembered nor sent as a frame: the
    caller yields it, so the error policy sees it."""
    toy = _Toy(failing=True)
    sink = _Sink()
    sender = DirectFrames(toy.executor, sink, "a", lambda u: toy.event(u.price or 0.0))
    assert not await sender.send(toy.event(0.5)._update)
    assert (sink.frames, len(toy.results)) == ([], 0)


def test_build_schema_refuses_event_fields_that_read_the_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The schema is not built while an event field could read the request."""
    monkeypatch.setattr("graph.api.schema.context_readers", lambda types, names: ["X.y"])
    with pytest.raises(TypeError, match=r"must not read the request: \['X.y'\]"):
        build_schema()
