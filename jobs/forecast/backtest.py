"""Out-of-time backtest of the demand model against two baselines.

For each cutoff, every model is trained on the titles released strictly before it and
scores the titles released on or after it (up to `horizon_days` later, if given). Nothing
released on or after the cutoff - neither its target nor its features - reaches training.
A cutoff with no titles after it, or too few before it to fit, is skipped with a warning
that says which; when no cutoff is left, the error lists each one's reason.

Baselines, each with an 80% interval from the training titles' 10th and 90th percentiles:
- `global_median`: the median target of all training titles;
- `genre_median`: the median of the training titles with the same primary (first-listed)
  genre; titles without a genre, or whose genre has fewer than `MIN_GENRE_TITLES` training
  titles, fall back to the global median.

`backtest` returns one row per cutoff x model plus one `overall` row per model pooling every
scored (cutoff, title) pair, with the columns in `BACKTEST_COLUMNS`, ready for the Delta
table `marts.fct_forecast_backtest`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np
import pandas as pd

from .features import scale_for
from .inputs import ForecastInputError, normalise_titles
from .model import fit

log = logging.getLogger(__name__)

MODEL_NAME = "demand_model"
BASELINES = ("global_median", "genre_median")
MIN_GENRE_TITLES = 5

PREDICTION_COLUMNS = [
    "cutoff", "model", "title_id", "release_date", "actual", "point", "p10", "p90",
]
BACKTEST_COLUMNS = [
    "target", "scope", "cutoff", "model", "n_train", "n_test",
    "rmsle", "mdape", "coverage_80", "median_interval_ratio",
]


def _baseline_predictions(train: pd.DataFrame, test: pd.DataFrame, target: str) -> dict[str, pd.DataFrame]:
    values = train[target]
    overall = (values.median(), values.quantile(0.1), values.quantile(0.9))
    glob = pd.DataFrame([overall] * len(test), columns=["point", "p10", "p90"], index=test.index)

    primary = train["genres"].map(lambda gs: gs[0] if gs else None)
    stats = {}
    for genre, group in train.groupby(primary)[target]:
        if len(group) >= MIN_GENRE_TITLES:
            stats[genre] = (group.median(), group.quantile(0.1), group.quantile(0.9))
    genre = pd.DataFrame(
        [stats.get(gs[0] if gs else None, overall) for gs in test["genres"]],
        columns=["point", "p10", "p90"], index=test.index,
    )
    return {"global_median": glob, "genre_median": genre}


def backtest_predictions(
    history: pd.DataFrame,
    target: str = "views_28d",
    cutoffs: Iterable = (),
    *,
    horizon_days: int | None = None,
    scale: str = "auto",
    **fit_kwargs,
) -> pd.DataFrame:
    """Per-title out-of-time predictions of the model and the baselines (`PREDICTION_COLUMNS`)."""
    target_scale = scale_for(target, scale)
    titles = normalise_titles(history, target=target, target_kind=target_scale.target_kind)
    cutoffs = sorted(pd.Timestamp(c).normalize() for c in cutoffs)
    if not cutoffs:
        raise ValueError("backtest needs at least one cutoff date")
    frames, skipped = [], []
    for cutoff in cutoffs:
        is_train = titles["release_date"] < cutoff
        is_test = ~is_train
        if horizon_days is not None:
            is_test &= titles["release_date"] < cutoff + pd.Timedelta(days=horizon_days)
        train, test = titles[is_train], titles[is_test]
        if is_test.sum() == 0:
            skipped.append(f"cutoff {cutoff.date()}: no titles released on or after it")
            log.warning("%s; skipped", skipped[-1])
            continue
        try:
            model = fit(train, target, scale=scale, **fit_kwargs)
        except ForecastInputError as error:  # too few titles (or release dates) before it
            skipped.append(f"cutoff {cutoff.date()}: {error}")
            log.warning("%s; skipped", skipped[-1])
            continue
        predicted = model.predict(test, n_comparables=0).set_index(test.index)
        per_model = {MODEL_NAME: predicted[["point", "p10", "p90"]]}
        per_model.update(_baseline_predictions(train, test, target))
        for name, values in per_model.items():
            frames.append(pd.DataFrame({
                "cutoff": cutoff,
                "model": name,
                "title_id": test["title_id"],
                "release_date": test["release_date"],
                "actual": test[target],
                "point": values["point"],
                "p10": values["p10"],
                "p90": values["p90"],
                "n_train": len(train),
            }))
        log.info("cutoff %s: trained on %d titles, scored %d", cutoff.date(), len(train), len(test))
    if not frames:
        raise ForecastInputError("backtest: no cutoff could be scored (" + "; ".join(skipped) + ")")
    return pd.concat(frames, ignore_index=True)[PREDICTION_COLUMNS + ["n_train"]]


def _scores(group: pd.DataFrame) -> dict[str, float]:
    actual, point = group["actual"].to_numpy(float), group["point"].to_numpy(float)
    positive = actual > 0
    ape = np.abs(point[positive] - actual[positive]) / actual[positive]
    covered = (group["p10"] <= group["actual"]) & (group["actual"] <= group["p90"])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (group["p90"] / group["p10"]).replace([np.inf], np.nan)
    return {
        "n_test": int(len(group)),
        "rmsle": float(np.sqrt(np.mean((np.log1p(point) - np.log1p(actual)) ** 2))),
        "mdape": float(np.median(ape)) if positive.any() else float("nan"),
        "coverage_80": float(covered.mean()),
        # Over the titles whose p10 is above 0 (a count's interval can reach down to 0).
        "median_interval_ratio": float(ratio.median()) if ratio.notna().any() else float("nan"),
    }


def summarise_backtest(predictions: pd.DataFrame, target: str) -> pd.DataFrame:
    """Tidy scores (`BACKTEST_COLUMNS`) from `backtest_predictions` output."""
    rows = []
    for (cutoff, model), group in predictions.groupby(["cutoff", "model"], sort=True):
        rows.append({"target": target, "scope": "cutoff", "cutoff": cutoff.date(), "model": model,
                     "n_train": int(group["n_train"].iloc[0]), **_scores(group)})
    for model, group in predictions.groupby("model", sort=True):
        rows.append({"target": target, "scope": "overall", "cutoff": None, "model": model,
                     "n_train": int(group.drop_duplicates("cutoff")["n_train"].sum()), **_scores(group)})
    return pd.DataFrame(rows, columns=BACKTEST_COLUMNS)


def backtest(
    history: pd.DataFrame,
    target: str = "views_28d",
    cutoffs: Iterable = (),
    *,
    horizon_days: int | None = None,
    **fit_kwargs,
) -> pd.DataFrame:
    """Score the model and both baselines out of time; one row per cutoff x model + overall.

    Columns (`BACKTEST_COLUMNS`): target; scope (`cutoff` or `overall`); cutoff (a date,
    None on overall rows); model (`demand_model`, `global_median`, `genre_median`);
    n_train (summed over cutoffs on overall rows); n_test; rmsle; mdape (median absolute
    percentage error, as a fraction, over titles with a positive actual); coverage_80
    (share of actuals inside [p10, p90]); median_interval_ratio (median p90 / p10).
    """
    predictions = backtest_predictions(history, target, cutoffs, horizon_days=horizon_days, **fit_kwargs)
    return summarise_backtest(predictions, target)
