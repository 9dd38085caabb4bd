"""Backtest of the recommendation policy at real closing prices, margin included.

How it works. Each game's closing moneyline becomes the two Kalshi-style markets the service
would see: YES on a team is offered at that team's price *with* the bookmaker's margin (betting
-150 is buying at 0.60) and bid at one minus the other side's price. The service's own code then
decides: ``graph.model.predict.build_prediction``, the function behind every ``prediction`` the
API serves, reads the market's probability from those books and asks the policy
(``graph.model.policy.decide``) for at most one bet (thresholds, fractional Kelly, caps). A bet
returns 1/price - 1 per unit staked when it wins, -1 when it loses, 0 on a tie (a moneyline
push). Stakes are shares of the bankroll at the start of the game's day (games of one
day run at the same time), so the bankroll compounds day by day.

Reported per policy and per season: bets, hit rate (pushes left out), ROI (profit per unit
staked, stakes as bankroll shares) and final bankroll from 1.0, each ROI and bankroll with a
95% bootstrap interval that resamples betting days.

Choosing thresholds. For each season, every setting of :data:`GRID` is backtested on the
earlier seasons only. A setting qualifies under :data:`RULE` when there were at least two earlier
seasons, it placed at least 50 bets on them, and the lower confidence bound of its ROI is above
zero, at a family-wise 95% level over the whole grid (Bonferroni: one-sided 0.05 / 20 per
setting; ROI's standard error by the delta method with betting days as clusters). The
qualifying setting with the highest bound is used for the season; with none, the policy bets
nothing that season. The default policy is the same rule applied to every season.
:data:`NAIVE` (plain 95% per setting, one season enough) is reported beside it, to show what
the corrections are for.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from bench.moneylines import Line, Matched
from bench.stats import cluster_bootstrap
from graph.model.policy import LeaguePolicy, Thresholds
from graph.model.predict import build_prediction
from graph.models import BetSide, Evidence, Market

REPS = 2000
SEED = 17
GRID: tuple[Thresholds, ...] = tuple(
    Thresholds(min_edge=lo, max_edge=hi)
    for lo in (0.0, 0.02, 0.04, 0.06, 0.08, 0.10)
    for hi in (0.05, 0.10, 0.15, 1.0)
    if hi > lo
)


@dataclass(frozen=True, slots=True)
class Rule:
    """When a setting counts as having positive expected ROI with evidence."""

    min_seasons: int = 2
    min_bets: int = 50
    family_wise: bool = True  # correct the confidence level for the number of settings tried
    level: float = 0.95

    def z(self, settings: int) -> float:
        alpha = (1 - self.level) / (settings if self.family_wise else 2)
        return statistics.NormalDist().inv_cdf(1 - alpha)


RULE = Rule()
NAIVE = Rule(min_seasons=1, family_wise=False)
FORMER_DEFAULT = Thresholds()  # what the service recommended with before this backtest


@dataclass(frozen=True, slots=True)
class Placed:
    """One bet the policy placed and how it ended."""

    day: date
    season: int
    stake: float  # share of the bankroll
    price: float
    result: float  # return per unit staked: 1/price - 1, -1, or 0 for a push


def books(line: Line, observed_at: datetime) -> tuple[Market, Market]:
    """The home and away YES markets a closing moneyline amounts to."""

    def market(code: str, ask: float, other_ask: float) -> Market:
        return Market(
            ticker=f"{line.game_id}-{code}",
            event_ticker=line.game_id,
            title=f"{code} wins",
            status="active",
            yes_bid=1.0 - other_ask,
            yes_ask=ask,
            observed_at=observed_at,
        )

    return (
        market(line.home, line.home_price, line.away_price),
        market(line.away, line.away_price, line.home_price),
    )


def place(
    games: Sequence[Matched], model: Sequence[float], thresholds: Thresholds | None
) -> list[Placed]:
    """Every bet the policy places on ``games`` given our pre-game home probabilities."""
    if thresholds is None:
        return []
    policy = LeaguePolicy(thresholds, Evidence(validated=True, summary="backtest"))
    out = []
    for matched, p_home in zip(games, model, strict=True):
        kickoff = datetime.combine(matched.game.day, time(12), tzinfo=UTC)
        home, away = books(matched.line, kickoff)
        bet = build_prediction(
            p_home=p_home,
            factors=(),
            model="backtest",
            policy=policy,
            home_code=home.ticker,
            away_code=away.ticker,
            home_market=home,
            away_market=away,
            now_ms=int(kickoff.timestamp() * 1000),
        ).bet
        if bet is None:
            continue
        won = matched.outcome if bet.side is BetSide.HOME else 1.0 - matched.outcome
        result = 0.0 if won == 0.5 else (1.0 / bet.price - 1.0 if won else -1.0)
        out.append(Placed(matched.game.day, matched.game.season, bet.stake, bet.price, result))
    return out


Day = tuple[float, float]  # (stake, profit), both as shares of that morning's bankroll


def by_day(bets: Iterable[Placed]) -> list[Day]:
    days: dict[date, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for b in bets:
        d = days[b.day]
        d[0] += b.stake
        d[1] += b.stake * b.result
    return [(s, p) for _, (s, p) in sorted(days.items())]


def roi(days: Sequence[tuple[float, ...]]) -> float:
    staked = sum(d[0] for d in days)
    return sum(d[1] for d in days) / staked if staked else math.nan


def bankroll(days: Sequence[tuple[float, ...]]) -> float:
    return math.prod(1.0 + d[1] for d in days)


@dataclass(frozen=True, slots=True)
class Summary:
    bets: int
    hit_rate: float | None
    staked: float
    roi: float
    roi_ci95: tuple[float, float]
    final_bankroll: float
    bankroll_ci95: tuple[float, float]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def summarise(bets: Sequence[Placed], *, reps: int = REPS, seed: int = SEED) -> Summary:
    """Counts, ROI and final bankroll with day-resampled 95% intervals (zeros without bets)."""
    if not bets:
        return Summary(0, None, 0.0, 0.0, (0.0, 0.0), 1.0, (1.0, 1.0))
    settled = [b for b in bets if b.result != 0.0]
    days = by_day(bets)
    return Summary(
        bets=len(bets),
        hit_rate=sum(b.result > 0 for b in settled) / len(settled) if settled else None,
        staked=sum(d[0] for d in days),
        roi=roi(days),
        roi_ci95=cluster_bootstrap(days, roi, reps=reps, seed=seed),
        final_bankroll=bankroll(days),
        bankroll_ci95=cluster_bootstrap(days, bankroll, reps=reps, seed=seed),
    )


def lower_bound(days: Sequence[Day], z: float) -> float:
    """ROI minus z standard errors (delta method for a ratio, days as clusters)."""
    if len(days) < 2:
        return -math.inf
    staked = sum(d[0] for d in days)
    r = roi(days)
    n = len(days)
    variance = n / (n - 1) * sum((p - r * s) ** 2 for s, p in days)
    return r - z * math.sqrt(variance) / staked


Placements = Mapping[Thresholds, Sequence[Placed]]  # every setting's bets on every game


def place_grid(
    games: Sequence[Matched], model: Sequence[float], grid: Sequence[Thresholds] = GRID
) -> dict[Thresholds, list[Placed]]:
    """Each setting's bets, placed once: a game's bet depends on that game alone."""
    return {thresholds: place(games, model, thresholds) for thresholds in grid}


def select(
    placements: Placements, seasons: Collection[int], *, rule: Rule = RULE
) -> tuple[Thresholds | None, list[dict[str, Any]]]:
    """The setting ``rule`` picks from the bets on ``seasons`` (None: no evidence), and every
    setting's row."""
    enough_seasons = len(seasons) >= rule.min_seasons
    z = rule.z(len(placements))
    rows = []
    best: tuple[float, Thresholds] | None = None
    for thresholds, placed in placements.items():
        bets = [b for b in placed if b.season in seasons]
        days = by_day(bets)
        bound = lower_bound(days, z)
        qualifies = enough_seasons and len(bets) >= rule.min_bets and bound > 0
        rows.append(
            {
                "thresholds": asdict(thresholds),
                "bets": len(bets),
                "roi": roi(days) if bets else 0.0,
                "roi_lower_bound": bound if math.isfinite(bound) else None,
                "qualifies": qualifies,
            }
        )
        if qualifies and (best is None or bound > best[0]):
            best = (bound, thresholds)
    return (best[1] if best else None), rows


