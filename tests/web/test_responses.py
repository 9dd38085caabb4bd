"""Tests for graph.web.responses: refusals outside GraphQL look like GraphQL errors."""

from __future__ import annotations

import json
from typing import Any

from graph.web.responses import error_body, send_error


def test_error_body_is_a_graphql_error_with_its_code() -> None:
    """The body is one GraphQL error: the message and extensions.code, nothing else."""
    assert json.loads(error_body("too large", "REQUEST_TOO_LARGE")) == {
        "errors": [{"message": "too large", "extensions": {"code": "REQUEST_TOO_LARGE"}}]
    }


async def test_send_error_answers_with_status_length_and_extra_headers() -> None:
    """ASGI middleware gets a complete JSON response: status, exact length, given headers."""
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    await send_error(send, 401, "no token", "UNAUTHENTICATED", [(b"www-authenticate", b"Bearer")])
    start, body = sent
    headers = dict(start["headers"])
    assert start["status"] == 401
    assert headers[b"content-type"] == b"application/json"
    assert int(headers[b"content-length"]) == len(body["body"])
    assert headers[b"www-authenticate"] == b"Bearer"
    assert json.loads(body["body"])["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
