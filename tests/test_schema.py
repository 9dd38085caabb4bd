"""The schema in-process: SDL drift, input checks, error masking and limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from graph.context import Context
from graph.errors import InvalidInput, UpstreamUnavailable
from graph.models import Market
from graph.schema import _check_tickers, build_schema, schema
from graph.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_schema_file_matches_the_code() -> None:
    """schema.graphql is exactly what the code builds (re-export with `make schema`)."""
    assert (ROOT / "schema.graphql").read_text() == str(schema)


@pytest.mark.parametrize(
    ("tickers", "message"),
    [
        pytest.param([], "at least one", id="empty"),
        pytest.param([f"KXA-{i}" for i in range(4)], "at most 3", id="too-many"),
        pytest.param(["kxnba-lower"], "not a Kalshi market ticker", id="lowercase"),
        pytest.param(["A B"], "not a Kalshi market ticker", id="space"),
        pytest.param(["X" * 101], "not a Kalshi market ticker", id="too-long"),
    ],
)
def test_bad_ticker_lists_are_rejected(tickers: list[str], message: str) -> None:
    """Subscriptions validate their tickers before anything goes upstream."""
    with pytest.raises(InvalidInput, match=message):
        _check_tickers(tickers, limit=3)


def test_ticker_lists_are_deduplicated_in_order() -> None:
    """Repeated tickers count once and keep their first position."""
    assert _check_tickers(["B-1", "A-1", "B-1"], limit=2) == ["B-1", "A-1"]


class FakeService:
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def market(self, ticker: str) -> Market | None:
        raise self.error


def context(service: Any) -> Context:
    return Context(
        service=service,
        hub=None,  # type: ignore[arg-type]
        settings=Settings(_env_file=None),  # type: ignore[call-arg]
        market_loader=None,  # type: ignore[arg-type]
        prediction_loader=None,  # type: ignore[arg-type]
    )


async def test_unexpected_exceptions_are_masked() -> None:
    """An unexpected exception reaches the client as 'Unexpected error.', not its text."""
    result = await schema.execute(
        '{ market(ticker: "KXNBAGAME-26NOV22ATLTOR-ATL") { ticker } }',
        context_value=context(FakeService(RuntimeError("internal detail /etc/key.pem"))),
    )
    assert result.errors is not None
    assert [e.message for e in result.errors] == ["Unexpected error."]


async def test_our_errors_keep_their_message() -> None:
    """Errors from our own exception tree are written for users and shown as they are."""
    result = await schema.execute(
        '{ market(ticker: "KXNBAGAME-26NOV22ATLTOR-ATL") { ticker } }',
        context_value=context(FakeService(UpstreamUnavailable("Kalshi: failed 4 times"))),
    )
    assert result.errors is not None
    assert [e.message for e in result.errors] == ["Kalshi: failed 4 times"]


async def test_depth_limit_applies() -> None:
    """Queries deeper than the configured depth are refused before execution."""
    shallow = build_schema(max_depth=1)
    result = await shallow.execute("{ games(league: NBA) { home { code } } }")
    assert result.errors is not None
    assert "exceeds maximum operation depth" in result.errors[0].message
