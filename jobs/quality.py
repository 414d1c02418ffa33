"""Quality gates: the reviewed Great Expectations suites in `expectations/`, run on Spark.

Inputs:  expectations/<layer>__<table>.<critical|warning>.json (reviewed suites);
         the run's rows of bronze.events and bronze.events_quarantine (by received date),
         silver.playback_sessions and silver.catalog_titles, marts.fct_title_daily,
         marts.fct_genre_weekly, marts.fct_title_release_windows, marts.fct_season_funnel
         (by event date).
Outputs: ops.validation_results (one row per expectation per suite run),
         GX validation results under <home>/gx/validations (generated, never in git),
         GX data docs under <reports_dir>/data_docs/index.html.

Each `Check` builds the frame one suite pair validates: the run's rows of a table, plus a
few derived columns (documented in docs/quality.md) or, for cross-table rules, a small
per-date totals frame. The suites are loaded into an ephemeral GX context on every run, so
the JSON files in git are the only definition. A failed critical suite raises `GateFailed`
(after restoring the tables it was given); a failed warning suite is logged and recorded.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterable, Sequence

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from slatehouse import io
from slatehouse.contract import schema as S
from slatehouse.settings import Settings

log = logging.getLogger(__name__)

SUITES_DIR = Path(__file__).resolve().parent.parent / "expectations"
SEVERITIES = ("critical", "warning")
LAYERS = ("bronze", "silver", "marts")
SUITE_NAME = re.compile(r"^(?P<subject>(?P<layer>[a-z]+)__(?P<table>[a-z0-9_]+))\.(?P<severity>critical|warning)$")
SAMPLE_SIZE = 5

VALIDATION_RESULTS = S.OPS_VALIDATION_RESULTS  # every gate's results (schema in the contract)

# Names of tables that are not in the contract (the marts are owned by dbt).
FCT_TITLE_DAILY = "marts.fct_title_daily"
FCT_GENRE_WEEKLY = "marts.fct_genre_weekly"
FCT_TITLE_RELEASE_WINDOWS = "marts.fct_title_release_windows"
FCT_SEASON_FUNNEL = "marts.fct_season_funnel"

# Mirrors slatehouse.transforms.events.FUTURE_TOLERANCE_S: ingest quarantines events whose
# clock is more than this far ahead of the server's; the gate checks that none got through.
FUTURE_TOLERANCE_S = 300
TRAILING_DAYS = 7  # the volume band compares a day with the mean of the 7 days before it
MIN_TRAILING_DAYS = 3  # fewer days of history than this: no band (the ratio is null)


class GateFailed(RuntimeError):
    """A critical suite failed: the message names each table, expectation and sample."""

    def __init__(self, message: str, result: "GateResult"):
        super().__init__(message)
        self.result = result


class SuiteError(RuntimeError):
    """A suite file is malformed or names an expectation GX does not know."""


# --- Results ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExpectationOutcome:
    expectation_type: str
    column: str | None
    kwargs: dict
    success: bool
    element_count: int | None
    unexpected_count: int | None
    unexpected_sample: list[str]
    exception_message: str | None = None

    def describe(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.kwargs.items())
        head = f"{self.expectation_type}({args})"
        if self.exception_message:
            return f"{head}: could not be evaluated: {self.exception_message}"
        counts = (
            f"{self.unexpected_count} of {self.element_count} rows unexpected"
            if self.unexpected_count is not None else "failed"
        )
        sample = f", e.g. {'; '.join(self.unexpected_sample)}" if self.unexpected_sample else ""
        return f"{head}: {counts}{sample}"


@dataclass
class SuiteOutcome:
    suite: str
    severity: str
    table: str
    rows: int
    expectations: list[ExpectationOutcome] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return all(e.success for e in self.expectations)

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [e for e in self.expectations if not e.success]


class NothingToValidate(RuntimeError):
    """`validate` found no table or no rows for the dates: a pass would say nothing."""


@dataclass
class GateResult:
    run_id: str
    layer: str
    dates: list[str]
    suites: list[SuiteOutcome] = field(default_factory=list)
    results_version: int | None = None
    data_docs: str | None = None
    restored: dict[str, int | None] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return not self.failed_critical

    @property
    def failed_critical(self) -> list[SuiteOutcome]:
        return [s for s in self.suites if s.severity == "critical" and not s.success]

    @property
    def failed_warning(self) -> list[SuiteOutcome]:
        return [s for s in self.suites if s.severity == "warning" and not s.success]

    def to_dict(self) -> dict:
        out = asdict(self)
        out["success"] = self.success
        return out


# --- Suites -------------------------------------------------------------------------------
def suite_path(name: str) -> Path:
    return SUITES_DIR / f"{name}.json"


def load_suite(name: str) -> dict:
    """A suite's JSON, checked: its name matches the file and the naming rule."""
    path = suite_path(name)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise SuiteError(f"no suite file {path}") from None
    except json.JSONDecodeError as exc:
        raise SuiteError(f"{path}: not valid JSON at line {exc.lineno}: {exc.msg}") from None
    if data.get("name") != name:
        raise SuiteError(f"{path}: 'name' is {data.get('name')!r}; it must equal the file name {name!r}")
    if not SUITE_NAME.match(name):
        raise SuiteError(f"{path}: suite names are <layer>__<table>.<critical|warning>, not {name!r}")
    if not data.get("expectations"):
        raise SuiteError(f"{path}: the suite has no expectations")
    return data


