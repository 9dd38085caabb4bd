"""The GraphQL schema and its ASGI view: the only module that imports Strawberry.

Resolvers stay a few lines: they read :class:`graph.context.Context` and call the
service, the per-request loaders or the hub. ``games { markets prediction }``
resolves every game's markets and prediction through two DataLoaders, so a
response of N games costs one batch for each, whatever N is.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections import OrderedDict
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import aclosing
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from inspect import isawaitable
from typing import Any, TypeVar, cast

import strawberry
from cross_web import HTTPException
from graphql import Executor, GraphQLError, OperationType, get_operation_ast, parse
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.dataloader import DataLoader
from strawberry.exceptions import ConnectionRejectionError
from strawberry.extensions import (
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.types import ExecutionResult, Info
from strawberry.types.execution import PreExecutionError

from graph import errorpolicy, graphiql, models, wsguard
from graph.auth import TokenCheck
from graph.context import Context
from graph.errors import InvalidInput, OperationTimeout
from graph.matching import outcome_team
from graph.service import public_id

logger = logging.getLogger(__name__)

TOKEN_REQUIRED = "a valid API token is required"

_F = TypeVar("_F", bound=Callable[..., Any])


def _field(description: str) -> Callable[[_F], _F]:
    """``@strawberry.field(description=...)`` with a type (Strawberry types that form as Any)."""

    def decorate(resolver: _F) -> _F:
        return cast(_F, strawberry.field(resolver, description=description))

    return decorate


League = strawberry.enum(models.League, description="A league we list games for.")
GameState = strawberry.enum(models.GameState)
Confidence = strawberry.enum(models.Confidence)


@strawberry.enum
class GameSort(Enum):
    START_TIME = "START_TIME"
    EDGE = "EDGE"
    CONFIDENCE = "CONFIDENCE"


@strawberry.type(name="Market", description="A Kalshi market; prices are dollars in [0, 1].")
class MarketType:
    ticker: str
    title: str
    team: str | None = strawberry.field(
        description="For game winners: the code (as in Team.code) of the team YES pays on."
    )
    status: str
    yes_bid: float | None
    yes_ask: float | None
    last_price: float | None
    volume: float | None
    open_interest: float | None
    implied_probability: float | None
    updated_at: datetime | None

    @classmethod
    def of(cls, m: models.Market) -> MarketType:
        return cls(
            ticker=m.ticker,
            title=m.title,
            team=team.key if (team := outcome_team(m.ticker)) else None,
            status=m.status,
            yes_bid=m.yes_bid,
            yes_ask=m.yes_ask,
            last_price=m.last_price,
            volume=m.volume,
            open_interest=m.open_interest,
            implied_probability=m.implied_probability,
            updated_at=m.updated_at,
        )


@strawberry.type(name="Factor", description="A named model input and its value.")
class FactorType:
    name: str
    value: float


@strawberry.type(name="Prediction")
class PredictionType:
    home_win_probability: float = strawberry.field(description="Our model's probability.")
    away_win_probability: float
    market_home_win_probability: float | None = strawberry.field(
        description="The Kalshi market's probability for the home team."
    )
    edge: float | None = strawberry.field(description="Model minus market.")
    confidence: Confidence  # type: ignore[valid-type]
    recommendation: str | None
    factors: list[FactorType]
    model: str

    @classmethod
    def of(cls, p: models.Prediction) -> PredictionType:
        return cls(
            home_win_probability=p.home_win_probability,
            away_win_probability=p.away_win_probability,
            market_home_win_probability=p.market_home_win_probability,
            edge=p.edge,
            confidence=p.confidence,
            recommendation=p.recommendation,
            factors=[FactorType(name=f.name, value=f.value) for f in p.factors],
            model=p.model,
        )


@strawberry.type(name="Team")
class TeamType:
    code: str
    name: str
    record: str | None
    _league: strawberry.Private[models.League]

    @_field("Our current Elo rating of the team.")
    def rating(self, info: Info[Context, None]) -> float | None:
        return info.context.service.rating(self._league, self.code)


def _team(league: models.League, t: models.TeamRef) -> TeamType:
    return TeamType(code=t.code, name=t.name, record=t.record, _league=league)


# A game's prediction as its loader gave it: the value, the failure, or not loaded yet.
_Loaded = models.Prediction | BaseException | None


@strawberry.type(name="Game")
class GameType:
    id: strawberry.ID
    league: League  # type: ignore[valid-type]
    start_time: datetime
    state: GameState  # type: ignore[valid-type]
    home: TeamType
    away: TeamType
    home_score: int | None
    away_score: int | None
    venue: str | None
    neutral_site: bool
    status_detail: str | None
    _game: strawberry.Private[models.Game]
    # The prediction (or its failure) when sorting already loaded it: over a WebSocket the
    # loaders do not cache, and the field must not compute it a second time.
    _loaded: strawberry.Private[models.Prediction | BaseException | None] = None

    @classmethod
    def of(
        cls, g: models.Game, loaded: models.Prediction | BaseException | None = None
    ) -> GameType:
        return cls(
            id=strawberry.ID(public_id(g)),
            league=g.league,
            start_time=g.start_time,
            state=g.state,
            home=_team(g.league, g.home),
            away=_team(g.league, g.away),
            home_score=g.home_score,
            away_score=g.away_score,
            venue=g.venue,
            neutral_site=g.neutral_site,
            status_detail=g.status_detail,
            _game=g,
            _loaded=loaded,
        )

    @_field("The Kalshi event ticker this game maps to, if any.")
    def event_ticker(self, info: Info[Context, None]) -> str | None:
        return info.context.service.event_ticker(self._game)

    @_field("Kalshi game-winner markets (away team's first).")
    async def markets(self, info: Info[Context, None]) -> list[MarketType]:
        found = await info.context.market_loader.load(self._game)
        return [MarketType.of(m) for m in (found.away, found.home) if m is not None]

    @_field("Our prediction; null (with an error) if it failed.")
    async def prediction(self, info: Info[Context, None]) -> PredictionType | None:
        loaded = self._loaded
        if loaded is None:
            return PredictionType.of(await info.context.prediction_loader.load(self._game))
        if isinstance(loaded, BaseException):
            raise loaded
        return PredictionType.of(loaded)


@strawberry.type(name="TickerUpdate")
class TickerUpdateType:
    market_ticker: str
    price: float | None
    yes_bid: float | None
    yes_ask: float | None
    volume: float | None
    open_interest: float | None
    ts: datetime
    # What this was made of: the key under which subscribers share one execution (_Executor).
    _update: strawberry.Private[models.TickerUpdate | None] = None

    @classmethod
    def of(cls, u: models.TickerUpdate) -> TickerUpdateType:
        return cls(
            market_ticker=u.market_ticker,
            price=u.price,
            yes_bid=u.yes_bid,
            yes_ask=u.yes_ask,
            volume=u.volume,
            open_interest=u.open_interest,
            ts=datetime.fromtimestamp(u.ts_ms / 1000, tz=UTC),
            _update=u,
        )


_CONFIDENCE_RANK = {
    models.Confidence.HIGH: 0,
    models.Confidence.MEDIUM: 1,
    models.Confidence.LOW: 2,
}


def _edge_rank(p: models.Prediction | None) -> tuple[int, float]:
    """Largest |edge| first; games without an edge last."""
    return (1, 0.0) if p is None or p.edge is None else (0, -abs(p.edge))


def _confidence_rank(p: models.Prediction | None) -> tuple[int, float]:
    """HIGH before MEDIUM before LOW, surer predictions first; failed ones last."""
    if p is None:
        return (3, 0.0)
    return (_CONFIDENCE_RANK[p.confidence], -abs(p.home_win_probability - 0.5))


async def _sorted(
    games: list[models.Game], sort_by: GameSort, loader: Any
) -> list[tuple[models.Game, _Loaded]]:
    """The games in ``sort_by`` order, each with its prediction if sorting needed it."""
    if sort_by is GameSort.START_TIME:
        return [(g, None) for g in sorted(games, key=lambda g: (g.start_time, g.id))]
    results = await asyncio.gather(*(loader.load(g) for g in games), return_exceptions=True)
    rank = _edge_rank if sort_by is GameSort.EDGE else _confidence_rank

    def key(pair: tuple[models.Game, _Loaded]) -> tuple[tuple[int, float], datetime]:
        game, loaded = pair
        return rank(loaded if isinstance(loaded, models.Prediction) else None), game.start_time

    return sorted(zip(games, results, strict=True), key=key)


TICKER_RE = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,99}$")


def _check_tickers(tickers: list[str], limit: int) -> list[str]:
    unique = list(dict.fromkeys(t.strip() for t in tickers))
    if not unique:
        raise InvalidInput("marketTickers must name at least one market")
    if len(unique) > limit:
        raise InvalidInput(f"at most {limit} market tickers per subscription (got {len(unique)})")
    bad = [t for t in unique if not TICKER_RE.fullmatch(t)]
    if bad:
        raise InvalidInput(f"not a Kalshi market ticker: {bad[0][:40]!r}")
    return unique


@strawberry.type
class Query:
    @_field("A league's games on a US-Eastern date (default: today).")
    async def games(
        self,
        info: Info[Context, None],
        league: League,  # type: ignore[valid-type]
        date: date | None = None,
        state: GameState | None = None,  # type: ignore[valid-type]
        sort_by: GameSort = GameSort.START_TIME,
    ) -> list[GameType]:
        service = info.context.service
        games = await service.games(league, date or service.today())
        if state is not None:
            games = [g for g in games if g.state == state]
        ordered = await _sorted(games, sort_by, info.context.prediction_loader)
        return [GameType.of(g, loaded) for g, loaded in ordered]

    @_field("One game by the id `games` returned.")
    async def game(self, info: Info[Context, None], id: strawberry.ID) -> GameType | None:
        found = await info.context.service.game(str(id))
        return GameType.of(found) if found else None

    @_field("One Kalshi market by ticker (null if Kalshi has none).")
    async def market(self, info: Info[Context, None], ticker: str) -> MarketType | None:
        if not TICKER_RE.fullmatch(ticker):
            raise InvalidInput(f"not a Kalshi market ticker: {ticker[:40]!r}")
        found = await info.context.service.market(ticker)
        return MarketType.of(found) if found else None


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def ticker_updates(
        self, info: Info[Context, None], market_tickers: list[str]
    ) -> AsyncGenerator[TickerUpdateType, None]:
        ctx = info.context
        tickers = _check_tickers(market_tickers, ctx.settings.max_tickers_per_subscription)
        initial = await ctx.service.snapshot(tickers)
        async with ctx.hub.subscribe(tickers, initial=initial) as updates:
            async for update in updates:
                yield TickerUpdateType.of(update)


def _public(error: GraphQLError) -> GraphQLError:
    """:func:`graph.errorpolicy.public`, knowing Strawberry's own request errors
    (no such operation name; a query sent where only subscriptions run)."""
    if isinstance(error.original_error, CannotGetOperationTypeError | InvalidOperationTypeError):
        error = GraphQLError(
            error.message,
            nodes=error.nodes,
            extensions={"code": errorpolicy.VALIDATION_FAILED},
        )
    return errorpolicy.public(error)


class _ErrorPolicy(MaskErrors):
    """Every error leaves through :func:`_public`: coded, logged once, unexpected ones
    masked with a correlation id."""

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return [_public(e) for e in errors]


async def _one(result: PreExecutionError) -> AsyncGenerator[Any, None]:
    yield result


_EventKey = tuple[models.TickerUpdate, str, str, str | None]


class _Executor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, made fit for fan-out.

    - graphql-core 3.3 memoises sub-field collection in a dict keyed by the *identity* of each
      field list, and keeps every list alive; each subscription event builds new lists, and
      the per-event executor shares its parent's dict, so a subscription grew by about 1.8 KB
      per event for as long as it lived. A fresh dict per event keeps the memo where it pays
      (the many rows of one result) and lets it go with the event.
    - One ticker update goes to every subscriber of its ticker, and most of them send the same
      document: the result of one (update, document, variables) is computed once and shared
      (:data:`EVENT_RESULTS`, a small LRU). That holds because a ``TickerUpdate`` result
      depends on nothing but the update: no field of that type may read the context.
    """

    _event_key: _EventKey | None = None

    def build_per_event_executor(self, payload: Any) -> Executor[Any]:
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}
        update = getattr(payload, "_update", None)
        source = self.operation.loc.source.body if self.operation.loc else None
        if isinstance(update, models.TickerUpdate) and source is not None:
            variables = json.dumps(self.variable_values, sort_keys=True, default=str)
            name = self.operation.name.value if self.operation.name else None
            cast(_Executor, executor)._event_key = (update, source, variables, name)
        return executor

    def execute_operation(self, serially: bool | None = None) -> Any:
        key = self._event_key
        if key is None:
            return super().execute_operation(serially)
        if (shared := EVENT_RESULTS.get(key)) is not None:
            EVENT_RESULTS.move_to_end(key)
            return shared
        result = super().execute_operation(serially)
        if isawaitable(result):
            return self._remember_later(key, result)
        return _remember(key, result)

    @staticmethod
    async def _remember_later(key: _EventKey, pending: Awaitable[Any]) -> Any:
        return _remember(key, await pending)


