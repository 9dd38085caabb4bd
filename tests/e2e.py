"""Helpers for end-to-end tests: a real uvicorn server on 127.0.0.1, port 0."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import websockets.asyncio.client
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection

from graph.app import create_app
from graph.model.policy import DEFAULT_POLICIES, LeaguePolicy
from graph.models import League
from graph.settings import Settings
from graph.sim import Simulator
from graph.sim.loopback import serve_app

# 2026-11-22 is a Sunday: NFL plays, NBA plays.
SUNDAY_NOON_UTC = 1_795_348_800.0


serve = serve_app


def sim_settings(sim: Simulator, tmp_path: Path, **overrides: Any) -> Settings:
    """The simulator's settings with a private ratings file and a small retry budget."""
    values: dict[str, Any] = {
        "ratings_db_path": str(tmp_path / "ratings.sqlite3"),
        "http_attempts": 2,
    }
    values = {**sim.settings_values(), **values, **overrides}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@asynccontextmanager
async def running_app(
    sim: Simulator,
    tmp_path: Path,
    *,
    clock: Callable[[], float] | None = None,
    policies: Mapping[League, LeaguePolicy] = DEFAULT_POLICIES,
    **overrides: Any,
) -> AsyncIterator[tuple[Starlette, str]]:
    """The real app, served over loopback against ``sim``; yields it and its base URL."""
    app = create_app(
        sim_settings(sim, tmp_path, **overrides),
        clock=clock or (lambda: SUNDAY_NOON_UTC),
        ratings_refresh_s=None,
        policies=policies,
    )
    async with serve(app) as url:
        yield app, url


@asynccontextmanager
async def app_on(
    sim: Simulator, tmp_path: Path, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """Like :func:`running_app`, yielding an HTTP client for the app."""
    async with (
        running_app(sim, tmp_path, **overrides) as (_, url),
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        yield client


async def gql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables or {}})
    body: dict[str, Any] = response.json()
    return body


class GraphQLWebSocket:
    """A minimal ``graphql-transport-ws`` (or legacy ``graphql-ws``) client for tests."""

    def __init__(self, ws: ClientConnection, protocol: str) -> None:
        self.ws = ws
        self.protocol = protocol

    @classmethod
    @asynccontextmanager
    async def connect(
        cls, base_url: str, protocol: str = "graphql-transport-ws"
    ) -> AsyncIterator[GraphQLWebSocket]:
        url = base_url.replace("http://", "ws://") + "/graphql"
        async with websockets.asyncio.client.connect(url, subprotocols=[protocol]) as ws:  # type: ignore[list-item]
            client = cls(ws, protocol)
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            ack = await client.receive()
            assert ack["type"] == "connection_ack", ack
            yield client

    async def receive(self, timeout: float = 10.0) -> dict[str, Any]:
        while True:
            message: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if message["type"] not in ("ka", "ping", "pong"):
                return message

    async def subscribe(self, op_id: str, query: str, variables: dict[str, Any]) -> None:
        kind = "subscribe" if self.protocol == "graphql-transport-ws" else "start"
        payload = {"query": query, "variables": variables}
        await self.ws.send(json.dumps({"id": op_id, "type": kind, "payload": payload}))

    async def complete(self, op_id: str) -> None:
        kind = "complete" if self.protocol == "graphql-transport-ws" else "stop"
        await self.ws.send(json.dumps({"id": op_id, "type": kind}))


async def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until ``condition()`` holds (checked every few ms), failing after ``timeout``."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)
