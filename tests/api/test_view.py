"""Tests for graph.api.view pieces that need no server (the rest run end to end)."""

from __future__ import annotations

import json
from typing import cast

import pytest

from graph.api.view import GraphQLView


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\xff\xfe{", id="invalid-utf-8"),
        pytest.param("[" * 30_000 + "]" * 30_000, id="30000-deep"),
    ],
)
def test_bad_json_is_a_decode_error_never_a_crash(data: str | bytes) -> None:
    """Invalid UTF-8 and 30,000-deep JSON are a decode error (a 400), never a RecursionError."""
    with pytest.raises(json.JSONDecodeError):
        GraphQLView.decode_json(cast(GraphQLView, None), data)
