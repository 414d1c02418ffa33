"""Evidence for the demand forecast on the simulator: issue 5's bars, measured.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_forecast.py                # ground truth, 4 seeds
    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_forecast.py --days 365 --titles 900 \
        --seeds 11 12 --section ground_truth_12_months
    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_forecast.py --marts var \
        --days 120 --members 200 --titles 450 --seed 42                         # the demo's real marts

1. **Ground truth** (default): for each seed, `slatehouse.generate.simulate` builds the
   simulated service in memory (the catalogue and the true sessions that `generate` would
   write) and `slatehouse.generate.truth.training_rows` turns it into the forecast's
   training rows with the definitions of `marts.fct_title_training`. No Spark: this is
   how several long histories fit in a few minutes.
2. **Real marts** (`--marts HOME`): a warehouse built by the real pipeline from the
   simulator's files (e.g. `./var` after `make demo`) is read with
   `forecast_job.training_history`, and compared title by title with the ground-truth rows
   of the same simulation (`--days/--members/--titles/--seed/--start-date` must be the
   demo's), and the same figures are computed on both tables.

Figures, per table (the backtest is the one `refresh_forecasts` runs: three cutoffs over
the latest 40 % of release dates, every later title scored once):
- `rmsle_improvement_vs_genre_median`: 1 - RMSLE(model) / RMSLE(per-genre median), views_28d;
- `coverage_80`: share of scored titles inside the model's 80 % interval;
- `talent_spearman`: Spearman between `DemandModel.talent_effects().effect` (a fit on the
  whole table) and the simulator's `true_effect`, for talent credited on >= 3 titles;
- ceilings (what a forecaster that knew the simulator's true effects would reach), and the
  talent ranking of the same model told the true variance of each role's effects.

Writes bench/results/forecast.json. A benchmark, not a test: it records figures, including
misses, and asserts nothing (tests/test_forecast.py::test_evidence_bars_on_the_simulator
asserts the bars on one seed). OPENBLAS_NUM_THREADS=1 matters on a shared, loaded machine:
the REML step's small dense matrix algebra runs ~30x slower when OpenBLAS threads fight
other processes for the cores.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "forecast.json"
BARS = {"rmsle_improvement_vs_genre_median": 0.30, "coverage_80": [0.75, 0.85], "talent_spearman": 0.70}
MIN_TALENT_TITLES = 3
TARGET = "views_28d"

log = logging.getLogger("bench_forecast")


def _git_commit() -> str:
    out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip()


def talent_agreement(model, truth: pd.DataFrame, lifts: pd.DataFrame | None = None) -> dict:
    """Spearman of the model's talent effects against the simulator's true_effect (the bar),
    and against each person's true lift averaged over their training titles (the same
    quantity `effect` estimates: an actor billed second adds half their true_effect)."""
    estimated = model.talent_effects()
    joined = estimated.merge(truth, on=["talent_id", "role"], how="inner")
    if lifts is not None:
        mean_lift = lifts.groupby(["talent_id", "role"], as_index=False)["lift"].mean()
        joined = joined.merge(mean_lift, on=["talent_id", "role"], how="left")
    enough = joined[joined["n_titles"] >= MIN_TALENT_TITLES]
    out = {"talent_in_model": int(len(estimated)), "with_3_plus_titles": int(len(enough))}
    if len(enough) >= 3:
        out["spearman"] = round(float(spearmanr(enough["effect"], enough["true_effect"]).statistic), 4)
        if lifts is not None:
            out["spearman_vs_average_true_lift"] = round(
                float(spearmanr(enough["effect"], enough["lift"]).statistic), 4)
        out["per_role"] = {
            role: {"n": int(len(g)), "spearman": round(float(spearmanr(g["effect"], g["true_effect"]).statistic), 3)}
            for role, g in enough.groupby("role") if len(g) >= 3
        }
    return out


def _true_design(history: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, int]:
    """log1p(views); the observable columns (intercept, format, log runtime, log episodes and,
    when the table has it, log availability at release, as the model has) followed by the
    TRUE genre + talent effect of each title's work; and the number of observable columns."""
    y = np.log1p(history[TARGET].to_numpy(float))
    known = [np.ones(len(history)), (history["format"] == "series").astype(float), np.log(history["runtime_minutes"]),
             np.log(history["episodes"])]
    share = history.get("release_availability_share")
    if share is not None and share.notna().all():
        known.append(np.log(np.maximum(share.to_numpy(float), 0.01)))
    return y, np.column_stack([*known, history["genre_effect"] + history["talent_effect"]]), len(known)


