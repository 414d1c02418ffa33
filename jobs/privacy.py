"""Erasure requests and retention: member data is kept only while it is needed.

Inputs:  erasure requests (raw account or profile ids, as a member-services system sends
         them), the settings' retention periods.
Outputs: rows deleted from every table that holds member-level data (bronze.events,
         bronze.events_quarantine, silver.playback_sessions, and the dbt models rebuilt
         from them), those tables VACUUMed so the deleted rows' files are gone,
         `ops.erasures` (the pseudonyms erased, never the raw ids), and landing folders
         and bronze rows past their retention removed.

Raw member ids never reach a Delta table: ingest replaces them with a keyed HMAC, so an
erasure request is turned into the same pseudonym here and matched on that. The
pseudonyms of erased members stay in `ops.erasures` so that a rerun or backfill over old
landing files cannot bring them back: ingest quarantines their lines as `erased_member`
without their raw text (see `transforms.events.flag_erased_members`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Iterable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType, TimestampType

from slatehouse import io
from slatehouse.contract import schema as S
from slatehouse.settings import Settings

log = logging.getLogger(__name__)

ERASURES_TABLE = "ops.erasures"
ERASURES_SCHEMA = StructType([
    StructField("request_id", StringType(), False),
    StructField("id_kind", StringType(), False),  # account | profile
    StructField("pseudonym", StringType(), False),  # HMAC of the raw id; the raw id is not kept
    StructField("requested_at", TimestampType(), False),
    StructField("completed_at", TimestampType(), True),
])
ID_KINDS = ("account", "profile")


def pseudonym(raw_id: str, key: bytes) -> str:
    """The pseudonym ingest gives a member id (HMAC-SHA256, lower-case hex)."""
    return hmac.new(key, raw_id.encode("utf-8"), hashlib.sha256).hexdigest()


def erased_pseudonyms(spark: SparkSession) -> DataFrame:
    """Every erased member's pseudonym (one column, `pseudonym`); empty before any erasure."""
    if not io.table_exists(spark, ERASURES_TABLE):
        return spark.createDataFrame([], "pseudonym string")
    return io.read_table(spark, ERASURES_TABLE).select("pseudonym").distinct()


@dataclass
class ErasureResult:
    request_id: str
    accounts: int
    profiles: int
    rows_deleted: dict[str, int] = field(default_factory=dict)
    event_dates: list[str] = field(default_factory=list)
    marts_rebuilt: bool = False
    vacuumed: list[str] = field(default_factory=list)
    completed_earlier: list[str] = field(default_factory=list)  # unfinished requests this one completed
    report_folders_removed: list[str] = field(default_factory=list)
    duration_s: float = 0.0


# Tables whose rows carry a member's pseudonym, and how to find that member's rows.
def _member_rows(table: str, pseudonyms: list[str]) -> str:
    quoted = ", ".join(f"'{p}'" for p in pseudonyms)
    if table == S.BRONZE_QUARANTINE:
        # Quarantined lines keep their redacted raw text, with the pseudonyms in place of
        # the ids; lines too broken to parse have nothing else to match on.
        return " OR ".join(f"instr(raw_line, '{p}') > 0" for p in pseudonyms)
    return f"account_id IN ({quoted}) OR profile_id IN ({quoted})"


