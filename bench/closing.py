"""Our model against the market: every forecast scored on the same NFL games as the closing line.

How it works. For each 538 game with a closing moneyline (2,170 of 2,171, 2015-2022) five home
probabilities stand side by side: our Elo (walk-forward, see ``bench.eval.replay``), 538's Elo and
QB-Elo as published, the no-vig close, and a blend of our model and the close fitted walk-forward
(``bench.blend``: each season from earlier seasons only). Ties count as half a win, as in the data
README, so the numbers match its table. Each forecast gets Brier, log loss and accuracy, and its
difference from the market's on the same games with a paired bootstrap 95% interval (games
resampled, one seeded generator), overall and for 2019-2022 (when QB-Elo was 538's live forecast),
plus per-season Brier and a 10-bin reliability table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

from bench.blend import Sample, walk_forward
from bench.moneylines import Matched
from bench.stats import brier, calibration, log_loss, paired_mean_intervals, score

REPS = 2000
SEED = 2017
LIVE_QBELO_FROM = 2019  # before 2019 538's QB-Elo was back-filled, not a pre-game forecast
MARKET = "market"


def columns(
    games: Sequence[Matched], model: Sequence[float], blend: Sequence[float]
) -> dict[str, list[float]]:
    """The five forecasts of every game, in table order."""
    return {
        "model": list(model),
        MARKET: [m.line.no_vig_home for m in games],
        "blend": list(blend),
        "elo538": [m.game.elo_prob_home for m in games],
        "qbelo538": [qbelo(m) for m in games],
    }


def blend_forecasts(
    games: Sequence[Matched], model: Sequence[float]
) -> tuple[list[float], list[dict[str, Any]]]:
    samples = [
        Sample(m.game.season, m.outcome, (p, m.line.no_vig_home))
        for m, p in zip(games, model, strict=True)
    ]
    forecasts, fits = walk_forward(samples)
    return forecasts, [asdict(f) for f in fits]


def qbelo(m: Matched) -> float:
    """538's QB-Elo home probability (present on every NFL row)."""
    p = m.game.headline_prob_home
    if p is None:  # pragma: no cover - every NFL row of the shipped file has QB-Elo
        raise ValueError(f"no QB-Elo for {m.line.game_id}")
    return p


Loss = Callable[[float, float], float]
LOSSES: Mapping[str, Loss] = {"brier": brier, "log_loss": log_loss}


def table(
    forecasts: Mapping[str, Sequence[float]],
    outcomes: Sequence[float],
    *,
    reps: int = REPS,
    seed: int = SEED,
) -> dict[str, dict[str, Any]]:
    """Scores of each forecast and its differences from the market with 95% intervals."""
    market = forecasts[MARKET]
    diffs = {
        f"{name}.{loss}": [
            fn(p, y) - fn(q, y) for p, q, y in zip(values, market, outcomes, strict=True)
        ]
        for name, values in forecasts.items()
        if name != MARKET
        for loss, fn in LOSSES.items()
    }
    intervals = paired_mean_intervals(diffs, reps=reps, seed=seed)
    out: dict[str, dict[str, Any]] = {}
    for name, values in forecasts.items():
        s = score(zip(values, outcomes, strict=True))
        row: dict[str, Any] = {
            "n": s.games,
            "brier": s.brier,
            "log_loss": s.log_loss,
            "accuracy": s.accuracy,
        }
        if name != MARKET:
            for loss in LOSSES:
                column = diffs[f"{name}.{loss}"]
                row[f"{loss}_minus_market"] = sum(column) / len(column)
                row[f"{loss}_minus_market_ci95"] = intervals[f"{name}.{loss}"]
        out[name] = row
    return out


def _subset(values: Sequence[float], keep: Sequence[int]) -> list[float]:
    return [values[i] for i in keep]


