"""ESPN-shaped scoreboard and summary endpoints (``/apis/site/v2/sports/...``).

``dates=YYYYMMDD`` is a US-Eastern date, as on ESPN; without it the answer is
today's slate. The range form ``dates=A-B`` answers ESPN's current 400. College
scoreboards without ``groups`` return only a featured subset (the first
:data:`FEATURED` games), like ESPN; any ``groups`` value returns the whole slate.
"""

from __future__ import annotations

from datetime import date

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from graph.models import League
from graph.sim import espn_shapes
from graph.sim.guard import BadRequest, espn_error, guarded
from graph.sim.state import SimState
from graph.sim.teams import ESPN_PATH

PREFIX = "/apis/site/v2/sports"
FEATURED = 6
_RANGE_ERROR = "Failed to get events endpoint."
_PATH_LEAGUE = {path: league for league, path in ESPN_PATH.items()}


def _league(request: Request) -> League | None:
    return _PATH_LEAGUE.get(f"{request.path_params['sport']}/{request.path_params['league']}")


def _day(raw: str | None, state: SimState) -> date:
    if not raw:
        return state.today()
    if len(raw) != 8 or not raw.isdigit():
        raise BadRequest(_RANGE_ERROR)
    try:
        return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
    except ValueError:
        raise BadRequest(_RANGE_ERROR) from None


def routes(state: SimState) -> list[BaseRoute]:
    """The scoreboard and summary routes, wrapped in the shared fault guard."""
    slates = state.slates

    async def scoreboard(request: Request) -> Response:
        league = _league(request)
        if league is None:
            return espn_error(404, "Failed to get league.")
        day = _day(request.query_params.get("dates"), state)
        games = slates.games(league, day)
        if league in (League.NCAAF, League.NCAAMB) and not request.query_params.get("groups"):
            games = games[:FEATURED]
        now = state.now()
        return JSONResponse(
            {
                "leagues": [espn_shapes.league_info(league)],
                "season": {"type": 2, "year": day.year},
                "day": {"date": day.isoformat()},
                "events": [espn_shapes.event(slates, game, now) for game in games],
            }
        )

    async def summary(request: Request) -> Response:
        league = _league(request)
        if league is None:
            return espn_error(404, "Failed to get league.")
        event_id = request.query_params.get("event", "")
        if not event_id:
            raise BadRequest("event is required")
        if event_id in state.faults.failing_summaries:
            return espn_error(500, "Failed to get event summary.")
        game = slates.by_espn_id(event_id)
        if game is None or game.league is not league:
            return espn_error(404, "Failed to get event summary.")
        return JSONResponse(espn_shapes.summary(slates, game, state.now()))

    return [
        Route(
            PREFIX + "/{sport}/{league}/scoreboard",
            guarded(state, "scoreboard", scoreboard, kalshi=False),
            methods=["GET"],
        ),
        Route(
            PREFIX + "/{sport}/{league}/summary",
            guarded(state, "summary", summary, kalshi=False),
            methods=["GET"],
        ),
    ]
