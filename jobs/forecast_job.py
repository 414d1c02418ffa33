"""Forecast job: the demand model's backtest and the slate's forecasts, from the marts.

Inputs:  marts.fct_title_training (rows with a complete 28-day window only);
         a slate of pitches, CSV, at `<settings.home>/slate.csv` when present (the
         `slatehouse forecast --slate` path scores any file); a YAML pitch for
         `slatehouse forecast --pitch`.
Outputs: marts.fct_forecast_backtest - the latest backtest, replaced on every refresh;
         marts.fct_slate_forecasts - the latest scored slate, replaced on every scoring.

The model itself (`slatehouse.forecast`) is plain pandas; this module only reads the mart
(with delta-rs, as the dashboards do: `--pitch` starts no JVM), turns it into the frame
`forecast.fit` takes, and writes the results through `slatehouse.io`.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import (
    ArrayType,
    DateType,
    DoubleType,
    IntegerType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from slatehouse import forecast, io
from slatehouse.forecast.inputs import EmptySlateError, normalise_titles
from slatehouse.settings import Settings

log = logging.getLogger(__name__)

TRAINING_TABLE = "marts.fct_title_training"
BACKTEST_TABLE = "marts.fct_forecast_backtest"
SLATE_TABLE = "marts.fct_slate_forecasts"
SLATE_FILE = "slate.csv"  # under settings.home; `score_slate` takes any path
# The member-weighted share of markets where the programme is available on its release day.
AVAILABILITY = forecast.AVAILABILITY

# The forecast's targets, as the training mart names them. views_28d is the headline
# (the slate is scored on it); completion rate is backtested alongside.
TARGET = "views_28d"
BACKTEST_TARGETS = ("views_28d", "completion_rate_28d")

MIN_BACKTEST_TITLES = 50  # fewer complete titles: the backtest is skipped, with the reason
N_CUTOFFS = 3
FIRST_CUTOFF_AT = 0.6  # cutoffs cover the latest 40% of release dates, each title scored once

BACKTEST_SCHEMA = StructType([
    StructField("target", StringType(), False),
    StructField("scope", StringType(), False),  # cutoff | overall
    StructField("cutoff", DateType(), True),  # null on overall rows
    StructField("horizon_days", IntegerType(), False),
    StructField("model", StringType(), False),  # demand_model | genre_median | global_median
    StructField("n_train", IntegerType(), False),
    StructField("n_test", IntegerType(), False),
    StructField("rmsle", DoubleType(), True),
    StructField("mdape", DoubleType(), True),
    StructField("coverage_80", DoubleType(), True),
    StructField("median_interval_ratio", DoubleType(), True),
    StructField("run_at", TimestampType(), False),
])
BACKTEST_KEYS = ("target", "scope", "cutoff", "model")

_CREDIT = StructType([
    StructField("talent_id", StringType(), False),
    StructField("role", StringType(), False),
    StructField("billing_order", IntegerType(), True),  # 1 = top billed; null when not given
])
SLATE_SCHEMA = StructType([
    StructField("pitch_id", StringType(), False),
    StructField("format", StringType(), False),
    StructField("genres", ArrayType(StringType(), False), False),
    StructField("talent", ArrayType(_CREDIT, False), False),
    StructField("runtime_minutes", DoubleType(), True),  # per episode for series
    StructField("episodes", DoubleType(), True),
    StructField("original_language", StringType(), True),
    StructField("origin_country", StringType(), True),
    StructField("budget", DoubleType(), True),
    StructField(AVAILABILITY, DoubleType(), True),  # as the pitch gave it; null = not given
    StructField("show_id", StringType(), True),  # a returning show's next season; null = a new production
    StructField("release_date", DateType(), True),
    StructField("target", StringType(), False),
    StructField("point", DoubleType(), False),
    StructField("p10", DoubleType(), False),
    StructField("p90", DoubleType(), False),
    StructField("n_known_talent", IntegerType(), False),
    StructField("n_talent", IntegerType(), False),
    StructField("comparables", StringType(), False),  # JSON list of {title_id, release_date, similarity, actual}
    StructField("explanation", StringType(), False),  # JSON list of {component, feature, contribution, is_unseen}
    StructField("n_training_titles", IntegerType(), False),
    StructField("slate_path", StringType(), False),
    StructField("scored_at", TimestampType(), False),
])


class ForecastDataError(RuntimeError):
    """The training mart is missing or holds too little to fit; the message says what to run."""


# --- The training frame ------------------------------------------------------------------------
def training_history(settings: Settings) -> pd.DataFrame:
    """marts.fct_title_training's complete 28-day windows, released on or after the
    warehouse's first event date, as the frame `forecast.fit` takes
    (`forecast.history_from_training_mart` says what each column holds). Read with
    delta-rs, the same frame the Greenlight page fits on (`dashboards.forecasting`), so
    `forecast --pitch` needs no JVM and the pipeline's step reads what dbt committed."""
    from slatehouse.dashboards.data import MartReader
    from slatehouse.dashboards.forecasting import mart_history

    reader = MartReader(settings)
    if not reader.exists(TRAINING_TABLE):
        raise ForecastDataError(
            f"{TRAINING_TABLE} does not exist. Build the marts first (`slatehouse run`, or "
            "`slatehouse.marts.build_marts`); the forecast trains on that table."
        )
    history = mart_history(reader)
    first = history["release_date"].min() if len(history) else None
    log.info("read %s: %d titles with a complete 28-day window (released from %s)",
             TRAINING_TABLE, len(history), None if first is None else first.date())
    return history


