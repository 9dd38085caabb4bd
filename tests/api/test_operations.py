"""graph.api.operations: each operation is budgeted and reported once, names folded."""

from __future__ import annotations

from typing import Any

import pytest

from graph import budget
from graph.api.operations import ANONYMOUS, OTHER, OperationRecord, label
from graph.api.schema import build_schema
from graph.errors import UpstreamBudgetExceeded


def test_names_fold_into_a_bounded_set() -> None:
    """Listed names keep their label; any other is "other"; no name is "anonymous"."""
    known = {"TodaysGames"}
    assert label("TodaysGames", known) == "TodaysGames"
    assert label("x" * 500, known) == OTHER
    assert label(None, known) == label("", known) == ANONYMOUS


class Recorder:
    def __init__(self) -> None:
        self.records: list[OperationRecord] = []

    def __call__(self, record: OperationRecord) -> None:
        self.records.append(record)


class SpendingService:
    """A service whose market lookup makes ``calls`` upstream requests (charged to the
    operation's budget, as the real transport does)."""

    def __init__(self, calls: int) -> None:
        self.calls = calls

    async def market(self, ticker: str) -> Any:
        spent = budget.current()
        assert spent is not None
        for _ in range(self.calls):
            spent.charge()
        return None


def context(service: Any) -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(service=service)


@pytest.mark.parametrize(
    ("query", "kind", "name", "codes"),
    [
        ('query TodaysGames { market(ticker: "A") { ticker } }', "query", "TodaysGames", ()),
        ('query Mine { market(ticker: "A") { ticker } }', "query", "other", ()),
        ("{ nope }", "query", "anonymous", ("GRAPHQL_VALIDATION_FAILED",)),
        ("{", "unknown", "anonymous", ("GRAPHQL_PARSE_FAILED",)),
    ],
)
async def test_every_operation_is_reported_once_with_its_codes(
    query: str, kind: str, name: str, codes: tuple[str, ...]
) -> None:
    """One record per operation: type (unknown if it did not parse), folded name, duration,
    the codes of its errors, its upstream requests."""
    observe = Recorder()
    schema = build_schema(observe=observe, operation_names={"TodaysGames"})
    await schema.execute(query, context_value=context(SpendingService(2)))
    (record,) = observe.records
    assert (record.kind, record.name, record.codes) == (kind, name, codes)
    assert record.seconds >= 0
    assert record.upstream_requests == (2 if not codes else 0)


async def test_the_budget_refuses_requests_past_its_limit_and_says_so() -> None:
    """With MAX_UPSTREAM_REQUESTS=3, a field needing 5 fails with UPSTREAM_BUDGET_EXCEEDED;
    the record counts 3 made and 1 refused."""
    observe = Recorder()
    schema = build_schema(observe=observe, max_upstream_requests=3)
    result = await schema.execute(
        '{ market(ticker: "A") { ticker } }', context_value=context(SpendingService(5))
    )
    assert [(e.extensions or {}).get("code") for e in result.errors or ()] == [
        UpstreamBudgetExceeded.code
    ]
    (record,) = observe.records
    assert (record.upstream_requests, record.budget_refusals) == (3, 1)
    assert record.codes == (UpstreamBudgetExceeded.code,)
    assert budget.current() is None  # the operation's budget ended with it
