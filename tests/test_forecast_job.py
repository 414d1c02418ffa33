"""The forecast job on real Spark + Delta: marts.fct_title_training in, backtest and slate out.

The training table is written inline in the mart's schema (as dbt-spark builds it: the
runtime a double, episodes a bigint, talent an array of {talent_id, role} structs),
with views drawn from known talent and genre effects, so the backtest has something real
to find.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from pyspark.sql import types as T

from slatehouse import forecast_job, io
from slatehouse.pipeline import pipeline_lock

ROOT = Path(__file__).resolve().parents[1]

TRAINING_SCHEMA = T.StructType([
    T.StructField("programme_id", T.StringType(), True),
    T.StructField("programme_type", T.StringType(), True),
    T.StructField("format", T.StringType(), True),
    T.StructField("programme_name", T.StringType(), True),
    T.StructField("release_date", T.DateType(), True),
    T.StructField("genres", T.ArrayType(T.StringType(), True), True),
    T.StructField("talent", T.ArrayType(T.StructType([
        T.StructField("talent_id", T.StringType(), True),
        T.StructField("role", T.StringType(), True),
    ]), False), False),
    T.StructField("runtime_minutes", T.DoubleType(), True),
    T.StructField("episodes", T.LongType(), False),
    T.StructField("original_language", T.StringType(), True),
    T.StructField("origin_country", T.StringType(), True),
    T.StructField("hours_viewed_28d", T.DoubleType(), True),
    T.StructField("views_28d", T.DoubleType(), True),
    T.StructField("starters_28d", T.LongType(), True),
    T.StructField("completion_rate_28d", T.DoubleType(), True),
    T.StructField("window_end_date", T.DateType(), True),
    T.StructField("is_window_complete", T.BooleanType(), True),
])

GENRES = ["drama", "comedy", "thriller", "crime", "documentary", "scifi"]
ORIGINS = [("en", "US"), ("en", "GB"), ("fr", "FR"), ("ko", "KR")]


def training_rows(n_complete: int, n_open: int = 5, seed: int = 3) -> list[tuple]:
    """Films and seasons released one every ~2 days; the last `n_open` windows are open."""
    rng = np.random.default_rng(seed)
    directors = {f"d-{i:03d}": rng.normal(0, 0.8) for i in range(25)}
    actors = {f"a-{i:03d}": rng.normal(0, 0.5) for i in range(60)}
    genre_effect = dict(zip(GENRES, rng.normal(0, 0.6, len(GENRES))))
    start = date(2024, 1, 1)
    rows = []
    for i in range(n_complete + n_open):
        is_series = i % 4 == 0
        release = start + timedelta(days=2 * i)
        genres = sorted(rng.choice(GENRES, size=int(rng.integers(1, 3)), replace=False).tolist())
        director = f"d-{int(rng.integers(0, 25)):03d}"
        cast = sorted({f"a-{int(rng.integers(0, 60)):03d}" for _ in range(3)})
        talent = sorted([(director, "director")] + [(a, "actor") for a in cast])
        language, country = ORIGINS[i % len(ORIGINS)]
        episodes = 8 if is_series else 1
        runtime_min = 50.0 * episodes if is_series else 100.0
        log_views = (
            5.0 - (1.5 if is_series else 0.0)
            + np.mean([genre_effect[g] for g in genres])
            + directors[director] + np.mean([actors[a] for a in cast])
            + rng.normal(0, 0.25)
        )
        views = float(np.expm1(log_views))
        is_complete = i < n_complete
        rows.append((
            f"P{i:04d}", "season" if is_series else "film", "series" if is_series else "film",
            f"Programme {i}", release, genres,
            [{"talent_id": t, "role": r} for t, r in talent],
            runtime_min, episodes, language, country,
            views * runtime_min / 60.0, views, int(views * 1.3),
            float(1 / (1 + np.exp(-(0.3 * directors[director] + rng.normal(0, 0.2))))),
            release + timedelta(days=27), is_complete,
        ))
    return rows


def write_training(spark, rows) -> None:
    spark.sql("DROP TABLE IF EXISTS marts.fct_title_training")
    io.append(spark, "marts.fct_title_training", spark.createDataFrame(rows, TRAINING_SCHEMA))


@pytest.fixture
def slate_in_home(settings):
    path = settings.home / forecast_job.SLATE_FILE
    shutil.copy(ROOT / "docs" / "examples" / "slate.csv", path)
    yield path
    path.unlink(missing_ok=True)


def test_training_history_keeps_complete_windows_in_the_models_shape(empty_warehouse, settings):
    spark = empty_warehouse
    write_training(spark, training_rows(n_complete=12, n_open=3))
    history = forecast_job.training_history(settings)

    assert len(history) == 12  # the three open windows are left out
    assert history["title_id"].tolist() == [f"P{i:04d}" for i in range(12)]
    assert history["release_date"].is_monotonic_increasing
    season = history[history["format"] == "series"].iloc[0]
    assert season["episodes"] == 8
    assert season["runtime_minutes"] == pytest.approx(50.0)  # per episode, not the season's 400
    film = history[history["format"] == "film"].iloc[0]
    assert film["runtime_minutes"] == pytest.approx(100.0)
    assert isinstance(film["genres"], list)
    assert {"talent_id", "role"} == set(film["talent"][0])
    # The frame goes into the model as it is.
    from slatehouse.forecast import normalise_titles

    normalise_titles(history, target="views_28d")


def test_training_history_passes_availability_and_the_show_through_when_the_mart_has_them(empty_warehouse, settings):
    spark = empty_warehouse
    rows = training_rows(n_complete=12, n_open=3)
    shares = [None] + [0.4 if i % 3 == 0 else 1.0 for i in range(1, len(rows))]
    # Seasons (every fourth programme) alternate between two shows; films have none.
    shows = [f"SH{i // 4 % 2}" if row[1] == "season" else None for i, row in enumerate(rows)]
    schema = T.StructType(TRAINING_SCHEMA.fields + [
        T.StructField(forecast_job.AVAILABILITY, T.DoubleType(), True),
        T.StructField("show_id", T.StringType(), True)])
    spark.sql("DROP TABLE IF EXISTS marts.fct_title_training")
    io.append(spark, "marts.fct_title_training",
              spark.createDataFrame([row + (share, show) for row, share, show in zip(rows, shares, shows)], schema))

    history = forecast_job.training_history(settings)

    assert np.isnan(history[forecast_job.AVAILABILITY].iloc[0])  # null in the mart: unknown
    assert history[forecast_job.AVAILABILITY].tolist()[1:] == shares[1:12]
    assert history["show_id"].tolist() == shows[:12]
    assert history.loc[history["format"] == "series", "show_id"].tolist() == ["SH0", "SH1", "SH0"]
    # A mart built before the columns existed reads as unknown everywhere.
    write_training(spark, rows)
    older = forecast_job.training_history(settings)
    assert older[forecast_job.AVAILABILITY].isna().all() and older["show_id"].isna().all()


def test_training_history_leaves_out_titles_released_before_the_data_begins(empty_warehouse, settings):
    spark = empty_warehouse
    write_training(spark, training_rows(n_complete=12, n_open=3))
    # Viewing data starts on 2024-01-05: P0000 (01-01) and P0001 (01-03) were released
    # before it, so their "complete" windows miss their first days.
    io.append(spark, "marts.fct_title_daily", spark.createDataFrame(
        [("P0002", date(2024, 1, 5)), ("P0003", date(2024, 1, 7))], "title_id string, event_date date"))

    history = forecast_job.training_history(settings)

    assert history["title_id"].tolist() == [f"P{i:04d}" for i in range(2, 12)]


def test_refresh_forecasts_writes_the_backtest_and_the_slate(empty_warehouse, settings, slate_in_home):
    spark = empty_warehouse
    write_training(spark, training_rows(n_complete=120))

    result = forecast_job.refresh_forecasts(spark, settings)

    assert result.titles_complete == 120
    assert result.backtest_ran and result.backtest_skipped_reason is None
    assert len(result.cutoffs) == 3
    backtest = spark.table(forecast_job.BACKTEST_TABLE).toPandas()
    # 2 targets x 3 models x (3 cutoffs + overall)
    assert len(backtest) == result.backtest_rows == 24
    assert backtest["run_at"].nunique() == 1
    views = backtest[(backtest["target"] == "views_28d") & (backtest["scope"] == "overall")].set_index("model")
    # Each title after the first cutoff is scored once: 40% of 120.
    assert views.loc["demand_model", "n_test"] == pytest.approx(48, abs=2)
    # Talent and genre drive these views; the model must beat the per-genre median clearly.
    assert views.loc["demand_model", "rmsle"] < 0.7 * views.loc["genre_median", "rmsle"]
    assert result.rmsle_improvement_vs_genre_median > 0.3
    assert result.metrics["views_28d"]["demand_model"]["rmsle"] == pytest.approx(
        views.loc["demand_model", "rmsle"], abs=1e-4)

    assert result.slate_scored == 4
    slate = spark.table(forecast_job.SLATE_TABLE).toPandas().set_index("pitch_id")
    assert sorted(slate.index) == ["pitch-harbour-lights", "pitch-last-orbit", "pitch-new-voices",
                                   "pitch-show-0018-s3"]
    assert slate.sort_index()["show_id"].tolist() == [None, None, None, "show-0018"]  # the last: a next season
    assert ((slate["p10"] <= slate["point"]) & (slate["point"] <= slate["p90"])).all()
    assert (slate["n_training_titles"] == 120).all()
    harbour = slate.loc["pitch-harbour-lights"]
    assert harbour["format"] == "series" and list(harbour["genres"]) == ["drama", "crime"]
    assert slate["release_availability_share"].tolist()[:2] == [1.0, 0.45]
    assert np.isnan(slate.loc["pitch-new-voices", "release_availability_share"])
    assert [tuple(c) for c in harbour["talent"]] == [("tal-01067", "showrunner", None), ("tal-00029", "actor", 1),
                                                      ("tal-00183", "actor", 2)]
    assert len(json.loads(harbour["comparables"])) == 5
    explanation = json.loads(harbour["explanation"])
    assert explanation[0]["component"] == "baseline"
    assert np.expm1(sum(e["contribution"] for e in explanation)) == pytest.approx(harbour["point"], rel=1e-6)

    # A second refresh replaces both tables rather than adding to them.
    again = forecast_job.refresh_forecasts(spark, settings)
    assert spark.table(forecast_job.BACKTEST_TABLE).count() == 24
    assert spark.table(forecast_job.BACKTEST_TABLE).select("run_at").distinct().count() == 1
    assert spark.table(forecast_job.SLATE_TABLE).count() == 4
    assert again.metrics == result.metrics

    # A slate emptied to its header line is skipped, saying so; the last scoring stays.
    slate_in_home.write_text(slate_in_home.read_text().splitlines()[0] + "\n")
    emptied = forecast_job.refresh_forecasts(spark, settings)
    assert emptied.slate_scored == 0 and "no pitches, only a header line" in emptied.slate_skipped_reason
    assert spark.table(forecast_job.SLATE_TABLE).count() == 4


def test_a_slate_table_with_older_columns_is_replaced_schema_and_all(empty_warehouse, settings, tmp_path):
    spark = empty_warehouse
    write_training(spark, training_rows(n_complete=60))
    old = T.StructType([f for f in forecast_job.SLATE_SCHEMA.fields if f.name != "release_availability_share"])
    io.create_table(spark, forecast_job.SLATE_TABLE, old)
    slate = tmp_path / "billed.csv"
    slate.write_text("title_id,format,genres,talent,release_availability_share\n"
                     "p1,film,drama,t-0001:director;t-0042:actor:2,0.6\n")

    forecast_job.score_slate(spark, settings, slate)

    table = spark.table(forecast_job.SLATE_TABLE)
    assert io.same_columns(table.schema, forecast_job.SLATE_SCHEMA)
    row = table.collect()[0]
    assert row["release_availability_share"] == 0.6
    assert [tuple(c) for c in row["talent"]] == [("t-0001", "director", None), ("t-0042", "actor", 2)]
    history = spark.sql(f"DESCRIBE HISTORY {forecast_job.SLATE_TABLE}").select("operation").collect()
    assert [h[0] for h in history][0] == "CREATE OR REPLACE TABLE AS SELECT" and len(history) == 2


def test_refresh_skips_the_backtest_on_a_short_history(empty_warehouse, settings):
    spark = empty_warehouse
    write_training(spark, training_rows(n_complete=30))

    result = forecast_job.refresh_forecasts(spark, settings)

    assert not result.backtest_ran
    assert "30 titles" in result.backtest_skipped_reason
    assert not io.table_exists(spark, forecast_job.BACKTEST_TABLE)
    assert result.slate_scored == 0 and "no slate" in result.slate_skipped_reason


def test_a_target_with_too_few_values_is_skipped_and_the_rest_backtested(empty_warehouse, settings):
    spark = empty_warehouse
    # Nobody started 20 of 60 titles: their completion rate is empty, leaving 40 (< 50).
    rows = [r[:14] + ((None,) if i % 3 == 0 else r[14:15]) + r[15:] for i, r in enumerate(training_rows(60))]
    write_training(spark, rows)

    result = forecast_job.refresh_forecasts(spark, settings)

    assert result.backtest_ran and set(result.metrics) == {"views_28d"}
    assert result.skipped_targets == {"completion_rate_28d": "40 titles have a completion_rate_28d"}
    assert set(spark.table(forecast_job.BACKTEST_TABLE).toPandas()["target"]) == {"views_28d"}


def test_forecast_pitch_and_score_slate(empty_warehouse, settings, tmp_path):
    spark = empty_warehouse
    write_training(spark, training_rows(n_complete=60))

    pitch = forecast_job.forecast_pitch(settings, ROOT / "docs" / "examples" / "pitch.yaml")
    assert pitch.n_training_titles == 60
    assert "pitch-harbour-lights: views_28d forecast" in str(pitch)
    assert "most comparable past titles" in pitch.text
    # Without release windows the profiles behind each actual are unknown: all suppressed.
    assert all(c["actual"] is None and c["suppressed"] for c in pitch.forecast[0]["comparables"])
    # With them, an actual resting on fewer than min_audience profiles is suppressed, as on
    # the Greenlight page.
    small = {c["title_id"] for c in pitch.forecast[0]["comparables"][::2]}
    profiles = {f"P{i:04d}": (3 if f"P{i:04d}" in small else 50) for i in range(60)}
    io.append(spark, "marts.fct_title_release_windows", spark.createDataFrame(
        [(p, 28, n, n, 10.0, 5.0, n, n, n, n, 1.0, 0.5) for p, n in profiles.items()],
        "programme_id string, window_days int, unique_profiles long, increment_profiles long, hours_viewed double, "
        "views double, plays long, starters long, watchers long, completers long, completion_rate double, "
        "avg_share_watched double"))
    try:
        shown = forecast_job.forecast_pitch(settings, ROOT / "docs" / "examples" / "pitch.yaml").forecast[0]
    finally:
        spark.sql("DROP TABLE marts.fct_title_release_windows")
    assert settings.min_audience == 10
    for comparable in shown["comparables"]:
        hidden = profiles[comparable["title_id"]] < 10
        assert comparable["suppressed"] == hidden and (comparable["actual"] is None) == hidden, comparable
    assert {c["suppressed"] for c in shown["comparables"]} == {True, False}
    assert pitch.forecast[0]["p10"] <= pitch.forecast[0]["point"] <= pitch.forecast[0]["p90"]
    # The command reads the mart with delta-rs: beside a run holding the lock it answers the
    # same, and starts no JVM.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLATEHOUSE_")}
    env.update(SLATEHOUSE_HOME=str(settings.home), SLATEHOUSE_MODE="demo",
               SLATEHOUSE_WAREHOUSE_DIR=settings.warehouse_dir)
    with pipeline_lock(settings, "a-running-run"):
        done = subprocess.run([sys.executable, "-m", "slatehouse.cli", "forecast", "--json", "--pitch",
                               str(ROOT / "docs" / "examples" / "pitch.yaml")],
                              env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "spark" not in done.stderr.lower(), done.stderr
    assert json.loads(done.stdout)["forecast"][0]["point"] == pytest.approx(pitch.forecast[0]["point"])

    slate = tmp_path / "two.csv"
    slate.write_text(
        "title_id,format,genres,talent,runtime_minutes,episodes\n"
        "a,film,drama,d-001:director;a-002:actor,100,1\n"
        "b,series,comedy,,45,6\n"
    )
    scored = forecast_job.score_slate(spark, settings, slate)
    assert scored.pitches == 2
    table = spark.table(forecast_job.SLATE_TABLE).toPandas()
    assert sorted(table["pitch_id"]) == ["a", "b"]
    # The stored and printed comparables follow the same rule: no release windows here, so
    # no profile count is known behind any actual, and every one is suppressed.
    stored = [c for row in table["comparables"] for c in json.loads(row)]
    assert stored and all(c["actual"] is None and c["suppressed"] for c in stored), stored[:2]
    assert "actual suppressed" in scored.text and not re.search(r"actual \d", scored.text), scored.text
    assert (table["slate_path"] == str(slate)).all()
