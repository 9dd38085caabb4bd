"""The GraphQL schema: types and resolvers (edge; only graph.api imports Strawberry).

Resolvers stay a few lines: they read :class:`graph.api.context.Context` and call the
service, the per-request loaders or the hub. ``games { markets prediction }``
resolves every game's markets and prediction through two DataLoaders, so a
response of N games costs one batch for each, whatever N is.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable, Collection
from datetime import UTC, date, datetime
from typing import Any, TypeVar, cast

import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.types import Info

from graph import models
from graph.api import compat
from graph.api.arguments import TICKER_RE, check_tickers
from graph.api.context import Context
from graph.api.cost import MODEL, Limits, cost_rule
from graph.api.evidence import BetType, EvidenceType, TrackRecordType
from graph.api.execution import ErrorPolicy, LimitedSchema
from graph.api.fanout import DirectFrames, EventResults, SharedExecutor, context_readers
from graph.api.limits import OperationLimits, schema_of
from graph.api.operations import Observer, OperationAccounting
from graph.api.selection import batches_needed
from graph.errors import InvalidInput
from graph.games import ordering
from graph.games.batches import GameSet
from graph.games.ids import public_id
from graph.games.matching import GameMarkets

logger = logging.getLogger(__name__)

_F = TypeVar("_F", bound=Callable[..., Any])


def _field(description: str) -> Callable[[_F], _F]:
    """``@strawberry.field(description=...)`` with a type (Strawberry types that form as Any)."""

    def decorate(resolver: _F) -> _F:
        return cast(_F, strawberry.field(resolver, description=description))

    return decorate


League = strawberry.enum(models.League, description="A league we list games for.")
GameState = strawberry.enum(models.GameState)
Confidence = strawberry.enum(models.Confidence)


GameSort = strawberry.enum(ordering.GameSort)


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
    implied_probability: float | None = strawberry.field(
        description="The market's probability: a two-sided book's mid, else the last trade; "
        "null when the market has never traded and has no two-sided book."
    )
    updated_at: datetime | None

    @classmethod
    def of(cls, m: models.Market, team: str | None) -> MarketType:
        return cls(
            ticker=m.ticker,
            title=m.title,
            team=team,
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
        description="The Kalshi market's probability for the home team; null when neither "
        "team's market has a price yet (never traded, no two-sided book)."
    )
    edge: float | None = strawberry.field(description="Model minus market; null without one.")
    confidence: Confidence  # type: ignore[valid-type]
    recommendation: str | None = strawberry.field(
        description="A bet to place, as text; null when the policy says no bet "
        "(recommendationReason says why)."
    )
    recommendation_reason: str | None = strawberry.field(
        description="Why there is no recommendation (null when there is one)."
    )
    bet: BetType | None = strawberry.field(description="The recommendation as data.")
    evidence: EvidenceType = strawberry.field(
        description="What the league's recommendations rest on: the backtest, or not validated."
    )
    factors: list[FactorType]
    model: str = strawberry.field(description="Which model produced the probability.")

    @classmethod
    def of(cls, p: models.Prediction) -> PredictionType:
        return cls(
            home_win_probability=p.home_win_probability,
            away_win_probability=p.away_win_probability,
            market_home_win_probability=p.market_home_win_probability,
            edge=p.edge,
            confidence=p.confidence,
            recommendation=p.recommendation,
            recommendation_reason=p.recommendation_reason,
            bet=BetType.of(p.bet) if p.bet else None,
            evidence=EvidenceType.of(p.evidence or _UNKNOWN),
            factors=[FactorType(name=f.name, value=f.value) for f in p.factors],
            model=p.model,
        )


_UNKNOWN = models.Evidence(validated=False, summary="not validated")


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
    # The games of the same response: markets and predictions are one batch for all of them.
    _batch: strawberry.Private[GameSet]

    @classmethod
    def of(cls, g: models.Game, batch: GameSet) -> GameType:
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
            _batch=batch,
        )

    @_field("The Kalshi event this game matched, if any.")
    async def event_ticker(self) -> str | None:
        return (await self._batch.markets(self._game)).event_ticker

    # Sync fields: when the resolver readied the batch (the usual case) they answer at once;
    # else they hand graphql-core an awaitable of the answer.
    @_field("Kalshi game-winner markets (away team's first).")
    def markets(self) -> list[MarketType]:
        found = self._batch.markets_now(self._game)
        return _market_types(self._game, found) if found else cast(Any, self._markets_later())

    @_field("Our prediction; null (with an error) if it failed.")
    def prediction(self) -> PredictionType | None:
        found = self._batch.prediction_now(self._game)
        return PredictionType.of(found) if found else cast(Any, self._prediction_later())

    async def _markets_later(self) -> list[MarketType]:
        return _market_types(self._game, await self._batch.markets(self._game))

    async def _prediction_later(self) -> PredictionType:
        return PredictionType.of(await self._batch.prediction(self._game))


def _market_types(game: models.Game, found: GameMarkets) -> list[MarketType]:
    sides = ((found.away, game.away.code), (found.home, game.home.code))
    return [MarketType.of(m, code) for m, code in sides if m is not None]


@strawberry.type(name="TickerUpdate")
class TickerUpdateType:
    market_ticker: str
    price: float | None
    yes_bid: float | None
    yes_ask: float | None
    volume: float | None
    open_interest: float | None
    implied_probability: float | None = strawberry.field(
        description="Market.impliedProbability's rule on this update: null without a trade "
        "or a two-sided book."
    )
    ts: datetime
    # What this was made of: the key under which subscribers share one execution (SharedExecutor).
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
            implied_probability=u.implied_probability,
            ts=datetime.fromtimestamp(u.ts_ms / 1000, tz=UTC),
            _update=u,
        )


@strawberry.type
class Query:
    @_field("A league's games on a US-Eastern date (default: today).")
    async def games(
        self,
        info: Info[Context, None],
        league: League,  # type: ignore[valid-type]
        date: date | None = None,
        state: GameState | None = None,  # type: ignore[valid-type]
        sort_by: GameSort = ordering.GameSort.START_TIME,  # type: ignore[valid-type]
    ) -> list[GameType]:
        service = info.context.service
        needs = batches_needed(info.selected_fields, sort_by)
        games = await service.games(league, date or service.today(), with_markets=bool(needs))
        if state is not None:
            games = [g for g in games if g.state == state]
        batch = service.game_set(games)
        ordered = await batch.ordered(sort_by)
        if needs:
            await batch.ready(predictions="prediction" in needs)
        return [GameType.of(g, batch) for g in ordered]

    @_field("One game by the id `games` returned.")
    async def game(self, info: Info[Context, None], id: strawberry.ID) -> GameType | None:
        service = info.context.service
        needs = batches_needed(info.selected_fields)
        found = await service.game(str(id), with_markets=bool(needs))
        if found is None:
            return None
        batch = service.game_set([found])
        if needs:
            await batch.ready(predictions="prediction" in needs)
        return GameType.of(found, batch)

    @_field("One Kalshi market by ticker (null if Kalshi has none).")
    async def market(self, info: Info[Context, None], ticker: str) -> MarketType | None:
        if not TICKER_RE.fullmatch(ticker):
            raise InvalidInput(f"not a Kalshi market ticker: {ticker[:40]!r}")
        service = info.context.service
        found = await service.market(ticker)
        return MarketType.of(found, service.market_team(found)) if found else None

    @_field(
        "Our model against Kalshi on this league's finished games: each game's probabilities "
        "as they stood before it started (games on or after `since`, a US-Eastern date)."
    )
    async def track_record(
        self,
        info: Info[Context, None],
        league: League,  # type: ignore[valid-type]
        since: date | None = None,
    ) -> TrackRecordType:
        ctx = info.context
        found = await ctx.service.track_record(league, since)
        return TrackRecordType.of(found, since=since, simulated=ctx.settings.environment == "sim")


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def ticker_updates(
        self, info: Info[Context, None], market_tickers: list[str]
    ) -> AsyncGenerator[TickerUpdateType, None]:
        ctx = info.context
        tickers = check_tickers(market_tickers, ctx.settings.max_tickers_per_subscription)
        ctx.hub.admit(tickers)  # past the feed's cap: refused before any upstream request
        initial = await ctx.snapshot(tickers)
        # None unless on graphql-transport-ws (graph.api.fanout).
        frames = DirectFrames.here(TickerUpdateType.of)
        async with ctx.hub.subscribe(tickers, initial=initial) as updates:
            async for update in updates:
                if frames is None or not await frames.send(update):
                    yield TickerUpdateType.of(update)


def build_schema(
    *,
    limits: Limits | None = None,
    max_tokens: int = 2000,
    max_query_bytes: int = 16_384,
    timeout_s: float = 30.0,
    result_ttl_s: float = 1.0,
    introspection: bool = True,
    observe: Observer | None = None,
    operation_names: Collection[str] = (),
    max_upstream_requests: int | None = None,
    max_games: int | None = None,
    tracer_provider: Any = None,
) -> LimitedSchema:
    """The schema with its limits (:mod:`graph.api.limits`), per-operation accounting
    (:mod:`graph.api.operations`), error policy and, given a ``tracer_provider``,
    OpenTelemetry spans for each operation and resolver."""
    compat.check()
    event_results = EventResults()
    cost = cost_rule(limits or Limits(), MODEL)
    built: dict[str, str] = {}  # the SDL, once the schema exists (rules need its types)
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: OperationLimits(sdl=built["sdl"], cost=cost, introspection=introspection),
        lambda: OperationAccounting(
            observe=observe,
            names=operation_names,
            max_upstream_requests=max_upstream_requests,
            max_games=max_games,
        ),
        ErrorPolicy,
    ]
    if tracer_provider is not None:
        from strawberry.extensions.tracing import OpenTelemetryExtension

        extensions.append(lambda: OpenTelemetryExtension(tracer_provider=tracer_provider))
    schema = LimitedSchema(
        query=Query,
        subscription=Subscription,
        execution_context_class=SharedExecutor.bound_to(event_results),
        extensions=extensions,
        max_query_bytes=max_query_bytes,
        max_tokens=max_tokens,
        timeout_s=timeout_s,
        result_ttl_s=result_ttl_s,
        event_results=event_results,
    )
    built["sdl"] = schema.as_str()
    schema_of(built["sdl"])  # now, not on the first request
    types = {name: t.implementation for name, t in schema.schema_converter.type_map.items()}
    if readers := context_readers(types, ["TickerUpdate"]):
        # Their results are shared between subscribers (graph.api.fanout): nothing in them
        # may depend on who asks.
        raise TypeError(f"subscription event fields must not read the request: {readers}")
    return schema


schema = build_schema()
