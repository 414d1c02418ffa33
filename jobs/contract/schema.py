"""Schemas as constants: the event-log contract v1, the catalogue snapshot, and tables
(bronze, silver, and the ops tables the pipeline and the quality gates write)."""

from __future__ import annotations

import json
from pathlib import Path

from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

SCHEMA_VERSION = 1

EVENT_TYPES = ("play_start", "heartbeat", "pause", "resume", "seek", "play_stop")
DEVICE_TYPES = ("tv", "mobile", "tablet", "web", "console")

# --- Landing: one JSON object per line (docs/event-contract.md) --------------------------
# The producers' JSON Schema is the contract's text; ingest reads its timestamp rule from it.
EVENTS_JSON_SCHEMA = json.loads((Path(__file__).parent / "events.v1.schema.json").read_text(encoding="utf-8"))
UTC_TIMESTAMP_PATTERN: str = EVENTS_JSON_SCHEMA["$defs"]["utc_timestamp"]["pattern"]

EVENT_SCHEMA = StructType([
    StructField("event_id", StringType(), False),
    StructField("event_type", StringType(), False),
    StructField("event_ts", TimestampType(), False),
    StructField("received_ts", TimestampType(), False),
    StructField("account_id", StringType(), False),
    StructField("profile_id", StringType(), False),
    StructField("session_id", StringType(), False),
    StructField("title_id", StringType(), False),
    StructField("position_s", DoubleType(), False),
    StructField("device_type", StringType(), False),
    StructField("country", StringType(), False),
    StructField("app_version", StringType(), False),
    StructField("schema_version", IntegerType(), False),
])

CREDIT_SCHEMA = StructType([
    StructField("talent_id", StringType(), False),
    StructField("name", StringType(), False),
    StructField("role", StringType(), False),
    StructField("billing_order", IntegerType(), True),
])

CATALOG_SCHEMA = StructType([
    StructField("title_id", StringType(), False),
    StructField("title_type", StringType(), False),
    StructField("show_id", StringType(), True),
    StructField("show_title", StringType(), True),
    StructField("season_number", IntegerType(), True),
    StructField("episode_number", IntegerType(), True),
    StructField("title", StringType(), False),
    StructField("runtime_s", IntegerType(), False),
    StructField("release_date", DateType(), False),
    StructField("original_language", StringType(), False),
    StructField("origin_country", StringType(), False),
    StructField("genres", ArrayType(StringType()), False),
    StructField("credits", ArrayType(CREDIT_SCHEMA), False),
    StructField("available_countries", ArrayType(StringType()), False),
])

# --- Bronze ------------------------------------------------------------------------------
LINEAGE_FIELDS = [
    StructField("received_date", DateType(), False),
    StructField("_source_file", StringType(), False),
    StructField("_line_number", LongType(), False),
    StructField("_ingested_at", TimestampType(), False),
]

BRONZE_EVENTS_SCHEMA = StructType(
    list(EVENT_SCHEMA.fields) + [StructField("event_date", DateType(), False)] + LINEAGE_FIELDS
)

# Reason codes for bronze.events_quarantine.reason_code. `duplicate` rows are kept too
# (nothing is lost) but counted apart from the quarantined ones.
QUARANTINE_REASONS = (
    "invalid_utf8",
    "truncated_file",
    "malformed_json",
    "missing_field",
    "invalid_field",
    "unsupported_schema_version",
    "unknown_title",
    "too_late",
    "future_event",
    "duplicate",
    "erased_member",  # the member asked to be erased (privacy.erase_members); raw line not kept
)

QUARANTINE_SCHEMA = StructType([
    StructField("received_date", DateType(), False),
    StructField("_source_file", StringType(), False),
    StructField("_line_number", LongType(), False),
    StructField("reason_code", StringType(), False),
    StructField("reason_detail", StringType(), True),
    StructField("event_id", StringType(), True),
    StructField("raw_line", StringType(), True),  # member ids redacted to their pseudonyms; null when one cannot be found (withhold_unredactable_lines)
    StructField("_ingested_at", TimestampType(), False),
])

# --- Silver ------------------------------------------------------------------------------
SEGMENT_SCHEMA = StructType([
    StructField("start_s", DoubleType(), False),
    StructField("end_s", DoubleType(), False),
])

PLAYBACK_SESSIONS_SCHEMA = StructType([
    StructField("session_id", StringType(), False),
    StructField("title_id", StringType(), False),
    StructField("account_id", StringType(), False),
    StructField("profile_id", StringType(), False),
    StructField("device_type", StringType(), False),
    StructField("country", StringType(), False),
    StructField("session_start_ts", TimestampType(), False),
    StructField("session_end_ts", TimestampType(), False),
    StructField("event_date", DateType(), False),
    StructField("play_time_s", DoubleType(), False),
    StructField("content_watched_s", DoubleType(), False),
    StructField("contiguous_progress_s", DoubleType(), False),
    StructField("max_position_s", DoubleType(), False),
    StructField("runtime_s", IntegerType(), False),
    StructField("event_count", LongType(), False),
    StructField("has_play_stop", BooleanType(), False),
    StructField("has_late_events", BooleanType(), False),
    # Merged, disjoint [start_s, end_s) stretches of the title this session played.
    StructField("watched_segments", ArrayType(SEGMENT_SCHEMA), False),
])

