"""How the schema runs operations: identical queries share one execution per principal,
errors stay with their request, each document is parsed and validated once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from unittest.mock import patch

import httpx
import pytest
from graphql import GraphQLSyntaxError, validate

from graph.api.context import Context
from graph.api.schema import build_schema
from graph.models import Market
from graph.settings import Settings
from graph.sim import Simulator
from tests.e2e import SUNDAY_NOON_UTC, eventually, running_app

MARKET = '{ market(ticker: "KXNBAGAME-26NOV22ATLTOR-ATL") { ticker } }'
TOKENS = ["tok-alpha-1234567890", "tok-beta-0987654321"]


class HeldService:
    """market() waits for a gate, then fails unexpectedly or answers nothing."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls = 0
        self.gate = asyncio.Event()

    async def market(self, ticker: str) -> Market | None:
        self.calls += 1
        await self.gate.wait()
        if self.error is not None:
            raise self.error
        return None


def context(service: Any, principal: str | None) -> Context:
    return Context(
        service=service,
        hub=None,  # type: ignore[arg-type]
        settings=Settings(_env_file=None),  # type: ignore[call-arg]
        snapshot=None,  # type: ignore[arg-type]
        principal=principal,
    )


async def _at_once(schema: Any, service: HeldService, principals: list[str | None]) -> list[Any]:
    runs = [
        asyncio.ensure_future(schema.execute(MARKET, context_value=context(service, p)))
        for p in principals
    ]
    await eventually(lambda: service.calls >= len(set(principals)))
    service.gate.set()
    return list(await asyncio.gather(*runs))


async def test_identical_queries_of_one_principal_run_once() -> None:
    """Equal queries in flight for one principal execute once; without a principal (the
    view always gives one) each runs alone."""
    schema = build_schema()
    service = HeldService()
    results = await _at_once(schema, service, ["", "", ""])
    assert service.calls == 1 and all(r.data == {"market": None} for r in results)
    alone = HeldService()
    alone.gate.set()
    await asyncio.gather(
        *(schema.execute(MARKET, context_value=context(alone, None)) for _ in "ab")
    )
    assert alone.calls == 2


async def test_errors_are_never_shared_between_requests() -> None:
    """Identical queries that fail each get their own error (own correlation id)."""
    schema = build_schema()
    service = HeldService(RuntimeError("internal detail"))
    results = await _at_once(schema, service, ["", ""])
    ids = {(r.errors[0].extensions or {})["correlationId"] for r in results}
    assert service.calls == 2 and len(ids) == 2
    assert schema.operations.stats.unshared == 1


async def test_only_queries_are_shared() -> None:
    """A subscription, a request carrying extensions or odd variables, runs on its own."""
    schema = build_schema()
    service = HeldService()
    service.gate.set()
    ctx = context(service, "")
    await schema.execute(MARKET, context_value=ctx, operation_extensions={"persisted": 1})
    subscription = 'subscription { tickerUpdates(marketTickers: ["A-B"]) { ts } }'
    refused = await schema.execute(subscription, context_value=ctx)
    assert refused.errors  # Strawberry refuses to execute a subscription
    # Variables that are not JSON (never the case over HTTP) cannot form a key.
    await schema.execute(MARKET, variable_values={"x": object()}, context_value=ctx)
    assert schema.operations.stats.executed == 0


async def test_each_document_is_parsed_and_validated_once() -> None:
    """Repeats of a document reuse its parse and its passed validation."""
    schema = build_schema(result_ttl_s=0)
    service = HeldService()
    service.gate.set()
    # Strawberry validates with graphql-core's validate, imported into its schema module.
    with patch("strawberry.schema.schema.validate", wraps=validate) as validations:
        for _ in range(3):
            result = await schema.execute(MARKET, context_value=context(service, None))
            assert result.errors is None
    assert validations.call_count == 1
    assert schema.parse(MARKET) is schema.parse(MARKET)


async def test_tokens_never_share_an_execution_over_http(tmp_path: Path) -> None:
    """Over HTTP the principal is the token: identical queries share one execution per
    token, never across tokens, and repeats within the TTL are answered per token."""
    async with (
        Simulator(clock=lambda: SUNDAY_NOON_UTC, tick_interval_s=None) as sim,
        running_app(sim, tmp_path, graph_api_tokens=",".join(TOKENS)) as (app, url),
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        stats = app.state.schema.operations.stats

        async def ask(token: str) -> Any:
            headers = {"authorization": f"Bearer {token}"}
            response = await http.post("/graphql", json={"query": MARKET}, headers=headers)
            return response.raise_for_status().json()

        bodies = await asyncio.gather(*(ask(t) for t in TOKENS * 3))
        executed = stats.executed
        await ask(TOKENS[0])
    assert bodies == [{"data": {"market": None}}] * 6
    assert executed == 2  # one per token, however the six interleaved
    assert stats.executed == 2 and stats.joined + stats.recent == 5


def test_documents_are_parsed_once_per_text_and_never_past_the_token_limit() -> None:
    """The same text gives the very same document; a syntax error is raised every time; a
    30,000-deep document past the token limit is graphql-core's syntax error, never a
    RecursionError."""
    schema = build_schema(max_tokens=50)
    first = schema.parse("{ a }")
    assert schema.parse("{ a }") is first
    for _ in range(2):
        with pytest.raises(GraphQLSyntaxError):
            schema.parse("{ a")
    with pytest.raises(GraphQLSyntaxError, match="more than 50 tokens"):
        schema.parse("{ a " * 30_000 + "}" * 30_000)
