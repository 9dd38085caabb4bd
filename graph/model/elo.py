"""Elo ratings for game-winner forecasts (core: pure, deterministic, no I/O).

How it works. Every team has a rating (league average about 1505). Before a game the rating gap

    D = R_home - R_away + home advantage (0 at neutral sites) + rest adjustment

becomes a home win probability P = 1 / (1 + 10^(-D/400)); in the playoffs D is scaled by
``playoff_multiplier`` (favourites win more often than the regular-season formula says).
After the game both teams move by the same amount in opposite directions,
``shift = K x M x (result - P)``, where M is FiveThirtyEight's margin-of-victory multiplier
with its "autocorrelation" damping (a favourite's big win is expected, an underdog's is news).
Between seasons every rating keeps ``1 - regression`` of its distance from ``mean``.

Adjustments beyond 538's classic Elo, each measured in bench/eval.py:
- rest: a team playing on consecutive days (NBA back-to-back) loses ``b2b_penalty`` Elo, and
  each day of rest over the opponent, counting at most ``rest_cap_days`` per team, is worth
  ``rest_per_day``; rest days come from the model's own record of each team's last game;
- ``playoff_multiplier`` and ``playoff_k`` for postseason games;
- an online home advantage (``hfa_rate``): after each non-neutral game it moves by
  ``hfa_rate x (result - P)``. Measured but not shipped (it did not help on the fit seasons).

Team keys are opaque strings chosen by the caller (538 codes in the evaluation, graph.teams
``Team.key`` when serving). Time is only ever an argument (``day``).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from graph.models import Factor, League

MODEL_NAME = "elo"
MODEL_VERSION = "1"  # bump when PARAMS or the update rule change: stored ratings are rebuilt


class MovForm(enum.StrEnum):
    """Which margin-of-victory multiplier a league uses."""

    NONE = "none"  # plain Elo: M = 1
    LOG = "log"  # 538 NFL: ln(|m| + 1) * 2.2 / (0.001 * D_w + 2.2)
    POWER = "power"  # 538 NBA: (|m| + 3)^0.8 / (7.5 + 0.006 * D_w)


@dataclass(frozen=True, slots=True)
class EloParams:
    """One league's Elo configuration. The defaults are FiveThirtyEight's NFL classic Elo."""

    k: float = 20.0
    home_advantage: float = 65.0
    mov: MovForm = MovForm.LOG
    mov_exponent: float = 0.8  # POWER form only
    regression: float = 1 / 3  # share of the distance to ``mean`` removed between seasons
    mean: float = 1505.0
    initial: float = 1505.0  # rating of a team the model has never seen
    hfa_rate: float = 0.0  # learning rate of the online home advantage (0 = fixed)
    b2b_penalty: float = 0.0  # Elo lost by a team that also played the day before
    rest_per_day: float = 0.0  # Elo per day of rest over the opponent ...
    rest_cap_days: int = 0  # ... counting at most this many days of rest per team
    playoff_multiplier: float = 1.0  # scales the whole gap D in playoff games
    playoff_k: float = 1.0  # K multiplier in playoff games
    description: str = ""


@dataclass(frozen=True, slots=True)
class GameResult:
    """A completed game. ``day`` drives rest days; ``season`` triggers the off-season regression."""

    home: str
    away: str
    home_score: int
    away_score: int
    day: date | None = None
    season: int | None = None
    neutral: bool = False
    playoff: bool = False


def win_probability(diff: float) -> float:
    """Elo's logistic curve: probability that the side ``diff`` points ahead wins."""
    # Clamped so absurd gaps cannot overflow; 4000 points is already p = 1 - 1e-10.
    diff = max(-4000.0, min(4000.0, diff))
    return 1.0 / (1.0 + math.pow(10.0, -diff / 400.0))


def mov_multiplier(params: EloParams, margin: int, winner_edge: float) -> float:
    """538's margin multiplier; ``winner_edge`` is the winner's pre-game gap D (0 for a tie)."""
    if params.mov is MovForm.NONE:
        return 1.0
    m = abs(margin)
    if params.mov is MovForm.LOG:
        if m == 0:
            # 538's forecast.py: a tie uses ln(max(|m|, 1) + 1) * 2.2 / 1.0 (no damping).
            return math.log(2.0) * 2.2
        return math.log(m + 1.0) * 2.2 / (0.001 * winner_edge + 2.2)
    return math.pow(m + 3.0, params.mov_exponent) / (7.5 + 0.006 * winner_edge)


def season_of(league: League, day: date) -> int:
    """The season label of a game day, in 538's convention.

    Football and MLB/WNBA name a season by the year it starts; NBA, NHL and college basketball
    by the year it ends (538's NBA files: 2015 = 2014-15).
    """
    if league in (League.NFL, League.NCAAF):
        return day.year if day.month >= 3 else day.year - 1
    if league in (League.NBA, League.NHL, League.NCAAMB):
        return day.year + 1 if day.month >= 10 else day.year
    return day.year


