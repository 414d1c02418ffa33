"""Generate a small faulty dataset -> ingest every received date -> check everything.

Counts are compared exactly with the simulator's ground truth and with an independent
plain-Python reading of the same files (tests/oracle.py); every session metric is
compared with the oracle's sessions; a rerun leaves every table as it was.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pyspark.sql import functions as F

import oracle
from conftest import reset_warehouse
from slatehouse import io, pipeline
from slatehouse.contract import schema as S
from slatehouse.ingest import ingest


@pytest.fixture(scope="module")
def expected(settings, landing):
    key = settings.require_pseudonym_key()
    lnd = Path(settings.landing_dir)
    events, counts, reasons = oracle.accept_events(lnd, key, oracle.received_dates(lnd))
    return events, counts, reasons, oracle.sessions(events, oracle.runtimes(lnd))


def test_counts_add_up_and_match_ground_truth_and_oracle(ingested, expected, settings):
    _, days, results = ingested
    _, counts, reasons, _ = expected
    truth = json.loads((Path(settings.landing_dir) / "ground_truth" / "faults.json").read_text())["expected_ingest"]
    total = {"lines_read": 0, "accepted": 0, "quarantined": 0, "duplicates": 0}
    by_reason: dict[str, int] = {}
    for day, e in zip(days, results.events):
        assert e.lines_read == e.accepted + e.quarantined + e.duplicates
        assert (e.lines_read, e.accepted, e.quarantined, e.duplicates) == tuple(vars(counts[day]).values())
        for k in total:
            total[k] += getattr(e, k)
        for reason, n in e.by_reason.items():
            by_reason[reason] = by_reason.get(reason, 0) + n
    assert total["lines_read"] == truth["lines_read"]
    assert total["accepted"] == truth["accepted"]
    assert total["duplicates"] == truth["duplicates"]
    assert {k: v for k, v in by_reason.items() if k != "duplicate"} == {
        k: v for k, v in truth["quarantined"].items() if v
    }
    assert by_reason == reasons


def test_tables_hold_what_was_counted_and_no_raw_member_ids(ingested, expected):
    spark, _, results = ingested
    events, _, _, _ = expected
    assert spark.table(S.BRONZE_EVENTS).count() == len(events) == sum(e.accepted for e in results.events)
    quarantine = spark.table(S.BRONZE_QUARANTINE)
    assert quarantine.count() == sum(e.quarantined + e.duplicates for e in results.events)
    # A raw id (acc-000026, prf-000026-1) starts after a quote, colon or space; event and
    # session ids are UUIDs, whose hex can spell "...acc-4a38" without being a member id.
    assert quarantine.where("raw_line rlike '(^|[^0-9a-fA-F])(acc|prf)-[0-9]'").count() == 0
    assert spark.table(S.BRONZE_EVENTS).where("account_id rlike '^acc-' or profile_id rlike '^prf-'").count() == 0
    # Every quarantined row says where it came from and why.
    assert quarantine.where("reason_code is null or _source_file is null or _line_number < 1").count() == 0


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def test_every_session_metric_matches_the_oracle(ingested, expected):
    spark, _, _ = ingested
    _, _, _, want = expected
    rows = {r["session_id"]: r.asDict() for r in spark.table(S.SILVER_SESSIONS).collect()}
    assert set(rows) == set(want)
    mismatches = []
    for sid, exp in want.items():
        got = rows[sid]
        for col, value in exp.items():
            if col == "watched_segments":
                ok = len(got[col]) == len(value) and all(
                    _close(g["start_s"], s) and _close(g["end_s"], t) for g, (s, t) in zip(got[col], value))
            elif isinstance(value, float):
                ok = _close(got[col], value)
            else:
                ok = got[col] == value
            if not ok:
                mismatches.append((sid, col, got[col], value))
    assert not mismatches, mismatches[:5]


def _snapshot(spark, audit=True):
    """Every row of every table; `audit=False` leaves out when rows were ingested."""
    tables = [S.BRONZE_EVENTS, S.BRONZE_QUARANTINE, S.SILVER_SESSIONS, S.SILVER_TITLES, S.SILVER_CREDITS,
              S.SILVER_AVAILABILITY, S.SILVER_SEASONS, S.SILVER_TALENT, S.SILVER_SHOWS,
              S.SILVER_TITLE_GENRES, S.BRONZE_CATALOG]
    out = {}
    for t in tables:
        df = spark.table(t)
        if not audit and "_ingested_at" in df.columns:
            df = df.drop("_ingested_at")
        out[t] = sorted(map(repr, df.collect()))
    return out


def test_rerunning_days_leaves_every_table_as_it_was(ingested, settings):
    spark, days, results = ingested
    before = _snapshot(spark)
    again = ingest(spark, settings, [days[0], days[-1]])
    assert _snapshot(spark) == before
    counts = lambda e: (e.lines_read, e.accepted, e.quarantined, e.duplicates)  # noqa: E731
    assert [counts(e) for e in again.events] == [counts(results.events[0]), counts(results.events[-1])]


def test_day_by_day_gives_the_same_tables_as_one_bulk_pass(ingested, settings):
    """The bulk pass (a backfill) and one run per received date end in the same tables."""
    from conftest import reset_warehouse

    spark, days, results = ingested
    bulk = _snapshot(spark, audit=False)
    reset_warehouse(spark)
    daily = [ingest(spark, settings, [d]).events[0] for d in days]
    assert _snapshot(spark, audit=False) == bulk
    assert [vars(e)["by_reason"] for e in daily] == [e.by_reason for e in results.events]


def test_missing_landing_folder_is_a_clear_error(ingested, settings):
    from datetime import date

    spark, _, _ = ingested
    with pytest.raises(io.InputMissingError, match=r"received date\(s\) 2031-01-01"):
        io.read_event_lines(spark, settings, [date(2031, 1, 1)])


def test_a_received_date_whose_folder_holds_no_line_is_missing_input_not_an_empty_day(
        ingested, settings, tmp_path):
    """An upload under way (only `.tmp` parts, an empty part): the date must not pass its
    gates as a day of no viewing, or it would be marked ingested and never read again."""
    from datetime import date

    from slatehouse.ingest import ingest_events

    spark, _, _ = ingested
    local = settings.model_copy(update={"landing_dir": str(tmp_path / "landing")})
    hour = tmp_path / "landing" / "events" / "received_date=2031-01-02" / "hour=10"
    hour.mkdir(parents=True)
    (hour / "part-0.jsonl.tmp").write_text('{"event_id": "e1"}\n')
    (hour / "part-1.jsonl").write_text("")
    versions = {t: io.current_version(spark, t) for t in (S.BRONZE_EVENTS, S.BRONZE_QUARANTINE)}
    with pytest.raises(io.InputMissingError, match=r"No event lines for received date\(s\) 2031-01-02: .*"
                       r"\(not read: hour=10/part-0.jsonl.tmp\)"):
        ingest_events(spark, local, [date(2031, 1, 2)])
    assert {t: io.current_version(spark, t) for t in versions} == versions


def test_a_run_that_died_before_writing_the_dimensions_is_healed_by_its_rerun(ingested, settings, monkeypatch):
    """The snapshot reached bronze, the dimensions were never written: the rerun of the
    same date finds nothing new to load but must still derive the dimensions."""
    from conftest import reset_warehouse

    from slatehouse.ingest import DIMENSIONS_FROM, ingest_catalog

    spark, days, _ = ingested
    dims = [S.SILVER_TITLES, S.SILVER_CREDITS, S.SILVER_AVAILABILITY, S.SILVER_SEASONS,
            S.SILVER_TALENT, S.SILVER_SHOWS, S.SILVER_TITLE_GENRES]
    snapshot_dates = io.catalog_snapshot_dates(spark, settings)
    assert len(snapshot_dates) >= 2
    expected = {t: sorted(map(repr, spark.table(t).collect())) for t in dims}

    reset_warehouse(spark)
    first = ingest_catalog(spark, settings, snapshot_dates[-2])
    assert io.table_property(spark, S.BRONZE_CATALOG, DIMENSIONS_FROM).startswith(
        f"{first.snapshots_total} snapshots")
    marker = io.table_property(spark, S.BRONZE_CATALOG, DIMENSIONS_FROM)
    written = io.overwrite

    def crash(spark_, name, df, *args, **kwargs):  # the other six writes go through
        if name == S.SILVER_CREDITS:
            raise RuntimeError(f"killed while writing {name}")
        return written(spark_, name, df, *args, **kwargs)

    monkeypatch.setattr(io, "overwrite", crash)
    with pytest.raises(RuntimeError, match="killed while writing silver.catalog_credits"):
        ingest_catalog(spark, settings, snapshot_dates[-1])
    monkeypatch.setattr(io, "overwrite", written)
    loaded = {r[0] for r in spark.table(S.BRONZE_CATALOG).select("snapshot_date").distinct().collect()}
    assert snapshot_dates[-1] in loaded  # the snapshot is in bronze, the dimensions lag
    assert io.table_property(spark, S.BRONZE_CATALOG, DIMENSIONS_FROM) == marker  # and say so

    rerun = ingest_catalog(spark, settings, snapshot_dates[-1])
    assert rerun.snapshots_loaded == []  # nothing new to load ...
    assert S.SILVER_TITLES in rerun.versions  # ... yet the dimensions were derived again
    assert {t: sorted(map(repr, spark.table(t).collect())) for t in dims} == expected
    again = ingest_catalog(spark, settings, snapshot_dates[-1])
    assert S.SILVER_TITLES not in again.versions  # now up to date: nothing to do

    # A warehouse an earlier release built: its genre bridge has no `genre_rank`, and its
    # marker names no revision. The next run derives the dimensions again, in the new shape.
    marker = io.table_property(spark, S.BRONZE_CATALOG, DIMENSIONS_FROM)
    io.replace_table(spark, S.SILVER_TITLE_GENRES, spark.table(S.SILVER_TITLE_GENRES).drop("genre_rank"))
    io.set_table_property(spark, S.BRONZE_CATALOG, DIMENSIONS_FROM, marker.split(", revision")[0])
    upgraded = ingest_catalog(spark, settings, snapshot_dates[-1])
    assert upgraded.snapshots_loaded == [] and S.SILVER_TITLE_GENRES in upgraded.versions
    assert {t: sorted(map(repr, spark.table(t).collect())) for t in dims} == expected


def test_hostile_deliveries_are_read_whole_or_accounted_for(empty_warehouse, settings, landing, tmp_path):
    """What real producers do that the generator does not: a late file for a date that
    already ran, a title dropped from the latest snapshot, files the contract does not
    name, and a gzip made by `cat a.gz b.gz`. Nothing is read twice or lost."""
    import gzip
    import shutil

    from slatehouse.ingest import build_sessions, ingest_events

    spark = empty_warehouse
    local = settings.model_copy(update={"landing_dir": str(tmp_path / "landing")})
    shutil.copytree(settings.landing_dir, local.landing_dir)
    root = Path(local.landing_dir)
    days = oracle.received_dates(root)
    first, second = days[0], days[1]

    def folder(day):
        return root / "events" / f"received_date={day}" / "hour=23"

    def accepted_lines(day):  # well-formed events of a day, by id
        out = {}
        for path in sorted((root / "events" / f"received_date={day}").glob("hour=*/*.jsonl")):
            for line in path.read_text(errors="replace").splitlines():
                reason, rec = oracle.classify(line.encode())
                if reason is None and rec["received_ts"].startswith(str(day)):
                    out[rec["event_id"]] = rec
        return out

    # Files the contract does not name are reported, not read.
    folder(first).mkdir(parents=True, exist_ok=True)
    hidden = ("notes.txt", ".hidden.jsonl", "_SUCCESS", "upload.jsonl.tmp", ".staging/part-0.jsonl",
              "_temporary/0/part-1.jsonl")
    for name in hidden:
        (folder(first) / name).parent.mkdir(parents=True, exist_ok=True)
        (folder(first) / name).write_text('{"event_id": "x"}\n')
    # The last snapshot drops a title that has plays: a licence that ended.
    snapshots = sorted((root / "catalog").glob("snapshot_date=*"))
    listed = {json.loads(line)["title_id"] for line in (snapshots[0] / "titles.jsonl").read_text().splitlines()}
    plays = [r["title_id"] for r in accepted_lines(second).values() if r["title_id"] in listed]
    played = max(sorted(set(plays)), key=plays.count)
    last = snapshots[-1] / "titles.jsonl"
    last.write_text("".join(line + "\n" for line in last.read_text().splitlines()
                            if json.loads(line)["title_id"] != played))
    # Two gzip members in one file: both are read.
    rows = list(accepted_lines(first).values())[:30]
    members = [gzip.compress("".join(json.dumps({**r, "event_id": f"{r['event_id']}-{k}"}) + "\n"
                                     for r in rows[k::2]).encode()) for k in (0, 1)]
    (folder(first) / "two-members.jsonl.gz").write_bytes(members[0] + members[1])

    results = ingest(spark, local, days)
    one = results.events[0]
    assert one.ignored_files == sorted(f"hour=23/{n}" for n in hidden)
    assert spark.table(S.BRONZE_EVENTS).where("event_id like '%-0' or event_id like '%-1'").count() == 30

    # Sessions of the dropped title are built from its latest catalogue row.
    sessions = spark.table(S.SILVER_SESSIONS).where(f"title_id = '{played}'")
    events = spark.table(S.BRONZE_EVENTS).where(f"title_id = '{played}'")
    assert sessions.count() == events.select("session_id").distinct().count() > 0

    # A late file for the first date, after the second ran, repeating an event the second
    # accepted: a duplicate, not a second copy.
    kept = spark.table(S.BRONZE_EVENTS).where(f"received_date = '{second}'").orderBy("event_id").first()
    taken = accepted_lines(second)[kept["event_id"]]
    late = {**taken, "received_ts": f"{first}T23:59:00Z", "event_ts": f"{first}T23:58:00Z"}
    (folder(first) / "late-delivery.jsonl").write_text(json.dumps(late) + "\n")
    rerun = ingest_events(spark, local, [first])[0]
    assert rerun.duplicates == one.duplicates + 1 and rerun.accepted == one.accepted
    assert rerun.lines_read == one.lines_read + 1
    assert spark.table(S.BRONZE_EVENTS).where(f"event_id = '{taken['event_id']}'").count() == 1
    build_sessions(spark, local, [first])
    assert spark.table(S.BRONZE_QUARANTINE).where(
        f"event_id = '{taken['event_id']}' and reason_code = 'duplicate'").count() == 1

    # A file of a session nobody else reported, then withdrawn by its producer and the date
    # run again: the session goes from silver too, as a build from scratch would not have it.
    session = [r for r in accepted_lines(first).values() if r["session_id"] == rows[0]["session_id"]]
    withdrawn = folder(first) / "withdrawn.jsonl"
    withdrawn.write_text("".join(json.dumps({**r, "event_id": f"w-{r['event_id']}", "session_id": "withdrawn-1"})
                                 + "\n" for r in session))
    ingest_events(spark, local, [first])
    assert build_sessions(spark, local, [first]).sessions_written > 0
    day_of = spark.table(S.SILVER_SESSIONS).where("session_id = 'withdrawn-1'").collect()
    assert len(day_of) == 1
    before = spark.table(S.SILVER_SESSIONS).where("session_id != 'withdrawn-1'").orderBy("session_id").collect()
    withdrawn.unlink()
    ingest_events(spark, local, [first])
    again = build_sessions(spark, local, [first])
    assert spark.table(S.SILVER_SESSIONS).where("session_id = 'withdrawn-1'").count() == 0
    assert spark.table(S.SILVER_SESSIONS).orderBy("session_id").collect() == before
    assert day_of[0]["event_date"].isoformat() in again.event_dates  # so the marts of that day are rebuilt


def test_a_session_is_rebuilt_from_all_its_events_wherever_they_were_received(
        empty_warehouse, settings, landing, tmp_path):
    """A session paused for a week and resumed (the contract has no timeout) is one session,
    not a second row for its resumed part; and a session whose events after midnight were
    in a file since withdrawn loses them when that date runs again."""
    import shutil
    from datetime import date as Date

    from slatehouse.ingest import build_sessions

    spark = empty_warehouse
    local = settings.model_copy(update={"landing_dir": str(tmp_path / "landing")})
    shutil.copytree(settings.landing_dir, local.landing_dir)
    root = Path(local.landing_dir)
    days = oracle.received_dates(root)
    first, second, week_later = days[0], days[0] + timedelta(days=1), days[0] + timedelta(days=7)
    assert second in days and week_later not in days
    template = next(json.loads(line) for path in sorted(root.glob(f"events/received_date={first}/*/*.jsonl"))
                    for line in path.read_text().splitlines()
                    if oracle.classify(line.encode())[0] is None and json.loads(line)["event_type"] == "play_start")

    def deliver(day: Date, name: str, session: str, events: list[tuple[str, str, float]]) -> Path:
        path = root / "events" / f"received_date={day}" / "hour=23" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps({
            **template, "event_id": f"{session}-{day}-{n}", "session_id": session, "event_type": kind,
            "event_ts": f"{ts}Z", "received_ts": f"{ts}Z", "position_s": position}) + "\n"
            for n, (kind, ts, position) in enumerate(events)))
        return path

    deliver(first, "paused.jsonl", "paused-a-week", [
        ("play_start", f"{first}T10:00:00", 0.0), ("heartbeat", f"{first}T10:01:00", 60.0),
        ("pause", f"{first}T10:01:30", 90.0)])
    deliver(week_later, "resumed.jsonl", "paused-a-week", [
        ("resume", f"{week_later}T20:00:00", 90.0), ("heartbeat", f"{week_later}T20:01:00", 150.0),
        ("play_stop", f"{week_later}T20:01:30", 180.0)])
    deliver(first, "evening.jsonl", "past-midnight", [
        ("play_start", f"{first}T23:58:00", 0.0), ("heartbeat", f"{first}T23:59:00", 60.0)])
    after_midnight = deliver(second, "after-midnight.jsonl", "past-midnight", [
        ("heartbeat", f"{second}T00:00:00", 120.0), ("play_stop", f"{second}T00:00:30", 150.0)])

    def session(session_id):
        rows = spark.table(S.SILVER_SESSIONS).where(F.col("session_id") == session_id).collect()
        return [(r["event_date"].isoformat(), r["event_count"], r["play_time_s"], r["has_play_stop"]) for r in rows]

    for day in (first, second, week_later):  # daily runs
        ingest(spark, local, [day])
    assert session("paused-a-week") == [(str(first), 6, 180.0, True)]
    assert session("past-midnight") == [(str(first), 4, 150.0, True)]

    after_midnight.unlink()  # withdrawn: the date is run again
    result = ingest(spark, local, [second])
    assert session("past-midnight") == [(str(first), 2, 60.0, False)]
    assert str(first) in result.sessions.event_dates
    # Nothing else changes on a rerun.
    before = spark.table(S.SILVER_SESSIONS).orderBy("session_id").collect()
    build_sessions(spark, local, [second])
    assert spark.table(S.SILVER_SESSIONS).orderBy("session_id").collect() == before


def test_a_step_that_repeats_lines_stops_the_ingest_before_it_writes(ingested, settings, monkeypatch):
    """The counts are not a sum of themselves: lines are counted from the files, so a join
    that multiplied rows (here a catalogue with every title twice) is caught."""
    from slatehouse import ingest as ingest_module
    from slatehouse.ingest import ConservationError, ingest_events

    spark, days, _ = ingested
    check = ingest_module.check_titles
    monkeypatch.setattr(ingest_module, "check_titles", lambda titles: check(titles.unionByName(titles)))
    before = {t: io.current_version(spark, t) for t in (S.BRONZE_EVENTS, S.BRONZE_QUARANTINE)}
    with pytest.raises(ConservationError, match=r"the files hold (\d+) lines, \1 of them came out of the checks, in"):
        ingest_events(spark, settings, days[:1])
    assert {t: io.current_version(spark, t) for t in before} == before


@pytest.mark.parametrize("breakage, message", [
    ("twice", r"listed more than once in a snapshot: \S+ title_id=(\S+) \(2 rows\)"),
    ("null runtime", r"required fields are null: \S+ title_id=\S+: runtime_s"),
    ("text runtime", r"a line does not match the contract .*runtime_s"),
])
def test_a_broken_catalogue_snapshot_is_refused_by_name(empty_warehouse, settings, landing, tmp_path,
                                                         breakage, message):
    import shutil

    from slatehouse.ingest import CatalogError, ingest_catalog

    spark = empty_warehouse
    local = settings.model_copy(update={"landing_dir": str(tmp_path / "landing")})
    shutil.copytree(Path(settings.landing_dir) / "catalog", Path(local.landing_dir) / "catalog")
    first = sorted((Path(local.landing_dir) / "catalog").glob("snapshot_date=*"))[0] / "titles.jsonl"
    rows = first.read_text().splitlines()
    row = json.loads(rows[0])
    extra = {"twice": {**row, "runtime_s": row["runtime_s"] + 60}, "null runtime": {**row, "runtime_s": None},
             "text runtime": {**row, "runtime_s": "ninety minutes"}}[breakage]
    first.write_text("\n".join(rows[1:] + [json.dumps(extra)]) + "\n" if breakage != "twice"
                     else "\n".join(rows + [json.dumps(extra)]) + "\n")
    with pytest.raises(CatalogError, match=message):
        ingest_catalog(spark, local, io.catalog_snapshot_dates(spark, local)[-1])
    assert not io.table_exists(spark, S.BRONZE_CATALOG) or spark.table(S.BRONZE_CATALOG).count() == 0


def test_status_answers_beside_a_running_run_without_spark(spark, settings, ingested):
    """`slatehouse status` reads the ledger and the layers' dates with delta-rs: beside a
    run that holds the lock it answers, lists that run's steps so far and its live process,
    tells a 'running' row whose process is gone, starts no JVM, and gives the latest dates
    Spark sees."""
    started = datetime.now(timezone.utc)
    probe = pipeline.RunReport(run_id="status-probe", command="run", dates=["2026-03-03"],
                               started_at=started.isoformat())
    crashed = pipeline.RunReport(run_id="status-crashed", command="backfill", dates=["2026-03-02"],
                                 started_at=(started - timedelta(hours=1)).isoformat())
    io.ensure_database(spark, "ops")
    pipeline._record_run(spark, probe)
    pipeline._record_run(spark, crashed)
    pipeline._record_step(spark, probe.run_id, pipeline.StepReport(
        step="catalog", status="succeeded", started_at=started.isoformat(), duration_s=1.5))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLATEHOUSE_")}
    env.update(SLATEHOUSE_HOME=str(settings.home), SLATEHOUSE_MODE="demo",
               SLATEHOUSE_WAREHOUSE_DIR=settings.warehouse_dir)
    try:
        with pipeline.pipeline_lock(settings, probe.run_id):  # as the run would
            done = subprocess.run([sys.executable, "-m", "slatehouse.cli", "status", "--json"], env=env,
                                  capture_output=True, text=True, timeout=120)
            text = subprocess.run([sys.executable, "-m", "slatehouse.cli", "status"], env=env,
                                  capture_output=True, text=True, timeout=120).stdout
        # The crashed run's record left in the lock file, its pid now another live process's
        # (this one's), and nobody holding the lock: not alive.
        settings.lock_file.write_text(json.dumps({"run_id": crashed.run_id, "pid": os.getpid(),
                                                  "host": socket.gethostname()}))
        reused = subprocess.run([sys.executable, "-m", "slatehouse.cli", "status", "--json"], env=env,
                                capture_output=True, text=True, timeout=120)
    finally:
        settings.lock_file.write_text("")
        for table in (S.OPS_RUNS, S.OPS_RUN_STEPS):
            spark.sql(f"DELETE FROM {table} WHERE run_id IN ('{probe.run_id}', '{crashed.run_id}')")
    assert done.returncode == 0, done.stderr
    assert "spark" not in done.stderr.lower(), done.stderr
    result = json.loads(done.stdout)
    run = result["runs"][0]
    assert (run["run_id"], run["status"], run["first_date"]) == ("status-probe", "running", "2026-03-03")
    assert run["steps"] == [{"step": "catalog", "status": "succeeded", "duration_s": 1.5}]
    assert run["process"] == {"is_alive": True, "pid": os.getpid(), "host": socket.gethostname()}
    assert 0 <= run["elapsed_s"] < 600
    gone = result["runs"][1]
    assert (gone["run_id"], gone["status"], gone["process"]) == ("status-crashed", "running", {"is_alive": False})
    assert f"alive: pid {os.getpid()}" in text and "its process is gone" in text, text
    gone_reused = json.loads(reused.stdout)["runs"][1]
    assert gone_reused["process"] == {"is_alive": False, "pid": os.getpid(), "host": socket.gethostname()}
    assert all("steps" not in r for r in result["runs"] if r["status"] != "running")
    for table, column in pipeline.FRESHNESS.items():
        latest = spark.table(table).agg(F.max(column)).first()[0] if io.table_exists(spark, table) else None
        assert result["freshness"][table] == (latest.isoformat() if latest else None), table
    assert result["freshness"][S.BRONZE_EVENTS] == max(ingested[1]).isoformat()


# Last in this module: it vacuums the tables the tests above share.
def test_maintain_is_in_the_ledger_and_keeps_every_row(spark, settings, ingested):
    """Every command that writes the warehouse has its row in ops.runs (`status` shows it);
    maintain's has no dates."""
    tables = (S.BRONZE_EVENTS, S.BRONZE_QUARANTINE, S.SILVER_SESSIONS)
    before = {t: sorted(io.read_table(spark, t).collect()) for t in tables}

    result = pipeline.maintain(spark, settings, retention_hours=0)

    maintained = {d["table"] for d in result["tables"]}
    assert set(tables) | {S.OPS_RUNS} <= maintained
    for t in tables:
        assert sorted(io.read_table(spark, t).collect()) == before[t], t
    row = io.read_table(spark, S.OPS_RUNS).where(f"run_id = '{result['run_id']}'").first()
    assert (row["command"], row["status"], row["first_date"], row["last_date"]) == ("maintain", "succeeded", None, None)
    assert json.loads(row["report_json"])["steps"][0]["detail"]["tables"][0]["table"] in maintained
    steps = io.read_table(spark, S.OPS_RUN_STEPS).where(f"run_id = '{result['run_id']}'").collect()
    assert [(s["step"], s["status"]) for s in steps] == [("maintain", "succeeded")]
    assert pipeline.status(settings)["runs"][0]["run_id"] == result["run_id"]
    reset_warehouse(spark)  # the vacuum took the older versions other tests may read
