"""Tests for graph.api.compat: the library internals we rely on are checked at startup."""

from __future__ import annotations

import pytest
from graphql import Executor

from graph.api import compat


def test_the_installed_libraries_pass_the_check() -> None:
    """graphql-core's per-event executors still carry the memo SharedExecutor replaces."""
    compat.check()


def test_a_renamed_memo_fails_loudly_naming_it() -> None:
    """Had graphql-core renamed the memo, the check raises and names what changed."""
    with pytest.raises(RuntimeError, match="no _renamed_in_a_future_release dict any more"):
        compat.check(memo="_renamed_in_a_future_release")


def test_the_executor_class_is_strawberrys_and_graphql_cores() -> None:
    """The unexported Strawberry class is still a graphql-core Executor we can extend."""
    assert issubclass(compat.StrawberryGraphQLCoreExecutionContext, Executor)
