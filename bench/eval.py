"""``make eval``: our model against FiveThirtyEight and against the market, and the policy backtest.

Sections (each module renders its own table; all land in ``bench/results/eval.json``):
- ``model``: our Elo against 538's published forecasts, NFL and NBA (this module);
- ``market``: NFL against the no-vig closing line, with a walk-forward blend (``bench.closing``),
  and a reliability diagram in ``docs/calibration-nfl.svg`` (``bench.calplot``);
- ``backtest``: the recommendation policy at closing prices, margin included (``bench.backtest``);
- ``stretch``: attempts to beat the close (``bench.stretch``).

How the 538 comparison works. Each shipped data set (graph/model/data, 538's game files) is replayed
in date order: for every game the model first forecasts it from what it knew before the game,
then learns its result. The forecasts are scored (Brier, log loss, accuracy, 10-bin
calibration) next to 538's published columns on exactly the same games; ties (9 NFL games) are
excluded from every score here (the market table counts them as half a win instead).

Seeding. 538 rated teams from a century of history; our replay starts in 2014-15. By default
each team's first rating is 538's published pre-game Elo of its first game in the file (known
before that game, so no look-ahead). The alternative, every team at 1505 with the first season
used as burn-in and excluded, is reported as well.

Fitting. The shipped parameters (graph.model.elo.PARAMS) were fitted on ``FIT_SEASONS`` only; the
held-out rows show the seasons the fit never saw.

``python -m bench.eval [out.json] [--svg docs/calibration-nfl.svg]``; every number is
deterministic (seeded bootstraps), so two runs write the same file.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

from bench import backtest, closing, stretch
from bench.calplot import reliability_svg
from bench.moneylines import Matched, join, load_lines
from bench.stats import calibration, score
from graph.model.data import HistoricalGame, load_games
from graph.model.elo import PARAMS, EloModel, EloParams, classic_538
from graph.models import League

LEAGUES = (League.NFL, League.NBA)
FIT_SEASONS: dict[League, frozenset[int]] = {
    League.NFL: frozenset({2015, 2016, 2017}),
    League.NBA: frozenset({2015, 2016, 2017}),
}
# 538's scores on these games (sports-data.md section 3.2): what we must beat.
ANCHORS: dict[League, dict[str, float]] = {
    League.NFL: {"elo": 0.2234, "headline": 0.2172},
    League.NBA: {"elo": 0.2187, "headline": 0.2196},
}
HEADLINE_NAME = {League.NFL: "538 QB-Elo", League.NBA: "538 RAPTOR"}
DEFAULT_OUT = Path("bench/results/eval.json")
DEFAULT_SVG = Path("docs/calibration-nfl.svg")
Seed = Literal["538", "flat"]


@dataclass(frozen=True, slots=True)
class Forecast:
    game: HistoricalGame
    p_home: float  # ours, made before the game


def replay(league: League, params: EloParams, *, seed: Seed = "538") -> list[Forecast]:
    """Forecast every game of ``league`` before learning its result, in date order."""
    model = EloModel(params)
    seen: set[str] = set()
    out = []
    for game in load_games(league):
        if seed == "538":
            for team, pre in ((game.home, game.elo_home_pre), (game.away, game.elo_away_pre)):
                if team not in seen:
                    seen.add(team)
                    model.ratings[team] = pre
            if model.season is None:
                model.season = game.season  # 538's first ratings are already regressed
        out.append(Forecast(game, model.update(game.result())))
    return out


Column = Callable[[Forecast], float | None]
COLUMNS: dict[str, Column] = {
    "ours": lambda f: f.p_home,
    "538_elo": lambda f: f.game.elo_prob_home,
    "538_headline": lambda f: f.game.headline_prob_home,
}


def _pairs(forecasts: Iterable[Forecast], column: Column) -> list[tuple[float, float]]:
    pairs = []
    for f in forecasts:
        p = column(f)
        if p is not None and not f.game.tie:
            pairs.append((p, float(f.game.home_won)))
    return pairs


def _compare(forecasts: Sequence[Forecast]) -> dict[str, Any]:
    """Our scores and 538's on the same games; the headline model only where it exists."""
    row: dict[str, Any] = {name: asdict(score(_pairs(forecasts, c))) for name, c in COLUMNS.items()}
    with_headline = [f for f in forecasts if f.game.headline_prob_home is not None]
    if with_headline:
        row["ours_on_headline_games"] = asdict(score(_pairs(with_headline, COLUMNS["ours"])))
    else:
        del row["538_headline"]
    return row