def suite_names() -> list[str]:
    return sorted(p.name[: -len(".json")] for p in SUITES_DIR.glob("*.json"))


def build_suite(data: dict):
    """A GX ExpectationSuite from its JSON. GX drops an unknown expectation with only a log
    line; here that is an error, so a typo in a reviewed suite cannot silently weaken it."""
    import great_expectations as gx

    suite = gx.ExpectationSuite(
        name=data["name"],
        expectations=[dict(e) for e in data["expectations"]],
        meta=dict(data.get("meta") or {}),
        notes=data.get("notes"),
    )
    if len(suite.expectations) != len(data["expectations"]):
        known = {e.expectation_type for e in suite.expectations}
        missing = [e["type"] for e in data["expectations"] if e["type"] not in known]
        raise SuiteError(
            f"{suite_path(data['name'])}: GX could not build {missing or 'some expectations'}; "
            "check the expectation type and kwargs against the GX 1.x gallery."
        )
    return suite


# --- Check frames (pure transforms) -------------------------------------------------------
def with_event_lag(events: DataFrame) -> DataFrame:
    """`lag_s` = received_ts - event_ts in seconds (negative: the device clock is ahead)."""
    return events.withColumn("lag_s", F.col("received_ts").cast("double") - F.col("event_ts").cast("double"))


# A day with fewer lines than this (say, the stragglers that arrive after a backfill's
# last day) has no meaningful rate of its own; it still counts in the run's pooled row,
# which is judged only when it reaches this many lines too: a run of one quiet day (40
# late stragglers, all too late) is not stopped by a rate over 40 lines.
MIN_LINES_FOR_DAILY_RATES = 1000


