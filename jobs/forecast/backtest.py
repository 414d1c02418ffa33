"""Out-of-time backtest of the demand model against two baselines.

For each cutoff, every model is trained on the titles whose outcome was known by then -
released at least `outcome_days` (28) days before it, so that their 28-day window had
closed - and scores the titles released on or after it (up to `horizon_days` later, if
given). Nothing released on or after the cutoff - neither its target nor its features -
reaches training, and no outcome that was still accruing on the cutoff day does either.
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
from typing import Any

import numpy as np
import pandas as pd

from .features import scale_for
from .inputs import ForecastInputError, is_number, normalise_titles, parse_dates
from .model import fit

log = logging.getLogger(__name__)

MODEL_NAME = "demand_model"
BASELINES = ("global_median", "genre_median")
MIN_GENRE_TITLES = 5
# views_28d and completion_rate_28d cover [release_date, release_date + 27 days]
# (marts.fct_title_release_windows): a title's outcome is known 28 days after its release.
OUTCOME_DAYS = 28

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


def parse_cutoffs(cutoffs: Any) -> list[pd.Timestamp]:
    """Cutoff dates, sorted and de-duplicated, at midnight: one date or a list of them, each
    read as `release_date` is (a date, a date and time, or a year, which is its 1 January;
    a time zone is dropped, keeping the local date)."""
    if isinstance(cutoffs, str) or not isinstance(cutoffs, Iterable):
        cutoffs = [cutoffs]
    values = list(cutoffs)
    if not values:
        raise ForecastInputError("backtest: `cutoffs` is empty; give at least one cutoff date")
    dates = parse_dates(values, what="backtest: `cutoffs`", labels=[f"cutoff {i + 1}" for i in range(len(values))])
    empty = np.flatnonzero(dates.isna().to_numpy())
    if len(empty):
        raise ForecastInputError(f"backtest: `cutoffs` has an empty value ({values[empty[0]]!r}); "
                                 "give dates (YYYY-MM-DD) or years")
    return sorted(set(dates))


def backtest_predictions(
    history: pd.DataFrame,
    target: str = "views_28d",
    cutoffs: Iterable = (),
    *,
    horizon_days: int | None = None,
    outcome_days: int = OUTCOME_DAYS,
    scale: str = "auto",
    **fit_kwargs,
) -> pd.DataFrame:
    """Per-title out-of-time predictions of the model and the baselines (`PREDICTION_COLUMNS`).

    `cutoffs`: one date or a list (see `parse_cutoffs`). At each, the models train on the
    titles with release_date + `outcome_days` <= cutoff, whose outcome window had closed by
    then (0: every title released before the cutoff), and score the titles released on or
    after it, up to `horizon_days` (a whole number >= 1) later when given.
    """
    if horizon_days is not None and (not is_number(horizon_days, whole=True) or horizon_days < 1):
        raise ValueError(f"horizon_days must be None (score every later title) or a whole number of days "
                         f">= 1, got {horizon_days!r}")
    if not is_number(outcome_days, whole=True) or outcome_days < 0:
        raise ValueError(f"outcome_days must be a whole number of days >= 0, got {outcome_days!r}")
    target_scale = scale_for(target, scale)
    titles = normalise_titles(history, target=target, target_kind=target_scale.target_kind)
    cutoffs = parse_cutoffs(cutoffs)
    frames, skipped = [], []
    for cutoff in cutoffs:
        is_train = (titles["release_date"] < cutoff) & (
            titles["release_date"] + pd.Timedelta(days=outcome_days) <= cutoff)
        is_test = titles["release_date"] >= cutoff
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
        predicted = model.predict(test, n_comparables=0)
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
    outcome_days: int = OUTCOME_DAYS,
    **fit_kwargs,
) -> pd.DataFrame:
    """Score the model and both baselines out of time; one row per cutoff x model + overall.
    The arguments are `backtest_predictions`' (training at a cutoff stops `outcome_days`
    before it, so that every training outcome was observable on the cutoff day).

    Columns (`BACKTEST_COLUMNS`): target; scope (`cutoff` or `overall`); cutoff (a date,
    None on overall rows); model (`demand_model`, `global_median`, `genre_median`);
    n_train (summed over cutoffs on overall rows); n_test; rmsle; mdape (median absolute
    percentage error, as a fraction, over titles with a positive actual); coverage_80
    (share of actuals inside [p10, p90]); median_interval_ratio (median p90 / p10).
    """
    predictions = backtest_predictions(history, target, cutoffs, horizon_days=horizon_days,
                                       outcome_days=outcome_days, **fit_kwargs)
    return summarise_backtest(predictions, target)
