"""Evidence for the demand forecast on real films it was never tuned on.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_forecast_films.py

The data is the `movies.json` table of the `vega-datasets` npm package (BSD-3-Clause),
version 2.8.0: 3,201 films released 1928-2010 with their US and worldwide box-office
gross, production budget, running time, major genre, director and IMDB votes, compiled
from public sources (The Numbers, IMDB). It is downloaded once from the npm registry,
checked against the registry's published sha512, and cached under
`~/.cache/slatehouse/` (set `SLATEHOUSE_FILMS_TARBALL` to a local copy on a machine
without the registry).

Mapping to the forecaster's history, with nothing fitted to this table:
- `release_date`: the table's date; a year after 2011 is a century slip in the source
  ("Gone with the Wind", Dec 15 2039) and is moved back 100 years; films dated after
  2010-12-31 (announced, not yet released when the table was made) are dropped.
- `format` film, `episodes` 1, `genres` [Major Genre] (empty where blank), `talent`
  [{Director, director}] (empty where blank), `runtime_minutes`, `budget` (Production
  Budget); no language or origin.
- targets, each scored separately: `us_gross`, `worldwide_gross`, `imdb_votes`; a film
  without the target is left out of that target's history.

Each target is backtested the way `refresh_forecasts` backtests the warehouse (three
cutoffs over the latest 40 % of release dates, each later film scored once), against the
per-genre and global medians. Side by side in the same run, the model is also scored with
one interval width for every film (the interval's size-dependent width switched off), so
the effect of `ResidualScale` is a comparison on identical folds.

Writes bench/results/forecast_films.json. A benchmark: it records figures and asserts
nothing.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import logging
import math
import os
import subprocess
import sys
import tarfile
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "forecast_films.json"
PACKAGE = "vega-datasets-2.8.0.tgz"
TARBALL_URL = f"https://registry.npmjs.org/vega-datasets/-/{PACKAGE}"
# The registry's published `dist.integrity` of that tarball (`npm view vega-datasets@2.8.0 dist.integrity`).
INTEGRITY = "sha512-pIoP8Cqtq/3Y4rPgtuCle4QWrK2DidmqQzwoNjVVhnNO3H4OWki7vzvDD4/CzWg9wVjoDN98plb3EpJfLcQ5Tw=="
LAST_RELEASE = pd.Timestamp("2010-12-31")
TARGETS = {"us_gross": "US Gross", "worldwide_gross": "Worldwide Gross", "imdb_votes": "IMDB Votes"}

log = logging.getLogger("bench_forecast_films")


def _tarball() -> bytes:
    local = os.environ.get("SLATEHOUSE_FILMS_TARBALL")
    cache = Path.home() / ".cache" / "slatehouse" / PACKAGE
    if local:
        data = Path(local).read_bytes()
    elif cache.exists():
        data = cache.read_bytes()
    else:
        log.info("downloading %s", TARBALL_URL)
        with urllib.request.urlopen(TARBALL_URL, timeout=60) as response:
            data = response.read()
    digest = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    if digest != INTEGRITY:
        raise SystemExit(f"{PACKAGE}: sha512 does not match the registry's ({digest[:24]}...)")
    if not local and not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(data)
    return data


def load_films() -> pd.DataFrame:
    with tarfile.open(fileobj=io.BytesIO(_tarball()), mode="r:gz") as archive:
        raw = pd.DataFrame(json.load(archive.extractfile("package/data/movies.json")))
    dates = pd.to_datetime(raw["Release Date"], format="%b %d %Y")
    slipped = dates.dt.year > LAST_RELEASE.year + 1
    dates = dates.where(~slipped, dates - pd.DateOffset(years=100))
    unreleased = int((dates > LAST_RELEASE).sum())
    raw = raw.assign(release_date=dates)[dates <= LAST_RELEASE].reset_index(drop=True)
    text = lambda v: isinstance(v, str) and v.strip()  # noqa: E731
    films = pd.DataFrame({
        "title_id": [f"film-{i:04d}" for i in range(len(raw))],
        "title": raw["Title"],
        "release_date": raw["release_date"],
        "format": "film",
        "genres": [[g] if text(g) else [] for g in raw["Major Genre"]],
        "talent": [[{"talent_id": d, "role": "director"}] if text(d) else [] for d in raw["Director"]],
        "runtime_minutes": pd.to_numeric(raw["Running Time min"]),
        "episodes": 1,
        "original_language": None,
        "origin_country": None,
        "budget": pd.to_numeric(raw["Production Budget"]),
    })
    for target, column in TARGETS.items():
        films[target] = pd.to_numeric(raw[column]).astype(float)
    log.info("%d films (%d dates moved back a century, %d after %s dropped)",
             len(films), int(slipped.sum()), unreleased, LAST_RELEASE.date())
    return films


def _interval_scores(rows: pd.DataFrame) -> dict:
    """Coverage by predicted-size tercile, and the mean interval (Winkler) score on the log
    scale: the width plus 2/alpha times any miss; lower is better."""
    actual, lo, hi, point = (np.log1p(rows[c].to_numpy(float)) for c in ("actual", "p10", "p90", "point"))
    covered = (lo <= actual) & (actual <= hi)
    tercile = pd.qcut(point, 3, labels=False, duplicates="drop")
    alpha = 0.2
    winkler = (hi - lo) + (2 / alpha) * (np.maximum(lo - actual, 0) + np.maximum(actual - hi, 0))
    return {
        "coverage_80": round(float(covered.mean()), 4),
        "coverage_80_by_forecast_tercile": [round(float(covered[tercile == k].mean()), 4) for k in range(3)],
        "mean_log_width": round(float(np.mean(hi - lo)), 4),
        "interval_score": round(float(winkler.mean()), 4),
    }


def evaluate(films: pd.DataFrame, target: str) -> dict:
    from slatehouse import forecast, forecast_job
    from slatehouse.forecast import model as model_module

    history = films[films[target].notna()].drop(columns=[t for t in TARGETS if t != target] + ["title"])
    history = history.reset_index(drop=True)
    cutoffs, horizon = forecast_job.backtest_cutoffs(history["release_date"])
    began = time.perf_counter()
    predictions = forecast.backtest_predictions(history, target, cutoffs, horizon_days=horizon)
    elapsed = time.perf_counter() - began
    overall = forecast.summarise_backtest(predictions, target)
    overall = overall[overall["scope"] == "overall"].set_index("model")

    saved = model_module.SCALE_MIN_T
    model_module.SCALE_MIN_T = math.inf  # every width term dropped: one width for all
    try:
        one_width = forecast.backtest_predictions(history, target, cutoffs, horizon_days=horizon)
    finally:
        model_module.SCALE_MIN_T = saved
    final = forecast.fit(history, target)

    directors = pd.Series([t[0]["talent_id"] for t in history["talent"] if t]).value_counts()
    model_rows = predictions[predictions["model"] == "demand_model"]
    return {
        "films": int(len(history)),
        "with_budget": int(history["budget"].notna().sum()),
        "with_director": int(history["talent"].map(bool).sum()),
        "directors_with_3_plus_films": int((directors >= 3).sum()),
        "cutoffs": [c.date().isoformat() for c in cutoffs],
        "horizon_days": int(horizon),
        "backtest_s": round(elapsed, 1),
        "backtest": {m: {k: round(float(row[k]), 4) for k in ("rmsle", "mdape", "coverage_80", "median_interval_ratio")}
                     | {"n_test": int(row["n_test"])} for m, row in overall.iterrows()},
        "rmsle_improvement_vs_genre_median": round(
            float(1 - overall.loc["demand_model", "rmsle"] / overall.loc["genre_median", "rmsle"]), 4),
        "intervals": {
            "size_scaled_width": _interval_scores(model_rows),
            "one_width": _interval_scores(one_width[one_width["model"] == "demand_model"]),
        },
        "scored_with_zero_target": int((model_rows["actual"] == 0).sum()),
        "final_model": {"hyperparameters": repr(final.hyperparameters), "cv_rmse": round(final.cv_rmse, 4),
                        "interval_width_terms": dict(zip(("baseline", "forecast_size", "familiar"),
                                                         final.residual_scale.coef))},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("slatehouse").setLevel(logging.WARNING)

    films = load_films()
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    record = {
        "commit": commit,
        "recorded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "data": {"source": TARBALL_URL, "integrity": INTEGRITY, "table": "data/movies.json",
                 "films": int(len(films)),
                 "release_dates": [films["release_date"].min().date().isoformat(),
                                   films["release_date"].max().date().isoformat()]},
        "bars": {"rmsle_improvement_vs_genre_median": 0.30, "coverage_80": [0.75, 0.85]},
        "targets": {},
    }
    for target in args.targets:
        record["targets"][target] = evaluate(films, target)
        log.info("%s: %s", target, json.dumps({k: record["targets"][target][k] for k in (
            "rmsle_improvement_vs_genre_median",)} | record["targets"][target]["intervals"]))
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps({t: {"rmsle_improvement_vs_genre_median": r["rmsle_improvement_vs_genre_median"],
                          "coverage_80": r["intervals"]["size_scaled_width"]["coverage_80"]}
                      for t, r in record["targets"].items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
