"""Evidence for the demand forecast on the project's simulator.

    .venv/bin/python bench/forecast_evidence.py --out /tmp/forecast-evidence > /tmp/fe.log 2>&1

1. `slatehouse.generate` writes a simulated service and its ground truth (sizes: --help);
2. `--source truth`: a training table built straight from the ground truth in pandas (the
   mart's definitions, no Spark) - quick, and an oracle for the mart;
3. `--source marts`: every received date is ingested with `slatehouse.ingest` (in passes
   of --batch-days received dates) in one Spark session, `build_marts(full_refresh=True)` builds the marts once, and
   `slatehouse.forecast_job` reads marts.fct_title_training and runs `refresh_forecasts`
   (which writes marts.fct_forecast_backtest); `both` runs the two and compares them;
4. each training table is scored against the bars:
   - RMSLE of views_28d at least 30% below the per-genre median baseline;
   - 80% interval coverage between 0.75 and 0.85;
   - Spearman >= 0.7 between `DemandModel.talent_effects().effect` and talent.jsonl's
     `true_effect`, for talent credited on >= 3 training titles.

Writes bench/results/forecast_evidence.json. A benchmark, not a test: it records figures,
including misses, and asserts nothing. With --reuse, a landing folder (and warehouse)
already in --out is used again, so the model can be re-examined without regenerating.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "forecast_evidence.json"
BARS = {"rmsle_improvement_vs_genre_median": 0.30, "coverage_80": (0.75, 0.85), "talent_spearman": 0.70}
MIN_TALENT_TITLES = 3

log = logging.getLogger("forecast_evidence")


def _git_commit() -> str:
    out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip()


def generate_landing(out: Path, args) -> dict:
    from slatehouse.generate import generate

    marker = out / "generate.json"
    if args.reuse and marker.exists():
        log.info("reusing the landing folder in %s", out)
        return json.loads(marker.read_text())
    result = generate(
        out / "landing", start_date=date.fromisoformat(args.start_date), days=args.days,
        members=args.members, titles=args.titles, seed=args.seed,
    )
    info = result.as_dict()
    marker.write_text(json.dumps(info, default=str, indent=2))
    log.info("generated %d events, %d lines in %.0fs", info["events"], info["lines"], info["elapsed_s"])
    return info


def ingest_and_build(spark, settings, out: Path, args) -> dict:
    from slatehouse import io
    from slatehouse.marts import build_marts

    marker = out / "ingest.json"
    if args.reuse and marker.exists():
        log.info("reusing the warehouse in %s", out)
        return json.loads(marker.read_text())
    received = io.list_partition_dates(spark, f"{settings.landing_dir}/events", "received_date")
    batches = [received[i:i + args.batch_days] for i in range(0, len(received), args.batch_days)]
    timings, totals = [], {"lines_read": 0, "accepted": 0, "quarantined": 0, "duplicates": 0, "sessions": 0}
    began = time.perf_counter()
    for batch in batches:
        t0 = time.perf_counter()
        for events, sessions in _ingest(spark, settings, batch):
            for key in ("lines_read", "accepted", "quarantined", "duplicates"):
                totals[key] += getattr(events, key)
            totals["sessions"] += sessions
        timings.append(time.perf_counter() - t0)
        log.info("ingested %s..%s in %.1fs", batch[0], batch[-1], timings[-1])
    ingest_s = time.perf_counter() - began
    t0 = time.perf_counter()
    marts = build_marts(spark, settings, full_refresh=True)
    info = {
        "received_dates": len(received),
        "batches": len(batches),
        "ingest_s": round(ingest_s, 1),
        "dbt_build_s": round(time.perf_counter() - t0, 1),
        "dbt_models": marts.models,
        "dbt_tests_passed": marts.passed,
        **totals,
    }
    marker.write_text(json.dumps(info, indent=2))
    return info


def _ingest(spark, settings, batch):
    """(events result, sessions written) per pass: `ingest` takes several received dates
    in one pass; older checkouts only have the per-date `ingest_day`."""
    from slatehouse import ingest

    if hasattr(ingest, "ingest"):
        result = ingest.ingest(spark, settings, batch)
        sessions = result.sessions.sessions_written
        return [(e, sessions if i == 0 else 0) for i, e in enumerate(result.events)]
    out = []
    for day in batch:
        result = ingest.ingest_day(spark, settings, day)
        out.append((result.events, result.sessions.sessions_written))
    return out


def mart_counts(spark) -> dict:
    from pyspark.sql import functions as F

    training = spark.table("marts.fct_title_training")
    by = {
        (r["format"], r["is_window_complete"]): r["n"]
        for r in training.groupBy("format", "is_window_complete").agg(F.count(F.lit(1)).alias("n")).collect()
    }
    return {
        "training_rows": training.count(),
        "complete_films": by.get(("film", True), 0),
        "complete_seasons": by.get(("series", True), 0),
        "open_windows": sum(n for (_, complete), n in by.items() if not complete),
        "training_schema": training.schema.simpleString(),
    }


# What the simulator adds to a title's log appeal per unit of true_effect, by role
# (docs/simulator.md; actors are further divided by billing order). Used only to report
# figures on the lift scale and the ceilings; the model never sees it.
ROLE_WEIGHT = {"showrunner": 1.0, "director": 0.9, "actor": 0.7, "writer": 0.4, "producer": 0.25}


def talent_agreement(model, ground_truth: Path) -> dict:
    """Spearman between the model's talent effects and the simulator's true effects."""
    truth = pd.read_json(ground_truth / "talent.jsonl", lines=True)
    estimated = model.talent_effects()
    joined = estimated.merge(truth[["talent_id", "role", "true_effect"]], on=["talent_id", "role"], how="inner")
    enough = joined[joined["n_titles"] >= MIN_TALENT_TITLES]
    out = {
        "talent_in_model": int(len(estimated)),
        "matched_to_truth": int(len(joined)),
        f"with_{MIN_TALENT_TITLES}_plus_titles": int(len(enough)),
    }
    if len(enough) >= 3:
        out["spearman"] = round(float(spearmanr(enough["effect"], enough["true_effect"]).statistic), 4)
        lift = enough["true_effect"] * enough["role"].map(ROLE_WEIGHT).fillna(1.0)
        out["spearman_vs_role_weighted_lift"] = round(float(spearmanr(enough["effect"], lift).statistic), 4)
        out["spearman_coefficient"] = round(
            float(spearmanr(enough["coefficient"], enough["true_effect"]).statistic), 4)
    per_role = {}
    for role, group in enough.groupby("role"):
        per_role[role] = {
            "n": int(len(group)),
            "spearman": round(float(spearmanr(group["effect"], group["true_effect"]).statistic), 4)
            if len(group) >= 3 else None,
        }
    out["per_role"] = per_role
    for threshold in (5, 10):
        subset = joined[joined["n_titles"] >= threshold]
        if len(subset) >= 3:
            out[f"spearman_{threshold}_plus_titles"] = {
                "n": int(len(subset)),
                "spearman": round(float(spearmanr(subset["effect"], subset["true_effect"]).statistic), 4),
            }
    return out


def truth_history(landing: Path, start: date, days: int) -> pd.DataFrame:
    """An independent training table from the simulator's ground truth (no Spark, no dbt).

    The same definitions as marts.fct_title_training: one row per film or season (credits
    of all its episodes, actors only when billed in the top 3, genres united), views_28d =
    hours played in [release, release + 27] over the programme's runtime. Played time is
    the true session's `true_play_s`, dated by its start; sessions the pipeline rejects
    (too late, unknown title) are left out. Complete = released on or after the first
    simulated day and the window closes by the last.
    """
    truth = pd.read_json(landing / "ground_truth" / "titles.jsonl", lines=True, dtype={"release_date": str})
    snapshot = sorted((landing / "catalog").glob("snapshot_date=*"))[-1] / "titles.jsonl"
    catalog = pd.read_json(snapshot, lines=True, dtype={"release_date": str}).set_index("title_id")
    truth["programme_id"] = np.where(
        truth["title_type"] == "film", truth["title_id"],
        truth["work_id"] + "-s" + truth["season_number"].fillna(0).astype(int).astype(str).str.zfill(2))
    truth["release_date"] = pd.to_datetime(truth["release_date"])
    sessions = pd.read_parquet(landing / "ground_truth" / "sessions.parquet",
                               columns=["true_title_id", "start_ts", "true_play_s", "fault"])
    sessions = sessions[~sessions["fault"].isin(["too_late", "unknown_title"])]
    sessions["event_date"] = sessions["start_ts"].dt.tz_localize(None).dt.normalize()
    sessions = sessions.merge(truth[["title_id", "programme_id"]], left_on="true_title_id", right_on="title_id")
    first_day = pd.Timestamp(start)
    last_day = first_day + pd.Timedelta(days=days - 1)
    rows = []
    for programme_id, episodes in truth.groupby("programme_id"):
        release = episodes["release_date"].min()
        runtime_s = float(episodes["runtime_s"].sum())
        credits, genres = set(), set()
        for title_id in episodes["title_id"]:
            if title_id not in catalog.index:
                continue
            entry = catalog.loc[title_id]
            genres.update(entry["genres"])
            for c in entry["credits"]:
                if c["role"] != "actor" or (c["billing_order"] is not None and c["billing_order"] <= 3):
                    credits.add((c["talent_id"], c["role"]))
        first = catalog.loc[episodes["title_id"].iloc[0]] if episodes["title_id"].iloc[0] in catalog.index else None
        if first is None:
            continue
        in_window = sessions[(sessions["programme_id"] == programme_id)
                             & (sessions["event_date"] >= release)
                             & (sessions["event_date"] <= release + pd.Timedelta(days=27))]
        is_film = episodes["title_type"].iloc[0] == "film"
        rows.append({
            "title_id": programme_id,
            "release_date": release,
            "format": "film" if is_film else "series",
            "genres": sorted(genres),
            "talent": [{"talent_id": t, "role": r} for t, r in sorted(credits)],
            "runtime_minutes": runtime_s / 60.0 / len(episodes),
            "episodes": float(len(episodes)),
            "original_language": first["original_language"],
            "origin_country": first["origin_country"],
            "views_28d": in_window["true_play_s"].sum() / runtime_s,
            "is_complete": release >= first_day and release + pd.Timedelta(days=27) <= last_day,
        })
    frame = pd.DataFrame(rows)
    frame = frame[frame["is_complete"]].drop(columns="is_complete")
    return frame.sort_values(["release_date", "title_id"], kind="mergesort").reset_index(drop=True)




def ceilings(history: pd.DataFrame, landing: Path) -> dict:
    """What a forecaster that knew the simulator's true effects could reach on this table.

    - `oracle_rmsle`: over the same cutoffs and horizon as the backtest, a least-squares
      fit on the training titles of log1p(views) on format, log runtime, log episodes and
      the TRUE talent + genre effect of each title (everything the simulator fixes before
      release except the work's latent quality, decay and availability). No pre-release
      model can beat it by much; `oracle_improvement_vs_genre_median` is the bar's ceiling.
    - `talent_spearman_ceiling`: for talent on >= 3 titles, Spearman between true_effect
      and the mean over their titles of (role weight x true_effect + the work's latent
      quality): an estimator that separated every other effect perfectly and was left only
      with the unobservable quality of the works each person happened to be on.
    """
    from slatehouse import forecast_job

    truth = pd.read_json(landing / "ground_truth" / "titles.jsonl", lines=True)
    truth["programme_id"] = np.where(
        truth["title_type"] == "film", truth["title_id"],
        truth["work_id"] + "-s" + truth["season_number"].fillna(0).astype(int).astype(str).str.zfill(2))
    per_programme = truth.groupby("programme_id").agg(
        latent_quality=("latent_quality", "first"), genre_effect=("genre_effect", "first"),
        talent_effect=("talent_effect", "first"))
    d = history.join(per_programme, on="title_id")
    y = np.log1p(d["views_28d"].to_numpy(float))
    x = np.column_stack([
        np.ones(len(d)), (d["format"] == "series").astype(float), np.log(d["runtime_minutes"]),
        np.log(d["episodes"]), d["talent_effect"] + d["genre_effect"],
    ])
    cutoffs, horizon = forecast_job.backtest_cutoffs(d["release_date"])
    errors, baseline = [], []
    primary = d["genres"].map(lambda gs: gs[0] if gs else None)
    for cutoff in cutoffs:
        train = (d["release_date"] < cutoff).to_numpy()
        test = ((d["release_date"] >= cutoff) & (d["release_date"] < cutoff + pd.Timedelta(days=horizon))).to_numpy()
        coef, *_ = np.linalg.lstsq(x[train], y[train], rcond=None)
        errors.append(y[test] - x[test] @ coef)
        medians = d[train].groupby(primary[train])["views_28d"].median()
        counts = primary[train].value_counts()
        overall = d.loc[train, "views_28d"].median()
        guess = [medians[g] if g in medians and counts[g] >= 5 else overall for g in primary[test]]
        baseline.append(y[test] - np.log1p(guess))
    oracle = float(np.sqrt(np.mean(np.concatenate(errors) ** 2)))
    # How well the 28-day views measure the true appeal (in-sample): views noise, not a ceiling.
    x_appeal = np.column_stack([x[:, :4], d["latent_quality"] + d["talent_effect"] + d["genre_effect"]])
    coef, *_ = np.linalg.lstsq(x_appeal, y, rcond=None)
    appeal_residual = y - x_appeal @ coef
    genre = float(np.sqrt(np.mean(np.concatenate(baseline) ** 2)))

    talent = pd.read_json(landing / "ground_truth" / "talent.jsonl", lines=True).set_index(["talent_id", "role"])
    credits = [
        (c["talent_id"], c["role"], latent) for cs, latent in zip(d["talent"], d["latent_quality"]) for c in cs
    ]
    per_talent = pd.DataFrame(credits, columns=["talent_id", "role", "latent_quality"]).groupby(
        ["talent_id", "role"]).agg(latent_quality=("latent_quality", "mean"), n=("latent_quality", "size"))
    per_talent = per_talent[per_talent["n"] >= MIN_TALENT_TITLES].join(talent["true_effect"])
    roles = per_talent.index.get_level_values("role")
    observed = per_talent["true_effect"] * roles.map(ROLE_WEIGHT).to_numpy(float) + per_talent["latent_quality"]
    by_role = {}
    for role in sorted(set(roles)):
        mask = roles == role
        if mask.sum() >= 3:
            by_role[role] = round(float(spearmanr(observed[mask], per_talent["true_effect"][mask]).statistic), 4)
    return {
        "oracle_rmsle": round(oracle, 4),
        "genre_median_rmsle": round(genre, 4),
        "oracle_improvement_vs_genre_median": round(1 - oracle / genre, 4),
        "latent_quality_sd": round(float(d["latent_quality"].std()), 4),
        "true_appeal_r2": round(float(1 - appeal_residual.var() / y.var()), 4),
        "true_appeal_residual_sd": round(float(appeal_residual.std()), 4),
        "log_views_sd": round(float(np.std(y)), 4),
        "talent_spearman_ceiling": round(float(spearmanr(observed, per_talent["true_effect"]).statistic), 4),
        "talent_spearman_ceiling_per_role": by_role,
        "talent_with_3_plus_titles": int(len(per_talent)),
    }


def evaluate(history: pd.DataFrame, ground_truth: Path, targets) -> dict:
    """Backtest (as refresh_forecasts runs it), the final fit and the talent agreement."""
    from slatehouse import forecast, forecast_job

    backtests = {}
    for target in targets:
        scores, cutoffs, horizon = forecast_job.run_backtest(history, target)
        overall = scores[scores["scope"] == "overall"].set_index("model")
        backtests[target] = {
            "cutoffs": [c.date().isoformat() for c in cutoffs],
            "horizon_days": horizon,
            "overall": {m: {k: round(float(row[k]), 4) for k in ("rmsle", "mdape", "coverage_80",
                            "median_interval_ratio")} | {"n_test": int(row["n_test"]), "n_train": int(row["n_train"])}
                        for m, row in overall.iterrows()},
            "per_cutoff": [
                {k: (str(v) if k == "cutoff" else v) for k, v in r.items()}
                for r in scores[scores["scope"] == "cutoff"].to_dict("records")
            ],
        }
    views = backtests[forecast_job.TARGET]["overall"]
    model = forecast.fit(history, forecast_job.TARGET)
    talent = talent_agreement(model, ground_truth)
    # Diagnostic, NOT a valid backtest (the penalties were chosen on the whole history,
    # after the cutoffs): how much the per-cutoff penalty search costs at this size.
    cutoffs = [pd.Timestamp(c) for c in backtests[forecast_job.TARGET]["cutoffs"]]
    fixed = forecast.backtest(history, forecast_job.TARGET, cutoffs,
                              horizon_days=backtests[forecast_job.TARGET]["horizon_days"],
                              hyperparameters=model.hyperparameters)
    fixed = fixed[fixed["scope"] == "overall"].set_index("model")
    figures = {
        "rmsle_improvement_vs_genre_median": round(
            1 - views["demand_model"]["rmsle"] / views["genre_median"]["rmsle"], 4),
        "coverage_80": views["demand_model"]["coverage_80"],
        "talent_spearman": talent.get("spearman"),
    }
    lo, hi = BARS["coverage_80"]
    return {
        "training_titles": len(history),
        "films": int((history["format"] == "film").sum()),
        "seasons": int((history["format"] == "series").sum()),
        "views_28d_median": round(float(history["views_28d"].median()), 2),
        "figures": figures,
        "meets_bar": {
            "rmsle_improvement_vs_genre_median":
                figures["rmsle_improvement_vs_genre_median"] >= BARS["rmsle_improvement_vs_genre_median"],
            "coverage_80": lo <= figures["coverage_80"] <= hi,
            "talent_spearman": figures["talent_spearman"] is not None
            and figures["talent_spearman"] >= BARS["talent_spearman"],
        },
        "backtest": backtests,
        "diagnostic_penalties_fixed_from_full_history": {
            "rmsle": round(float(fixed.loc["demand_model", "rmsle"]), 4),
            "rmsle_improvement_vs_genre_median": round(
                float(1 - fixed.loc["demand_model", "rmsle"] / fixed.loc["genre_median", "rmsle"]), 4),
            "coverage_80": round(float(fixed.loc["demand_model", "coverage_80"]), 4),
        },
        "final_model": {
            "n_titles": len(model.history),
            "hyperparameters": repr(model.hyperparameters),
            "cv_rmse": round(model.cv_rmse, 4),
            "intervals": {k: [round(v, 4) for v in pair] for k, pair in model.intervals.items()},
        },
        "talent": talent,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/forecast-evidence"))
    parser.add_argument("--start-date", default="2025-01-06")
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--members", type=int, default=1500)
    parser.add_argument("--titles", type=int, default=450)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--source", choices=("truth", "marts", "both"), default="both",
                        help="training table from the ground truth (no Spark), the real marts, or both")
    parser.add_argument("--batch-days", type=int, default=14, help="received dates per ingest pass")
    parser.add_argument("--reuse", action="store_true", help="reuse a landing folder/warehouse already in --out")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write the JSON record")
    parser.add_argument("--no-write", action="store_true", help="do not write the JSON record")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("py4j", "slatehouse.io"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from slatehouse import forecast_job

    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    wall = {}
    t0 = time.perf_counter()
    generated = generate_landing(out, args)
    wall["generate_s"] = round(time.perf_counter() - t0, 1)
    start, days = date.fromisoformat(generated["start_date"]), int(generated["days"])
    ground_truth = out / "landing" / "ground_truth"
    record = {
        "commit": _git_commit(),
        "recorded_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        "simulation": {k: generated.get(k) for k in (
            "start_date", "days", "seed", "accounts", "profiles", "works", "titles", "sessions", "events", "lines",
            "elapsed_s")},
        "bars": BARS,
        "wall_s": wall,
    }

    truth = None
    if args.source in ("truth", "both"):
        t0 = time.perf_counter()
        truth = truth_history(out / "landing", start, days)
        record["truth"] = evaluate(truth, ground_truth, [forecast_job.TARGET])
        record["truth"]["ceilings"] = ceilings(truth, out / "landing")
        wall["truth_s"] = round(time.perf_counter() - t0, 1)
        log.info("ground-truth training table: %s", json.dumps(record["truth"]["figures"]))
        _write(record, args)

    if args.source in ("marts", "both"):
        from slatehouse.settings import Settings
        from slatehouse.spark import get_spark

        settings = Settings(
            home=out, mode="demo", spark_master="local[2]", shuffle_partitions=1,
            jars_dir=REPO / ".cache" / "jars",
        )
        t0 = time.perf_counter()
        spark = get_spark(settings, "forecast-evidence")
        record["pipeline"] = ingest_and_build(spark, settings, out, args)
        wall["ingest_and_marts_s"] = round(time.perf_counter() - t0, 1)
        t0 = time.perf_counter()
        record["mart_counts"] = mart_counts(spark)
        history = forecast_job.training_history(spark)
        refresh = forecast_job.refresh_forecasts(spark, settings)
        record["refresh_forecasts"] = refresh.as_dict()
        record["marts"] = evaluate(history, ground_truth, forecast_job.BACKTEST_TARGETS)
        if truth is not None:
            record["marts_vs_truth"] = compare_tables(history, truth)
        wall["forecast_s"] = round(time.perf_counter() - t0, 1)
        spark.stop()
    _write(record, args)
    print(json.dumps(record, indent=2, default=str))
    return 0


def compare_tables(marts: pd.DataFrame, truth: pd.DataFrame) -> dict:
    """How closely the mart's views_28d agree with the ground-truth table, title by title."""
    key = ["format", "release_date", "runtime_minutes"]
    m = marts.assign(runtime_minutes=marts["runtime_minutes"].round(3))
    t = truth.assign(runtime_minutes=truth["runtime_minutes"].round(3))
    joined = m.merge(t, on=key, suffixes=("_marts", "_truth"))
    joined = joined.drop_duplicates(subset=key, keep=False)
    if joined.empty:
        return {"matched": 0}
    ratio = joined["views_28d_marts"] / joined["views_28d_truth"].replace(0, np.nan)
    return {
        "marts_titles": len(marts),
        "truth_titles": len(truth),
        "matched": len(joined),
        "views_ratio_median": round(float(ratio.median()), 4),
        "views_ratio_p05_p95": [round(float(ratio.quantile(0.05)), 4), round(float(ratio.quantile(0.95)), 4)],
        "log_views_spearman": round(float(spearmanr(joined["views_28d_marts"], joined["views_28d_truth"]).statistic), 4),
    }


def _write(record: dict, args) -> None:
    if args.no_write:
        return
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(record, indent=2, default=str) + "\n")
    log.info("wrote %s", args.results)


if __name__ == "__main__":
    sys.exit(main())
