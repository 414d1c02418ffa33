"""How the demand model's fit scales with the length of the history, and what the REML cap
costs in accuracy.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_forecast_scale.py

REML's dense algebra grows with the cube of the titles, so `fit` estimates the variance
ratios on the latest `REML_MAX_TITLES` titles of a longer history (the coefficients and
the intervals use every title). On the synthetic histories of tests/test_forecast.py
(known effects, not the model's functional form), for each size: `fit` seconds with the
cap and, up to `--uncapped-max`, without it; then one backtest (train before the cutoff at
three quarters of the release dates, score the rest) capped and uncapped, side by side in
one run. Writes bench/results/forecast_scale.json; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
RESULTS = REPO / "bench" / "results" / "forecast_scale.json"


def _fit_seconds(history: pd.DataFrame, cap: int) -> tuple[float, object]:
    from slatehouse.forecast import model as M

    M.REML_MAX_TITLES = cap
    t = time.perf_counter()
    fitted = M.fit(history, "views_28d")
    return round(time.perf_counter() - t, 2), fitted


def _backtest(history: pd.DataFrame, cap: int) -> dict:
    from slatehouse import forecast
    from slatehouse.forecast import model as M

    M.REML_MAX_TITLES = cap
    dates = pd.to_datetime(history["release_date"]).sort_values()
    cutoff = dates.iloc[int(len(dates) * 0.75)]
    t = time.perf_counter()
    scores = forecast.backtest(history, "views_28d", [cutoff])
    overall = scores[(scores["scope"] == "overall")].set_index("model")
    return {
        "seconds": round(time.perf_counter() - t, 2),
        "cutoff": str(cutoff.date()),
        "n_train": int(overall.loc["demand_model", "n_train"]),
        "n_test": int(overall.loc["demand_model", "n_test"]),
        "rmsle": round(float(overall.loc["demand_model", "rmsle"]), 4),
        "genre_median_rmsle": round(float(overall.loc["genre_median", "rmsle"]), 4),
        "coverage_80": round(float(overall.loc["demand_model", "coverage_80"]), 4),
    }


def main() -> None:
    from slatehouse.forecast import model as M
    from test_forecast import make_history

    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 4000, 8000])
    parser.add_argument("--uncapped-max", type=int, default=4000)
    parser.add_argument("--backtest-size", type=int, default=4000)
    args = parser.parse_args()
    cap = M.REML_MAX_TITLES
    uncapped = 10**9
    fits = []
    for n in args.sizes:
        history, _ = make_history(n_titles=n, seed=7, years=5.0 * n / 1000)
        row = {"titles": n, "capped_s": _fit_seconds(history, cap)[0]}
        if n <= args.uncapped_max:
            row["uncapped_s"] = _fit_seconds(history, uncapped)[0]
            row["ratio"] = round(row["uncapped_s"] / row["capped_s"], 2)
        print(row, flush=True)
        fits.append(row)
    history, _ = make_history(n_titles=args.backtest_size, seed=7, years=5.0 * args.backtest_size / 1000)
    backtest = {"titles": args.backtest_size, "capped": _backtest(history, cap), "uncapped": _backtest(history, uncapped)}
    print(backtest, flush=True)
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    RESULTS.write_text(json.dumps({
        "commit": commit, "reml_max_titles": cap,
        "recorded_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        "note": "synthetic histories of tests/test_forecast.py, 200 titles a year; seconds on a shared 2-core machine "
                "(OPENBLAS_NUM_THREADS=1), capped and uncapped measured one after the other in one run",
        "fit": fits, "backtest": backtest}, indent=2) + "\n")


if __name__ == "__main__":
    main()