# --- Backtest -----------------------------------------------------------------------------------
def backtest_cutoffs(release_dates: pd.Series, n_cutoffs: int = N_CUTOFFS) -> tuple[list[pd.Timestamp], int]:
    """Evenly spaced cutoffs over the latest (1 - FIRST_CUTOFF_AT) of the release dates, and
    the horizon that scores each later title exactly once (the gap between cutoffs; the last
    cutoff's window runs to the end of the history). In a young history the first cutoff
    is no earlier than the day the model's minimum of training outcomes was known (each
    title's 28 days after its release: the backtest trains only on those)."""
    dates = pd.Series(pd.to_datetime(release_dates)).sort_values().reset_index(drop=True)
    known = (dates + pd.Timedelta(days=forecast.OUTCOME_DAYS)).iloc[min(forecast.model.MIN_TITLES, len(dates)) - 1]
    first = max(dates.iloc[int(len(dates) * FIRST_CUTOFF_AT)], known)
    last = dates.iloc[-1]
    span_days = max((last - first).days, n_cutoffs)
    step = int(math.ceil((span_days + 1) / n_cutoffs))
    cutoffs = sorted({first + pd.Timedelta(days=k * step) for k in range(n_cutoffs)})
    return cutoffs, step


def run_backtest(history: pd.DataFrame, target: str) -> tuple[pd.DataFrame, list, int]:
    """Backtest one target over the history's cutoffs: (tidy scores, the cutoffs scored,
    horizon). A cutoff with too few outcomes known before it is skipped by the backtest."""
    titles = history[history[target].notna()]
    cutoffs, horizon = backtest_cutoffs(titles["release_date"])
    scores = forecast.backtest(titles, target, cutoffs, horizon_days=horizon)
    scores.insert(3, "horizon_days", horizon)
    scored = sorted(pd.to_datetime(scores.loc[scores["scope"] == "cutoff", "cutoff"]).unique())
    return scores, [pd.Timestamp(c) for c in scored], horizon