# Results of recent subscription events by (update, document, variables, operation name).
EVENT_RESULTS: OrderedDict[_EventKey, Any] = OrderedDict()
EVENT_RESULTS_SIZE = 1024


def _remember(key: _EventKey, result: Any) -> Any:
    if getattr(result, "errors", None):
        return result  # errors carry paths and ids of their own: never shared
    EVENT_RESULTS[key] = result
    if len(EVENT_RESULTS) > EVENT_RESULTS_SIZE:
        EVENT_RESULTS.popitem(last=False)
    return result


class _Schema(strawberry.Schema):
    """The schema plus the limits that are not validation rules: the size of the query
    string (checked before parsing) and the time one HTTP operation may take."""

    def __init__(self, *args: Any, max_query_bytes: int, timeout_s: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._max_query_bytes = max_query_bytes
        self._timeout_s = timeout_s

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Strawberry logs every error with its traceback here; ours are logged once,
        as :mod:`graph.errorpolicy` decides, when they leave."""

    def _too_large(self, query: str | None) -> GraphQLError | None:
        size = len(query.encode("utf-8", "surrogatepass")) if query else 0
        if size <= self._max_query_bytes:
            return None
        return errorpolicy.coded(
            f"the query is {size} bytes long; the limit is {self._max_query_bytes}",
            errorpolicy.QUERY_TOO_LARGE,
        )

    async def execute(self, query: str | None, *args: Any, **kwargs: Any) -> ExecutionResult:
        if too_large := self._too_large(query):
            return ExecutionResult(data=None, errors=[too_large])
        try:
            async with asyncio.timeout(self._timeout_s):
                return await super().execute(query, *args, **kwargs)
        except TimeoutError:
            # Only the deadline's own: graphql-core turns a resolver's errors into results.
            return self._timed_out()

    def _timed_out(self) -> ExecutionResult:
        timeout = OperationTimeout(
            f"the operation took longer than {self._timeout_s:g} s and was stopped"
        )
        # Coded here: this result never passes the schema's error extension.
        error = _public(GraphQLError(str(timeout), original_error=timeout))
        return ExecutionResult(data=None, errors=[error])

    async def stream(self, query: str | None, *args: Any, **kwargs: Any) -> Any:
        if too_large := self._too_large(query):
            return _one(PreExecutionError(data=None, errors=[too_large]))
        source = await super().stream(query, *args, **kwargs)
        if _is_subscription(query, kwargs.get("operation_name")):
            return source  # a subscription runs as long as its subscriber wants
        return self._bounded(source)

    async def _bounded(self, source: AsyncGenerator[Any, None]) -> AsyncGenerator[Any, None]:
        """A query or mutation sent over a WebSocket, under the same deadline as over HTTP."""
        async with aclosing(source):
            try:
                async with asyncio.timeout(self._timeout_s):
                    results = [result async for result in source]
            except TimeoutError:
                results = [self._timed_out()]
        for result in results:
            yield result


def _is_subscription(query: str | None, operation_name: str | None) -> bool:
    """Whether the document's chosen operation is a subscription (unparseable: no)."""
    try:
        operation = get_operation_ast(parse(query or ""), operation_name)
    except GraphQLError:
        return False
    return operation is not None and operation.operation is OperationType.SUBSCRIPTION


def build_schema(
    *,
    max_depth: int = 12,
    max_tokens: int = 2000,
    max_aliases: int = 30,
    max_query_bytes: int = 16_384,
    timeout_s: float = 30.0,
    introspection: bool = True,
) -> strawberry.Schema:
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: QueryDepthLimiter(max_depth=max_depth),
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        lambda: MaxAliasesLimiter(max_alias_count=max_aliases),
        _ErrorPolicy,
    ]
    if not introspection:
        extensions.append(DisableIntrospection)
    return _Schema(
        query=Query,
        subscription=Subscription,
        execution_context_class=_Executor,
        extensions=extensions,
        max_query_bytes=max_query_bytes,
        timeout_s=timeout_s,
    )