def ceilings(history: pd.DataFrame, truth: pd.DataFrame, cutoffs, horizon: int) -> dict:
    """What knowing the simulator's true effects would give on the same table and cutoffs.

    - `oracle_improvement`: least squares on the training titles of log1p(views) on format,
      log runtime, log episodes, log availability at release (when the table has it, as the
      model does) and the TRUE genre + talent effect of each title's work;
    - `talent_spearman_ceiling`: for talent on >= 3 titles, Spearman between true_effect and
      true_effect + the mean residual of their titles after every true effect is removed
      (an unshrunk estimate that knew everything else exactly).
    """
    from slatehouse import forecast

    y, x, k = _true_design(history)
    primary = history["genres"].map(lambda gs: gs[0] if gs else None)
    errors, baseline = [], []
    for cutoff in cutoffs:
        # The backtest's training rule: outcomes known at the cutoff (28-day window closed).
        train = (history["release_date"] + pd.Timedelta(days=forecast.OUTCOME_DAYS) <= cutoff).to_numpy()
        test = ((history["release_date"] >= cutoff)
                & (history["release_date"] < cutoff + pd.Timedelta(days=horizon))).to_numpy()
        coef, *_ = np.linalg.lstsq(x[train], y[train], rcond=None)
        errors.append(y[test] - x[test] @ coef)
        medians = history[train].groupby(primary[train])[TARGET].median()
        counts = primary[train].value_counts()
        overall = history.loc[train, TARGET].median()
        guess = [medians[g] if g in medians and counts[g] >= 5 else overall for g in primary[test]]
        baseline.append(y[test] - np.log1p(guess))
    oracle = float(np.sqrt(np.mean(np.concatenate(errors) ** 2)))
    genre = float(np.sqrt(np.mean(np.concatenate(baseline) ** 2)))

    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    residual = y - x @ coef
    credits = pd.DataFrame(
        [(c["talent_id"], c["role"], r) for cs, r in zip(history["talent"], residual) for c in cs],
        columns=["talent_id", "role", "residual"],
    ).groupby(["talent_id", "role"]).agg(residual=("residual", "mean"), n=("residual", "size")).reset_index()
    credits = credits[credits["n"] >= MIN_TALENT_TITLES].merge(truth, on=["talent_id", "role"])
    unshrunk = credits["true_effect"] + credits["residual"]
    # How much of log views the pre-release truth explains (in-sample), for docs/simulator.md.
    appeal = np.column_stack([x[:, :k], history["latent_quality"] + history["genre_effect"] + history["talent_effect"]])
    def r2(design):
        fitted = design @ np.linalg.lstsq(design, y, rcond=None)[0]
        return round(float(1 - np.var(y - fitted) / np.var(y)), 3)
    return {
        "oracle_rmsle": round(oracle, 4),
        "oracle_improvement_vs_genre_median": round(1 - oracle / genre, 4),
        "talent_spearman_ceiling": round(float(spearmanr(unshrunk, credits["true_effect"]).statistic), 4),
        "r2_log_views": {"format_runtime_episodes": r2(x[:, :4]),
                         **({"+ log availability": r2(x[:, :k])} if k > 4 else {}),
                         "+ true genre and talent": r2(x), "+ latent quality (all of appeal)": r2(appeal)},
    }


