"""The schema in-process: SDL drift, input checks, error masking and limits."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from graph.api import errors as errorpolicy
from graph.api.context import Context
from graph.api.cost import Limits
from graph.api.schema import build_schema, schema
from graph.errors import OperationTimeout, UpstreamUnavailable
from graph.games.batches import GameSet
from graph.games.matching import GameMarkets
from graph.models import Game, GameState, League, Market, TeamRef
from graph.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_schema_file_matches_the_code() -> None:
    """schema.graphql is exactly what the code builds (re-export with `make schema`)."""
    assert (ROOT / "schema.graphql").read_text() == str(schema)


class FakeService:
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def market(self, ticker: str) -> Market | None:
        raise self.error


def context(service: Any, snapshot: Any = None) -> Context:
    return Context(
        service=service,
        hub=None,  # type: ignore[arg-type]
        settings=Settings(_env_file=None),  # type: ignore[call-arg]
        snapshot=snapshot,
    )


class ListingService:
    """Records whether each schedule request asked for the market listing to start too."""

    def __init__(self) -> None:
        self.with_markets: list[bool] = []

    def today(self) -> date:
        return date(2026, 11, 22)

    async def games(self, league: Any, day: date, *, with_markets: bool = False) -> list[Any]:
        self.with_markets.append(with_markets)
        return []

    async def game(self, game_id: str, *, with_markets: bool = False) -> None:
        self.with_markets.append(with_markets)

    def game_set(self, games: list[Any]) -> GameSet:
        async def nothing(*args: Any) -> list[Any]:
            return []

        return GameSet(games, markets=nothing, predictions=nothing)


@pytest.mark.parametrize(
    ("query", "listing"),
    [
        pytest.param("{ games(league: NBA) { id home { code } } }", False, id="schedule-only"),
        pytest.param("{ games(league: NBA) { markets { ticker } } }", True, id="markets"),
        pytest.param(
            "{ games(league: NBA) { ...G } } fragment G on Game { prediction { edge } }",
            True,
            id="prediction-in-a-fragment",
        ),
        pytest.param(
            "{ games(league: NBA) { ... on Game { id ... on Game { markets { team } } } } }",
            True,
            id="markets-in-nested-inline-fragments",
        ),
        pytest.param("{ games(league: NBA, sortBy: EDGE) { id } }", True, id="sorted-by-edge"),
        pytest.param('{ game(id: "NBA.20261122.1") { id } }', False, id="one-game"),
        pytest.param(
            '{ game(id: "NBA.20261122.1") { prediction { edge } } }', True, id="one-prediction"
        ),
    ],
)
async def test_the_listing_starts_with_the_schedule_when_the_selection_needs_it(
    query: str, listing: bool
) -> None:
    """games/game ask the service to start the market listing with the scoreboard exactly
    when markets or predictions are selected (fragments included) or needed for sorting."""
    service = ListingService()
    result = await schema.execute(query, context_value=context(service))
    assert result.errors is None
    assert service.with_markets == [listing]


async def test_unexpected_exceptions_are_masked() -> None:
    """An unexpected exception reaches the client as 'Unexpected error.', not its text."""
    result = await schema.execute(
        '{ market(ticker: "KXNBAGAME-26NOV22ATLTOR-ATL") { ticker } }',
        context_value=context(FakeService(RuntimeError("internal detail /etc/key.pem"))),
    )
    assert result.errors is not None
    assert [e.message for e in result.errors] == ["Unexpected error."]
    extensions = result.errors[0].extensions or {}
    assert extensions["code"] == "INTERNAL_SERVER_ERROR"
    assert len(extensions["correlationId"]) == 32


async def test_our_errors_keep_their_message() -> None:
    """Errors from our own exception tree are written for users and shown as they are."""
    result = await schema.execute(
        '{ market(ticker: "KXNBAGAME-26NOV22ATLTOR-ATL") { ticker } }',
        context_value=context(FakeService(UpstreamUnavailable("Kalshi: failed 4 times"))),
    )
    assert result.errors is not None
    assert [e.message for e in result.errors] == ["Kalshi: failed 4 times"]
    assert [(e.extensions or {}).get("code") for e in result.errors] == ["UPSTREAM_UNAVAILABLE"]


async def test_depth_limit_applies() -> None:
    """Queries deeper than the configured depth are refused before execution."""
    shallow = build_schema(limits=Limits(max_depth=1))
    result = await shallow.execute("{ games(league: NBA) { home { code } } }")
    assert result.errors is not None
    assert result.errors[0].message == "operation 'anonymous' is 3 fields deep; the limit is 1"


async def test_a_refused_document_meets_no_other_rule() -> None:
    """The cost rules run first, on their own: a refused document is not validated further
    (an unknown field goes unreported), so its expansion never reaches the other rules."""
    result = await build_schema(limits=Limits(max_aliases=0)).execute("{ a: __typename nope }")
    assert [(e.extensions or {}).get("code") for e in result.errors or ()] == ["TOO_MANY_ALIASES"]


async def test_a_fragment_bomb_is_refused_by_its_expanded_size() -> None:
    """30 levels of doubling fragments: refused (fields, root fields, nodes), not run."""
    chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(30))
    query = f"query B {{ ...F0 }} {chain} fragment F30 on Query {{ __typename }}"
    result = await build_schema().execute(query)
    codes = {(e.extensions or {}).get("code") for e in result.errors or ()}
    assert codes == {"TOO_MANY_FIELDS", "TOO_MANY_ROOT_FIELDS", "TOO_MANY_NODES"}
    assert result.data is None


class SlowService:
    def __init__(self) -> None:
        self.cancelled = asyncio.Event()

    async def market(self, ticker: str) -> Market | None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return None


async def test_an_operation_over_its_time_budget_gets_a_timeout_error() -> None:
    """A resolver still running at QUERY_TIMEOUT_S is cancelled and the client gets TIMEOUT."""
    service = SlowService()
    result = await build_schema(timeout_s=0.05).execute(
        '{ market(ticker: "KXNBAGAME-26NOV22ATLTOR-ATL") { ticker } }',
        context_value=context(service),
    )
    assert result.data is None and result.errors is not None
    assert "longer than 0.05 s" in result.errors[0].message
    assert isinstance(result.errors[0].original_error, OperationTimeout)
    assert service.cancelled.is_set()


LIMITED = {
    "limits": Limits(
        max_depth=3,
        max_aliases=2,
        max_fields=10,
        max_root_fields=3,
        max_nodes=500,
        max_requests=2,
    ),
    "max_tokens": 20,
    "max_query_bytes": 300,
}


@pytest.mark.parametrize(
    ("query", "code", "options"),
    [
        pytest.param("{ game(id: 1) { home { code } markets { ticker } } }", None, {}, id="within"),
        pytest.param(
            "{ game(id: 1) { prediction { factors { name } } } }",
            "QUERY_TOO_DEEP",
            {},
            id="depth",
        ),
        pytest.param(
            "{ a: __typename b: __typename c: __typename }", "TOO_MANY_ALIASES", {}, id="aliases"
        ),
        pytest.param("{ " + "a " * 30 + "}", "TOO_MANY_TOKENS", {}, id="tokens"),
        pytest.param("{ game(id: 1) { " + "id " * 10 + "} }", "TOO_MANY_FIELDS", {}, id="fields"),
        pytest.param("{ " + "__typename " * 4 + "}", "TOO_MANY_ROOT_FIELDS", {}, id="root"),
        pytest.param(
            "{ games(league: NBA) { id markets { ticker } } }", "TOO_MANY_NODES", {}, id="nodes"
        ),
        pytest.param(
            "{ games(league: NBA) { prediction { edge } } }",
            "QUERY_TOO_EXPENSIVE",
            {},
            id="cost",
        ),
        pytest.param("{ __typename # " + "x" * 300 + "\n}", "QUERY_TOO_LARGE", {}, id="bytes"),
        pytest.param("{ __schema { queryType { name } } }", None, {}, id="introspection-on"),
        pytest.param(
            "{ __schema { queryType { name } } }",
            "INTROSPECTION_DISABLED",
            {"introspection": False},
            id="introspection-off",
        ),
        pytest.param("{ __typename }", None, {"introspection": False}, id="typename-still-ok"),
    ],
)
async def test_each_limit_has_its_code(
    query: str, code: str | None, options: dict[str, Any]
) -> None:
    """Documents past a configured limit are refused before execution with that limit's code."""
    limited = build_schema(**{**LIMITED, **options})
    parsed = await limited.execute(query, context_value=context(FakeService(AssertionError())))
    codes = [(e.extensions or {}).get("code") for e in parsed.errors or ()]
    if code is None:
        assert not any(c in errorpolicy.REQUEST_ERROR_CODES for c in codes)
    else:
        assert set(codes) == {code}
        assert parsed.data is None