def erase_members(
    spark: SparkSession,
    settings: Settings,
    account_ids: Iterable[str] = (),
    profile_ids: Iterable[str] = (),
    vacuum_hours: float = 0.0,
) -> ErasureResult:
    """Erase members everywhere in the warehouse, and keep them erased.

    An account id erases every profile of the account. The marts are rebuilt from silver
    (a full refresh of the models, because the profile-level models accumulate over
    time), then every table that held the members' rows is VACUUMed with `vacuum_hours`
    retention, so the deleted rows are gone from storage too, not only from the current
    Delta version. Take the pipeline lock around it (the CLI does).
    """
    began = time.perf_counter()
    key = settings.require_pseudonym_key()
    wanted = [("account", a.strip()) for a in account_ids if a.strip()]
    wanted += [("profile", p.strip()) for p in profile_ids if p.strip()]
    if not wanted:
        raise ValueError("erase_members needs at least one account id or profile id")
    request_id = "erasure-" + uuid.uuid4().hex[:12]
    requested_at = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = [(request_id, kind, pseudonym(raw, key), requested_at, None) for kind, raw in wanted]
    # An account's profiles are erased with it: recorded by their own pseudonyms too, so a
    # quarantined line or a later line that names only the profile is found as well.
    accounts = [r[2] for r in rows if r[1] == "account"]
    known = {r[2] for r in rows}
    rows += [(request_id, "profile", p, requested_at, None)
             for p in _profiles_of(spark, accounts) if p not in known]
    io.ensure_database(spark, "ops")
    # An earlier erasure that stopped after its deletes (its rebuild failed or was
    # interrupted) left its members in the rebuilt models and marts, though bronze and
    # silver no longer hold them: this one rebuilds for it too, and completes it.
    unfinished = sorted({r[0] for r in io.read_table(spark, ERASURES_TABLE).where("completed_at is null")
                         .select("request_id").collect()}) if io.table_exists(spark, ERASURES_TABLE) else []
    # Recorded first: from now on ingest quarantines these members' lines, even if the
    # rest of the erasure fails and has to be rerun.
    io.append(spark, ERASURES_TABLE, spark.createDataFrame(rows, ERASURES_SCHEMA))
    pseudonyms = sorted({r[2] for r in rows})

    result = ErasureResult(
        request_id=request_id,
        accounts=sum(1 for k, _ in wanted if k == "account"),
        profiles=sum(1 for k, _ in wanted if k == "profile"),
    )
    event_dates: set[date] = set()
    touched: list[str] = []
    for table in (S.BRONZE_EVENTS, S.BRONZE_QUARANTINE, S.SILVER_SESSIONS):
        if not io.table_exists(spark, table):
            continue
        condition = _member_rows(table, pseudonyms)
        if table != S.BRONZE_QUARANTINE:
            event_dates |= {r[0] for r in io.read_table(spark, table).where(condition)
                            .select("event_date").distinct().collect()}
        deleted = io.delete_where(spark, table, condition)
        result.rows_deleted[table] = deleted.rows_deleted
        touched.append(table)
    result.event_dates = sorted(d.isoformat() for d in event_dates)
    if event_dates:
        # The offline reports: a report's figures minus the rebuilt marts' would be the
        # members' own viewing. Every one, since a report's date does not bound its data (a
        # backfill's report, or `slatehouse report --date`, shows the marts as they were
        # then, later days included). The next run writes its date's reports again.
        from slatehouse.dashboards.reports import remove_reports  # here: it loads plotly

        result.report_folders_removed = [str(p) for p in remove_reports(settings)]

    if (event_dates or unfinished) and io.table_exists(spark, S.SILVER_SESSIONS):
        from slatehouse.marts import build_marts, mart_tables

        # Models only: deleting a member's rows cannot break what the last build's tests
        # checked, and the next run's build and marts gate test them again.
        build_marts(spark, settings, full_refresh=True, count_rows=False, with_tests=False)
        result.marts_rebuilt = True
        # Every rebuilt model: a mart's older files hold cells of one or two profiles too.
        touched += _intermediate_tables(spark) + mart_tables(spark)
    for table in touched:
        io.vacuum(spark, table, vacuum_hours)
        result.vacuumed.append(table)

    completed_at = datetime.now(timezone.utc).replace(tzinfo=None)
    completed = ", ".join(f"'{r}'" for r in [request_id, *unfinished])
    io.update_where(spark, ERASURES_TABLE, f"request_id IN ({completed})", {"completed_at": completed_at})
    result.completed_earlier = unfinished
    result.duration_s = round(time.perf_counter() - began, 2)
    log.info("erasure %s: %d accounts, %d profiles; deleted %s; %d event dates rebuilt",
             request_id, result.accounts, result.profiles, result.rows_deleted, len(event_dates))
    return result


def _profiles_of(spark: SparkSession, accounts: list[str]) -> list[str]:
    """The profile pseudonyms seen with these account pseudonyms, in bronze and silver."""
    if not accounts:
        return []
    found: set[str] = set()
    for table in (S.BRONZE_EVENTS, S.SILVER_SESSIONS):
        if io.table_exists(spark, table):
            found |= {r[0] for r in io.read_table(spark, table).where(F.col("account_id").isin(accounts))
                      .where(F.col("profile_id").isNotNull()).select("profile_id").distinct().collect()}
    return sorted(found)


def _intermediate_tables(spark: SparkSession) -> list[str]:
    if not spark.catalog.databaseExists("intermediate"):
        return []
    return sorted(f"intermediate.{t.name}" for t in spark.catalog.listTables("intermediate")
                  if t.tableType != "VIEW" and not t.isTemporary)


def _newest_ingested(spark: SparkSession) -> date | None:
    if not io.table_exists(spark, S.BRONZE_EVENTS):
        return None
    return io.read_table(spark, S.BRONZE_EVENTS).agg(F.max("received_date")).first()[0]