def spearman_with_true_variances(history: pd.DataFrame, truth: pd.DataFrame, model) -> dict:
    """The talent ranking of the same model told the simulator's true talent variances.

    The fit is the posterior mean of the mixed model with the shrinkage it would use if it
    knew the variance of each role's effects (rather than REML's estimate): whether a better
    variance estimate would rank talent better. Unlike the ceiling above, it is not told
    any co-credited person's effect. Each role's penalty is noise variance / (slope x sd of
    the role's true_effect)^2, where the slope and the noise come from regressing log views
    on the observable terms and the true genre + talent effect; credits are weighted the
    simulator's way (summed, an actor divided by billing order). The other blocks keep
    REML's penalties.
    """
    from slatehouse import forecast

    y, x, _ = _true_design(history)
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    slope, noise = float(coef[-1]), float(np.var(y - x @ coef))
    sd = truth.groupby("role")["true_effect"].std()
    roles = tuple(sorted((role, noise / (slope * s) ** 2) for role, s in sd.items()))
    hp = replace(model.hyperparameters, role_penalties=roles, cast_exponent=0.0, billing_exponent=1.0)
    told = forecast.fit(history, TARGET, hyperparameters=hp)
    return {"spearman": talent_agreement(told, truth)["spearman"],
            "slope": round(slope, 3), "noise_sd": round(noise ** 0.5, 3),
            "role_penalties": {role: round(value, 2) for role, value in roles}}


def _by_show(history: pd.DataFrame, predictions: pd.DataFrame) -> dict:
    """The model's backtest scored separately on returning seasons (the next season of a
    show with a season released before the cutoff) and on everything else. The show is
    looked up in `history`, so a run whose model is not given the show (--without-show) is
    split the same way."""
    from slatehouse.forecast.backtest import summarise_backtest

    if "show_id" not in history.columns:
        return {}
    shows = history.set_index("title_id")["show_id"]
    released = history[["show_id", "release_date"]].dropna()
    model = predictions[predictions["model"] == "demand_model"]
    returning = np.array([
        show is not None and bool(((released["show_id"] == show) & (released["release_date"] < cutoff)).any())
        for show, cutoff in zip(model["title_id"].map(shows), model["cutoff"])])
    out = {}
    for name, mask in (("returning", returning), ("other", ~returning)):
        if mask.any():
            row = summarise_backtest(model[mask], TARGET).query("scope == 'overall'").iloc[0]
            out[name] = {k: round(float(row[k]), 4) for k in ("rmsle", "coverage_80", "median_interval_ratio")} | {
                "n_test": int(row["n_test"])}
    return out


