"""The two naive ways to answer ``games { markets prediction }``, for comparison.

Both are small clients of the same upstreams (the simulator) with our own parsers and
model, so the only difference to the service is the orchestration:

- ``sequential``: the seed's approach - the scoreboard, then one game after another,
  each asking Kalshi for its own event's markets and ESPN for its summary;
- ``gathered``: the same per-game requests started all at once with plain
  ``asyncio.gather`` (no batching, no cache, no bound).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import date

import httpx

from bench.exact_matcher import event_ticker
from graph.espn.client import ScoreboardClient
from graph.espn.parse import rest_days
from graph.kalshi.rest import KalshiAuth, KalshiRest
from graph.kalshi.signing import Signer, load_private_key
from graph.model.ratings import RatingStore
from graph.models import Game, League, Market
from graph.sim import Simulator


async def _one_game(
    game: Game, rest: KalshiRest, board: ScoreboardClient, store: RatingStore, together: bool
) -> tuple[list[Market], float]:
    ticker = event_ticker(game.league, game) or ""
    if together:
        markets, summary = await asyncio.gather(
            rest.markets(event_ticker=ticker), board.summary(game.league, game.id)
        )
    else:
        markets = await rest.markets(event_ticker=ticker)
        summary = await board.summary(game.league, game.id)
    p_home, _ = store.model_for(game.league).explain(
        game.home.code,
        game.away.code,
        home_rest_days=rest_days(summary, game.home.code, game.start_time),
        away_rest_days=rest_days(summary, game.away.code, game.start_time),
    )
    return markets, p_home


async def naive_games(
    sim: Simulator,
    store: RatingStore,
    league: League,
    day: date,
    *,
    gathered: bool,
    clock: Callable[[], float] = time.time,
) -> int:
    """Answer the query the naive way; returns the number of games with a prediction."""
    signer = Signer(sim.key_id, load_private_key(sim.private_key_pem))
    async with (
        httpx.AsyncClient(auth=KalshiAuth(signer, clock=clock), timeout=120) as kalshi_http,
        httpx.AsyncClient(timeout=120) as espn_http,
    ):
        rest = KalshiRest(kalshi_http, sim.rest_url)
        board = ScoreboardClient(espn_http, sim.scoreboard_url)
        games = await board.games(league, day)
        if gathered:
            results = await asyncio.gather(*(_one_game(g, rest, board, store, True) for g in games))
        else:
            results = [await _one_game(g, rest, board, store, False) for g in games]
    return len(results)