def walk_forward(
    placements: Placements, seasons: Sequence[int], *, rule: Rule = RULE
) -> tuple[list[Placed], dict[int, Thresholds | None]]:
    """Each season bet with the setting chosen on earlier seasons only."""
    chosen: dict[int, Thresholds | None] = {}
    out: list[Placed] = []
    for season in sorted(seasons):
        pick, _ = select(placements, {s for s in seasons if s < season}, rule=rule)
        chosen[season] = pick
        if pick is not None:
            out += [b for b in placements[pick] if b.season == season]
    return out, chosen


def by_season(bets: Sequence[Placed], seasons: Iterable[int]) -> dict[str, dict[str, Any]]:
    return {
        str(s): summarise([b for b in bets if b.season == s]).as_json() for s in sorted(seasons)
    }


def _run(bets: Sequence[Placed], seasons: Sequence[int]) -> dict[str, Any]:
    return {**summarise(bets).as_json(), "seasons": by_season(bets, seasons)}


def backtest(games: Sequence[Matched], model: Sequence[float]) -> dict[str, Any]:
    """Everything ``make eval`` reports for the policy on one league, JSON-ready."""
    seasons = sorted({m.game.season for m in games})
    placements = place_grid(games, model)
    default, grid_rows = select(placements, seasons)
    out: dict[str, Any] = {
        "policy": asdict(default) if default else None,
        "games": len(games),
        **_run(placements[default] if default else [], seasons),
    }
    for name, rule in (("walk_forward", RULE), ("naive_walk_forward", NAIVE)):
        bets, chosen = walk_forward(placements, seasons, rule=rule)
        out[name] = {
            **_run(bets, seasons),
            "chosen": {str(s): asdict(t) if t else None for s, t in chosen.items()},
        }
    out["former_default"] = {
        "policy": asdict(FORMER_DEFAULT),
        **_run(place(games, model, FORMER_DEFAULT), seasons),
    }
    out["grid"] = grid_rows
    out["rule"] = {**asdict(RULE), "settings": len(GRID), "z": RULE.z(len(GRID))}
    return out


