"""Ingest jobs: catalogue snapshots and playback events into bronze, then silver.

Inputs:  <landing>/catalog/snapshot_date=D/titles.jsonl
         <landing>/events/received_date=D/hour=HH/*.jsonl[.gz]
Outputs: bronze.catalog_snapshots, silver.catalog_* (SCD2 dimensions),
         bronze.events, bronze.events_quarantine, silver.playback_sessions

Every job takes a list of received dates and handles them in one pass, so a backfill of
a year is a handful of Spark jobs rather than 365 small runs; one date is a list of one.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Sequence

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from slatehouse import io
from slatehouse.contract import schema as S
from slatehouse.settings import Settings
from slatehouse.spark import first_message
from slatehouse.transforms import catalog as cat
from slatehouse.privacy import erased_pseudonyms
from slatehouse.transforms.events import (
    check_titles,
    dedupe_events,
    flag_erased_members,
    parse_events,
    pseudonymise,
    with_event_date,
    with_lateness,
    withhold_unredactable_lines,
)
from slatehouse.transforms.sessions import sessionize

log = logging.getLogger(__name__)


class ConservationError(RuntimeError):
    """Lines read did not equal accepted + quarantined + duplicates."""


@dataclass
class CatalogResult:
    through: str
    snapshots_loaded: list[str] = field(default_factory=list)
    snapshots_total: int = 0
    versions: dict[str, int | None] = field(default_factory=dict)
    current_rows: dict[str, int] = field(default_factory=dict)
    # Programmes already watched whose listing the new snapshots changed (a season's new
    # episode, a corrected runtime, a new genre), and the earliest event date of their plays.
    changed_programmes: list[str] = field(default_factory=list)
    marts_stale_from: str | None = None


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
    # Files in the date's folder that the contract's names leave out (reported, not read).
    ignored_files: list[str] = field(default_factory=list)


@dataclass
class SessionsResult:
    received_dates: list[str]
    sessions_written: int
    event_dates: list[str]
    versions: dict[str, int | None]


def _d(day: date) -> str:
    return f"DATE'{day.isoformat()}'"


def _in_dates(column: str, days: Sequence[date]) -> str:
    return f"{column} IN ({', '.join(_d(d) for d in sorted(set(days)))})"


# --- Catalogue ------------------------------------------------------------------------------
_DIMENSIONS = (
    (S.SILVER_TITLES, cat.titles_dim, ["title_id"]),
    (S.SILVER_SHOWS, cat.shows_dim, ["show_id"]),
    (S.SILVER_SEASONS, cat.seasons_dim, ["season_id"]),
    (S.SILVER_TITLE_GENRES, cat.title_genres_bridge, ["title_id", "genre"]),
    (S.SILVER_TALENT, cat.talent_dim, ["talent_id"]),
    (S.SILVER_CREDITS, cat.credits_bridge, ["title_id", "talent_id", "role"]),
    (S.SILVER_AVAILABILITY, cat.availability_bridge, ["title_id", "country"]),
)


# Which snapshots the dimensions were last derived from, kept as a property of the bronze
# table and set only after all seven are written. A run that died between loading a snapshot
# and writing the dimensions leaves it behind, so the rerun derives them again rather than
# finding "nothing new". The marker also names the derivation's revision: a release that
# changes how the dimensions are derived (2: `genre_rank`) bumps it, so a warehouse built by
# an earlier release derives them again on its next run, without a new snapshot.
DIMENSIONS_FROM = "slatehouse.dimensions_from_snapshots"
DIMENSIONS_REVISION = 2


def _snapshots_marker(dates: set[date]) -> str:
    days = sorted(dates)
    digest = hashlib.sha1(",".join(d.isoformat() for d in days).encode()).hexdigest()[:12]
    return f"{len(days)} snapshots, {days[0]} to {days[-1]}, sha1 {digest}, revision {DIMENSIONS_REVISION}"


def ingest_catalog(spark: SparkSession, settings: Settings, through: date) -> CatalogResult:
    """Load every catalogue snapshot up to `through` that bronze lacks, then rebuild the
    SCD2 dimensions from all loaded snapshots (only when something new arrived, or when
    the dimensions do not yet reflect every loaded snapshot)."""
    landing = [d for d in io.catalog_snapshot_dates(spark, settings) if d <= through]
    if not landing:
        raise io.InputMissingError(
            f"No catalogue snapshot on or before {through} under {settings.landing_dir}/catalog/. "
            "Ingest needs the catalogue to know titles and runtimes."
        )
    loaded: set[date] = set()
    if io.table_exists(spark, S.BRONZE_CATALOG):
        loaded = {r[0] for r in io.read_table(spark, S.BRONZE_CATALOG).select("snapshot_date").distinct().collect()}
    new = [d for d in landing if d not in loaded]
    result = CatalogResult(through=through.isoformat(), snapshots_loaded=[d.isoformat() for d in new],
                           snapshots_total=len(loaded) + len(new))
    if not new and loaded and io.table_property(spark, S.BRONZE_CATALOG, DIMENSIONS_FROM) == _snapshots_marker(loaded):
        log.info("catalogue: every snapshot up to %s is loaded", through)
        return result
    if not new:
        log.warning("catalogue: the dimensions do not reflect every loaded snapshot "
                    "(an earlier run stopped before writing them); deriving them again")
    if new:
        snapshots = io.read_catalog_snapshots(spark, settings, new, S.CATALOG_SCHEMA)
        _check_snapshots(snapshots, new)
        written = io.merge_replace(
            spark, S.BRONZE_CATALOG, snapshots, keys=["snapshot_date", "title_id"],
            scope=_in_dates("t.snapshot_date", new), partition_by=["snapshot_date"], preserve=(),
        )
        result.versions[S.BRONZE_CATALOG] = written.version
    # Every derivation and the listing check read the snapshots: once from storage, then
    # from memory. The seven writes run from threads (bench/bench_catalog.py).
    history = io.read_table(spark, S.BRONZE_CATALOG).cache()
    try:
        dates = history.select("snapshot_date").distinct()
        dims = {table: history.transform(build).transform(cat.scd2_history(keys, dates))
                for table, build, keys in _DIMENSIONS}
        _note_changed_listings(spark, dims, result)
        for table, written in io.overwrite_all(spark, dims).items():
            result.versions[table] = written.version
    finally:
        history.unpersist()
    io.set_table_property(spark, S.BRONZE_CATALOG, DIMENSIONS_FROM, _snapshots_marker(loaded | set(new)))
    result.versions[S.BRONZE_CATALOG] = io.current_version(spark, S.BRONZE_CATALOG)
    log.info("catalogue: %d new snapshot(s) loaded, %d in all", len(new), result.snapshots_total)
    return result


# The earliest event date whose marts a catalogue change has made stale (a property of the
# bronze catalogue, like DIMENSIONS_FROM): set before the dimensions are written, and
# cleared by the run whose marts build covers it, so a run that dies in between leaves it
# for the rerun. Incremental marts keep what they computed with a programme's old listing
# (a season's runtime before its new episode); a build from this date recomputes them.
MARTS_STALE_FROM = "slatehouse.marts_stale_from"


def marts_stale_from(spark: SparkSession) -> date | None:
    if not io.table_exists(spark, S.BRONZE_CATALOG):
        return None
    value = io.table_property(spark, S.BRONZE_CATALOG, MARTS_STALE_FROM)
    return date.fromisoformat(value) if value and value != "none" else None


def clear_marts_stale_from(spark: SparkSession) -> None:
    """After a marts build that started on or before the stale mark and passed its gate:
    the mark is done with."""
    io.set_table_property(spark, S.BRONZE_CATALOG, MARTS_STALE_FROM, "none")


def _last_listings(titles: DataFrame, genres: DataFrame) -> DataFrame:
    """Each title as the marts read it (its last listing, genres in order), as one string,
    with the programme it belongs to."""
    last = F.coalesce(F.col("valid_to"), F.lit("9999-12-31").cast("date"))
    per_title = Window.partitionBy("title_id")
    def latest(df: DataFrame) -> DataFrame:
        return (df.withColumn("_last", last).withColumn("_latest", F.max("_last").over(per_title))
                .where(F.col("_last") == F.col("_latest")))
    listed = latest(titles)
    ordered = (latest(genres).groupBy("title_id")
               .agg(F.sort_array(F.collect_list(F.struct("genre_rank", "genre"))).alias("_genres")))
    attrs = [c for c in titles.columns if c not in ("title_id", "valid_from", "valid_to", "is_current")]
    return listed.join(ordered, "title_id", "left").select(
        "title_id",
        F.when(F.col("title_type") == "film", F.col("title_id"))
        .otherwise(F.concat("show_id", F.lit("-S"), F.col("season_number").cast("string"))).alias("programme_id"),
        F.to_json(F.struct(*attrs, "_genres")).alias("listing"),
    )


def _note_changed_listings(spark: SparkSession, dims: dict[str, DataFrame], result: CatalogResult) -> None:
    """Before the dimensions are replaced: which programmes that existed before, and have
    been watched, does the new derivation list differently? Their earliest event date is
    recorded as MARTS_STALE_FROM (kept if an earlier one is pending)."""
    tables = (S.SILVER_TITLES, S.SILVER_TITLE_GENRES)
    if not all(io.table_exists(spark, t) for t in (*tables, S.SILVER_SESSIONS)):
        return
    old_genres = io.read_table(spark, S.SILVER_TITLE_GENRES)
    if "genre_rank" not in old_genres.columns:  # derived by an earlier release: compare names only
        old_genres = old_genres.withColumn("genre_rank", F.lit(0))
        new_genres = dims[S.SILVER_TITLE_GENRES].withColumn("genre_rank", F.lit(0))
    else:
        new_genres = dims[S.SILVER_TITLE_GENRES]
    old = _last_listings(io.read_table(spark, S.SILVER_TITLES), old_genres).alias("o")
    new = _last_listings(dims[S.SILVER_TITLES], new_genres).alias("n")
    # Only programmes listed before: a new one has no plays yet (plays before a listing are
    # quarantined).
    programmes = sorted(r.programme_id for r in (
        old.join(new, F.col("o.title_id") == F.col("n.title_id"), "full_outer")
        .where(~F.col("o.listing").eqNullSafe(F.col("n.listing")))
        .select(F.explode(F.array_compact(F.array("o.programme_id", "n.programme_id"))).alias("programme_id"))
        .join(old.select("programme_id"), "programme_id", "left_semi")
        .distinct().collect()))
    if not programmes:
        return
    titles = old.union(new).where(F.col("programme_id").isin(programmes)).select("title_id").distinct()
    earliest = (io.read_table(spark, S.SILVER_SESSIONS).join(F.broadcast(titles), "title_id")
                .agg(F.min("event_date")).first()[0])
    if earliest is None:
        return
    pending = marts_stale_from(spark)
    stale = min(earliest, pending) if pending else earliest
    io.set_table_property(spark, S.BRONZE_CATALOG, MARTS_STALE_FROM, stale.isoformat())
    result.changed_programmes = programmes[:20]
    result.marts_stale_from = stale.isoformat()
    log.info("catalogue: %d watched programme(s) listed differently (e.g. %s); marts recompute from %s",
             len(programmes), ", ".join(programmes[:3]), stale)


class CatalogError(RuntimeError):
    """A catalogue snapshot breaks the landing contract; nothing of it was loaded."""


def _check_snapshots(snapshots: DataFrame, dates: Sequence[date]) -> None:
    """Refuse snapshots that the dimensions cannot be built from honestly: a line that is
    not the contract's JSON, a required field that is null, or a title listed twice in one
    snapshot (which of its rows would be the title?). The message names what to fix."""
    required = [f.name for f in S.CATALOG_SCHEMA.fields if not f.nullable]
    where = f"catalogue snapshot(s) {', '.join(d.isoformat() for d in dates)}"
    try:
        nulls = snapshots.select(
            "snapshot_date", "title_id",
            F.array_compact(F.array(*[F.when(F.col(c).isNull(), F.lit(c)) for c in required])).alias("missing"),
        ).where(F.size("missing") > 0).limit(5).collect()
        repeated = (snapshots.groupBy("snapshot_date", "title_id").count().where("count > 1")
                    .orderBy("snapshot_date", "title_id").limit(5).collect())
    except Exception as exc:  # FAILFAST: a line that does not parse as the contract's types
        raise CatalogError(f"{where}: a line does not match the contract "
                           f"(docs/event-contract.md): {first_message(exc)}") from None
    if nulls:
        raise CatalogError(f"{where}: required fields are null: " + "; ".join(
            f"{r['snapshot_date']} title_id={r['title_id']}: {', '.join(r['missing'])}" for r in nulls))
    if repeated:
        raise CatalogError(f"{where}: a title is listed more than once in a snapshot: " + "; ".join(
            f"{r['snapshot_date']} title_id={r['title_id']} ({r['count']} rows)" for r in repeated))


# --- Events ---------------------------------------------------------------------------------
def _event_window(settings: Settings, received: Sequence[date]) -> tuple[date, date]:
    """The event dates that events received on these dates can carry."""
    return min(received) - timedelta(days=settings.lateness_days + 1), max(received) + timedelta(days=1)


def check_events(spark: SparkSession, settings: Settings, received: Sequence[date]) -> DataFrame:
    """Every landing line of the received dates, checked (lazily): the contract's columns
    with pseudonymised member ids, and `reason_code` (null when accepted) with its detail."""
    key = settings.require_pseudonym_key()
    lines = io.read_event_lines(spark, settings, received)
    titles = (
        io.read_table(spark, S.SILVER_TITLES).groupBy("title_id")
        .agg(F.min("valid_from").alias("first_listed"), F.max("runtime_s").alias("max_runtime_s"))
    )
    return (
        lines.transform(parse_events)
        .transform(with_lateness(settings.lateness_days))
        .transform(check_titles(titles))
        .transform(dedupe_events(_prior_deliveries(spark, settings, received), settings.dedupe_lookback_days))
        .transform(pseudonymise(key))
        .transform(flag_erased_members(erased_pseudonyms(spark)))
        .transform(withhold_unredactable_lines)
        .transform(with_event_date)
        .withColumn("_ingested_at", F.current_timestamp())
    )


def ingest_events(spark: SparkSession, settings: Settings, received: Sequence[date]) -> list[EventsResult]:
    """Landing lines of the received dates -> bronze.events + bronze.events_quarantine."""
    received = sorted(set(received))
    # Checked once, then counted and split into bronze and quarantine. A local checkpoint
    # keeps the rows as they are; a columnar cache (`persist`) was slower to build and to
    # read back (bench/bench_ingest.py, docs/performance.md).
    checked = check_events(spark, settings, received).localCheckpoint(eager=True)
    by_date: dict[date, dict[str, int]] = {d: {} for d in received}
    for r in checked.groupBy("received_date", "reason_code").agg(F.count(F.lit(1)).alias("n")).collect():
        by_date[r["received_date"]][r["reason_code"] or "accepted"] = r["n"]
    # Lines read, counted apart from the checks: each file's lines are numbered 1..n by the
    # reader, so its last number is how many it read. A step that dropped or repeated a
    # line would show here, not only in the reasons' sum.
    lines_in_files: dict[date, tuple[int, int]] = {d: (0, 0) for d in received}
    for r in checked.groupBy("received_date", "_source_file").agg(
            F.max("_line_number").alias("lines"), F.countDistinct("_line_number").alias("kept")).collect():
        lines, kept = lines_in_files[r["received_date"]]
        lines_in_files[r["received_date"]] = (lines + r["lines"], kept + r["kept"])
    for d in received:  # before anything is written
        lines, kept = lines_in_files[d]
        rows = sum(by_date[d].values())
        if not lines == kept == rows:
            raise ConservationError(
                f"counts do not add up for {d}: the files hold {lines} lines, {kept} of them came out of "
                f"the checks, in {rows} rows (accepted, quarantined or duplicates); nothing was written")
    empty = [d for d in received if lines_in_files[d][0] == 0]
    if empty:  # an upload under way (`.tmp` files) or not begun: not a day with no viewing
        not_read = io.ignored_event_files(spark, settings, empty[0])
        raise io.InputMissingError(
            f"No event lines for received date(s) {', '.join(d.isoformat() for d in empty)}: "
            f"{io.event_landing_dir(settings, empty[0])} holds no *.jsonl or *.jsonl.gz line"
            + (f" (not read: {', '.join(not_read[:5])}{', ...' if len(not_read) > 5 else ''})" if not_read else "")
            + ". Nothing was written. Rerun the date once its files are delivered.")
    accepted_df = checked.where(F.col("reason_code").isNull()).select(*S.BRONZE_EVENTS_SCHEMA.fieldNames())
    quarantine_df = checked.where(F.col("reason_code").isNotNull()).select(
        "received_date", "_source_file", "_line_number", "reason_code", "reason_detail", "event_id",
        F.col("line").alias("raw_line"), "_ingested_at",
    )
    lo, hi = _event_window(settings, received)
    scope = f"{_in_dates('t.received_date', received)} AND t.event_date BETWEEN {_d(lo)} AND {_d(hi)}"
    events_version = _replace_received_dates(
        spark, S.BRONZE_EVENTS, accepted_df, ["event_id"], scope, ["event_date"], received)
    quarantine_version = _replace_received_dates(
        spark, S.BRONZE_QUARANTINE, quarantine_df, ["_source_file", "_line_number"],
        _in_dates("t.received_date", received), ["received_date"], received)
    event_dates: dict[date, list[str]] = {d: [] for d in received}
    for r in accepted_df.select("received_date", "event_date").distinct().collect():
        event_dates[r[0]].append(r[1].isoformat())
    results = []
    versions = {S.BRONZE_EVENTS: events_version, S.BRONZE_QUARANTINE: quarantine_version}
    for d in received:
        counts = by_date[d]
        lines_read = lines_in_files[d][0]
        accepted, duplicates = counts.get("accepted", 0), counts.get("duplicate", 0)
        result = EventsResult(
            received_date=d.isoformat(), lines_read=lines_read, accepted=accepted,
            quarantined=sum(n for k, n in counts.items() if k not in ("accepted", "duplicate")),
            duplicates=duplicates,
            by_reason={k: v for k, v in sorted(counts.items()) if k != "accepted"},
            event_dates=sorted(event_dates[d]), versions=versions,
            ignored_files=io.ignored_event_files(spark, settings, d),
        )
        if result.ignored_files:
            log.warning("events %s: %d file(s) not read, not named *.jsonl or *.jsonl.gz or hidden: %s",
                        d, len(result.ignored_files), ", ".join(result.ignored_files[:5])
                        + (", ..." if len(result.ignored_files) > 5 else ""))
        log.info("events %s: %d lines read = %d accepted + %d quarantined + %d duplicates",
                 d, lines_read, accepted, result.quarantined, duplicates)
        results.append(result)
    return results


def _prior_deliveries(spark: SparkSession, settings: Settings, received: Sequence[date]) -> DataFrame:
    """(event_id, received_date) accepted on other received dates within the lookback of
    these, before or after them (a late file for a date that already ran)."""
    if not io.table_exists(spark, S.BRONZE_EVENTS):
        return spark.createDataFrame([], "event_id string, received_date date")
    start = min(received) - timedelta(days=settings.dedupe_lookback_days)
    end = max(received) + timedelta(days=settings.dedupe_lookback_days)
    lo = start - timedelta(days=settings.lateness_days + 1)
    return (
        io.read_table(spark, S.BRONZE_EVENTS)
        .where(F.col("event_date").between(lo, end + timedelta(days=1)))
        .where(F.col("received_date").between(start, end))
        .where(~F.col("received_date").isin(list(received)))
        .select("event_id", "received_date")
    )


def _replace_received_dates(
    spark: SparkSession, table: str, df: DataFrame, keys: list[str], scope: str,
    partition_by: list[str], received: Sequence[date],
) -> int | None:
    """First load of these received dates appends; a rerun merges, leaving unchanged rows alone."""
    already = io.table_exists(spark, table) and bool(
        io.read_table(spark, table).where(F.col("received_date").isin(list(received))).take(1)
    )
    if already:
        return io.merge_replace(spark, table, df, keys, scope=scope, partition_by=partition_by).version
    return io.append(spark, table, df, partition_by=partition_by).version


# --- Sessions -------------------------------------------------------------------------------
def build_sessions(spark: SparkSession, settings: Settings, received: Sequence[date]) -> SessionsResult:
    """Recompute every session that the events received on these dates touch, and every
    session in their window whose events in bronze no longer match its row (part of a
    withdrawn or replaced file, or a run that died between bronze and silver), each from
    all of its events in bronze, wherever they were received."""
    received = sorted(set(received))
    lo, hi = _event_window(settings, received)
    lo -= timedelta(days=1)  # sessions that started the evening before their first late event
    bronze = io.read_table(spark, S.BRONZE_EVENTS)
    # Each title's latest row, current or not: a title dropped from the latest snapshot
    # (a licence that ended) still has the plays it had before, and late events for them.
    latest = Window.partitionBy("title_id").orderBy(F.col("valid_from").desc())
    titles = (
        io.read_table(spark, S.SILVER_TITLES).withColumn("_latest", F.row_number().over(latest))
        .where("_latest = 1").select("title_id", "runtime_s").localCheckpoint()
    )
    window = bronze.where(F.col("event_date").between(lo, hi))
    window_lo, window_hi = lo, hi
    recompute, lo, hi = _sessions_to_recompute(spark, window, titles, received, lo, hi)
    affected = bronze.where(F.col("event_date").between(lo, hi)).join(recompute, "session_id", "left_semi")
    sessions = affected.transform(sessionize(titles, settings.heartbeat_s)).localCheckpoint()
    stats = sessions.groupBy("event_date").count().collect()
    count = sum(r["count"] for r in stats)
    event_dates = sorted(r["event_date"].isoformat() for r in stats)
    written = io.merge_replace(
        spark, S.SILVER_SESSIONS, sessions, keys=["session_id"], partition_by=["event_date"], preserve=(),
        scope=f"t.event_date BETWEEN {_d(lo)} AND {_d(hi)}", delete_missing=False,
    )
    # A session none of whose events is in bronze any more (its landing file was withdrawn
    # and the date run again) goes too, as a build from scratch would not have it. Looked
    # for in this run's window only: further back (where the read widened to a session's
    # extent) bronze retention may have taken a kept session's events.
    live = io.read_table(spark, S.BRONZE_EVENTS).where(
        F.col("event_date").between(lo, hi + timedelta(days=1))).select("session_id")
    orphans = (io.read_table(spark, S.SILVER_SESSIONS).where(F.col("event_date").between(window_lo, window_hi))
               .join(live, "session_id", "left_anti").select("session_id", "event_date").localCheckpoint())
    gone = orphans.collect()
    if gone:
        written = io.delete_rows(spark, S.SILVER_SESSIONS, orphans, ["session_id", "event_date"])
        event_dates = sorted({*event_dates, *(r["event_date"].isoformat() for r in gone)})
        log.warning("sessions: removed %d whose events are no longer in bronze (a landing file withdrawn)",
                    len(gone))
    log.info("sessions: %d recomputed over %d event dates", count, len(event_dates))
    return SessionsResult(
        received_dates=[d.isoformat() for d in received], sessions_written=count, event_dates=event_dates,
        versions={S.SILVER_SESSIONS: written.version},
    )


def _sessions_to_recompute(
    spark: SparkSession, window: DataFrame, titles: DataFrame, received: list[date], lo: date, hi: date,
) -> tuple[DataFrame, date, date]:
    """The sessions to rebuild, and the event dates to read them from.

    - The sessions touched by the events received on this run's dates.
    - A session in silver, wholly inside [lo, hi], whose event count differs from its events
      in bronze: some of its events were in a file since withdrawn or replaced on a date
      that holds none of its other events, or a run wrote bronze and died before silver.
    - A session measured against a runtime the catalogue has since corrected (`titles`,
      each title's latest runtime): its segments were clipped at the old one. Only those
      whose events are all still in bronze; older ones keep the runtime they were built
      with (docs/metrics.md).
    - The read widens to a session's whole extent in silver: a session paused for days and
      resumed (the contract has no timeout) started before `lo`, and in a backfill of past
      dates a session may go on after `hi` in events received later.
    """
    # One pass over the window: each session's events in bronze, whether this run's dates
    # hold one of them, and whether it opens (play_start) inside the window.
    per_session = window.groupBy("session_id").agg(
        F.count(F.lit(1)).alias("_in_bronze"),
        F.max(F.col("received_date").isin(received)).alias("_touched"),
        F.max(F.col("event_type") == "play_start").alias("_opened"),
    ).localCheckpoint()
    touched = per_session.where("_touched").select("session_id")
    if not io.table_exists(spark, S.SILVER_SESSIONS):
        return touched, lo, hi
    silver = io.read_table(spark, S.SILVER_SESSIONS).select(
        "session_id", "event_date", "event_count", F.to_date("session_end_ts").alias("end_date"))
    near = silver.where(F.col("event_date").between(lo, hi))
    changed = (near.where(F.col("end_date") <= hi).join(per_session, "session_id", "left")
               .where(F.coalesce("_in_bronze", F.lit(0)) != F.col("event_count")).select("session_id"))
    runtime_corrected = _runtime_corrected(spark, titles)
    recompute = (touched.unionByName(changed).unionByName(runtime_corrected.select("session_id"))
                 .distinct().localCheckpoint())
    # Only a session with no play_start in the window can have started before it.
    opened = per_session.where("_opened").select("session_id")
    unopened = recompute.join(opened, "session_id", "left_anti").localCheckpoint()
    rows = near.join(recompute, "session_id", "left_semi").unionByName(runtime_corrected)
    if unopened.take(1):
        rows = rows.unionByName(silver.where(F.col("event_date") < lo).join(unopened, "session_id", "left_semi"))
    extent = rows.agg(F.min("event_date").alias("first"), F.max("end_date").alias("last")).first()
    if extent["first"] is not None:
        lo, hi = min(lo, extent["first"]), max(hi, extent["last"])
    return recompute, lo, hi


def _runtime_corrected(spark: SparkSession, titles: DataFrame) -> DataFrame:
    """Sessions in silver built with a runtime other than their title's latest, whose
    events are all still in bronze (as many as the session counted): (session_id,
    event_date, event_count, end_date)."""
    bronze = io.read_table(spark, S.BRONZE_EVENTS)
    oldest_received = bronze.agg(F.min("received_date")).first()[0]
    if oldest_received is None:
        return spark.createDataFrame([], "session_id string, event_date date, event_count long, end_date date")
    # A session that began before the oldest received date has lost events to retention;
    # one on that date may have too (a player's fast clock sends a few the evening before),
    # which the count below finds.
    candidates = (
        io.read_table(spark, S.SILVER_SESSIONS)
        .where(F.col("event_date") >= F.lit(oldest_received))
        .join(F.broadcast(titles.withColumnRenamed("runtime_s", "_runtime_now")), "title_id")
        .where(F.col("runtime_s") != F.col("_runtime_now"))
        .select("session_id", "event_date", "event_count", F.to_date("session_end_ts").alias("end_date"))
        .localCheckpoint()
    )
    span = candidates.agg(F.min("event_date").alias("first"), F.max("end_date").alias("last")).first()
    if span["first"] is None:
        return candidates
    in_bronze = (bronze.where(F.col("event_date").between(span["first"], span["last"] + timedelta(days=1)))
                 .join(candidates.select("session_id"), "session_id", "left_semi")
                 .groupBy("session_id").agg(F.count(F.lit(1)).alias("_in_bronze")))
    return (candidates.join(in_bronze, "session_id").where(F.col("_in_bronze") == F.col("event_count"))
            .drop("_in_bronze").localCheckpoint())


@dataclass
class IngestResult:
    catalog: CatalogResult
    events: list[EventsResult]
    sessions: SessionsResult


def ingest(spark: SparkSession, settings: Settings, received: Sequence[date]) -> IngestResult:
    """Catalogue, events and sessions for the received dates, in one pass each."""
    received = sorted(set(received))
    catalog = ingest_catalog(spark, settings, max(received))
    events = ingest_events(spark, settings, received)
    sessions = build_sessions(spark, settings, received)
    return IngestResult(catalog, events, sessions)