@dataclass
class ForecastRefreshResult:
    titles_complete: int
    backtest_ran: bool
    backtest_skipped_reason: str | None = None
    cutoffs: list[str] = field(default_factory=list)
    horizon_days: int | None = None
    backtest_rows: int = 0
    backtest_version: int | None = None
    # Overall (pooled) scores per target and model: {target: {model: {rmsle, mdape, coverage_80, n_test}}}
    metrics: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    # 1 - RMSLE(model) / RMSLE(genre_median) for views_28d: the headline figure.
    rmsle_improvement_vs_genre_median: float | None = None
    skipped_targets: dict[str, str] = field(default_factory=dict)  # target -> why it was not backtested
    slate_path: str | None = None
    slate_scored: int = 0
    slate_version: int | None = None
    slate_skipped_reason: str | None = None
    elapsed_s: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class SlateScoreResult:
    slate_path: str
    pitches: int
    n_training_titles: int
    version: int | None
    text: str

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class PitchForecast:
    pitch_path: str
    n_training_titles: int
    forecast: list[dict]  # one record per pitch: point, p10, p90, comparables, explanation
    text: str

    def __str__(self) -> str:
        return self.text

    def as_dict(self) -> dict:
        return asdict(self)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def refresh_forecasts(spark: SparkSession, settings: Settings) -> ForecastRefreshResult:
    """Backtest the model on the mart, replace marts.fct_forecast_backtest, then fit on the
    whole history and score `<home>/slate.csv` into marts.fct_slate_forecasts if it exists.

    With fewer than MIN_BACKTEST_TITLES complete titles the backtest is skipped (and the
    table left as it was), with the reason in the result; the slate is still scored if
    the model can be fitted at all.
    """
    began = time.perf_counter()
    history = training_history(settings)
    result = ForecastRefreshResult(titles_complete=len(history), backtest_ran=False)
    run_at = _now()
    frames: list[pd.DataFrame] = []

    if len(history) < MIN_BACKTEST_TITLES:
        result.backtest_skipped_reason = (
            f"{len(history)} titles have a complete 28-day window; the backtest needs at least "
            f"{MIN_BACKTEST_TITLES}"
        )
        log.warning("forecast backtest skipped: %s", result.backtest_skipped_reason)
    else:
        for target in BACKTEST_TARGETS:
            n_known = int(history[target].notna().sum())
            if n_known < MIN_BACKTEST_TITLES:
                # completion_rate_28d is empty where nobody started the title.
                result.skipped_targets[target] = f"{n_known} titles have a {target}"
                log.warning("forecast backtest of %s skipped: %s", target, result.skipped_targets[target])
                continue
            try:
                scores, cutoffs, horizon = run_backtest(history, target)
            except (ValueError, forecast.ForecastInputError) as error:  # e.g. every title on one date
                result.skipped_targets[target] = str(error)
                log.warning("forecast backtest of %s skipped: %s", target, error)
                continue
            frames.append(scores)
            overall = scores[scores["scope"] == "overall"].set_index("model")
            result.metrics[target] = {
                model: {k: _round(row[k]) for k in ("rmsle", "mdape", "coverage_80", "median_interval_ratio")}
                | {"n_test": int(row["n_test"])}
                for model, row in overall.iterrows()
            }
            if target == TARGET:
                result.cutoffs = [c.date().isoformat() for c in cutoffs]
                result.horizon_days = horizon
                model_rmsle = overall.loc["demand_model", "rmsle"]
                result.rmsle_improvement_vs_genre_median = _round(
                    1 - model_rmsle / overall.loc["genre_median", "rmsle"]
                )
        if TARGET not in result.metrics:
            result.backtest_skipped_reason = f"{TARGET}: {result.skipped_targets.get(TARGET)}"
            frames = []
    if frames:
        scores = pd.concat(frames, ignore_index=True)
        written = _replace_table(spark, BACKTEST_TABLE, _backtest_df(spark, scores, run_at), BACKTEST_KEYS)
        result.backtest_ran = True
        result.backtest_rows = len(scores)
        result.backtest_version = written.version
        log.info(
            "forecast backtest: %d rows, views_28d RMSLE %.3f vs genre median %.3f (%s)",
            len(scores), result.metrics[TARGET]["demand_model"]["rmsle"],
            result.metrics[TARGET]["genre_median"]["rmsle"], ", ".join(result.cutoffs),
        )

    slate_path = settings.home / SLATE_FILE
    if not slate_path.exists():
        result.slate_skipped_reason = f"no slate at {slate_path}"
    elif len(history) < forecast.model.MIN_TITLES:
        result.slate_skipped_reason = (
            f"{len(history)} titles have a complete 28-day window; fitting needs at least "
            f"{forecast.model.MIN_TITLES}"
        )
    else:
        try:
            pitches = forecast.load_slate(slate_path)
        except EmptySlateError as exc:  # a slate emptied on purpose: the last scoring stays
            result.slate_skipped_reason = str(exc)
    if not result.slate_skipped_reason:
        model = forecast.fit(history, TARGET)
        scored = _score_slate(spark, settings, model, slate_path, pitches)
        result.slate_path, result.slate_scored, result.slate_version = (
            scored.slate_path, scored.pitches, scored.version,
        )
    if result.slate_skipped_reason:
        log.info("slate not scored: %s", result.slate_skipped_reason)
    result.elapsed_s = round(time.perf_counter() - began, 3)
    return result


def _round(value) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 4)


def _backtest_df(spark: SparkSession, scores: pd.DataFrame, run_at: datetime) -> DataFrame:
    rows = []
    for r in scores.to_dict("records"):
        cutoff = r["cutoff"]
        rows.append((
            r["target"], r["scope"], None if cutoff is None or pd.isna(cutoff) else pd.Timestamp(cutoff).date(),
            int(r["horizon_days"]), r["model"], int(r["n_train"]), int(r["n_test"]),
            _nullable(r["rmsle"]), _nullable(r["mdape"]), _nullable(r["coverage_80"]),
            _nullable(r["median_interval_ratio"]), run_at,
        ))
    return spark.createDataFrame(rows, BACKTEST_SCHEMA)


def _nullable(value) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _replace_table(spark: SparkSession, name: str, df: DataFrame, keys) -> io.WriteResult:
    """Make the whole table equal to `df` (a merge scoped to every row: unchanged rows stay).
    A table written by an older version with other columns is replaced, schema and all, in
    one commit (its earlier versions stay in the Delta history)."""
    if io.table_exists(spark, name) and not io.same_columns(io.read_table(spark, name).schema, df.schema):
        log.warning("%s has other columns than this version writes; replacing it", name)
        return io.replace_table(spark, name, df)
    return io.merge_replace(spark, name, df, keys=list(keys), scope="true", preserve=())


