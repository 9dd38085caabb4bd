"""Which of the games' batches a selection needs (graph.api.selection)."""

from __future__ import annotations

import pytest
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from graph.api.selection import batches_needed
from graph.games.ordering import GameSort


def field(name: str, *children: Selection) -> SelectedField:
    return SelectedField(name, {}, {}, list(children))


def games(*children: Selection) -> list[Selection]:
    return [field("games", *children)]


@pytest.mark.parametrize(
    ("selected", "needed"),
    [
        pytest.param(games(field("id"), field("home", field("code"))), set(), id="schedule"),
        pytest.param(games(field("markets", field("ticker"))), {"markets"}, id="markets"),
        pytest.param(
            games(FragmentSpread("G", "Game", {}, [field("prediction", field("edge"))])),
            {"markets", "prediction"},
            id="prediction-in-a-fragment",
        ),
        pytest.param(
            games(InlineFragment("Game", [InlineFragment(None, [field("markets")], {})], {})),
            {"markets"},
            id="nested-inline-fragments",
        ),
        pytest.param(
            games(field("home", field("prediction"))), set(), id="only-the-games-own-fields"
        ),
    ],
)
def test_batches_follow_the_games_fields(selected: list[Selection], needed: set[str]) -> None:
    """Markets or a prediction, anywhere among the games' own fields; a prediction needs
    the markets too."""
    assert batches_needed(selected) == needed


def test_sorting_by_prediction_needs_both() -> None:
    """Sorting by edge or confidence loads predictions (and markets) whatever is selected."""
    assert batches_needed(games(field("id")), GameSort.EDGE) == {"markets", "prediction"}
    assert batches_needed(games(field("id")), GameSort.START_TIME) == set()
