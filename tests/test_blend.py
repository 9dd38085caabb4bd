from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest

from bench.blend import (
    RIDGES,
    Sample,
    choose_ridge,
    fit,
    logit,
    market_prior,
    predict,
    sigmoid,
    walk_forward,
)


def synthetic(n: int, seasons: range, weights: tuple[float, float, float], seed: int = 5):
    """Games whose outcomes follow a known logistic blend of two input probabilities."""
    rng = random.Random(seed)
    out = []
    for season in seasons:
        for _ in range(n):
            a, b = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8)
            z = weights[0] + weights[1] * logit(a) + weights[2] * logit(b)
            out.append(Sample(season, float(rng.random() < sigmoid(z)), (a, b)))
    return out


def test_logit_and_sigmoid_are_inverse_and_stable() -> None:
    """sigmoid(logit(p)) = p; extreme arguments neither overflow nor leave [0, 1]."""
    assert sigmoid(logit(0.3)) == pytest.approx(0.3)
    assert sigmoid(-1000.0) == 0.0 and sigmoid(1000.0) == 1.0
    assert math.isfinite(logit(0.0)) and math.isfinite(logit(1.0))


def test_fit_recovers_known_weights() -> None:
    """Maximum likelihood without a ridge finds the generating weights (within noise)."""
    truth = (0.3, 0.5, 1.2)
    w = fit(synthetic(4000, range(1), truth), prior=(0.0, 0.0, 1.0), ridge=0.0)
    assert w == pytest.approx(truth, abs=0.15)


def test_a_strong_ridge_keeps_the_prior() -> None:
    """With a huge penalty the fit stays at the prior; with no samples it is the prior."""
    samples = synthetic(500, range(1), (0.3, 0.5, 1.2))
    assert fit(samples, (0.0, 0.0, 1.0), ridge=1e9) == pytest.approx((0.0, 0.0, 1.0), abs=1e-5)
    assert fit([], (0.0, 0.0, 1.0), ridge=0.0) == (0.0, 0.0, 1.0)


def test_market_prior_reproduces_the_last_input() -> None:
    """Weight 1 on the last input, 0 elsewhere: the blend is that input exactly."""
    w = market_prior(2)
    assert w == (0.0, 0.0, 1.0)
    assert predict(w, Sample(2020, 1.0, (0.9, 0.37))) == pytest.approx(0.37)


def test_walk_forward_never_sees_the_season_it_forecasts() -> None:
    """Changing a season's outcomes leaves that season's (and earlier) forecasts unchanged."""
    samples = synthetic(200, range(2015, 2019), (0.0, 0.8, 0.6))
    base, fits = walk_forward(samples)
    flipped = [replace(s, outcome=1 - s.outcome) if s.season == 2017 else s for s in samples]
    again, _ = walk_forward(flipped)
    for s, p, q in zip(samples, base, again, strict=True):
        if s.season <= 2017:
            assert p == q
    assert any(p != q for s, p, q in zip(samples, base, again, strict=True) if s.season == 2018)
    assert [f.trained_on for f in fits] == [(), (2015,), (2015, 2016), (2015, 2016, 2017)]


def test_first_season_is_the_market_and_the_second_uses_the_strongest_ridge() -> None:
    """No past: the prior itself; one past season: nothing to choose on, strongest ridge."""
    samples = synthetic(200, range(2015, 2018), (0.0, 0.8, 0.6))
    forecasts, fits = walk_forward(samples)
    first = [(s, p) for s, p in zip(samples, forecasts, strict=True) if s.season == 2015]
    assert all(p == pytest.approx(s.inputs[-1]) for s, p in first)
    assert fits[1].ridge == max(RIDGES)


def test_ridge_is_chosen_by_past_seasons_when_the_model_carries_information() -> None:
    """Outcomes driven mostly by the first input: a weak ridge wins on past seasons."""
    samples = synthetic(600, range(2015, 2019), (0.0, 1.5, 0.2))
    by_season = {s: [x for x in samples if x.season == s] for s in range(2015, 2019)}
    ridge = choose_ridge(by_season, [2015, 2016, 2017], market_prior(2), RIDGES)
    assert ridge < max(RIDGES)
    assert choose_ridge(by_season, [2015], market_prior(2), RIDGES) == max(RIDGES)
    assert walk_forward([]) == ([], [])