schema = build_schema()


def make_loaders(service: Any, *, cache: bool) -> tuple[DataLoader[Any, Any], DataLoader[Any, Any]]:
    """The per-request loaders; ``cache=False`` keeps nothing between batches."""
    markets: DataLoader[models.Game, Any] = DataLoader(
        load_fn=service.load_markets, cache_key_fn=lambda g: g.id, cache=cache
    )

    async def load_predictions(games: list[models.Game]) -> list[Any]:
        return await service.load_predictions(games, markets.load)  # type: ignore[no-any-return]

    predictions: DataLoader[models.Game, Any] = DataLoader(
        load_fn=load_predictions, cache_key_fn=lambda g: g.id, cache=cache
    )
    return markets, predictions


def _limit_error(op_id: str, cap: int) -> GraphQLError:
    return errorpolicy.coded(
        f"at most {cap} operations at once per connection; complete one first "
        f"(refused id {op_id[:40]!r})",
        errorpolicy.TOO_MANY_SUBSCRIPTIONS,
    )


class _TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws with checked messages, coded errors, and syntax errors
    answered with an ``error`` message (Strawberry closes the socket, or with its
    parser cache sends a bare ``complete``)."""

    async def handle_message(self, message: Any) -> None:
        if reason := wsguard.problem(message, GRAPHQL_TRANSPORT_WS_PROTOCOL):
            await self.handle_invalid_message(reason)
            return
        if message.get("type") == "connection_init" and message.get("payload", {}) is None:
            # The protocol allows a null payload (graphql-ws sends one); Strawberry would 4400.
            message = {"type": "connection_init"}
        await super().handle_message(message)

    async def handle_subscribe(self, message: Any) -> None:
        cap = self.max_subscriptions_per_connection
        op_id = message["id"]
        if (
            self.connection_acknowledged
            and op_id not in self.operations
            and cap is not None
            and len(self.operations) >= cap
        ):
            error = _limit_error(op_id, cap)
            await self.send_message(
                cast(Any, {"id": op_id, "type": "error", "payload": [error.formatted]})
            )
            return
        await super().handle_subscribe(message)

    @staticmethod
    def _get_pre_execution_close_reason(error: GraphQLError) -> str | None:
        return None

    async def _handle_pre_execution_error(self, operation: Any, result: PreExecutionError) -> None:
        result.errors = [_public(e) for e in result.errors or ()]
        await super()._handle_pre_execution_error(operation, result)


class _LegacyWSHandler(BaseGraphQLWSHandler[Context, None]):
    """Legacy graphql-ws with checked messages, a coded per-connection limit, and a refused
    token closing with 4403 as on graphql-transport-ws (Strawberry closes with 1011)."""

    async def handle_connection_init(self, message: Any) -> None:
        payload = message.get("payload")
        if not cast("GraphQLView", self.view).tokens.connection_params_ok(payload):
            logger.info("WebSocket refused reason=missing or invalid API token")
            await self.send_message(
                cast(Any, {"type": "connection_error", "payload": {"message": TOKEN_REQUIRED}})
            )
            await self.websocket.close(4403, "Forbidden")
            return
        await super().handle_connection_init(message)

    async def handle_message(self, message: Any) -> None:
        if reason := wsguard.problem(message, GRAPHQL_WS_PROTOCOL):
            await self.websocket.close(4400, reason)
            return
        await super().handle_message(message)

    async def handle_start(self, message: Any) -> None:
        cap = self.max_subscriptions_per_connection
        op_id = message["id"]
        if (
            self.connection_acknowledged
            and op_id not in self.tasks
            and cap is not None
            and len(self.tasks) >= cap
        ):
            error = _limit_error(op_id, cap)
            await self.send_message(
                cast(Any, {"id": op_id, "type": "error", "payload": error.formatted})
            )
            return
        await super().handle_start(message)


class _WebSocketAdapter(ASGIWebSocketAdapter):
    """Closes with 1009 on a text message larger than MAX_BODY_BYTES before decoding it,
    and drops what operations still send after the socket was closed (Strawberry would
    raise in their tasks, and log each one as an unretrieved task exception)."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        if self.ws.application_state != WebSocketState.DISCONNECTED:
            await super().send_json(message)

    async def close(self, code: int, reason: str) -> None:
        if self.ws.application_state != WebSocketState.DISCONNECTED:
            await super().close(code, reason)

    def __init__(self, view: Any, request: WebSocket, response: WebSocket) -> None:
        super().__init__(view, request, response)
        self._max_bytes: int = view.max_message_bytes

    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        async for text in self._texts():
            if len(text) > self._max_bytes:
                await self.close(1009, f"message larger than {self._max_bytes} bytes")
                return
            try:
                yield self.view.decode_json(text)
            except json.JSONDecodeError as exc:
                if not ignore_parsing_errors:
                    raise NonJsonMessageReceived from exc

    async def _texts(self) -> AsyncGenerator[str, None]:
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                yield await self.ws.receive_text()
        except KeyError as exc:  # a binary frame
            raise NonTextMessageReceived from exc
        except WebSocketDisconnect:
            pass