def compare(games: Sequence[Matched], model: Sequence[float]) -> dict[str, Any]:
    """The market table of one league (``market.nfl`` in eval.json)."""
    blend, fits = blend_forecasts(games, model)
    forecasts = columns(games, model, blend)
    outcomes = [m.outcome for m in games]
    seasons = sorted({m.game.season for m in games})
    late = [i for i, m in enumerate(games) if m.game.season >= LIVE_QBELO_FROM]
    per_season = {}
    for season in seasons:
        keep = [i for i, m in enumerate(games) if m.game.season == season]
        ys = _subset(outcomes, keep)
        per_season[str(season)] = {
            name: score(zip(_subset(v, keep), ys, strict=True)).brier
            for name, v in forecasts.items()
        }
    return {
        "seasons": f"{seasons[0]}-{seasons[-1]}",
        "ties": "scored as half a win",
        **table(forecasts, outcomes),
        "from_2019": {
            "seasons": f"{LIVE_QBELO_FROM}-{seasons[-1]}",
            **table(
                {name: _subset(v, late) for name, v in forecasts.items()},
                _subset(outcomes, late),
            ),
        },
        "by_season": per_season,
        "calibration": {
            name: [asdict(b) for b in calibration(zip(v, outcomes, strict=True))]
            for name, v in forecasts.items()
        },
        "blend_fits": fits,
    }


NAMES = {
    "model": "our model (Elo)",
    MARKET: "no-vig close",
    "blend": "blend model+close",
    "elo538": "538 Elo",
    "qbelo538": "538 QB-Elo",
}


SHORT = {
    "model": "model",
    MARKET: "close",
    "blend": "blend",
    "elo538": "538 Elo",
    "qbelo538": "QB-Elo",
}


def _signed(x: float) -> str:
    return f"{x:+.4f}"


def _rows(block: Mapping[str, Any]) -> list[str]:
    lines = [
        f"   {'':<20}{'n':>6}{'Brier':>8}{'logloss':>9}{'acc':>7}   "
        f"{'Brier - close [95% CI]':<30}{'logloss - close [95% CI]'}"
    ]
    for key, label in NAMES.items():
        r = block[key]
        gap = ""
        if key != MARKET:
            b, lo_b = r["brier_minus_market"], r["brier_minus_market_ci95"]
            ll, lo_l = r["log_loss_minus_market"], r["log_loss_minus_market_ci95"]
            gap = (
                f"{_signed(b)} [{_signed(lo_b[0])}, {_signed(lo_b[1])}]   "
                f"{_signed(ll)} [{_signed(lo_l[0])}, {_signed(lo_l[1])}]"
            )
        lines.append(
            f"   {label:<20}{r['n']:>6}{r['brier']:>8.4f}{r['log_loss']:>9.4f}"
            f"{100 * r['accuracy']:>6.1f}%   {gap}"
        )
    return lines


def render(report: Mapping[str, Any], league: str = "NFL") -> str:
    late = report["from_2019"]
    lines = [
        f"== {league} against the market: closing moneylines, {report['seasons']}, "
        f"same games for every column, ties {report['ties']}",
        *_rows(report),
        f"   {late['seasons']} (QB-Elo was 538's live forecast):",
        *_rows(late),
        "   Brier by season" + "".join(f"{SHORT[k]:>10}" for k in NAMES),
    ]
    for season, row in report["by_season"].items():
        lines.append(f"   {season:<15}" + "".join(f"{row[k]:>10.4f}" for k in NAMES))
    lines.append("   blend weights (intercept, model, close) per season, fitted on earlier ones:")
    for fit in report["blend_fits"]:
        weights = ", ".join(f"{w:+.3f}" for w in fit["weights"])
        lines.append(f"   {fit['season']}  ridge {fit['ridge']:>7.0f}  ({weights})")
    lines.append(
        "   calibration, per bin: games, mean forecast, observed ("
        + " | ".join(SHORT.values())
        + ")"
    )
    cal = report["calibration"]
    for i, b in enumerate(cal["model"]):
        cells = []
        for key in NAMES:
            c = cal[key][i]
            cells.append(
                f"{c['count']:>4} {c['predicted']:.2f} {c['observed']:.2f}"
                if c["count"]
                else f"{0:>4}    -    -"
            )
        lines.append(f"   {b['lower']:.1f}-{b['upper']:.1f} " + " | ".join(cells))
    return "\n".join(lines)
