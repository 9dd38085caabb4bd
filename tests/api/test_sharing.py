"""One execution for identical work: shared operations and remembered documents."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

from graph.api.sharing import OperationKey, SharedOperations
from tests.e2e import eventually


@dataclass
class Result:
    data: Any
    errors: list[str] | None = None


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Execution:
    """An operation body that counts its runs and waits for a gate."""

    def __init__(self, data: Any = "data", errors: list[str] | None = None) -> None:
        self.data, self.errors = data, errors
        self.runs = 0
        self.gate = asyncio.Event()

    async def __call__(self) -> Result:
        self.runs += 1
        await self.gate.wait()
        return Result(f"{self.data} #{self.runs}", self.errors)


def key(principal: str = "", variables: str = "{}") -> OperationKey:
    return OperationKey("{ games(league: NBA) { id } }", variables, None, principal)


async def _together(shared: SharedOperations[Result], calls: list[Any]) -> list[Result]:
    """Start every (key, execution) at once; let them all register before any finishes."""
    tasks = [asyncio.ensure_future(shared.run(k, e)) for k, e in calls]
    executions = {id(e): e for _, e in calls}
    # Every task runs up to its first await while this polls: the joiners are in by then.
    await eventually(lambda: sum(e.runs for e in executions.values()) >= len(executions))
    for execution in executions.values():
        execution.gate.set()
    return list(await asyncio.gather(*tasks))


async def test_identical_operations_in_flight_run_once() -> None:
    """Requests with one key while it runs share its one execution and result."""
    shared: SharedOperations[Result] = SharedOperations(ttl_s=0)
    execution = Execution()
    results = await _together(shared, [(key(), execution)] * 5)
    assert execution.runs == 1
    assert {r.data for r in results} == {"data #1"}
    assert (shared.stats.executed, shared.stats.joined) == (1, 4)


async def test_a_token_never_gets_another_tokens_result() -> None:
    """The principal is part of the key: equal documents of two tokens run separately, and
    each token's requests get only their own token's result."""
    shared: SharedOperations[Result] = SharedOperations(ttl_s=60)
    alpha, beta = Execution("alpha"), Execution("beta")
    calls = [(key("token-0"), alpha), (key("token-1"), beta)] * 3
    results = await _together(shared, calls)
    assert [r.data for r in results] == ["alpha #1", "beta #1"] * 3
    assert (alpha.runs, beta.runs) == (1, 1)
    # Recent results too are kept per principal.
    again = await shared.run(key("token-1"), Execution("never"))
    assert again.data == "beta #1"


async def test_recent_results_answer_repeats_until_the_ttl() -> None:
    """A result without errors answers identical repeats for ttl_s, then it runs again."""
    clock = Clock()
    shared: SharedOperations[Result] = SharedOperations(ttl_s=1.0, clock=clock)
    execution = Execution()
    execution.gate.set()
    first = await shared.run(key(), execution)
    clock.now += 0.9
    assert await shared.run(key(), execution) is first
    assert (await shared.run(key(variables='{"a":1}'), execution)).data == "data #2"
    clock.now += 0.2
    assert (await shared.run(key(), execution)).data == "data #3"
    assert (shared.stats.recent, shared.stats.executed) == (1, 3)
    shared.clear()
    assert (await shared.run(key(), execution)).data == "data #4"


async def test_errors_are_never_shared() -> None:
    """A result with errors goes to its starter only: each waiter runs its own, and no
    repeat is answered with it."""
    shared: SharedOperations[Result] = SharedOperations(ttl_s=60)
    failing = Execution(errors=["boom"])
    results = await _together(shared, [(key(), failing)] * 3)
    assert [r.data for r in results] == ["data #1", "data #2", "data #3"]
    assert (shared.stats.executed, shared.stats.unshared, shared.stats.joined) == (1, 2, 0)
    assert (await shared.run(key(), failing)).data == "data #4"


async def test_a_requester_leaving_does_not_cancel_the_others() -> None:
    """Cancelling the request that started an execution leaves it running for the rest."""
    shared: SharedOperations[Result] = SharedOperations(ttl_s=0)
    execution = Execution()
    starter = asyncio.ensure_future(shared.run(key(), execution))
    await eventually(lambda: execution.runs == 1)
    waiter = asyncio.ensure_future(shared.run(key(), execution))
    starter.cancel()
    execution.gate.set()
    assert (await waiter).data == "data #1"
    with pytest.raises(asyncio.CancelledError):
        await starter