# --- Table names -------------------------------------------------------------------------
BRONZE_EVENTS = "bronze.events"
BRONZE_QUARANTINE = "bronze.events_quarantine"
BRONZE_CATALOG = "bronze.catalog_snapshots"
SILVER_SESSIONS = "silver.playback_sessions"
SILVER_TITLES = "silver.catalog_titles"
SILVER_SHOWS = "silver.catalog_shows"
SILVER_SEASONS = "silver.catalog_seasons"
SILVER_TITLE_GENRES = "silver.catalog_title_genres"
SILVER_TALENT = "silver.catalog_talent"
SILVER_CREDITS = "silver.catalog_credits"
SILVER_AVAILABILITY = "silver.catalog_availability"
OPS_RUNS = "ops.runs"
OPS_RUN_STEPS = "ops.run_steps"
OPS_VALIDATION_RESULTS = "ops.validation_results"

# --- Silver catalogue dimensions (SCD2) ---------------------------------------------------
# Each row is valid from `valid_from` (the snapshot date that introduced it) until
# `valid_to` (the snapshot date that replaced it, exclusive); the current row has
# valid_to = null and is_current = true.
SCD2_FIELDS = [
    StructField("valid_from", DateType(), False),
    StructField("valid_to", DateType(), True),
    StructField("is_current", BooleanType(), False),
]

CATALOG_TITLES_SCHEMA = StructType([
    StructField("title_id", StringType(), False),
    StructField("title_type", StringType(), False),  # film | episode
    StructField("show_id", StringType(), True),
    StructField("season_number", IntegerType(), True),
    StructField("episode_number", IntegerType(), True),
    StructField("title", StringType(), False),
    StructField("runtime_s", IntegerType(), False),
    StructField("release_date", DateType(), False),
    StructField("original_language", StringType(), False),
    StructField("origin_country", StringType(), False),
] + SCD2_FIELDS)

CATALOG_SHOWS_SCHEMA = StructType([
    StructField("show_id", StringType(), False),
    StructField("show_title", StringType(), False),
    StructField("original_language", StringType(), False),
    StructField("origin_country", StringType(), False),
] + SCD2_FIELDS)

CATALOG_SEASONS_SCHEMA = StructType([
    StructField("season_id", StringType(), False),  # <show_id>-S<season_number>
    StructField("show_id", StringType(), False),
    StructField("season_number", IntegerType(), False),
    StructField("episode_count", IntegerType(), False),
    StructField("season_runtime_s", LongType(), False),
    StructField("season_release_date", DateType(), False),  # first episode's release
] + SCD2_FIELDS)

CATALOG_TITLE_GENRES_SCHEMA = StructType([
    StructField("title_id", StringType(), False),
    StructField("genre", StringType(), False),
    StructField("genre_rank", IntegerType(), False),  # its place in the title's list, 1 = primary
] + SCD2_FIELDS)

CATALOG_TALENT_SCHEMA = StructType([
    StructField("talent_id", StringType(), False),
    StructField("name", StringType(), False),
] + SCD2_FIELDS)

CATALOG_CREDITS_SCHEMA = StructType([
    StructField("title_id", StringType(), False),
    StructField("talent_id", StringType(), False),
    StructField("role", StringType(), False),
    StructField("billing_order", IntegerType(), True),
] + SCD2_FIELDS)

CATALOG_AVAILABILITY_SCHEMA = StructType([
    StructField("title_id", StringType(), False),
    StructField("country", StringType(), False),
] + SCD2_FIELDS)


# --- Ops: the run ledger and the quality gates' results ----------------------------------
# One row per command that writes the warehouse (`run`, `backfill`, `ingest`, `build-marts`,
# `validate`, `erase`, `maintain`, `forecast-slate`), written when it starts and again when it ends (status
# running -> succeeded | failed | gate_failed | input_missing | interrupted; abandoned
# when it died).
RUNS_SCHEMA = StructType([
    StructField("run_id", StringType(), False),
    StructField("command", StringType(), False),
    StructField("first_date", DateType(), True),  # the dates it was given; null for erase, maintain
    StructField("last_date", DateType(), True),
    StructField("status", StringType(), False),
    StructField("started_at", TimestampType(), False),
    StructField("duration_s", DoubleType(), False),
    StructField("error", StringType(), True),
    StructField("report_json", StringType(), False),  # the run report `--json` prints
])

# One row per step of a run (and per `slatehouse maintain`), appended as the step ends.
RUN_STEPS_SCHEMA = StructType([
    StructField("run_id", StringType(), False),
    StructField("step", StringType(), False),
    StructField("status", StringType(), False),  # succeeded | failed
    StructField("started_at", TimestampType(), False),
    StructField("duration_s", DoubleType(), False),
    StructField("detail_json", StringType(), False),  # counts, Delta versions, dbt results
    StructField("message", StringType(), True),  # why the step failed
])

# One row per expectation per suite run of a quality gate.
VALIDATION_RESULTS_SCHEMA = StructType([
    StructField("run_id", StringType(), False),
    StructField("layer", StringType(), False),
    StructField("suite", StringType(), False),
    StructField("severity", StringType(), False),
    StructField("table_name", StringType(), False),
    StructField("expectation_type", StringType(), False),
    StructField("column", StringType(), True),
    StructField("kwargs_json", StringType(), False),
    StructField("success", BooleanType(), False),
    StructField("element_count", LongType(), True),
    StructField("unexpected_count", LongType(), True),
    StructField("unexpected_sample", ArrayType(StringType()), False),
    StructField("exception_message", StringType(), True),
    StructField("evaluated_at", TimestampType(), False),
    StructField("run_dates", ArrayType(DateType()), False),
])
