"""graph.budget: the upstream requests one operation may make, charged per attempt."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from graph.budget import Budget, BudgetedTransport, current, spending
from graph.errors import UpstreamBudgetExceeded


def test_a_budget_counts_requests_and_refuses_past_its_limit() -> None:
    """charge() counts up to the limit; the next one raises with the code and counts a refusal."""
    budget = Budget(limit=2)
    budget.charge()
    budget.charge()
    with pytest.raises(UpstreamBudgetExceeded, match="already made 2 upstream requests") as err:
        budget.charge()
    assert err.value.code == "UPSTREAM_BUDGET_EXCEEDED"
    assert (budget.spent, budget.refused) == (2, 1)


async def test_tasks_started_while_spending_share_the_budget() -> None:
    """A task created inside spending() (a DataLoader batch, a cache load) charges the same
    budget; outside it there is none."""
    assert current() is None
    with spending(Budget(limit=5)) as budget:
        await asyncio.gather(*(asyncio.create_task(_charge()) for _ in range(3)))
    assert budget.spent == 3
    assert current() is None


async def _charge() -> None:
    found = current()
    assert found is not None
    found.charge()


async def test_the_transport_charges_before_sending_and_refuses_without_sending() -> None:
    """Each request is charged first; past the budget it is never sent upstream."""
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return httpx.Response(200, json={})

    transport = BudgetedTransport(httpx.MockTransport(handler))
    async with httpx.AsyncClient(transport=transport, base_url="http://upstream") as client:
        await client.get("/free")  # no operation: not charged
        with spending(Budget(limit=1)) as budget:
            await client.get("/one")
            with pytest.raises(UpstreamBudgetExceeded):
                await client.get("/two")
    assert sent == ["/free", "/one"]
    assert (budget.spent, budget.refused) == (1, 1)


def test_games_are_granted_up_to_the_operations_allowance_across_batches() -> None:
    """take_games grants what is left of max_games, batch after batch, then nothing;
    without a maximum everything is granted."""
    budget = Budget(limit=10, max_games=5)
    assert [budget.take_games(3), budget.take_games(3), budget.take_games(1)] == [3, 2, 0]
    assert Budget(limit=1).take_games(1_000) == 1_000