def _ingested_dates(spark: SparkSession) -> set[date]:
    """Received dates whose events were ingested: those with rows in bronze (accepted or
    quarantined), and those of every run that ingested and succeeded (bronze retention may
    have removed their rows already)."""
    dates: set[date] = set()
    for table in (S.BRONZE_EVENTS, S.BRONZE_QUARANTINE):
        if io.table_exists(spark, table):
            dates |= {r[0] for r in io.read_table(spark, table).select("received_date").distinct().collect()}
    if io.table_exists(spark, S.OPS_RUNS):
        runs = (io.read_table(spark, S.OPS_RUNS)
                .where("status = 'succeeded' AND command IN ('run', 'backfill', 'ingest')")
                .select("report_json").collect())
        for (report,) in runs:  # the dates it was given, less those it skipped (no folder)
            given = json.loads(report)
            dates |= {date.fromisoformat(d) for d in set(given.get("dates", [])) - set(given.get("skipped_dates", []))}
    return dates


@dataclass
class RetentionResult:
    landing_cutoff: str
    bronze_cutoff: str
    landing_folders_removed: list[str] = field(default_factory=list)
    # Older than the cutoff but never ingested: kept, and named in a warning.
    landing_folders_not_ingested: list[str] = field(default_factory=list)
    rows_deleted: dict[str, int] = field(default_factory=dict)
    reports_cutoff: str = ""
    report_folders_removed: list[str] = field(default_factory=list)
    # Quality-gate results (GX's stored results and data-docs pages) of runs before the cutoff.
    gate_results_removed: int = 0


def apply_retention(spark: SparkSession, settings: Settings, today: date | None = None) -> RetentionResult:
    """Remove landing folders and bronze rows older than their retention periods.

    The landing files hold raw member ids, so they are kept only as long as reruns and
    late events need them (`landing_retention_days`). Bronze keeps the parsed events for
    session rebuilds and audits (`bronze_retention_days`). Silver and the marts are kept:
    they are pseudonymised, and the marts are rebuilt from them. Old files leave storage
    at the next VACUUM (`slatehouse maintain` runs both).

    Ages count back from `today`, which defaults to the newest received date already in
    bronze, not the wall clock: a pipeline that stopped for a month must not find its
    backlog purged when it restarts. A landing folder that was never ingested (no rows in
    bronze, no succeeded run for its date) is never removed: it is kept and named in a
    warning (`landing_folders_not_ingested`).
    """
    from slatehouse import quality  # here: it loads Great Expectations
    from slatehouse.dashboards.reports import remove_reports  # here: it loads plotly

    today = today or _newest_ingested(spark)
    if today is None:
        log.info("retention: nothing ingested yet, nothing to remove")
        return RetentionResult(landing_cutoff="", bronze_cutoff="")
    landing_cutoff = today - timedelta(days=settings.landing_retention_days)
    bronze_cutoff = today - timedelta(days=settings.bronze_retention_days)
    result = RetentionResult(landing_cutoff=landing_cutoff.isoformat(), bronze_cutoff=bronze_cutoff.isoformat())
    # Catalogue snapshots hold no member data and stay: the SCD2 dimensions need them.
    folder = f"{settings.landing_dir}/events"
    old = [d for d in io.list_partition_dates(spark, folder, "received_date") if d < landing_cutoff]
    ingested = _ingested_dates(spark) if old else set()
    for d in old:
        path = f"{folder}/received_date={d.isoformat()}"
        if d in ingested:
            io.remove_path(spark, path)
            result.landing_folders_removed.append(path)
        else:
            result.landing_folders_not_ingested.append(path)
    if result.landing_folders_not_ingested:
        log.warning("retention: kept %d landing folder(s) older than %s that were never ingested: %s. "
                    "Ingest them (`slatehouse backfill`) or remove them by hand; retention removes "
                    "them once ingested.", len(result.landing_folders_not_ingested), landing_cutoff,
                    ", ".join(result.landing_folders_not_ingested))
    for table in (S.BRONZE_EVENTS, S.BRONZE_QUARANTINE):
        if io.table_exists(spark, table):
            deleted = io.delete_where(spark, table, f"received_date < DATE'{bronze_cutoff.isoformat()}'")
            result.rows_deleted[table] = deleted.rows_deleted
    reports_cutoff = today - timedelta(days=settings.reports_retention_days)
    result.reports_cutoff = reports_cutoff.isoformat()
    result.report_folders_removed = [str(p) for p in remove_reports(settings, before=reports_cutoff)]
    if io.table_exists(spark, S.OPS_RUNS):  # a run's pages go with its dates' reports
        old_runs = io.read_table(spark, S.OPS_RUNS).where(F.col("last_date") < F.lit(reports_cutoff))
        result.gate_results_removed = quality.remove_validations_of(
            settings, [r["run_id"] for r in old_runs.select("run_id").collect()])
    log.info("retention: removed %d landing folders before %s; bronze rows before %s: %s; %d report folders "
             "and %d gate results before %s", len(result.landing_folders_removed), landing_cutoff, bronze_cutoff,
             result.rows_deleted, len(result.report_folders_removed), result.gate_results_removed, reports_cutoff)
    return result
