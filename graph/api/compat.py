"""The library internals we still rely on, each checked when the schema is built.

Two remain (README, "Dependencies"), both on the subscription fan-out path:

- ``strawberry.schema.schema.StrawberryGraphQLCoreExecutionContext``: Strawberry's executor
  class (it builds the resolvers' ``info``); it is not exported, and
  :class:`graph.api.execution.SharedExecutor` must extend it to share subscription results.
- graphql-core's ``Executor._relevant_sub_fields``: the sub-field memo that every per-event
  executor of a subscription shares with its parent (graphql-core 3.3 keys it by the identity
  of lists made afresh per event, ~1.8 KB per event kept for the subscription's life); we give
  each event a fresh one.

If an upgrade renames either, :func:`check` fails at startup with the versions installed,
instead of the fan-out silently losing its memory fix.
"""

from __future__ import annotations

from importlib.metadata import version

from graphql import Executor, build_schema, parse

try:
    from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
except ImportError as exc:  # pragma: no cover - only an incompatible Strawberry gets here
    raise RuntimeError(
        "strawberry-graphql no longer has StrawberryGraphQLCoreExecutionContext "
        f"(installed {version('strawberry-graphql')}): see graph/api/compat.py"
    ) from exc

SUB_FIELDS_MEMO = "_relevant_sub_fields"

__all__ = ["SUB_FIELDS_MEMO", "StrawberryGraphQLCoreExecutionContext", "check"]


def check(memo: str = SUB_FIELDS_MEMO) -> None:
    """Raise ``RuntimeError`` if graphql-core's per-event executors lost the memo we replace."""
    schema = build_schema("type Query { a: Int } type Subscription { a: Int }")
    parent = Executor.build(schema, parse("subscription { a }"))
    assert isinstance(parent, Executor)  # a valid document builds an executor, not errors
    event = parent.build_per_event_executor({"a": 1})
    if not isinstance(getattr(event, memo, None), dict):
        raise RuntimeError(
            f"graphql-core's Executor has no {memo} dict any more (installed "
            f"{version('graphql-core')}): the subscription memory fix in "
            "graph.api.execution.SharedExecutor needs updating"
        )
