"""Tests for graph.api.wshandlers pieces that need no server (the rest run end to end)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.websockets import WebSocketState

from graph.api.schema import schema
from graph.api.wshandlers import WebSocketAdapter, _track, _unrunnable


class ClosedSocket:
    """A Starlette WebSocket the server has already closed: any send would raise."""

    application_state = WebSocketState.DISCONNECTED
    scope: dict[str, Any] = {}

    async def send_text(self, data: str) -> None:
        raise AssertionError("sent on a closed socket")

    async def close(self, code: int, reason: str) -> None:
        raise AssertionError("closed twice")


def _adapter() -> WebSocketAdapter:
    """An adapter whose socket is gone: sends are dropped, operations still reported."""
    view = SimpleNamespace(max_message_bytes=10, encode_json=json.dumps)
    socket = ClosedSocket()
    return WebSocketAdapter(view, socket, socket)  # type: ignore[arg-type]


async def test_nothing_is_sent_on_a_socket_already_closed() -> None:
    """Operations finishing after a close do not raise in their tasks (nothing to tell)."""
    adapter = _adapter()
    await adapter.send_json({"type": "complete", "id": "1"})
    await adapter.send_text('{"id":"1","type":"next","payload":{}}')  # a fan-out frame
    await adapter.close(4400, "again")


@pytest.mark.parametrize(
    ("client", "server", "open_after"),
    [
        pytest.param([{"type": "subscribe", "id": "1"}], [], {"1"}, id="subscribe-opens"),
        pytest.param([{"type": "start", "id": "1"}], [], {"1"}, id="legacy-start-opens"),
        pytest.param(
            [{"type": "subscribe", "id": "1"}, {"type": "complete", "id": "1"}],
            [],
            set(),
            id="client-complete-ends",
        ),
        pytest.param(
            [{"type": "start", "id": "1"}, {"type": "stop", "id": "1"}],
            [],
            set(),
            id="legacy-stop-ends",
        ),
        pytest.param(
            [{"type": "subscribe", "id": "1"}],
            [{"id": "1", "type": "complete"}],
            set(),
            id="server-complete-ends",
        ),
        pytest.param(
            [{"type": "subscribe", "id": "1"}],
            [{"id": "1", "type": "error", "payload": []}],
            set(),
            id="server-error-ends",
        ),
        pytest.param(
            [{"type": "subscribe", "id": "1"}],
            [{"id": "1", "type": "next", "payload": {"data": {"x": "complete"}}}],
            {"1"},
            id="next-does-not-end",
        ),
        pytest.param(
            [{"type": "subscribe", "id": 7}, {"id": "1"}, {"type": "ping"}],
            [{"type": "pong"}],
            set(),
            id="no-string-id-ignored",
        ),
    ],
)
async def test_operations_are_reported_from_both_directions(
    client: list[dict[str, Any]], server: list[dict[str, Any]], open_after: set[str]
) -> None:
    """Client subscribe/start open an id; client complete/stop or a sent complete/error end it."""
    adapter = _adapter()
    for message in client:
        _track(adapter, message)
    for message in server:
        await adapter.send_json(message)
    assert adapter.operations.ids == open_after


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        pytest.param({"query": "{ a"}, "Syntax Error", id="syntax"),
        pytest.param(
            {"query": "query A { a }", "operationName": "B"},
            "Unknown operation named 'B'.",
            id="unknown-name",
        ),
        pytest.param({"query": "{ a } { b }"}, "Can't get GraphQL operation.", id="ambiguous"),
    ],
)
def test_a_subscribe_that_cannot_start_says_why(payload: dict[str, Any], message: str) -> None:
    error = _unrunnable(schema, payload)
    assert error is not None and error.message.startswith(message)
    chosen = {"query": "query A { a } query B { b }", "operationName": "B"}
    assert _unrunnable(schema, chosen) is None