def summarise_intake(quarantine: DataFrame, received_dates: Sequence[date]) -> Callable[[DataFrame], DataFrame]:
    """Accepted events -> one row per received date, plus one row (received_date null) for
    the whole run: lines read, accepted, quarantined, duplicates and their rates (of lines
    read). Duplicates sit in the quarantine table with reason_code `duplicate` but are
    counted apart, as ingest does. Lines of erased members (`erased_member`) count as
    quarantined but not in the quarantine rate: they say nothing about the data's quality.
    A day under MIN_LINES_FOR_DAILY_RATES lines has null rates, so only the pooled row
    judges it; a run under that many lines in all has no rate judged (its counts stay)."""

    def transform(events: DataFrame) -> DataFrame:
        spark = events.sparkSession
        days = spark.createDataFrame([(d,) for d in received_dates], "received_date date")
        accepted = events.groupBy("received_date").agg(F.count(F.lit(1)).alias("accepted"))
        held = quarantine.groupBy("received_date").agg(
            F.count_if(F.col("reason_code") != "duplicate").alias("quarantined"),
            F.count_if(F.col("reason_code") == "duplicate").alias("duplicates"),
            F.count_if(F.col("reason_code") == "erased_member").alias("_erased"),
        )
        counts = ("accepted", "quarantined", "duplicates", "_erased")
        per_day = (
            days.join(accepted, "received_date", "left").join(held, "received_date", "left")
            .fillna(0, list(counts))
            .select("received_date", *counts)
        )
        pooled = per_day.agg(
            F.lit(None).cast("date").alias("received_date"),
            *[F.sum(c).alias(c) for c in counts],
        )
        lines = F.col("accepted") + F.col("quarantined") + F.col("duplicates")
        judged = F.col("lines_read") >= MIN_LINES_FOR_DAILY_RATES

        def rate(count):
            return F.when(judged, F.try_divide(count, F.col("lines_read").cast("double")))

        return (
            per_day.unionByName(pooled)
            .withColumn("lines_read", lines)
            .withColumn("quarantine_rate", rate(F.col("quarantined") - F.col("_erased")))
            .withColumn("duplicate_rate", rate(F.col("duplicates")))
            .select("received_date", "lines_read", "accepted", "quarantined", "duplicates",
                    "quarantine_rate", "duplicate_rate")
        )

    return transform