@dataclass(slots=True)
class EloModel:
    """Mutable rating state for one league. Not thread-safe: callers own the locking."""

    params: EloParams
    ratings: dict[str, float] = field(default_factory=dict)
    season: int | None = None
    home_advantage: float = math.nan  # current (possibly learned) home edge
    last_played: dict[str, date] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if math.isnan(self.home_advantage):
            self.home_advantage = self.params.home_advantage

    def rating(self, team: str) -> float:
        return self.ratings.get(team, self.params.initial)

    def rest_days(self, team: str, day: date) -> int | None:
        """Days since ``team`` last played before ``day`` (None if never seen)."""
        last = self.last_played.get(team)
        return None if last is None else (day - last).days

    def copy(self) -> EloModel:
        return EloModel(
            params=self.params,
            ratings=dict(self.ratings),
            season=self.season,
            home_advantage=self.home_advantage,
            last_played=dict(self.last_played),
        )

    def start_season(self, season: int) -> None:
        """Regress every rating toward the mean for a new season (no-op for the current one).

        Skipped seasons (a service restarted after a year offline) regress once each.
        """
        if self.season is not None and season != self.season:
            skipped = max(1, season - self.season)
            keep = (1.0 - self.params.regression) ** skipped
            mean = self.params.mean
            self.ratings = {t: mean + keep * (r - mean) for t, r in self.ratings.items()}
        self.season = season

    def _rest_adjustment(self, home_rest: int | None, away_rest: int | None) -> float:
        p = self.params
        adj = 0.0
        if p.b2b_penalty:
            adj -= p.b2b_penalty if home_rest == 1 else 0.0
            adj += p.b2b_penalty if away_rest == 1 else 0.0
        if p.rest_per_day and home_rest is not None and away_rest is not None:
            cap = p.rest_cap_days
            adj += p.rest_per_day * (min(home_rest, cap) - min(away_rest, cap))
        return adj

    def gap(
        self,
        home: str,
        away: str,
        *,
        neutral: bool = False,
        home_rest_days: int | None = None,
        away_rest_days: int | None = None,
        playoff: bool = False,
        day: date | None = None,
    ) -> tuple[float, list[Factor]]:
        """The pre-game Elo gap D (home minus away, everything included) and its parts.

        Rest days not given are derived from the model's own record of each team's last game
        when ``day`` is given.
        """
        if day is not None:
            if home_rest_days is None:
                home_rest_days = self.rest_days(home, day)
            if away_rest_days is None:
                away_rest_days = self.rest_days(away, day)
        r_home, r_away = self.rating(home), self.rating(away)
        hfa = 0.0 if neutral else self.home_advantage
        rest = self._rest_adjustment(home_rest_days, away_rest_days)
        scale = self.params.playoff_multiplier if playoff else 1.0
        diff = (r_home - r_away + hfa + rest) * scale
        factors = [
            Factor("rating_home", round(r_home, 2)),
            Factor("rating_away", round(r_away, 2)),
            Factor("rating_diff", round(r_home - r_away, 2)),
            Factor("home_advantage", round(hfa, 2)),
            Factor("rest_adjustment", round(rest, 2)),
        ]
        if home_rest_days is not None:
            factors.append(Factor("home_rest_days", float(home_rest_days)))
        if away_rest_days is not None:
            factors.append(Factor("away_rest_days", float(away_rest_days)))
        if playoff:
            factors.append(Factor("playoff_multiplier", scale))
        factors.append(Factor("elo_diff", round(diff, 2)))
        return diff, factors

    def explain(
        self,
        home: str,
        away: str,
        *,
        neutral: bool = False,
        home_rest_days: int | None = None,
        away_rest_days: int | None = None,
        playoff: bool = False,
        day: date | None = None,
    ) -> tuple[float, list[Factor]]:
        """Home win probability and the named inputs behind it (see ``gap``)."""
        diff, factors = self.gap(
            home,
            away,
            neutral=neutral,
            home_rest_days=home_rest_days,
            away_rest_days=away_rest_days,
            playoff=playoff,
            day=day,
        )
        return win_probability(diff), factors

    def probability(
        self,
        home: str,
        away: str,
        *,
        neutral: bool = False,
        home_rest_days: int | None = None,
        away_rest_days: int | None = None,
        playoff: bool = False,
        day: date | None = None,
    ) -> float:
        """Probability that ``home`` beats ``away``."""
        p, _ = self.explain(
            home,
            away,
            neutral=neutral,
            home_rest_days=home_rest_days,
            away_rest_days=away_rest_days,
            playoff=playoff,
            day=day,
        )
        return p

    def update(self, game: GameResult) -> float:
        """Apply a completed game; returns the pre-game home probability it was judged against."""
        if game.season is not None:
            self.start_season(game.season)
        diff, _ = self.gap(
            game.home, game.away, neutral=game.neutral, playoff=game.playoff, day=game.day
        )
        p = win_probability(diff)
        params = self.params
        margin = game.home_score - game.away_score
        result = 1.0 if margin > 0 else 0.0 if margin < 0 else 0.5
        # The winner's edge as 538 defines it: the pre-game gap, home advantage included.
        winner_edge = diff if margin > 0 else -diff if margin < 0 else 0.0
        k = params.k * (params.playoff_k if game.playoff else 1.0)
        shift = k * mov_multiplier(params, margin, winner_edge) * (result - p)
        self.ratings[game.home] = self.rating(game.home) + shift
        self.ratings[game.away] = self.rating(game.away) - shift
        if params.hfa_rate and not game.neutral:
            self.home_advantage += params.hfa_rate * (result - p)
        if game.day is not None:
            self.last_played[game.home] = game.day
            self.last_played[game.away] = game.day
        return p