def evaluate(history: pd.DataFrame, truth: pd.DataFrame | None, lifts: pd.DataFrame | None = None, *,
             with_ceilings: bool = True, use_show: bool = True) -> dict:
    """The backtest as refresh_forecasts runs it, the final fit, the talent agreement.
    With `use_show` False the model is not given the titles' show (the comparison for the
    show effect); the returning-season breakdown still uses it."""
    from slatehouse import forecast, forecast_job
    from slatehouse.forecast.backtest import backtest_predictions, summarise_backtest

    began = time.perf_counter()
    given, history = history, (history if use_show or "show_id" not in history.columns
                               else history.assign(show_id=None))
    # forecast_job.run_backtest, with the per-title predictions kept for the breakdown below.
    cutoffs, horizon = forecast_job.backtest_cutoffs(history["release_date"])
    predictions = backtest_predictions(history, TARGET, cutoffs, horizon_days=horizon)
    scores = summarise_backtest(predictions, TARGET)
    overall = scores[scores["scope"] == "overall"].set_index("model")
    model = forecast.fit(history, TARGET)
    out = {
        "training_titles": int(len(history)),
        "films": int((history["format"] == "film").sum()),
        "seasons": int((history["format"] == "series").sum()),
        "views_28d_median": round(float(history[TARGET].median()), 2),
        "cutoffs": [c.date().isoformat() for c in cutoffs],
        "horizon_days": int(horizon),
        "backtest": {m: {k: round(float(row[k]), 4) for k in ("rmsle", "mdape", "coverage_80", "median_interval_ratio")}
                     | {"n_test": int(row["n_test"])} for m, row in overall.iterrows()},
        "per_cutoff": [
            {"cutoff": str(r["cutoff"]), "rmsle": round(float(r["rmsle"]), 4), "coverage_80": round(float(r["coverage_80"]), 4),
             "n_train": int(r["n_train"]), "n_test": int(r["n_test"])}
            for r in scores[(scores["scope"] == "cutoff") & (scores["model"] == "demand_model")].to_dict("records")
        ],
        "by_show": _by_show(given, predictions),
        "final_model": {"hyperparameters": repr(model.hyperparameters), "cv_rmse": round(model.cv_rmse, 4),
                        "cast_exponent": model.hyperparameters.cast_exponent,
                        "billing_exponent": model.hyperparameters.billing_exponent},
    }
    figures = {
        "rmsle_improvement_vs_genre_median": round(
            float(1 - overall.loc["demand_model", "rmsle"] / overall.loc["genre_median", "rmsle"]), 4),
        "coverage_80": round(float(overall.loc["demand_model", "coverage_80"]), 4),
    }
    if truth is not None:
        out["talent"] = talent_agreement(model, truth, lifts)
        figures["talent_spearman"] = out["talent"].get("spearman")
        if with_ceilings and "talent_effect" in history.columns:
            out["ceilings"] = ceilings(history, truth, cutoffs, horizon)
            out["ceilings"]["talent_spearman_true_variances"] = spearman_with_true_variances(history, truth, model)
    if "completion_rate_28d" in history.columns and history["completion_rate_28d"].notna().sum() >= 50:
        rates = history[history["completion_rate_28d"].notna()]
        cr, _, _ = forecast_job.run_backtest(rates, "completion_rate_28d")
        cr = cr[cr["scope"] == "overall"].set_index("model")
        out["completion_rate_28d"] = {m: {k: round(float(row[k]), 4) for k in ("rmsle", "coverage_80")}
                                      | {"n_test": int(row["n_test"])} for m, row in cr.iterrows()}
    lo, hi = BARS["coverage_80"]
    out["figures"] = figures
    out["meets_bar"] = {
        "rmsle_improvement_vs_genre_median":
            bool(figures["rmsle_improvement_vs_genre_median"] >= BARS["rmsle_improvement_vs_genre_median"]),
        "coverage_80": lo <= figures["coverage_80"] <= hi,
        "talent_spearman": figures.get("talent_spearman") is not None
        and figures["talent_spearman"] >= BARS["talent_spearman"],
    }
    out["elapsed_s"] = round(time.perf_counter() - began, 1)
    return out


def ground_truth_run(args, seed: int) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    from slatehouse.generate import simulate
    from slatehouse.generate.truth import credit_lifts, talent_truth, training_rows

    t0 = time.perf_counter()
    sim = simulate(start_date=date.fromisoformat(args.start_date), days=args.days, members=args.members,
                   titles=args.titles, seed=seed)
    history = training_rows(sim)
    truth = talent_truth(sim)
    simulated_s = time.perf_counter() - t0
    record = evaluate(history, truth, credit_lifts(sim, history), use_show=not args.without_show)
    record["seed"] = seed
    record["sessions"] = int(len(sim.sessions["start_ms"]))
    record["simulate_s"] = round(simulated_s, 1)
    log.info("seed %d: %s", seed, json.dumps(record["figures"]))
    return record, history, truth