def with_session_checks(catalog_titles: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """Derived columns the silver suite checks:
    `play_time_over_wall_clock_s` = play_time_s - (session_end_ts - session_start_ts);
    `content_watched_to_runtime` and `max_position_to_runtime` (null when runtime_s <= 0);
    `uncatalogued_title_id` = title_id when no catalogue row has it, else null."""

    def transform(sessions: DataFrame) -> DataFrame:
        known = catalog_titles.select(F.col("title_id").alias("_catalogued")).distinct()
        wall_clock_s = F.col("session_end_ts").cast("double") - F.col("session_start_ts").cast("double")
        runtime = F.when(F.col("runtime_s") > 0, F.col("runtime_s").cast("double"))
        return (
            sessions.join(F.broadcast(known), sessions["title_id"] == known["_catalogued"], "left")
            .withColumn("play_time_over_wall_clock_s", F.col("play_time_s") - wall_clock_s)
            .withColumn("content_watched_to_runtime", F.col("content_watched_s") / runtime)
            .withColumn("max_position_to_runtime", F.col("max_position_s") / runtime)
            .withColumn("uncatalogued_title_id", F.when(F.col("_catalogued").isNull(), F.col("title_id")))
            .drop("_catalogued", "watched_segments")
        )

    return transform


def summarise_title_daily(
    sessions: DataFrame, event_dates: Sequence[date]
) -> Callable[[DataFrame], DataFrame]:
    """fct_title_daily (the run's dates and the 7 days before) -> one row per run date:
    rows and hours in the mart, hours in silver, their relative difference, and the
    rows/hours as a ratio of the trailing 7-day mean (null with under 3 days of history)."""

    def transform(mart: DataFrame) -> DataFrame:
        spark = mart.sparkSession
        days = spark.createDataFrame([(d,) for d in event_dates], "event_date date")
        daily = mart.groupBy("event_date").agg(
            F.count(F.lit(1)).alias("mart_rows"), F.sum("hours_viewed").alias("mart_hours"),
        )
        silver = sessions.groupBy("event_date").agg((F.sum("play_time_s") / 3600.0).alias("silver_hours"))
        history = daily.alias("h")
        trailing = (
            days.alias("d").join(
                history,
                (F.col("h.event_date") < F.col("d.event_date"))
                & (F.col("h.event_date") >= F.date_sub(F.col("d.event_date"), TRAILING_DAYS)),
                "left",
            )
            .groupBy(F.col("d.event_date").alias("event_date"))
            .agg(
                F.count("h.event_date").alias("trailing_days"),
                F.avg("h.mart_rows").alias("trailing_mean_rows"),
                F.avg("h.mart_hours").alias("trailing_mean_hours"),
            )
        )
        enough = F.col("trailing_days") >= MIN_TRAILING_DAYS
        diff = F.abs(F.col("mart_hours") - F.col("silver_hours"))
        return (
            days.join(daily, "event_date", "left").join(silver, "event_date", "left")
            .join(trailing, "event_date", "left")
            .fillna(0, ["mart_rows"]).fillna(0.0, ["mart_hours", "silver_hours"])
            .withColumn(
                "hours_relative_diff",
                F.when(diff == 0, F.lit(0.0)).otherwise(diff / F.greatest(F.abs("silver_hours"), F.abs("mart_hours"))),
            )
            .withColumn("rows_to_trailing_mean",
                        F.when(enough, F.try_divide(F.col("mart_rows"), F.col("trailing_mean_rows"))))
            .withColumn("hours_to_trailing_mean",
                        F.when(enough, F.try_divide(F.col("mart_hours"), F.col("trailing_mean_hours"))))
            .select("event_date", "mart_rows", "mart_hours", "silver_hours", "hours_relative_diff",
                    "trailing_days", "trailing_mean_rows", "trailing_mean_hours",
                    "rows_to_trailing_mean", "hours_to_trailing_mean")
        )

    return transform


# --- Checks: which frame each suite validates ---------------------------------------------
def _in_dates(column: str, dates: Sequence[date]):
    return F.col(column).isin(list(dates))


def _weeks(dates: Sequence[date]) -> list[date]:
    return sorted({d - timedelta(days=d.weekday()) for d in dates})


def _bronze_events(spark: SparkSession, settings: Settings, dates: Sequence[date]) -> DataFrame:
    return io.read_table(spark, S.BRONZE_EVENTS).where(_in_dates("received_date", dates)).transform(with_event_lag)


def _bronze_totals(spark: SparkSession, settings: Settings, dates: Sequence[date]) -> DataFrame:
    events = io.read_table(spark, S.BRONZE_EVENTS).where(_in_dates("received_date", dates))
    quarantine = io.read_table(spark, S.BRONZE_QUARANTINE).where(_in_dates("received_date", dates))
    return events.transform(summarise_intake(quarantine, dates))


def _silver_sessions(spark: SparkSession, settings: Settings, dates: Sequence[date]) -> DataFrame:
    sessions = io.read_table(spark, S.SILVER_SESSIONS).where(_in_dates("event_date", dates))
    return sessions.transform(with_session_checks(io.read_table(spark, S.SILVER_TITLES)))


def _title_daily(spark: SparkSession, settings: Settings, dates: Sequence[date]) -> DataFrame:
    return io.read_table(spark, FCT_TITLE_DAILY).where(_in_dates("event_date", dates))


def _title_daily_totals(spark: SparkSession, settings: Settings, dates: Sequence[date]) -> DataFrame:
    lo = min(dates) - timedelta(days=TRAILING_DAYS)
    mart = io.read_table(spark, FCT_TITLE_DAILY).where(F.col("event_date").between(lo, max(dates)))
    sessions = io.read_table(spark, S.SILVER_SESSIONS).where(_in_dates("event_date", dates))
    return mart.transform(summarise_title_daily(sessions, dates))


def _genre_weekly(spark: SparkSession, settings: Settings, dates: Sequence[date]) -> DataFrame:
    return io.read_table(spark, FCT_GENRE_WEEKLY).where(_in_dates("week_start_date", _weeks(dates)))


def _release_windows(spark: SparkSession, settings: Settings, dates: Sequence[date]) -> DataFrame:
    # The windows open on one of the run's dates: the ones this run's viewing can change.
    covers = F.lit(False)
    for d in dates:
        covers = covers | F.lit(d).between(F.col("release_date"), F.col("window_end_date"))
    return io.read_table(spark, FCT_TITLE_RELEASE_WINDOWS).where(covers)


def _season_funnel(spark: SparkSession, settings: Settings, dates: Sequence[date]) -> DataFrame:
    # Rebuilt whole on every run (one row per season and episode), so checked whole.
    return io.read_table(spark, FCT_SEASON_FUNNEL)


def _event_lag_bounds(settings: Settings) -> dict:
    return {"min_lag_s": -FUTURE_TOLERANCE_S, "max_lag_s": settings.lateness_days * 86400}


@dataclass(frozen=True)
class Check:
    subject: str  # <layer>__<table>: the suites are <subject>.critical / <subject>.warning
    tables: tuple[str, ...]  # read by `frame`; the first is the one messages name
    frame: Callable[[SparkSession, Settings, Sequence[date]], DataFrame]
    id_columns: tuple[str, ...]  # identify an unexpected row in samples
    parameters: Callable[[Settings], dict] = lambda settings: {}

    @property
    def layer(self) -> str:
        return self.subject.split("__", 1)[0]

    @property
    def table(self) -> str:
        return self.tables[0]


CHECKS: tuple[Check, ...] = (
    Check("bronze__events", (S.BRONZE_EVENTS,), _bronze_events, ("_source_file", "_line_number"),
          _event_lag_bounds),
    Check("bronze__events_totals", (S.BRONZE_QUARANTINE, S.BRONZE_EVENTS), _bronze_totals, ("received_date",)),
    Check("silver__playback_sessions", (S.SILVER_SESSIONS, S.SILVER_TITLES), _silver_sessions, ("session_id",)),
    Check("marts__fct_title_daily", (FCT_TITLE_DAILY,), _title_daily,
          ("title_id", "event_date", "country", "device_type")),
    Check("marts__fct_title_daily_totals", (FCT_TITLE_DAILY, S.SILVER_SESSIONS), _title_daily_totals,
          ("event_date",)),
    Check("marts__fct_genre_weekly", (FCT_GENRE_WEEKLY,), _genre_weekly, ("genre", "week_start_date")),
    Check("marts__fct_title_release_windows", (FCT_TITLE_RELEASE_WINDOWS,), _release_windows,
          ("programme_id", "window_days")),
    Check("marts__fct_season_funnel", (FCT_SEASON_FUNNEL,), _season_funnel, ("season_id", "episode_number")),
)


def checks_for(layer: str) -> list[Check]:
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}: choose one of {', '.join(LAYERS)}")
    return [c for c in CHECKS if c.layer == layer]


