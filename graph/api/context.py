"""The per-request GraphQL context (edge; no Strawberry import).

A :class:`Context` is built for every HTTP request and every WebSocket
connection by the schema's view. Its loaders belong to that one request: they
batch and de-duplicate within it and are dropped with it, so nothing (not even
a failure) is cached across requests. Subscriptions never use them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from graph.games.matching import GameMarkets
    from graph.games.service import GameService
    from graph.live.hub import Hub
    from graph.models import Game, Prediction
    from graph.settings import Settings

K = TypeVar("K", bound=Hashable, contravariant=True)
V = TypeVar("V", covariant=True)


class Loader(Protocol, Generic[K, V]):
    def load(self, key: K) -> Awaitable[V]: ...

    def clear(self, key: K) -> Any: ...


@dataclass(slots=True)
class Context:
    service: GameService
    hub: Hub
    settings: Settings
    market_loader: Loader[Game, GameMarkets]
    prediction_loader: Loader[Game, Prediction]
    request: Any = None
    response: Any = None
    # A WebSocket's connection_init payload (Strawberry sets it; the token check reads it).
    connection_params: Any = None
