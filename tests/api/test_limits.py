"""graph.api.limits: our rules run first, alone, with their own codes."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from graphql import build_schema, parse, validate

from graph.api.cost import MODEL, Limits, cost_rule
from graph.api.limits import (
    INTROSPECTION_DISABLED,
    NoIntrospection,
    OperationLimits,
    _Validated,
)
from graph.api.schema import build_schema as build_graph_schema

SDL = build_schema("type Query { a: Int }")


def test_no_introspection_refuses_schema_and_type_but_not_typename() -> None:
    """__schema and __type are refused with INTROSPECTION_DISABLED; __typename is not
    introspection of the schema and stays."""
    (error,) = validate(SDL, parse("{ __schema { queryType { name } } a }"), [NoIntrospection])
    assert error.extensions == {"code": INTROSPECTION_DISABLED}
    assert validate(SDL, parse('{ __type(name: "Query") { name } }'), [NoIntrospection])
    assert validate(SDL, parse("{ __typename a }"), [NoIntrospection]) == []


async def test_within_the_limits_the_standard_rules_still_run() -> None:
    """A document our rules accept is validated by graphql-core's rules as usual (once)."""
    result = await build_graph_schema().execute("{ nope }")
    assert result.errors is not None
    (error,) = result.errors
    assert "Cannot query field 'nope'" in error.message


async def test_with_introspection_off_a_refusal_is_coded() -> None:
    """INTROSPECTION=false: the schema's own introspection query is refused, coded."""
    schema = build_graph_schema(introspection=False, limits=Limits())
    result = await schema.execute("{ __schema { types { name } } }")
    assert [(e.extensions or {}).get("code") for e in result.errors or ()] == [
        INTROSPECTION_DISABLED
    ]


async def test_a_query_that_passed_is_not_validated_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same valid text is validated once per schema (every live-page subscriber sends
    the same query); invalid ones are validated, and refused, every time; a schema with
    other rules (introspection off) validates for itself."""
    calls: list[str] = []

    def counting(schema: Any, document: Any, rules: Any) -> Any:
        calls.append("validate")
        return validate(schema, document, rules)

    monkeypatch.setattr("strawberry.schema.schema.validate", counting)
    schema = build_graph_schema()
    unique = "{ __typename first: __typename }"
    for _ in range(3):
        assert (await schema.execute(unique)).errors is None
    assert len(calls) == 1
    for _ in range(2):
        assert (await schema.execute("{ nope }")).errors
    assert len(calls) == 3
    closed = build_graph_schema(introspection=False)
    assert (await closed.execute(unique)).errors is None
    assert len(calls) == 4
    assert (await closed.execute("{ __schema { types { name } } }")).errors
    assert (await closed.execute("{ __schema { types { name } } }")).errors
    assert len(calls) == 6


async def test_a_syntax_error_is_still_strawberrys_to_report() -> None:
    result = await build_graph_schema().execute("{ __typename")
    assert result.errors is not None
    (error,) = result.errors
    assert error.message.startswith("Syntax Error")


def test_the_validated_texts_are_bounded_oldest_out() -> None:
    validated = _Validated(size=2)
    keys = [(None, text, ()) for text in ("a", "b", "c")]
    validated.remember(keys[0])
    validated.remember(keys[1])
    assert validated.seen(keys[0])  # now the newest
    validated.remember(keys[2])
    assert [validated.seen(k) for k in keys] == [True, False, True]


def _run_hook(hook: Any) -> None:
    """Drive one extension hook (a generator) through its before and after parts."""
    for _ in hook:
        pass


def test_the_extension_leaves_work_done_by_someone_else_alone() -> None:
    """A document another extension parsed is kept, and errors already found are not
    replaced or re-checked."""
    limits = OperationLimits(sdl="type Query { a: Int }", cost=cost_rule(Limits(), MODEL))
    parsed = parse("{ a }")
    context = SimpleNamespace(
        query="{ a }", graphql_document=parsed, pre_execution_errors=None, validation_rules=()
    )
    limits.execution_context = context  # type: ignore[assignment]
    _run_hook(limits.on_parse())
    assert context.graphql_document is parsed
    context.pre_execution_errors = ["invalid"]
    _run_hook(limits.on_validate())
    assert context.pre_execution_errors == ["invalid"]