def suites_for(check: Check) -> list[str]:
    """The suite files of a check, critical first."""
    return [f"{check.subject}.{sev}" for sev in SEVERITIES if suite_path(f"{check.subject}.{sev}").exists()]


# --- GX context ---------------------------------------------------------------------------
def gx_home(settings: Settings) -> Path:
    return settings.home / "gx"


def data_docs_dir(settings: Settings) -> Path:
    return settings.reports_dir / "data_docs"


def _context(settings: Settings):
    """An ephemeral GX context: suites live in memory (loaded from git on each run); only
    validation results (under <home>/gx) and the data docs site are written to disk."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    defaults = InMemoryStoreBackendDefaults()
    stores = dict(defaults.stores)
    stores[defaults.validation_results_store_name] = {
        "class_name": "ValidationResultsStore",
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(gx_home(settings) / "validations"),
        },
    }
    config = DataContextConfig(
        store_backend_defaults=defaults,
        stores=stores,
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        data_docs_sites={
            "local_site": {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(data_docs_dir(settings)),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
    )
    return gx.get_context(project_config=config, mode="ephemeral")


def _is_row_check(expectation) -> bool:
    """Row-by-row expectations: when one without `mostly` passes, no row was unexpected.
    A type check is a map expectation in GX's classes, but on Spark it reads the column's
    type from the schema and observes no row: it is table-level here."""
    from great_expectations.expectations.core import ExpectColumnValuesToBeInTypeList, ExpectColumnValuesToBeOfType
    from great_expectations.expectations.expectation import (
        ColumnMapExpectation,
        ColumnPairMapExpectation,
        MulticolumnMapExpectation,
    )

    if isinstance(expectation, (ExpectColumnValuesToBeOfType, ExpectColumnValuesToBeInTypeList)):
        return False
    return isinstance(expectation, (ColumnMapExpectation, ColumnPairMapExpectation, MulticolumnMapExpectation)) \
        and getattr(expectation, "mostly", 1) in (None, 1, 1.0)


def _outcome(result, expectation, rows: int, id_columns: Sequence[str]) -> ExpectationOutcome:
    config = result.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
    column = kwargs.get("column") or (
        f"{kwargs['column_A']},{kwargs['column_B']}" if "column_A" in kwargs else None
    )
    body = result.result or {}
    info = result.exception_info or {}
    raised = info.get("raised_exception") if isinstance(info, dict) else False
    sample: list[str] = []
    for row in (body.get("partial_unexpected_index_list") or [])[:SAMPLE_SIZE]:
        ids = ", ".join(f"{c}={row.get(c)}" for c in id_columns if c in row)
        values = ", ".join(f"{k}={v}" for k, v in row.items() if k not in id_columns)
        sample.append(f"{ids}: {values}" if ids else values)
    if not sample:
        sample = [json.dumps(v, default=str) for v in (body.get("partial_unexpected_list") or [])[:SAMPLE_SIZE]]
    if not sample and not result.success and "observed_value" in body:
        sample = [f"observed {json.dumps(body['observed_value'], default=str)}"]
    element_count, unexpected = body.get("element_count"), body.get("unexpected_count")
    if result.success and unexpected is None and _is_row_check(expectation):
        element_count, unexpected = rows, 0
    return ExpectationOutcome(
        expectation_type=config.type,
        column=column,
        kwargs=json.loads(json.dumps(kwargs, default=str)),
        success=bool(result.success),
        element_count=int(element_count) if element_count is not None else None,
        unexpected_count=int(unexpected) if unexpected is not None else None,
        unexpected_sample=sample,
        exception_message=(info.get("exception_message") if raised else None),
    )


def _validate_suite(context, batch_definition, frame: DataFrame, rows: int, name: str, parameters: dict,
                    id_columns: Sequence[str], run_id) -> tuple[object, object]:
    """Validate one suite in two passes, because on Spark every detail GX collects costs
    Spark jobs: first pass/fail for the whole suite (BOOLEAN_ONLY: one bundled aggregate),
    then counts, samples and the ids of unexpected rows for the failed expectations only.
    The merged result is what GX stores and renders. Returns (suite, merged result)."""
    import great_expectations as gx
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResult

    suite = context.suites.add(build_suite(load_suite(name)))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=name, data=batch_definition, suite=suite)
    )
    quick = definition.run(
        batch_parameters={"dataframe": frame}, expectation_parameters=parameters,
        result_format="BOOLEAN_ONLY", run_id=run_id,
    )
    by_id = {e.id: e for e in suite.expectations}
    results = list(quick.results)
    # Passed row checks: no row was unexpected, so their counts are known without Spark.
    # Failed expectations and table-level ones (schema checks: no Spark job, and the data
    # docs renderer needs their observed values) are validated again with details.
    redo = []
    for i, r in enumerate(results):
        expectation = by_id[r.expectation_config.id]
        if r.success and _is_row_check(expectation):
            r.result = {"element_count": rows, "unexpected_count": 0, "unexpected_percent": 0.0,
                        "partial_unexpected_list": []}
        else:
            redo.append(i)
    detail_format: dict = {"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_SIZE}
    if id_columns:
        detail_format["unexpected_index_column_names"] = list(id_columns)
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame}) if redo else None
    for i in redo:
        expectation = by_id[results[i].expectation_config.id]
        detailed = batch.validate(expectation, result_format=detail_format, expectation_parameters=parameters)
        detailed.expectation_config = results[i].expectation_config  # keep the stored id
        results[i] = detailed
    merged = ExpectationSuiteValidationResult(
        success=quick.success, results=results, suite_name=quick.suite_name,
        suite_parameters=quick.suite_parameters, statistics=quick.statistics, meta=quick.meta,
    )
    store = context.validation_results_store
    for key in store.list_keys():
        if key.expectation_suite_identifier.name == name and key.run_id.to_tuple() == run_id.to_tuple():
            store.set(key, merged)
    return suite, merged


def _run_check(context, spark: SparkSession, settings: Settings, check: Check, dates: Sequence[date],
               run_name: str) -> list[SuiteOutcome]:
    from great_expectations.core.run_identifier import RunIdentifier

    names = suites_for(check)
    if not names:
        return []
    missing = [t for t in check.tables if not io.table_exists(spark, t)]
    if missing:
        return [
            SuiteOutcome(name, name.rsplit(".", 1)[1], check.table, 0, [ExpectationOutcome(
                "table_exists", None, {"tables": missing}, False, None, None, [],
                f"{', '.join(missing)} does not exist; build it before validating {check.subject}",
            )])
            for name in names
        ]
    frame = check.frame(spark, settings, dates).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        rows = frame.count()
        source = context.data_sources.add_spark(name=f"spark_{check.subject}", persist=False)
        batch_definition = source.add_dataframe_asset(name=check.subject).add_batch_definition_whole_dataframe("run")
        id_columns = [c for c in check.id_columns if c in frame.columns]
        run_id = RunIdentifier(run_name=run_name, run_time=datetime.now(timezone.utc))
        outcomes = []
        for name in names:
            suite, validated = _validate_suite(
                context, batch_definition, frame, rows, name, check.parameters(settings), id_columns, run_id,
            )
            by_id = {e.id: e for e in suite.expectations}
            outcome = SuiteOutcome(name, name.rsplit(".", 1)[1], check.table, rows, [
                _outcome(r, by_id.get(r.expectation_config.id), rows, id_columns) for r in validated.results
            ])
            log.info("%s on %s (%d rows): %d/%d expectations passed", name, check.table, rows,
                     len(outcome.expectations) - len(outcome.failures), len(outcome.expectations))
            outcomes.append(outcome)
        return outcomes
    finally:
        frame.unpersist()


# --- Recording ----------------------------------------------------------------------------
def _result_rows(result: GateResult, evaluated_at: datetime) -> list[tuple]:
    run_dates = [date.fromisoformat(d) for d in result.dates]
    rows = []
    for s in result.suites:
        for e in s.expectations:
            rows.append((
                result.run_id, result.layer, s.suite, s.severity, s.table, e.expectation_type, e.column,
                json.dumps(e.kwargs, sort_keys=True, default=str), e.success, e.element_count,
                e.unexpected_count, e.unexpected_sample, e.exception_message, evaluated_at, run_dates,
            ))
    return rows


def record_results(spark: SparkSession, result: GateResult) -> int | None:
    """Append one row per expectation to ops.validation_results; returns its Delta version."""
    rows = _result_rows(result, datetime.now(timezone.utc).replace(tzinfo=None))
    if not rows:
        return io.current_version(spark, VALIDATION_RESULTS)
    frame = spark.createDataFrame(rows, S.VALIDATION_RESULTS_SCHEMA)
    return io.append(spark, VALIDATION_RESULTS, frame).version


def build_data_docs(context, run_name: str) -> str | None:
    """Render this run's validation pages and the index (older pages stay as they were)."""
    store = context.validation_results_store
    keys = [k for k in store.list_keys() if getattr(k.run_id, "run_name", None) == run_name]
    sites = context.build_data_docs(resource_identifiers=keys or None)
    return sites.get("local_site")