async def test_strawberry_does_not_log_tracebacks_for_expected_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An expected error is one line from the policy; Strawberry's own error log stays quiet."""
    caplog.set_level(logging.DEBUG)
    await schema.execute(
        '{ market(ticker: "KXNBAGAME-26NOV22ATLTOR-ATL") { ticker } }',
        context_value=context(FakeService(UpstreamUnavailable("Kalshi: failed 4 times"))),
    )
    await schema.execute("{ nope }")
    assert [r.name for r in caplog.records] == ["graph.api.errors"] * 2
    assert all(r.exc_info is None and r.levelno <= logging.WARNING for r in caplog.records)


class PreparedService(ListingService):
    """One scheduled game whose markets and prediction come from fixed batches."""

    def __init__(self) -> None:
        super().__init__()
        self.scheduled = Game(
            id="1",
            league=League.NBA,
            start_time=datetime(2026, 11, 22, 23, 0, tzinfo=UTC),
            state=GameState.SCHEDULED,
            home=TeamRef(code="BOS", name="Boston"),
            away=TeamRef(code="LAL", name="Los Angeles"),
        )

    async def games(self, league: Any, day: date, *, with_markets: bool = False) -> list[Any]:
        self.with_markets.append(with_markets)
        return [self.scheduled]

    def game_set(self, games: list[Any]) -> GameSet:
        market = Market(
            ticker="KXNBAGAME-26NOV22LALBOS-BOS", event_ticker="E", title="t", status="active"
        )

        async def markets(games: Any) -> list[GameMarkets]:
            return [GameMarkets(event_ticker="E", home=market)]

        async def predictions(games: Any, pending: Any) -> list[Any]:
            await pending
            return [RuntimeError("model down")]

        return GameSet(games, markets=markets, predictions=predictions)


@pytest.mark.parametrize("readied", [True, False], ids=["readied-by-the-resolver", "not-readied"])
async def test_game_fields_answer_whether_or_not_the_batch_was_readied(
    readied: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """markets and prediction answer from a batch the resolver finished, or await it when it
    did not; a failed prediction is that game's error either way."""
    if not readied:
        monkeypatch.setattr("graph.api.schema.batches_needed", lambda *args: set())
    service = PreparedService()
    result = await schema.execute(
        "{ games(league: NBA) { markets { ticker } prediction { edge } } }",
        context_value=context(service),
    )
    assert result.data == {
        "games": [{"markets": [{"ticker": "KXNBAGAME-26NOV22LALBOS-BOS"}], "prediction": None}]
    }
    assert [e.path for e in result.errors or ()] == [["games", 0, "prediction"]]
    assert service.with_markets == [readied]
