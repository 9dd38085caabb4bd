"""What a ``games`` (or ``game``) selection asks of the games' batches (edge).

The resolvers read it to start the day's market listing with the schedule request and to
finish the batches before the games' fields run (:meth:`graph.games.batches.GameSet.ready`).
Fragments (named or inline, however nested) count like the fields they hold.
"""

from __future__ import annotations

from collections.abc import Sequence

from strawberry.types.nodes import SelectedField, Selection

from graph.games.ordering import GameSort

BATCH_FIELDS = frozenset({"markets", "prediction"})


def batches_needed(
    selected: Sequence[Selection], sort_by: GameSort = GameSort.START_TIME
) -> set[str]:
    """The batches (``markets``, ``prediction``) the games' fields in ``selected`` need: a
    prediction compares itself with the markets, and sorting by edge or confidence needs
    both."""

    def walk(selections: Sequence[Selection]) -> set[str]:
        found: set[str] = set()
        for s in selections:
            if isinstance(s, SelectedField):
                found |= {s.name} & BATCH_FIELDS
            else:
                found |= walk(s.selections)
        return found

    needs = set().union(*(walk(field.selections) for field in selected))
    if sort_by is not GameSort.START_TIME:
        needs.add("prediction")
    return needs | {"markets"} if needs else needs