def classic_538(league: League) -> EloParams:
    """FiveThirtyEight's published classic Elo for the NFL or NBA (the replication baseline)."""
    if league is League.NBA:
        return EloParams(
            k=20.0,
            home_advantage=100.0,
            mov=MovForm.POWER,
            regression=0.25,
            description="538 classic NBA Elo",
        )
    return EloParams(description="538 classic NFL Elo")


# NFL and NBA: fitted on the 2015-2017 seasons of the shipped 538 data only (coordinate descent
# over declared grids, Brier score, walk-forward), then frozen; an idea was kept only if it
# lowered the fit-window Brier by at least 0.00005. bench/eval.py reports every season and the
# held-out 2018+ seasons separately. The other leagues are untuned defaults, documented per line.
PARAMS: Mapping[League, EloParams] = {
    League.NFL: EloParams(
        k=20.0,
        home_advantage=50.0,  # 538 classic: 65
        mov=MovForm.LOG,
        regression=0.5,  # 538 classic: 1/3
        rest_per_day=7.0,  # a bye week (+7 days) is worth ~49 Elo ...
        rest_cap_days=21,  # ... and the off-season counts as 21 days for everyone
        playoff_multiplier=1.2,  # as in 538's QB-Elo / nflseedR
        description="538 NFL Elo, tuned on 2015-2017: HFA 50, regression 1/2, rest, playoff x1.2",
    ),
    League.NBA: EloParams(
        k=18.0,  # 538 classic: 20
        home_advantage=65.0,  # 538 classic: 100
        mov=MovForm.POWER,
        regression=0.25,
        b2b_penalty=20.0,
        rest_per_day=7.0,
        rest_cap_days=4,
        playoff_multiplier=1.2,
        description="538 NBA Elo, tuned on 2015-2017: K 18, HCA 65, rest + B2B, playoff x1.2",
    ),
    # Untuned defaults (no data here to fit them on).
    League.MLB: EloParams(
        k=4.0,  # 538's MLB Elo as reported: K 4, home field 24, revert 1/3; no pitcher model
        home_advantage=24.0,
        mov=MovForm.NONE,
        regression=1 / 3,
        description="default: 538 MLB Elo core (K 4, HFA 24), no pitcher adjustment, untuned",
    ),
    League.NHL: EloParams(
        k=6.0,  # 538's NHL Elo as reported: K 6, home ice 50, playoff gap x1.25
        home_advantage=50.0,
        mov=MovForm.NONE,  # 538's hockey margin multiplier is not implemented
        regression=0.3,
        playoff_multiplier=1.25,
        description="default: 538 NHL Elo core (K 6, HFA 50, playoff x1.25), untuned",
    ),
    League.WNBA: EloParams(
        k=20.0,  # reasoned: basketball like the NBA, fewer games, so 538's classic NBA choices
        home_advantage=100.0,
        mov=MovForm.POWER,
        regression=0.25,
        description="default: 538 classic NBA Elo applied to the WNBA, untuned",
    ),
    League.NCAAF: EloParams(
        k=25.0,  # reasoned: 12-game seasons and mismatches need faster learning than the NFL
        home_advantage=65.0,  # ~2.5-3 points at 25 points per Elo-spread point
        mov=MovForm.LOG,
        regression=0.5,  # rosters turn over every few years
        description="default: NFL-style Elo for college football, untuned",
    ),
    League.NCAAMB: EloParams(
        k=30.0,  # reasoned: ~30 games, teams change fast
        home_advantage=100.0,  # ~3.5 points at 28 points per Elo-spread point
        mov=MovForm.POWER,
        regression=0.5,
        description="default: NBA-style Elo for men's college basketball, untuned",
    ),
}