class GraphQLView(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context, limits, error shapes, token check on
    WebSockets and an offline GraphiQL."""

    graphql_transport_ws_handler_class = _TransportWSHandler
    graphql_ws_handler_class = _LegacyWSHandler
    websocket_adapter_class = _WebSocketAdapter

    def __init__(
        self,
        schema: strawberry.Schema,
        *,
        settings: Any,
        tokens: TokenCheck | None = None,
        offline_ide: bool = True,
    ) -> None:
        super().__init__(
            schema,
            keep_alive=True,
            keep_alive_interval=settings.ws_keepalive_s,
            connection_init_wait_timeout=timedelta(seconds=settings.connection_init_timeout_s),
            max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
            allowed_origins=settings.cors_origins,
        )
        self._settings = settings
        self.tokens = tokens or TokenCheck(())
        self.max_message_bytes: int = settings.max_body_bytes
        # Without the vendored assets, fall back to Strawberry's CDN page rather than a blank one.
        self._offline_ide = offline_ide

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await self.run(request)
        except HTTPException as exc:
            code = getattr(exc, "code", errorpolicy.BAD_REQUEST)
            response = Response(
                errorpolicy.error_body(exc.reason, code),
                status_code=exc.status_code,
                media_type="application/json",
            )
        if response.media_type == "application/json" and errorpolicy.wants_graphql_response(
            request.headers.get("accept", "")
        ):
            # GraphQL over HTTP: this media type says "status codes mean something".
            response.headers["content-type"] = errorpolicy.GRAPHQL_RESPONSE
            if response.status_code == 200 and getattr(request.state, "request_error", False):
                response.status_code = 400
        await response(scope, receive, send)

    def _validate_batch_request(self, request_data: Any, protocol: Any) -> None:
        raise _CodedHTTPException(
            400,
            "batched operations (a JSON array) are not supported: send one operation per request",
            errorpolicy.BATCHING_NOT_SUPPORTED,
        )

    async def process_result(self, request: Request, result: ExecutionResult) -> Any:
        if result.errors:
            # Errors that bypassed the schema's extension (a limit, a timeout) get coded here.
            result.errors = [_public(e) for e in result.errors]
            request.state.request_error = result.data is None and errorpolicy.is_request_error(
                result.errors
            )
        return await super().process_result(request, result)

    async def on_ws_connect(self, context: Context) -> Any:
        if not self.tokens.connection_params_ok(context.connection_params):
            logger.info("WebSocket refused reason=missing or invalid API token")
            raise ConnectionRejectionError({"message": TOKEN_REQUIRED})
        return await super().on_ws_connect(context)

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        state = request.app.state
        # A WebSocket's context lives as long as the socket, across all its operations:
        # its loaders must not cache (results, or failures) from one operation to the next.
        markets, predictions = make_loaders(state.service, cache=not isinstance(request, WebSocket))
        return Context(
            service=state.service,
            hub=state.hub,
            settings=self._settings,
            market_loader=markets,
            prediction_loader=predictions,
            request=request,
            response=response,
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(graphiql.page(self.graphql_ide_html, offline=self._offline_ide))


class _CodedHTTPException(HTTPException):
    def __init__(self, status_code: int, reason: str, code: str) -> None:
        super().__init__(status_code, reason)
        self.code = code