def remove_validations_of(settings: Settings, run_ids: Iterable[str]) -> int:
    """Retention: delete the stored GX results and data-docs pages of these ledger runs
    (`ops.validation_results` keeps their rows), then rebuild the docs' index so it links
    only to pages that exist. Returns how many (suite, run) results were removed."""
    run_ids = set(run_ids)
    folders = [f for root in (gx_home(settings) / "validations", data_docs_dir(settings) / "validations")
               if root.is_dir() for f in root.rglob("*__*")  # <suite path>/<run_id>__<layer>
               if f.is_dir() and f.name.split("__", 1)[0] in run_ids]
    for folder in folders:
        shutil.rmtree(folder)
    if folders and (data_docs_dir(settings) / "index.html").exists():
        # Render no page (an identifier that matches none) and rebuild the index alone.
        _context(settings).build_data_docs(resource_identifiers=["none"])
    return sum(1 for f in folders if f.is_relative_to(gx_home(settings)))


# --- Gate ---------------------------------------------------------------------------------
def dates_text(dates: Sequence[str]) -> str:
    """ISO dates for a message, consecutive days as one range: a backfill's 120 dates read
    '2026-01-05..2026-05-03 (120 days)', not as 120 dates."""
    days = sorted({date.fromisoformat(d) for d in dates})
    spans: list[list[date]] = []
    for d in days:
        if spans and (d - spans[-1][-1]).days == 1:
            spans[-1][-1] = d
        else:
            spans.append([d, d])
    text = ", ".join(a.isoformat() if a == b else f"{a.isoformat()}..{b.isoformat()}" for a, b in spans)
    return text if len(days) <= 2 or len(spans) == len(days) else f"{text} ({len(days)} days)"


