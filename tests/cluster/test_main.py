"""`make cluster` (python -m graph.cluster): Redis, one simulator, two workers, one port."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import httpx
import pytest

from graph.cluster.__main__ import parse_args
from tests.e2e import GraphQLWebSocket

pytestmark = pytest.mark.e2e

LISTENING = re.compile(r"2 workers, GraphiQL at (http://[\d.]+:\d+)/graphql")
SUBSCRIBE = "subscription ($t: [String!]!) { tickerUpdates(marketTickers: $t) { marketTicker } }"
QUERY = "{ games(league: NBA) { id markets { ticker } } }"


async def test_make_cluster_serves_queries_and_subscriptions_then_stops(tmp_path: Path) -> None:
    """The whole local cluster comes up on one port, answers a query and a subscription
    through Redis, and SIGTERM stops every process it started."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KALSHI_", "REDIS_"))}
    env.update(HOST="127.0.0.1", PORT="0", RATINGS_REFRESH_S="0")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "graph.cluster",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(90):
            while not (found := LISTENING.search(lines[-1] if lines else "")):
                line = (await process.stdout.readline()).decode()
                assert line, "\n".join(lines)
                lines.append(line.rstrip())
        base = found.group(1)
        drain = asyncio.create_task(process.stdout.read())  # keep the pipe flowing
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            async with asyncio.timeout(60):
                while (await http.get("/readyz")).status_code != 200:
                    await asyncio.sleep(0.1)
            body = (await http.post("/graphql", json={"query": QUERY})).json()
        tickers = [m["ticker"] for g in body["data"]["games"] for m in g["markets"]]
        async with GraphQLWebSocket.connect(base) as ws:
            await ws.subscribe("1", SUBSCRIBE, {"t": tickers[:1]})
            update = await ws.receive(timeout=30)
        assert update["type"] == "next", update
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 40) == 0
        output = (await drain).decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    text = "\n".join(lines)
    assert "Redis at redis://127.0.0.1:" in text and "simulator at http://127.0.0.1:" in text
    assert "Traceback" not in output


def test_defaults_are_two_workers() -> None:
    """make cluster starts two workers on the default seed."""
    args = parse_args([])
    assert (args.workers, args.seed) == (2, 0)
