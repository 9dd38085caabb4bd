"""ESPN site-API shapes for simulated games (pure): scoreboard event and game summary.

Follows sports-data.md §1.3: ``date`` is UTC to the minute (``2024-11-10T18:00Z``),
scores are strings (``"0"`` before the start), ``winner`` appears only once a game
is final, competitors carry ``homeAway`` and are not always listed home first.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta
from typing import Any

from graph.models import GameState, League
from graph.sim.slate import ET, SimGame, Slates
from graph.sim.teams import ESPN_PATH, SimTeam, teams

_LEAGUE_NAME: dict[League, tuple[str, str]] = {  # (ESPN league id, name)
    League.NFL: ("28", "National Football League"),
    League.NBA: ("46", "National Basketball Association"),
    League.MLB: ("10", "Major League Baseball"),
    League.NHL: ("90", "National Hockey League"),
    League.WNBA: ("59", "Women's National Basketball Association"),
    League.NCAAF: ("23", "NCAA - Football"),
    League.NCAAMB: ("41", "NCAA Men's Basketball"),
}
# (number of periods, how a period is shown while live)
_PERIODS: dict[League, tuple[int, str]] = {
    League.NFL: (4, "quarter"),
    League.NCAAF: (4, "quarter"),
    League.NBA: (4, "quarter"),
    League.WNBA: (4, "quarter"),
    League.NCAAMB: (2, "half"),
    League.NHL: (3, "period"),
    League.MLB: (9, "inning"),
}


def espn_date(moment: datetime) -> str:
    """ESPN's UTC minute precision: ``2024-11-10T18:00Z``."""
    return moment.strftime("%Y-%m-%dT%H:%MZ")


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def team_id(team: SimTeam) -> str:
    """ESPN's team id, or a stable stand-in for teams whose id we do not know."""
    if team.espn_id:
        return team.espn_id
    return f"99{teams(team.league).index(team):03d}"


def league_info(league: League) -> dict[str, str]:
    league_id, name = _LEAGUE_NAME[league]
    return {
        "id": league_id,
        "name": name,
        "abbreviation": league.value,
        "slug": ESPN_PATH[league].split("/")[1],
    }


def _time_text(game: SimGame) -> tuple[str, str]:
    local = game.start.astimezone(ET)
    clock = f"{local.hour % 12 or 12}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"
    zone = local.tzname() or "ET"
    detail = f"{local:%a, %B} {_ordinal(local.day)} at {clock} {zone}"
    return detail, f"{local.month}/{local.day} - {clock} {zone}"


def status(game: SimGame, now: datetime) -> dict[str, Any]:
    """ESPN's ``status`` object for the game at ``now``."""
    state, progress = game.phase(now)
    if state is GameState.SCHEDULED:
        detail, short = _time_text(game)
        kind = {"id": "1", "name": "STATUS_SCHEDULED", "state": "pre", "completed": False}
        return _status(kind, "Scheduled", detail, short, period=0, clock="0:00")
    if state is GameState.POSTPONED:
        kind = {"id": "6", "name": "STATUS_POSTPONED", "state": "post", "completed": False}
        return _status(kind, "Postponed", "Postponed", "Postponed", period=0, clock="0:00")
    if state is GameState.FINAL:
        kind = {"id": "3", "name": "STATUS_FINAL", "state": "post", "completed": True}
        periods, _ = _PERIODS[game.league]
        return _status(kind, "Final", "Final", "Final", period=periods, clock="0:00")
    periods, unit = _PERIODS[game.league]
    period = min(int(progress * periods) + 1, periods)
    remaining = 1 - (progress * periods - (period - 1))
    minutes = int(remaining * 12)
    clock = f"{minutes}:{int(remaining * 720) % 60:02d}"
    if unit == "inning":
        text = f"{'Top' if remaining > 0.5 else 'Bot'} {_ordinal(period)}"
    elif unit == "quarter":
        text = f"{clock} - {_ordinal(period)} Quarter"
    elif unit == "half":
        text = f"{clock} - {_ordinal(period)} Half"
    else:
        text = f"{clock} - {_ordinal(period)}"
    kind = {"id": "2", "name": "STATUS_IN_PROGRESS", "state": "in", "completed": False}
    return _status(kind, "In Progress", text, text, period=period, clock=clock)


def _status(
    kind: dict[str, Any], description: str, detail: str, short: str, *, period: int, clock: str
) -> dict[str, Any]:
    return {
        "clock": 0.0,
        "displayClock": clock,
        "period": period,
        "type": {**kind, "description": description, "detail": detail, "shortDetail": short},
    }


def _record(slates: Slates, game: SimGame, team: SimTeam) -> list[dict[str, str]]:
    played = 5 + game.et_date.toordinal() % 50
    strength = 1.0 / (1.0 + 10 ** (-(slates.rating(game.league, team) - 1500.0) / 400.0))
    wins = round(played * strength)
    home_wins = (wins + 1) // 2
    home_played = (played + 1) // 2
    return [
        {
            "name": "overall",
            "abbreviation": "Game",
            "type": "total",
            "summary": f"{wins}-{played - wins}",
        },
        {"name": "Home", "type": "home", "summary": f"{home_wins}-{home_played - home_wins}"},
        {
            "name": "Road",
            "type": "road",
            "summary": f"{wins - home_wins}-{played - home_played - (wins - home_wins)}",
        },
    ]


