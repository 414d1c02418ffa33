"""A long history: REML's variance ratios come from the latest titles, the coefficients
from all of them (pure pandas/numpy; no Spark)."""

from __future__ import annotations

import numpy as np

from slatehouse.forecast import Hyperparameters
from slatehouse.forecast import model as M
from slatehouse.forecast.features import Design
from test_forecast import make_history


def test_a_history_past_the_reml_cap_estimates_penalties_on_its_latest_titles(monkeypatch):
    history, _ = make_history(n_titles=400, seed=3)
    monkeypatch.setattr(M, "REML_MAX_TITLES", 150)
    capped = M.fit(history, "views_28d")

    titles = capped.history  # sorted by release date, as fit sorts them
    assert len(titles) == 400
    y = capped.scale.forward(titles["views_28d"])
    monkeypatch.setattr(M, "REML_MAX_TITLES", 10_000)
    latest = M._select(Design.learn(titles), titles.iloc[-150:], y[-150:], Hyperparameters())
    everything = M._select(Design.learn(titles), titles, y, Hyperparameters())
    assert capped.hyperparameters == latest
    assert capped.hyperparameters != everything  # the cap did change what REML saw
    # ... while the coefficients are the ridge solution on every title.
    design = Design.learn(titles)
    hp = capped.hyperparameters
    design.cast_exponent, design.genre_exponent, design.billing_exponent = (
        hp.cast_exponent, hp.genre_exponent, hp.billing_exponent)
    x = design.matrix(titles)
    np.testing.assert_allclose(capped.coef, M._solve(x, y, M._penalty(design, hp)), rtol=1e-8, atol=1e-10)
