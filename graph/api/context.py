"""The per-request GraphQL context (edge; no Strawberry import).

A :class:`Context` is built for every HTTP request and every WebSocket
connection by the view. It holds only long-lived services: what batches the
games of one response (:class:`graph.games.batches.GameSet`) is made by the
resolver of that response and lives exactly as long as its operation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graph.games.service import GameService
    from graph.live.hub import Hub
    from graph.live.snapshot import Snapshot
    from graph.settings import Settings


@dataclass(slots=True)
class Context:
    service: GameService
    hub: Hub
    settings: Settings
    snapshot: Snapshot
    request: Any = None
    response: Any = None
    # A WebSocket's connection_init payload (Strawberry sets it; the token check reads it).
    connection_params: Any = None
    # Who the request runs as (graph.web.auth.TokenCheck.principal): identical operations of
    # one principal may share an execution; None shares nothing.
    principal: str | None = None