def failure_message(result: GateResult, suites: Iterable[SuiteOutcome], what: str) -> str:
    suites = list(suites)
    lines = [
        f"Quality gate {what} for layer {result.layer} (run {result.run_id}, dates "
        f"{dates_text(result.dates)}): {len(suites)} suite(s) failed."
    ]
    for s in suites:
        lines.append(f"  {s.table}: suite {s.suite} ({s.rows} rows checked)")
        for e in s.failures:
            lines.append(f"    - {e.describe()}")
    if result.restored:
        lines.append(f"  {io.restored_text(result.restored)}")
    lines.append(
        f"  Results are in {VALIDATION_RESULTS} (run_id = '{result.run_id}')"
        + (f" and the data docs at {result.data_docs}." if result.data_docs else ".")
    )
    return "\n".join(lines)


def run_gate(
    spark: SparkSession,
    settings: Settings,
    layer: str,
    dates: Sequence[date],
    run_id: str,
    restore: dict[str, int | None] | None = None,
) -> GateResult:
    """Run every suite of `layer` on the data for `dates`, record and render the results.

    `dates` are received dates for bronze and event dates for silver and marts. If a
    critical suite fails, the tables in `restore` (name -> Delta version before the run,
    None = did not exist) are put back, then GateFailed is raised. Failed warning suites
    are logged and recorded; the run goes on. (A gate whose checks raise is the caller's
    to clean up after: `pipeline` puts the tables back unless the run was interrupted.)
    """
    checks = checks_for(layer)
    if not dates:
        raise ValueError(f"run_gate({layer!r}) needs at least one date")
    dates = sorted(set(dates))
    result = GateResult(run_id=run_id, layer=layer, dates=[d.isoformat() for d in dates])
    context = _context(settings)
    run_name = f"{run_id}__{layer}"
    for check in checks:
        result.suites.extend(_run_check(context, spark, settings, check, dates, run_name))
    result.results_version = record_results(spark, result)
    try:
        result.data_docs = build_data_docs(context, run_name)
    except Exception:  # the docs are for people; a rendering bug must not hide the verdict
        log.exception("could not build the data docs under %s", data_docs_dir(settings))
    if result.failed_warning:
        log.warning("%s", failure_message(result, result.failed_warning, "warning"))
    if result.failed_critical:
        if restore:
            result.restored = io.restore_tables(spark, restore)
        message = failure_message(result, result.failed_critical, "failed")
        log.error("%s", message)
        raise GateFailed(message, result)
    log.info("quality gate %s passed for %s: %d suites (%d warnings)", layer, dates_text(result.dates),
             len(result.suites), len(result.failed_warning))
    return result


def validate(settings: Settings, layer: str, day: date | Sequence[date], run_id: str | None = None) -> GateResult:
    """`slatehouse validate --layer L --date D`: run one layer's suites for date D (received
    date for bronze, event date for silver and marts) without restoring anything. Raises
    GateFailed if a critical suite fails."""
    from slatehouse.spark import get_spark

    dates = [day] if isinstance(day, date) else list(day)
    run_id = run_id or f"validate-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}"
    spark = get_spark(settings, "slatehouse-validate")
    missing = sorted({t for check in checks_for(layer) for t in check.tables if not io.table_exists(spark, t)})
    if missing:
        raise NothingToValidate(f"{', '.join(missing)} does not exist yet: run the pipeline before validating {layer}")
    result = run_gate(spark, settings, layer, dates, run_id)
    if all(s.rows == 0 for s in result.suites if "_totals" not in s.suite):
        raise NothingToValidate(
            f"no {layer} rows for {', '.join(d.isoformat() for d in dates)}: nothing was checked "
            f"({'received' if layer == 'bronze' else 'event'} dates; see `slatehouse status` for what is loaded)")
    return result