def evaluate(league: League, params: EloParams | None = None) -> dict[str, Any]:
    """Everything the report prints for one league, as plain JSON-able data."""
    params = PARAMS[league] if params is None else params
    forecasts = replay(league, params)
    seasons = sorted({f.game.season for f in forecasts})
    fit = FIT_SEASONS[league]
    flat = replay(league, params, seed="flat")
    after_burn_in = [f for f in flat if f.game.season != seasons[0]]
    return {
        "league": league.value,
        "params": {k: v for k, v in asdict(params).items()},
        "fit_seasons": sorted(fit),
        "seed": "538 pre-game Elo at each team's first game in the file",
        "seasons": {
            str(s): _compare([f for f in forecasts if f.game.season == s]) for s in seasons
        },
        "all": _compare(forecasts),
        "held_out": _compare([f for f in forecasts if f.game.season not in fit]),
        "flat_seed_after_burn_in": _compare(after_burn_in),
        "calibration": {
            name: [asdict(b) for b in calibration(_pairs(forecasts, c))]
            for name, c in COLUMNS.items()
            if name != "538_headline"
        },
        "ablation": ablation(league, params),
    }


def ablation(league: League, params: EloParams) -> list[dict[str, Any]]:
    """Brier with one idea switched to 538's classic value: what each idea is worth."""
    classic = classic_538(league)
    plain = EloParams()
    fit = FIT_SEASONS[league]
    variants: dict[str, EloParams] = {
        "shipped": params,
        "538 classic": classic,
        "without tuned K": replace(params, k=classic.k),
        "without tuned home advantage": replace(params, home_advantage=classic.home_advantage),
        "without tuned regression": replace(params, regression=classic.regression),
        "without rest days": replace(params, rest_per_day=0.0),
        "without back-to-back": replace(params, b2b_penalty=plain.b2b_penalty),
        "without playoff multiplier": replace(params, playoff_multiplier=1.0),
        "with online home advantage": replace(params, hfa_rate=1.0),
    }
    rows = []
    done: set[EloParams] = set()
    for name, variant in variants.items():
        if variant in done and name != "shipped":
            continue  # the idea is not used in this league
        done.add(variant)
        fc = replay(league, variant)
        rows.append(
            {
                "variant": name,
                "fit": score(
                    _pairs([f for f in fc if f.game.season in fit], COLUMNS["ours"])
                ).brier,
                "all": score(_pairs(fc, COLUMNS["ours"])).brier,
                "held_out": score(
                    _pairs([f for f in fc if f.game.season not in fit], COLUMNS["ours"])
                ).brier,
            }
        )
    return rows


def _fmt(s: dict[str, Any] | None) -> str:
    if s is None:
        return f"{'':>22}"
    return f"{s['brier']:.4f} {s['log_loss']:.4f} {100 * s['accuracy']:5.1f}%"