def _pct(x: float) -> str:
    return f"{100 * x:+.1f}%"


def _cell(s: Mapping[str, Any]) -> str:
    if not s["bets"]:
        return f"{0:>5} {'-':>6} {'-':>26} {'1.00':>20}"
    lo, hi = s["roi_ci95"]
    blo, bhi = s["bankroll_ci95"]
    hit = "-" if s["hit_rate"] is None else f"{100 * s['hit_rate']:.1f}%"
    return (
        f"{s['bets']:>5} {hit:>6} {_pct(s['roi']):>7} [{_pct(lo)}, {_pct(hi)}]"
        f"{s['final_bankroll']:>6.2f} [{blo:.2f}, {bhi:.2f}]"
    )


def _chosen(t: Mapping[str, Any] | None) -> str:
    return "none" if t is None else f"edge {t['min_edge']:.2f}-{t['max_edge']:.2f}"


def render(report: Mapping[str, Any], league: str = "NFL") -> str:
    rule = report["rule"]
    policy = report["policy"]
    lines = [
        f"== {league} recommendation policy backtest: {report['games']} games at closing "
        "moneylines, margin included (build_prediction, as the service runs it)",
        f"   rule: >= {rule['min_seasons']} past seasons, >= {rule['min_bets']} bets, ROI lower "
        f"bound > 0 at z = {rule['z']:.2f} (95% family-wise over {rule['settings']} settings)",
        "   default policy: "
        + (
            f"{_chosen(policy)}, kelly {policy['kelly_fraction']}, cap {policy['max_stake']}"
            if policy
            else "no setting qualifies: recommends nothing"
        )
        + f"; bets {report['bets']}, ROI {_pct(report['roi'])}",
        f"   {'season':<8}{'chosen':<16}"
        f"{'walk-forward: bets hit ROI [95% CI] bankroll [95% CI]':<60}"
        "former default (edge >= 0.03): same columns",
    ]
    wf, former = report["walk_forward"], report["former_default"]
    for season, row in wf["seasons"].items():
        lines.append(
            f"   {season:<8}{_chosen(wf['chosen'][season]):<16}{_cell(row):<60}"
            f"{_cell(former['seasons'][season])}"
        )
    lines.append(f"   {'all':<24}{_cell(wf):<60}{_cell(former)}")
    naive = report["naive_walk_forward"]
    picks = ", ".join(f"{s}: {_chosen(t)}" for s, t in naive["chosen"].items() if t)
    lines.append(
        f"   naive rule (plain 95%, one season enough), walk-forward, bets on: {picks or 'none'}"
    )
    lines.append(f"   {'all':<24}{_cell(naive)}")
    return "\n".join(lines)
