"""Ingest jobs: catalogue snapshots and playback events into bronze, then silver.

Inputs:  <landing>/catalog/snapshot_date=D/titles.jsonl
         <landing>/events/received_date=D/hour=HH/*.jsonl[.gz]
Outputs: bronze.catalog_snapshots, silver.catalog_* (SCD2 dimensions),
         bronze.events, bronze.events_quarantine, silver.playback_sessions
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark import StorageLevel

from slatehouse import io
from slatehouse.contract import schema as S
from slatehouse.settings import Settings
from slatehouse.transforms import catalog as cat
from slatehouse.transforms.events import (
    dedupe_events,
    flag_unknown_titles,
    parse_events,
    pseudonymise,
    with_event_date,
    with_lateness,
)
from slatehouse.transforms.sessions import sessionize

log = logging.getLogger(__name__)


class ConservationError(RuntimeError):
    """Lines read did not equal accepted + quarantined + duplicates."""


@dataclass
class CatalogResult:
    run_date: str
    snapshot_date: str | None
    applied: bool
    titles: int = 0
    versions: dict[str, int | None] = field(default_factory=dict)
    opened: dict[str, int] = field(default_factory=dict)
    closed: dict[str, int] = field(default_factory=dict)


@dataclass
class EventsResult:
    received_date: str
    lines_read: int
    accepted: int
    quarantined: int
    duplicates: int
    by_reason: dict[str, int]
    event_dates: list[str]
    versions: dict[str, int | None]


@dataclass
class SessionsResult:
    received_date: str
    sessions_written: int
    event_dates: list[str]
    versions: dict[str, int | None]


def _d(day: date) -> str:
    return f"DATE'{day.isoformat()}'"


# --- Catalogue ------------------------------------------------------------------------------
_DIMENSIONS = (
    (S.SILVER_TITLES, cat.titles_dim, ("title_id",)),
    (S.SILVER_SHOWS, cat.shows_dim, ("show_id",)),
    (S.SILVER_SEASONS, cat.seasons_dim, ("season_id",)),
    (S.SILVER_TITLE_GENRES, cat.title_genres_bridge, ("title_id", "genre")),
    (S.SILVER_TALENT, cat.talent_dim, ("talent_id",)),
    (S.SILVER_CREDITS, cat.credits_bridge, ("title_id", "talent_id", "role")),
    (S.SILVER_AVAILABILITY, cat.availability_bridge, ("title_id", "country")),
)


def ingest_catalog(spark: SparkSession, settings: Settings, run_date: date) -> CatalogResult:
    """Apply the newest catalogue snapshot on or before `run_date` (SCD2 history)."""
    snapshots = [d for d in io.catalog_snapshot_dates(spark, settings) if d <= run_date]
    if not snapshots:
        raise io.InputMissingError(
            f"No catalogue snapshot on or before {run_date} under {settings.landing_dir}/catalog/. "
            "Ingest needs the catalogue to know titles and runtimes."
        )
    snap_date = snapshots[-1]
    result = CatalogResult(run_date=run_date.isoformat(), snapshot_date=snap_date.isoformat(), applied=False)
    # bronze is written last, so a snapshot found there has reached every dimension.
    if io.table_exists(spark, S.BRONZE_CATALOG):
        latest = io.read_table(spark, S.BRONZE_CATALOG).agg(F.max("snapshot_date")).first()[0]
        if latest is not None and latest >= snap_date:
            log.info("catalogue: snapshot %s already applied (latest %s)", snap_date, latest)
            return result
    snapshot = io.read_catalog_snapshot(spark, settings, snap_date, S.CATALOG_SCHEMA).localCheckpoint()
    result.titles = snapshot.count()
    for table, build, keys in _DIMENSIONS:
        written = io.scd2_apply(spark, table, snapshot.transform(build).drop("snapshot_date"), keys, snap_date)
        result.versions[table] = written.version
        result.opened[table] = written.rows_inserted
        result.closed[table] = written.rows_updated
    bronze = io.merge_replace(
        spark, S.BRONZE_CATALOG, snapshot, keys=["snapshot_date", "title_id"],
        scope=f"t.snapshot_date = {_d(snap_date)}", partition_by=["snapshot_date"], preserve=(),
    )
    result.versions[S.BRONZE_CATALOG] = bronze.version
    result.applied = True
    log.info("catalogue snapshot %s: %d titles", snap_date, result.titles)
    return result


# --- Events ---------------------------------------------------------------------------------
def _event_window(settings: Settings, received_date: date) -> tuple[date, date]:
    """The event dates that events received on `received_date` can carry."""
    return received_date - timedelta(days=settings.lateness_days + 1), received_date + timedelta(days=1)


def ingest_events(spark: SparkSession, settings: Settings, received_date: date) -> EventsResult:
    """Landing lines of one received date -> bronze.events + bronze.events_quarantine."""
    key = settings.require_pseudonym_key()
    lines = io.read_event_lines(spark, settings, received_date)
    known_titles = (
        io.read_table(spark, S.SILVER_TITLES).where(F.col("valid_from") <= F.lit(received_date)).select("title_id")
    )
    prior_ids = _prior_event_ids(spark, settings, received_date)
    checked = (
        lines.transform(parse_events)
        .transform(with_lateness(settings.lateness_days))
        .transform(flag_unknown_titles(known_titles))
        .transform(dedupe_events(prior_ids))
        .transform(pseudonymise(key))
        .transform(with_event_date)
        .withColumn("received_date", F.lit(received_date))
        .withColumn("_ingested_at", F.current_timestamp())
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    try:
        by_reason = {
            (r["reason_code"] or "accepted"): r["n"]
            for r in checked.groupBy("reason_code").agg(F.count(F.lit(1)).alias("n")).collect()
        }
        accepted_df = checked.where(F.col("reason_code").isNull()).select(*S.BRONZE_EVENTS_SCHEMA.fieldNames())
        quarantine_df = checked.where(F.col("reason_code").isNotNull()).select(
            "received_date", "_source_file", "_line_number", "reason_code", "reason_detail", "event_id",
            F.col("line").alias("raw_line"), "_ingested_at",
        )
        lo, hi = _event_window(settings, received_date)
        scope_events = f"t.received_date = {_d(received_date)} AND t.event_date BETWEEN {_d(lo)} AND {_d(hi)}"
        events_written = _replace_received_date(
            spark, S.BRONZE_EVENTS, accepted_df, ["event_id"], scope_events, ["event_date"], received_date,
        )
        quarantine_written = _replace_received_date(
            spark, S.BRONZE_QUARANTINE, quarantine_df, ["_source_file", "_line_number"],
            f"t.received_date = {_d(received_date)}", ["received_date"], received_date,
        )
        event_dates = sorted(
            r[0].isoformat() for r in accepted_df.select("event_date").distinct().collect()
        )
    finally:
        checked.unpersist()
    lines_read = sum(by_reason.values())
    duplicates = by_reason.get("duplicate", 0)
    accepted = by_reason.get("accepted", 0)
    quarantined = lines_read - accepted - duplicates
    reasons = {k: v for k, v in sorted(by_reason.items()) if k != "accepted"}
    result = EventsResult(
        received_date=received_date.isoformat(), lines_read=lines_read, accepted=accepted,
        quarantined=quarantined, duplicates=duplicates, by_reason=reasons, event_dates=event_dates,
        versions={S.BRONZE_EVENTS: events_written, S.BRONZE_QUARANTINE: quarantine_written},
    )
    if accepted + quarantined + duplicates != lines_read:  # guards the bookkeeping above
        raise ConservationError(f"counts do not add up for {received_date}: {asdict(result)}")
    log.info(
        "events %s: %d lines read = %d accepted + %d quarantined + %d duplicates",
        received_date, lines_read, accepted, quarantined, duplicates,
    )
    return result


def _prior_event_ids(spark: SparkSession, settings: Settings, received_date: date) -> DataFrame:
    """Event ids accepted in the lookback window before `received_date`."""
    if not io.table_exists(spark, S.BRONZE_EVENTS):
        return spark.createDataFrame([], "event_id string")
    start = received_date - timedelta(days=settings.dedupe_lookback_days)
    lo = start - timedelta(days=settings.lateness_days + 1)
    return (
        io.read_table(spark, S.BRONZE_EVENTS)
        .where(F.col("event_date").between(lo, received_date))
        .where(F.col("received_date").between(start, received_date - timedelta(days=1)))
        .select("event_id")
    )


def _replace_received_date(
    spark: SparkSession, table: str, df: DataFrame, keys: list[str], scope: str,
    partition_by: list[str], received_date: date,
) -> int | None:
    """First load of a received date appends; a rerun merges, leaving unchanged rows alone."""
    already = io.table_exists(spark, table) and bool(
        io.read_table(spark, table).where(F.col("received_date") == F.lit(received_date)).take(1)
    )
    if already:
        return io.merge_replace(spark, table, df, keys, scope=scope, partition_by=partition_by).version
    return io.append(spark, table, df, partition_by=partition_by).version


# --- Sessions -------------------------------------------------------------------------------
def build_sessions(spark: SparkSession, settings: Settings, received_date: date) -> SessionsResult:
    """Recompute every session that the events received on `received_date` touch."""
    lo, hi = _event_window(settings, received_date)
    lo -= timedelta(days=1)  # sessions that started the evening before their first late event
    events = io.read_table(spark, S.BRONZE_EVENTS).where(F.col("event_date").between(lo, hi))
    touched = events.where(F.col("received_date") == F.lit(received_date)).select("session_id").distinct()
    affected = events.join(touched, "session_id", "left_semi")
    titles = io.read_table(spark, S.SILVER_TITLES).where("is_current").select("title_id", "runtime_s")
    sessions = affected.transform(sessionize(titles, settings.heartbeat_s)).localCheckpoint()
    count = sessions.count()
    event_dates = sorted(r[0].isoformat() for r in sessions.select("event_date").distinct().collect())
    written = io.merge_replace(
        spark, S.SILVER_SESSIONS, sessions, keys=["session_id"], partition_by=["event_date"], preserve=(),
        scope=f"t.event_date BETWEEN {_d(lo)} AND {_d(hi)}", delete_missing=False,
    )
    log.info("sessions %s: %d sessions over %d event dates", received_date, count, len(event_dates))
    return SessionsResult(
        received_date=received_date.isoformat(), sessions_written=count, event_dates=event_dates,
        versions={S.SILVER_SESSIONS: written.version},
    )


@dataclass
class IngestResult:
    catalog: CatalogResult
    events: EventsResult
    sessions: SessionsResult


def ingest_day(spark: SparkSession, settings: Settings, received_date: date) -> IngestResult:
    catalog = ingest_catalog(spark, settings, received_date)
    events = ingest_events(spark, settings, received_date)
    sessions = build_sessions(spark, settings, received_date)
    return IngestResult(catalog, events, sessions)