def marts_run(args) -> dict:
    """The real pipeline's table against the ground truth of the same simulation."""
    from slatehouse import forecast_job

    record, truth_history, truth = ground_truth_run(args, args.seed)
    from slatehouse.settings import Settings

    marts = forecast_job.training_history(Settings(home=Path(args.marts).resolve(), mode="demo"))
    joined = marts.merge(truth_history, on="title_id", suffixes=("_marts", "_truth"))
    ratio = joined["views_28d_marts"] / joined["views_28d_truth"].replace(0, np.nan)
    same_talent = [
        sorted((c["talent_id"], c["role"]) for c in a) == sorted((c["talent_id"], c["role"]) for c in b)
        for a, b in zip(joined["talent_marts"], joined["talent_truth"])
    ]
    comparison = {
        "marts_titles": int(len(marts)),
        "truth_titles": int(len(truth_history)),
        "matched_by_title_id": int(len(joined)),
        "only_in_marts": sorted(set(marts["title_id"]) - set(truth_history["title_id"]))[:10],
        "only_in_truth": sorted(set(truth_history["title_id"]) - set(marts["title_id"]))[:10],
        "views_ratio_median": round(float(ratio.median()), 4),
        "views_ratio_p05_p95": [round(float(ratio.quantile(0.05)), 4), round(float(ratio.quantile(0.95)), 4)],
        "log_views_spearman": round(float(spearmanr(joined["views_28d_marts"], joined["views_28d_truth"]).statistic), 4),
        "same_talent_lists": round(float(np.mean(same_talent)), 4),
        "same_genres": round(float(np.mean([list(a) == list(b) for a, b in zip(joined["genres_marts"], joined["genres_truth"])])), 4),
        "same_show": round(float(np.mean([(a or None) == (b or None)
                                          for a, b in zip(joined["show_id_marts"], joined["show_id_truth"])])), 4),
    }
    return {
        "warehouse": str(args.marts),
        "read_with": "forecast_job.training_history (deltalake)",
        "simulation": {"start_date": args.start_date, "days": args.days, "members": args.members,
                       "titles": args.titles, "seed": args.seed},
        "tables_compared": comparison,
        "marts": evaluate(marts, truth, with_ceilings=False),
        "truth": record,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--start-date", default="2026-01-05")
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--members", type=int, default=1500)
    parser.add_argument("--titles", type=int, default=450)
    parser.add_argument("--seeds", type=int, nargs="+", default=[11, 12, 13, 14])
    parser.add_argument("--marts", help="a warehouse home built by the pipeline (e.g. var); compares it with "
                                        "the ground truth of --days/--members/--titles/--seed")
    parser.add_argument("--seed", type=int, default=42, help="the seed of the simulation behind --marts")
    parser.add_argument("--section", default="ground_truth",
                        help="the key the ground-truth runs are recorded under (e.g. ground_truth_12_months)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--without-show", action="store_true",
                        help="do not give the model the seasons' show (the comparison for the show effect)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("py4j", "slatehouse.io", "slatehouse.forecast.model", "slatehouse.forecast.backtest"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    record = json.loads(args.results.read_text()) if args.results.exists() else {}
    record.update({"commit": _git_commit(), "bars": BARS})
    if args.marts:
        record["real_marts"] = marts_run(args) | {
            "recorded_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")}
    else:
        runs = [ground_truth_run(args, seed)[0] for seed in args.seeds]
        figures = pd.DataFrame([r["figures"] for r in runs])
        record[args.section] = {
            "recorded_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
            "simulation": {"start_date": args.start_date, "days": args.days, "members": args.members,
                           "titles": args.titles, "seeds": args.seeds},
            "mean_figures": {k: round(float(v), 4) for k, v in figures.mean().items()},
            "seeds_meeting_each_bar": {k: int(sum(r["meets_bar"][k] for r in runs)) for k in BARS},
            "runs": runs,
        }
    if not args.no_write:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(json.dumps(record, indent=2, default=str) + "\n")
        log.info("wrote %s", args.results)
    summary = record.get("real_marts") if args.marts else record[args.section]["mean_figures"]
    print(json.dumps(summary, indent=2, default=str)[:4000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