def _team(team: SimTeam) -> dict[str, Any]:
    return {
        "id": team_id(team),
        "uid": f"s:0~l:0~t:{team_id(team)}",
        "location": team.location,
        "name": team.nickname,
        "abbreviation": team.espn,
        "displayName": team.name,
        "shortDisplayName": team.nickname,
        "isActive": True,
    }


def competitors(slates: Slates, game: SimGame, now: datetime) -> list[dict[str, Any]]:
    """Both competitors; the away team comes first for some games, as on ESPN."""
    state, _ = game.phase(now)
    away_score, home_score = game.scores(now)
    result = []
    for home in (True, False):
        team = game.home if home else game.away
        entry: dict[str, Any] = {
            "id": team_id(team),
            "type": "team",
            "order": 0 if home else 1,
            "homeAway": "home" if home else "away",
            "score": str(home_score if home else away_score),
            "team": _team(team),
            "records": _record(slates, game, team),
        }
        if state is GameState.FINAL:
            entry["winner"] = game.home_wins == home
        result.append(entry)
    if game.away_listed_first:
        result.reverse()
    return result


def competition(slates: Slates, game: SimGame, now: datetime) -> dict[str, Any]:
    return {
        "id": game.espn_id,
        "date": espn_date(game.start),
        "neutralSite": game.neutral_site,
        "conferenceCompetition": False,
        "venue": {
            "id": str(zlib.crc32(game.venue.encode()) % 10_000),
            "fullName": game.venue,
            "address": {"city": game.city},
            "indoor": game.league not in (League.NFL, League.NCAAF, League.MLB),
        },
        "competitors": competitors(slates, game, now),
        "status": status(game, now),
    }


def event(slates: Slates, game: SimGame, now: datetime) -> dict[str, Any]:
    """One scoreboard ``events[]`` entry."""
    return {
        "id": game.espn_id,
        "uid": f"s:0~l:{_LEAGUE_NAME[game.league][0]}~e:{game.espn_id}",
        "date": espn_date(game.start),
        "name": f"{game.away.name} at {game.home.name}",
        "shortName": f"{game.away.espn} @ {game.home.espn}",
        "season": {"year": game.et_date.year, "type": 2, "slug": "regular-season"},
        "competitions": [competition(slates, game, now)],
        "status": status(game, now),
        "links": [],
    }


# How far back a summary looks for a team's last five games (the off-season is shorter).
_HISTORY_DAYS = 120


def _previous_games(slates: Slates, game: SimGame, team: SimTeam, count: int = 5) -> list[SimGame]:
    """``team``'s last ``count`` played games before ``game``'s day, newest first.

    Read from the simulator's own earlier slates, like ESPN's summary agrees with its
    scoreboards, so rest days from summaries and from applied results are the same.
    """
    found: list[SimGame] = []
    day = game.et_date
    for _ in range(_HISTORY_DAYS):
        day -= timedelta(days=1)
        for other in reversed(slates.games(game.league, day)):
            if team in (other.home, other.away) and not other.postponed:
                found.append(other)
                if len(found) == count:
                    return found
    return found


def _last_five(slates: Slates, game: SimGame, team: SimTeam) -> dict[str, Any]:
    events = []
    for played in _previous_games(slates, game, team):
        at_home = played.home is team
        opponent = played.away if at_home else played.home
        ours, theirs = (
            (played.final_home, played.final_away)
            if at_home
            else (played.final_away, played.final_home)
        )
        events.append(
            {
                "id": played.espn_id,
                "gameDate": espn_date(played.start),
                "atVs": "vs" if at_home else "@",
                "gameResult": "W" if ours > theirs else "L",
                "score": f"{ours}-{theirs}",
                "opponent": {"id": team_id(opponent), "abbreviation": opponent.espn},
                "homeTeamId": team_id(played.home),
                "awayTeamId": team_id(played.away),
                "homeTeamScore": str(played.final_home),
                "awayTeamScore": str(played.final_away),
            }
        )
    return {"team": {**_team(team), "id": team_id(team)}, "events": events}


def summary(slates: Slates, game: SimGame, now: datetime) -> dict[str, Any]:
    """The ``summary?event=ID`` body: a header plus both teams' last five games."""
    return {
        "header": {
            "id": game.espn_id,
            "uid": f"s:0~l:{_LEAGUE_NAME[game.league][0]}~e:{game.espn_id}",
            "season": {"year": game.et_date.year, "type": 2},
            "competitions": [competition(slates, game, now)],
            "league": league_info(game.league),
        },
        "lastFiveGames": [_last_five(slates, game, t) for t in (game.away, game.home)],
        "boxscore": {"teams": []},
        "pickcenter": [],
    }
