"""Shape checks of GraphQL WebSocket client messages."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, strategies as st

from graph.api.wsmessages import problem

T, L = "graphql-transport-ws", "graphql-ws"
GOOD = {"query": "{ __typename }"}


@pytest.mark.parametrize(
    ("message", "protocol", "reason"),
    [
        pytest.param({"type": "subscribe", "id": "1", "payload": GOOD}, T, None, id="subscribe"),
        pytest.param({"type": "start", "id": "1", "payload": GOOD}, L, None, id="start"),
        pytest.param({"type": "complete", "id": "1"}, T, None, id="complete"),
        pytest.param({"type": "connection_init"}, T, None, id="init"),
        pytest.param({"type": "mystery"}, T, None, id="unknown-type-left-to-handler"),
        pytest.param([1, 2], T, "JSON object", id="array"),
        pytest.param("text", L, "JSON object", id="string"),
        pytest.param({"type": 5}, T, "string 'type'", id="numeric-type"),
        pytest.param({"type": "subscribe", "id": 1, "payload": GOOD}, T, "'id'", id="numeric-id"),
        pytest.param({"type": "stop", "id": ""}, L, "'id'", id="empty-id"),
        pytest.param({"type": "complete", "id": "x" * 129}, T, "'id'", id="long-id"),
        pytest.param({"type": "subscribe", "id": "1"}, T, "'payload'", id="no-payload"),
        pytest.param(
            {"type": "start", "id": "1", "payload": {"query": 3}}, L, "payload.query", id="query"
        ),
        pytest.param(
            {"type": "subscribe", "id": "1", "payload": {**GOOD, "variables": [1]}},
            T,
            "payload.variables",
            id="variables",
        ),
        pytest.param(
            {"type": "subscribe", "id": "1", "payload": {**GOOD, "extensions": "x"}},
            T,
            "payload.extensions",
            id="extensions",
        ),
        pytest.param(
            {"type": "subscribe", "id": "1", "payload": {**GOOD, "operationName": 1}},
            T,
            "operationName",
            id="operation-name",
        ),
    ],
)
def test_message_shapes(message: Any, protocol: str, reason: str | None) -> None:
    """Well-formed messages pass; each malformed part is named."""
    found = problem(message, protocol)
    if reason is None:
        assert found is None
    else:
        assert found is not None and reason in found


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)


@given(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["subscribe", "complete", "start", "stop"])},
        optional={"id": JSON, "payload": JSON},
    )
    | JSON,
    st.sampled_from([T, L]),
)
def test_a_message_that_passes_is_safe_to_index(message: Any, protocol: str) -> None:
    """Whatever passes the check can be indexed the way Strawberry's handlers do."""
    start = "subscribe" if protocol == T else "start"
    if problem(message, protocol) is not None or message.get("type") != start:
        return
    assert isinstance(message["id"], str)
    assert isinstance(message["payload"]["query"], str)
    assert isinstance(message["payload"].get("variables") or {}, dict)