def render(report: dict[str, Any]) -> str:
    league = League(report["league"])
    head = HEADLINE_NAME[league]
    lines = [
        f"== {league.value}: {report['params']['description']}",
        f"   walk-forward; parameters fitted on seasons {report['fit_seasons']} only; "
        f"seed: {report['seed']}; ties excluded",
        f"{'season':<10}{'games':>6}  {'ours: Brier logloss acc':<24}"
        f"{'538 Elo':<24}{head + ' (where published)':<24}{'ours on those games':<22}",
    ]

    def row(label: str, r: dict[str, Any]) -> str:
        return (
            f"{label:<10}{r['ours']['games']:>6}  {_fmt(r['ours']):<24}{_fmt(r['538_elo']):<24}"
            f"{_fmt(r.get('538_headline')):<24}{_fmt(r.get('ours_on_headline_games'))}"
        )

    for season, r in report["seasons"].items():
        lines.append(row(season, r))
    lines.append(row("all", report["all"]))
    lines.append(row("held-out", report["held_out"]))
    lines.append(row("flat-seed", report["flat_seed_after_burn_in"]))
    lines.append("   (flat-seed: every team starts at 1505, first season is burn-in, not scored)")
    anchors = ANCHORS[league]
    lines.append(
        f"   target: 538 Elo {anchors['elo']:.4f} (ours {report['all']['ours']['brier']:.4f}); "
        f"{head} {anchors['headline']:.4f}"
    )
    lines.append("calibration  bin        ours: n  pred   obs     538 Elo: n  pred   obs")
    for ours, theirs in zip(
        report["calibration"]["ours"], report["calibration"]["538_elo"], strict=True
    ):
        lines.append(
            f"           {ours['lower']:.1f}-{ours['upper']:.1f}  {ours['count']:>8} "
            f"{ours['predicted']:.3f} {ours['observed']:.3f}  {theirs['count']:>10} "
            f"{theirs['predicted']:.3f} {theirs['observed']:.3f}"
        )
    lines.append(f"ablation     {'variant':<32}{'fit':>8}{'all':>8}{'held-out':>10}")
    for a in report["ablation"]:
        lines.append(
            f"             {a['variant']:<32}{a['fit']:>8.4f}{a['all']:>8.4f}{a['held_out']:>10.4f}"
        )
    return "\n".join(lines)


def market_games() -> tuple[list[Matched], list[float]]:
    """NFL games with a closing line, and our walk-forward forecast of each."""
    forecasts = replay(League.NFL, PARAMS[League.NFL])
    ours = {id(f.game): f.p_home for f in forecasts}
    games = join([f.game for f in forecasts], load_lines())
    return games, [ours[id(m.game)] for m in games]


def build() -> dict[str, Any]:
    """Every section of eval.json."""
    games, model = market_games()
    return {
        "model": {league.value.lower(): evaluate(league) for league in LEAGUES},
        "market": {"nfl": closing.compare(games, model)},
        "backtest": {"nfl": backtest.backtest(games, model)},
        "stretch": {"nfl": stretch.attempts(games, model)},
    }


def calibration_svg(market: dict[str, Any]) -> str:
    return reliability_svg(
        {closing.NAMES[k]: v for k, v in market["calibration"].items()},
        f"NFL {market['seasons']}: reliability, {market['model']['n']} games",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT, help="JSON output")
    parser.add_argument("--svg", type=Path, default=DEFAULT_SVG, help="reliability diagram")
    args = parser.parse_args(argv)
    report = build()
    for league in report["model"].values():
        print(render(league))
        print()
    print(closing.render(report["market"]["nfl"]))
    print()
    print(backtest.render(report["backtest"]["nfl"]))
    print()
    print(stretch.render(report["stretch"]["nfl"]))
    print()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(_finite(report), indent=1, allow_nan=False) + "\n")
    print(f"wrote {args.out}")
    args.svg.parent.mkdir(parents=True, exist_ok=True)
    args.svg.write_text(calibration_svg(report["market"]["nfl"]))
    print(f"wrote {args.svg}")
    return 0


def _finite(obj: Any) -> Any:
    """NaN (empty calibration bins) becomes null: strict JSON has no NaN."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


if __name__ == "__main__":
    sys.exit(main())