# --- Pitches and slates ----------------------------------------------------------------------
def _fit_on_mart(settings: Settings) -> tuple[forecast.DemandModel, int]:
    history = training_history(settings)
    if len(history) < forecast.model.MIN_TITLES:
        raise ForecastDataError(
            f"{TRAINING_TABLE} has {len(history)} titles with a complete 28-day window; the "
            f"forecast needs at least {forecast.model.MIN_TITLES}. Load more history first."
        )
    return forecast.fit(history, TARGET), len(history)


def forecast_pitch(settings: Settings, pitch_path: str | Path) -> PitchForecast:
    """`slatehouse forecast --pitch pitch.yaml`: fit on the mart, forecast one pitch.

    Returns the text to print (forecast, 80% interval, comparables, explanation) and the
    same as JSON-ready records for `--json`. Writes nothing, and needs no Spark.
    """
    pitch = forecast.load_pitch(pitch_path)
    model, n_titles = _fit_on_mart(settings)
    predicted = model.predict(pitch)
    predicted["comparables"] = _shown(settings, predicted["comparables"])
    return PitchForecast(
        pitch_path=str(pitch_path),
        n_training_titles=n_titles,
        forecast=_records(predicted),
        text=forecast.format_forecast(predicted),
    )


def _shown(settings: Settings, per_pitch: Iterable[list[dict]]) -> list[list[dict]]:
    """Each pitch's comparables as a person is shown them: an actual resting on fewer than
    `min_audience` profiles is None, with `suppressed` set (the dashboards' rule)."""
    from slatehouse.dashboards.data import MartReader, MissingTableError
    from slatehouse.dashboards.forecasting import WINDOWS, suppressed_comparables
    from slatehouse.dashboards.privacy import is_suppressed

    try:
        windows = MartReader(settings).read(WINDOWS)
    except MissingTableError:
        windows = None
    shown = []
    for comparables in per_pitch:
        frame = suppressed_comparables(comparables, windows, settings.min_audience)
        hidden = is_suppressed(frame, "actual").tolist() if not frame.empty else []
        shown.append([{**item, "actual": None if small else item["actual"], "suppressed": small}
                      for item, small in zip(comparables, hidden)])
    return shown


def score_slate(spark: SparkSession, settings: Settings, slate_path: str | Path,
                pitches: pd.DataFrame | None = None) -> SlateScoreResult:
    """`slatehouse forecast --slate slate.csv`: fit on the mart, forecast every pitch and
    replace marts.fct_slate_forecasts with them. `pitches`: the file as `load_slate` read
    it, when the caller has (the CLI reads it before Spark starts)."""
    slate_path = Path(slate_path)
    raw = forecast.load_slate(slate_path) if pitches is None else pitches  # malformed: fails before the fit
    model, _ = _fit_on_mart(settings)
    return _score_slate(spark, settings, model, slate_path, raw)


def _score_slate(spark: SparkSession, settings: Settings, model: forecast.DemandModel, slate_path: Path,
                 raw: pd.DataFrame) -> SlateScoreResult:
    pitches = normalise_titles(raw, who=str(slate_path), is_history=False)
    predicted = model.predict(raw)
    # The mart is read with SQL and the text is printed: both show what the pitch page shows.
    predicted["comparables"] = _shown(settings, predicted["comparables"])
    scored_at = _now()
    rows = []
    for pitch, pred in zip(pitches.to_dict("records"), predicted.to_dict("records")):
        rows.append((
            pitch["title_id"], pitch["format"], list(pitch["genres"]),
            [(talent_id, role, None if np.isnan(billing) else int(billing))
             for (talent_id, role), billing in zip(pitch["talent"], pitch["billing"])],
            _nullable(pitch["runtime_minutes"]), _nullable(pitch["episodes"]),
            pitch["original_language"], pitch["origin_country"], _nullable(pitch["budget"]),
            _nullable(pitch[AVAILABILITY]), pitch["show_id"],
            None if pd.isna(pitch["release_date"]) else pitch["release_date"].date(),
            pred["target"], float(pred["point"]), float(pred["p10"]), float(pred["p90"]),
            int(pred["n_known_talent"]), int(pred["n_talent"]),
            json.dumps(pred["comparables"]), json.dumps(pred["explanation"]),
            len(model.history), str(slate_path), scored_at,
        ))
    df = spark.createDataFrame(rows, SLATE_SCHEMA)
    written = _replace_table(spark, SLATE_TABLE, df, ("pitch_id",))
    log.info("scored %d pitches from %s into %s v%s", len(rows), slate_path, SLATE_TABLE, written.version)
    return SlateScoreResult(
        slate_path=str(slate_path),
        pitches=len(rows),
        n_training_titles=len(model.history),
        version=written.version,
        text=forecast.format_forecast(predicted),
    )


def _records(predicted: pd.DataFrame) -> list[dict]:
    return json.loads(predicted.to_json(orient="records"))
