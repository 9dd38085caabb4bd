"""Public game ids: built and parsed in one place."""

from __future__ import annotations

import pytest

from graph.errors import InvalidInput
from graph.games.ids import parse_public_id


@pytest.mark.parametrize("value", ["", "NBA", "XFL.20261122.1", "NBA.2026-11-22.1"])
def test_bad_game_ids_are_invalid_input(value: str) -> None:
    """Malformed ids are rejected with InvalidInput, not a crash."""
    with pytest.raises(InvalidInput, match="not a game id"):
        parse_public_id(value)
