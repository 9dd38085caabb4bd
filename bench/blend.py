"""A logistic blend of forecasts (say, our model and the market), fitted walk-forward.

How it works. The blend's home probability is

    sigmoid(w0 + w1 * logit(p1) + w2 * logit(p2) + ...)

fitted by maximum likelihood with a ridge penalty that pulls the weights toward a prior, by
default "trust the market": (0, 0, ..., 1) on the last input. A season is forecast with weights
fitted on earlier seasons only. The ridge strength is itself chosen walk-forward (nested): for
season s, each candidate strength is scored by forecasting every earlier season t from the
seasons before t, and the strength with the lowest total log loss is refitted on all seasons
before s. With fewer than two earlier seasons there is nothing to choose on, so the strongest
ridge is used; with none at all the blend is the prior (the market) itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from bench.stats import CLIP, log_loss

RIDGES = (0.0, 10.0, 100.0, 1000.0, 10000.0)  # free fit ... the market itself
_NEWTON_STEPS = 50


def logit(p: float) -> float:
    q = min(max(p, CLIP), 1 - CLIP)
    return math.log(q / (1 - q))


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@dataclass(frozen=True, slots=True)
class Sample:
    """One game: its season, outcome (1, 0, 0.5 for a tie) and the input probabilities."""

    season: int
    outcome: float
    inputs: tuple[float, ...]


def _design(sample: Sample) -> list[float]:
    return [1.0, *(logit(p) for p in sample.inputs)]


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (the systems here are 2x2 to 4x4)."""
    k = len(b)
    m = [row[:] + [rhs] for row, rhs in zip(a, b, strict=True)]
    for i in range(k):
        pivot = max(range(i, k), key=lambda r: abs(m[r][i]))
        m[i], m[pivot] = m[pivot], m[i]
        for r in range(k):
            if r != i:
                f = m[r][i] / m[i][i]
                for c in range(i, k + 1):
                    m[r][c] -= f * m[i][c]
    return [m[i][k] / m[i][i] for i in range(k)]


def fit(samples: Sequence[Sample], prior: Sequence[float], ridge: float) -> tuple[float, ...]:
    """Weights maximising the log likelihood minus ``ridge/2 * |w - prior|^2`` (Newton)."""
    w = list(prior)
    if not samples:
        return tuple(w)
    rows = [(_design(s), s.outcome) for s in samples]
    k = len(w)
    for _ in range(_NEWTON_STEPS):
        grad = [ridge * (w[j] - prior[j]) for j in range(k)]
        hess = [[ridge if i == j else 0.0 for j in range(k)] for i in range(k)]
        for x, y in rows:
            p = sigmoid(sum(wi * xi for wi, xi in zip(w, x, strict=True)))
            g, h = p - y, p * (1 - p)
            for i in range(k):
                grad[i] += g * x[i]
                hx = h * x[i]
                row = hess[i]
                for j in range(i, k):
                    row[j] += hx * x[j]
        for i in range(k):
            for j in range(i):
                hess[i][j] = hess[j][i]
        step = _solve(hess, grad)
        w = [wi - si for wi, si in zip(w, step, strict=True)]
        if max(abs(s) for s in step) < 1e-10:
            break
    return tuple(w)


def predict(weights: Sequence[float], sample: Sample) -> float:
    return sigmoid(sum(w * x for w, x in zip(weights, _design(sample), strict=True)))


@dataclass(frozen=True, slots=True)
class SeasonFit:
    """What the blend used for one season: the chosen ridge and the fitted weights."""

    season: int
    trained_on: tuple[int, ...]
    ridge: float
    weights: tuple[float, ...]


def market_prior(inputs: int) -> tuple[float, ...]:
    """Weights that reproduce the last input exactly (no intercept, weight 1 on it)."""
    return (0.0,) * inputs + (1.0,)


def walk_forward(
    samples: Sequence[Sample],
    *,
    prior: Sequence[float] | None = None,
    ridges: Sequence[float] = RIDGES,
) -> tuple[list[float], list[SeasonFit]]:
    """Each sample's blended probability from earlier seasons only, and the fit per season."""
    inputs = len(samples[0].inputs) if samples else 0
    prior = tuple(prior) if prior is not None else market_prior(inputs)
    seasons = sorted({s.season for s in samples})
    by_season = {season: [s for s in samples if s.season == season] for season in seasons}
    weights_of: dict[int, tuple[float, ...]] = {}
    fits = []
    for i, season in enumerate(seasons):
        past = seasons[:i]
        ridge = choose_ridge(by_season, past, prior, ridges)
        train = [s for p in past for s in by_season[p]]
        weights_of[season] = fit(train, prior, ridge)
        fits.append(SeasonFit(season, tuple(past), ridge, weights_of[season]))
    out = [predict(weights_of[s.season], s) for s in samples]
    return out, fits


def choose_ridge(
    by_season: dict[int, list[Sample]],
    past: Sequence[int],
    prior: Sequence[float],
    ridges: Sequence[float],
) -> float:
    """The ridge with the lowest walk-forward log loss over ``past`` (strongest when unsure)."""
    strongest = max(ridges)
    if len(past) < 2:
        return strongest
    best: tuple[float, float] | None = None
    for ridge in sorted(ridges, reverse=True):
        total = 0.0
        for j in range(1, len(past)):
            train = [s for p in past[:j] for s in by_season[p]]
            w = fit(train, prior, ridge)
            total += sum(log_loss(predict(w, s), s.outcome) for s in by_season[past[j]])
        if best is None or total < best[0] - 1e-12:
            best = (total, ridge)
    assert best is not None
    return best[1]
