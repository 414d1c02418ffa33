"""Erasure requests and retention, on real Delta tables and a real dbt build."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from pyspark.sql import functions as F

import oracle
from conftest import reset_warehouse
from slatehouse import io, pipeline, privacy, quality
from slatehouse.contract import schema as S
from slatehouse.ingest import ingest
from slatehouse.settings import ConfigError, Settings
from slatehouse.transforms.events import hmac_sha256_hex


def test_the_erasure_pseudonym_is_the_one_ingest_writes(spark, settings):
    key = settings.require_pseudonym_key()
    ids = ["acc-000001", "prof-ü-7", ""]
    jvm = spark.createDataFrame([(i,) for i in ids], "id string").select(
        "id", hmac_sha256_hex(F.col("id"), key).alias("p")).collect()
    assert {r["id"]: r["p"] for r in jvm} == {i: privacy.pseudonym(i, key) for i in ids}
    assert privacy.pseudonym("acc-000001", key) == oracle.pseudonym(key, "acc-000001")


def test_a_delete_that_matches_nothing_reports_nothing_deleted(spark):
    io.ensure_database(spark, "ops")
    table = "ops.delete_probe"
    spark.sql(f"drop table if exists {table}")
    io.append(spark, table, spark.createDataFrame([(1,), (2,), (3,)], "n int"))
    io.delete_where(spark, table, "n = 2")  # the latest commit now deleted a row
    nothing = io.delete_where(spark, table, "n = 99")
    assert nothing.rows_deleted == 0, "no commit: the previous delete is not reported again"
    assert io.delete_where(spark, table, "n >= 1").rows_deleted == 2
    spark.sql(f"drop table {table}")


def _landing_accounts(landing: Path) -> dict[str, int]:
    """Raw account id -> number of landing lines that carry it (any line, any fault)."""
    counts: dict[str, int] = {}
    for path in sorted((landing / "events").rglob("*.jsonl*")):
        for line in oracle.read_lines(path):
            _, event = oracle.classify(line)
            if event and isinstance(event.get("account_id"), str):
                counts[event["account_id"]] = counts.get(event["account_id"], 0) + 1
    return counts


def _profiles_of(landing: Path, raw_account: str) -> set[str]:
    """Raw profile ids seen with a raw account id in the landing lines."""
    return {event["profile_id"] for path in sorted((landing / "events").rglob("*.jsonl*"))
            for event in (oracle.classify(line)[1] for line in oracle.read_lines(path))
            if event and event.get("account_id") == raw_account and isinstance(event.get("profile_id"), str)}


def _lines_mentioning(landing: Path, raw_ids: set[str]) -> int:
    """Landing lines that carry any of the raw ids as a whole JSON string, broken ones included."""
    needles = [f'"{raw_id}"'.encode() for raw_id in raw_ids]
    return sum(1 for path in sorted((landing / "events").rglob("*.jsonl*"))
               for line in oracle.read_lines(path) if line is not None and any(n in line for n in needles))


def _stored_values(location: str, column: str) -> set[str]:
    """Every value of a column in every Parquet file under a table's folder: what is on
    disk, not only what the current Delta version shows."""
    dataset = ds.dataset(location.removeprefix("file:"), format="parquet",
                         exclude_invalid_files=True, ignore_prefixes=["_delta_log"])
    if column not in dataset.schema.names:
        return set()
    return set(dataset.to_table(columns=[column]).column(column).to_pylist())


def test_an_erased_account_is_gone_everywhere_and_stays_gone(spark, settings, landing):
    reset_warehouse(spark)
    landing_dir = Path(settings.landing_dir)
    days = oracle.received_dates(landing_dir)
    ingest(spark, settings, days)

    key = settings.require_pseudonym_key()
    per_account = _landing_accounts(landing_dir)
    raw_account = max(per_account, key=per_account.get)  # the heaviest viewer
    erased = privacy.pseudonym(raw_account, key)
    sessions = io.read_table(spark, S.SILVER_SESSIONS)
    profiles = {r[0] for r in sessions.where(F.col("account_id") == erased).select("profile_id").distinct().collect()}
    assert profiles, "the heaviest account has sessions before the erasure"
    hours_before = sessions.agg(F.sum("play_time_s")).first()[0] / 3600
    hours_erased = sessions.where(F.col("account_id") == erased).agg(F.sum("play_time_s")).first()[0] / 3600

    first_play = sessions.where(F.col("account_id") == erased).agg(F.min("event_date")).first()[0]
    reports_before = [Path(settings.reports_dir) / (first_play + timedelta(days=n)).isoformat() for n in (-1, 0, 1)]
    for folder in reports_before:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "top10_weekly.html").write_text("<html></html>")

    # The first attempt dies in its rebuild, after bronze and silver lost the member's rows.
    from slatehouse import marts

    build = marts.build_marts

    def crash(*args, **kwargs):
        raise RuntimeError("killed while rebuilding the marts")

    marts.build_marts = crash
    try:
        with pytest.raises(RuntimeError, match="killed while rebuilding"):
            privacy.erase_members(spark, settings, account_ids=[raw_account])
    finally:
        marts.build_marts = build
    failed = io.read_table(spark, privacy.ERASURES_TABLE).collect()
    assert failed and all(r["completed_at"] is None for r in failed)
    # The reports went with the deletes: beside the rebuilt dashboards they would give the
    # member's viewing away. Every one: a report's date does not bound the days it shows.
    assert not any(folder.exists() for folder in reports_before)
    # Its rerun finds no rows left to delete, and still rebuilds for it and completes it.
    result = privacy.erase_members(spark, settings, account_ids=[raw_account])

    assert result.marts_rebuilt and result.rows_deleted[S.SILVER_SESSIONS] == 0
    assert result.completed_earlier == [failed[0]["request_id"]]
    for table in (S.BRONZE_EVENTS, S.SILVER_SESSIONS):
        df = io.read_table(spark, table)
        assert df.where((F.col("account_id") == erased) | F.col("profile_id").isin(list(profiles))).count() == 0
        # Gone from storage too: the files of older Delta versions were vacuumed.
        assert erased not in _stored_values(io.table_location(spark, table), "account_id")
    quarantine = io.read_table(spark, S.BRONZE_QUARANTINE)
    for pseudonym in (erased, *profiles):  # a broken line may name only the profile
        assert quarantine.where(F.instr("raw_line", pseudonym) > 0).count() == 0
    member_models = [t for t in privacy._intermediate_tables(spark)
                     if {"account_id", "profile_id"} & set(io.read_table(spark, t).columns)]
    assert member_models
    for table in member_models:
        stored = _stored_values(io.table_location(spark, table), "profile_id")
        assert stored and not (stored & profiles), table
    hours_marts = spark.sql("select sum(hours_viewed) from marts.fct_title_daily").first()[0]
    assert hours_marts == pytest.approx(hours_before - hours_erased, rel=1e-9)
    ledger = io.read_table(spark, privacy.ERASURES_TABLE).collect()
    # The account's profiles are recorded by their own pseudonyms, so a line naming only
    # the profile is kept out too.
    # (The rerun found them in neither bronze nor silver any more: the first request holds them.)
    assert sorted((r["id_kind"], r["pseudonym"]) for r in ledger if r["request_id"] == failed[0]["request_id"]) \
        == sorted([("account", erased)] + [("profile", p) for p in profiles])
    assert [(r["id_kind"], r["pseudonym"]) for r in ledger if r["request_id"] == result.request_id] == [
        ("account", erased)]
    assert set(result.vacuumed) >= {"marts.fct_title_daily", "marts.fct_top10_weekly"}
    assert all(r["completed_at"] is not None for r in ledger)
    assert raw_account not in json.dumps([r.asDict() for r in ledger], default=str)

    # A rerun over the landing files written before the erasure does not bring it back:
    # its lines are quarantined as erased_member, without their raw text, and counted.
    results = ingest(spark, settings, days).events
    erased_lines = sum(r.by_reason.get("erased_member", 0) for r in results)
    raw_profiles = _profiles_of(landing_dir, raw_account)
    assert {privacy.pseudonym(p, key) for p in raw_profiles} == profiles
    assert erased_lines == _lines_mentioning(landing_dir, {raw_account, *raw_profiles})
    for r in results:
        assert r.lines_read == r.accepted + r.quarantined + r.duplicates
    rows = io.read_table(spark, S.BRONZE_QUARANTINE).where(F.col("reason_code") == "erased_member")
    assert rows.count() == erased_lines and rows.where(F.col("raw_line").isNotNull()).count() == 0
    assert io.read_table(spark, S.SILVER_SESSIONS).where(F.col("account_id") == erased).count() == 0
    reset_warehouse(spark)


def test_retention_removes_old_landing_folders_and_bronze_rows(spark, settings, landing, tmp_path):
    reset_warehouse(spark)
    local = settings.model_copy(update={"landing_dir": str(tmp_path / "landing"), "reports_dir": tmp_path / "reports"})
    shutil.copytree(settings.landing_dir, local.landing_dir)
    days = oracle.received_dates(Path(local.landing_dir))
    ingest(spark, local, days)
    keep_from = days[2]
    today = keep_from + timedelta(days=local.bronze_retention_days)
    local = local.model_copy(update={"landing_retention_days": local.bronze_retention_days,
                                     "reports_retention_days": local.bronze_retention_days})
    for day in days:  # a run's offline reports, and a folder that is not one
        (local.reports_dir / day.isoformat()).mkdir(parents=True)
        (local.reports_dir / day.isoformat() / "top10_weekly.html").write_text("<html></html>")
    gate_runs = {}  # quality gates of an old and a recent day, each with its ledger row and pages
    for day in (days[0], days[2]):
        with pipeline.recorded(spark, local, "validate", [day]) as r:
            quality.run_gate(spark, local, "bronze", [day], r.report.run_id)
        gate_runs[day] = r.report.run_id
    docs = local.reports_dir / "data_docs"

    def pages(run_id: str) -> list[Path]:
        return [p for root in (docs, quality.gx_home(local)) for p in root.rglob(f"{run_id}__*")]

    assert all(pages(run_id) for run_id in gate_runs.values())
    old_results = len(list(quality.gx_home(local).rglob(f"{gate_runs[days[0]]}__*")))
    before = {t: io.read_table(spark, t).where(F.col("received_date") >= keep_from).count()
              for t in (S.BRONZE_EVENTS, S.BRONZE_QUARANTINE)}
    sessions_before = io.read_table(spark, S.SILVER_SESSIONS).count()

    # By default ages count from the newest ingested date: all of this is recent.
    untouched = privacy.apply_retention(spark, local)
    assert untouched.landing_folders_removed == [] and not any(untouched.rows_deleted.values())
    assert untouched.report_folders_removed == [] and untouched.gate_results_removed == 0

    # An old folder that was never ingested (a gap a backfill skipped, its folder arriving
    # later) is kept, and named; one a succeeded run ingested goes, though bronze has no
    # rows of it (bronze retention may have removed them first).
    stray, ingested_by_run = days[0] - timedelta(days=3), days[0] - timedelta(days=4)
    for day in (stray, ingested_by_run):
        shutil.copytree(Path(local.landing_dir) / "events" / f"received_date={days[0].isoformat()}",
                        Path(local.landing_dir) / "events" / f"received_date={day.isoformat()}")
    with pipeline.recorded(spark, local, "backfill", [ingested_by_run, stray]) as r:
        r.report.skipped_dates = [stray.isoformat()]

    result = privacy.apply_retention(spark, local, today=today)

    assert [p.rsplit("=", 1)[1] for p in result.landing_folders_removed] == [
        d.isoformat() for d in (ingested_by_run, *days[:2])]
    assert [p.rsplit("=", 1)[1] for p in result.landing_folders_not_ingested] == [stray.isoformat()]
    assert oracle.received_dates(Path(local.landing_dir)) == [stray, *days[2:]]
    assert [Path(p).name for p in result.report_folders_removed] == [d.isoformat() for d in days[:2]]
    assert sorted(p.name for p in local.reports_dir.iterdir()) == sorted([d.isoformat() for d in days[2:]] + ["data_docs"])
    # The old day's gate results and pages are gone, the recent day's stay, and the index
    # links only to pages that exist.
    assert result.gate_results_removed == old_results > 0
    assert pages(gate_runs[days[0]]) == [] and pages(gate_runs[days[2]])
    index = (docs / "index.html").read_text()
    assert gate_runs[days[0]] not in index and gate_runs[days[2]] in index
    for table, kept in before.items():
        df = io.read_table(spark, table)
        assert df.where(F.col("received_date") < keep_from).count() == 0
        assert df.count() == kept
    assert result.rows_deleted[S.BRONZE_EVENTS] > 0
    # Silver is pseudonymised and the marts are rebuilt from it: it stays.
    assert io.read_table(spark, S.SILVER_SESSIONS).count() == sessions_before
    reset_warehouse(spark)


def test_a_dedupe_lookback_shorter_than_copies_can_lie_apart_is_refused():
    """Two copies of one event can be accepted lateness_days + 1 received dates apart (the
    first sent by a clock a few minutes fast, just before midnight): a shorter lookback
    accepts both, and a backfill over them then fails the bronze gate's unique event_id."""
    with pytest.raises(ConfigError, match="DEDUPE_LOOKBACK_DAYS \\(3\\) must be at least"):
        Settings(lateness_days=3, dedupe_lookback_days=3)
    assert Settings(lateness_days=2, dedupe_lookback_days=3).dedupe_lookback_days == 3


def test_retention_shorter_than_reruns_need_is_refused():
    with pytest.raises(ConfigError, match="LANDING_RETENTION_DAYS"):
        Settings(landing_retention_days=5, lateness_days=3, dedupe_lookback_days=4)
