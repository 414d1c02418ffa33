"""Quality gates on real Spark, Delta and Great Expectations (no mocks).

Each layer gets one clean dataset that passes, and one corrupted dataset in which every
corrupt row breaks exactly one critical expectation. The gate must raise GateFailed, the
failed expectations must be exactly the ones aimed at (each with the expected number of
unexpected rows), the message must name them and their tables, and the tables given in
`restore` must be back at the version they had before the corrupt write.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime, timedelta

import pytest
from pyspark.sql.types import (
    BooleanType, DateType, DoubleType, IntegerType, LongType, StringType, StructField, StructType,
)

from slatehouse import io, quality as q
from slatehouse.contract import schema as S

D = date.fromisoformat
RECEIVED = D("2024-01-10")
DAY = D("2024-01-10")  # the run's event date for silver and marts


def nullable(schema: StructType) -> StructType:
    """The contract schema with every column nullable, so corrupt rows can hold nulls
    (the Delta tables ingest creates accept them too: Spark writes nullable columns)."""
    return StructType([StructField(f.name, f.dataType, True) for f in schema.fields])


def write(spark, table: str, rows: list[dict], schema: StructType) -> int:
    result = io.append(spark, table, spark.createDataFrame(rows, nullable(schema)))
    return result.version


def failed(result: q.GateResult, severity: str = "critical") -> Counter:
    """(suite, expectation type, column) -> unexpected count, for failed expectations."""
    return Counter({
        (s.suite, e.expectation_type, e.column): (e.unexpected_count if e.unexpected_count is not None else -1)
        for s in result.suites if s.severity == severity for e in s.failures
    })


def gate_failure(spark, settings, layer, dates, run_id, restore=None) -> q.GateFailed:
    with pytest.raises(q.GateFailed) as info:
        q.run_gate(spark, settings, layer, dates, run_id, restore=restore)
    return info.value


# --- Rows -------------------------------------------------------------------------------
def event(n: int, **over) -> dict:
    received_ts = datetime(2024, 1, 10, 10, 0) + timedelta(seconds=n)
    row = dict(
        event_id=f"e{n:03d}", event_type="heartbeat", event_ts=received_ts - timedelta(seconds=30),
        received_ts=received_ts, account_id="A1", profile_id="P1", session_id="s1", title_id="F1",
        position_s=float(n), device_type="tv", country="GB", app_version="1.0", schema_version=1,
        event_date=RECEIVED, received_date=RECEIVED, _source_file="events/hour=10/part-0.jsonl",
        _line_number=n, _ingested_at=datetime(2024, 1, 10, 11, 0),
    )
    row.update(over)
    return row


def quarantined(n: int, reason: str = "malformed_json") -> dict:
    return dict(received_date=RECEIVED, _source_file="events/hour=10/part-0.jsonl", _line_number=1000 + n,
                reason_code=reason, reason_detail=None, event_id=None, raw_line="{", _ingested_at=datetime(2024, 1, 10, 11))


TITLES = [
    dict(title_id=t, title_type="film", show_id=None, season_number=None, episode_number=None, title=t,
         runtime_s=3600, release_date=D("2024-01-01"), original_language="en", origin_country="GB",
         valid_from=D("2024-01-01"), valid_to=None, is_current=True)
    for t in ("F1", "F2")
]


def session(sid: str, day: date = DAY, **over) -> dict:
    start = datetime.combine(day, datetime.min.time()) + timedelta(hours=20)
    row = dict(
        session_id=sid, title_id="F1", account_id="A1", profile_id="P1", device_type="tv", country="GB",
        session_start_ts=start, session_end_ts=start + timedelta(seconds=1800), event_date=day,
        play_time_s=1800.0, content_watched_s=1800.0, contiguous_progress_s=1800.0, max_position_s=1800.0,
        runtime_s=3600, event_count=31, has_play_stop=True, has_late_events=False,
        watched_segments=[dict(start_s=0.0, end_s=1800.0)],
    )
    row.update(over)
    return row


_TYPES = {"string": StringType(), "long": LongType(), "int": IntegerType(), "double": DoubleType(),
          "date": DateType(), "boolean": BooleanType()}


def ddl(text: str) -> StructType:
    """'a string, b long' -> StructType (fromDDL needs a running session at import)."""
    return StructType([StructField(n, _TYPES[t], True) for n, t in (c.split() for c in text.split(","))])


# Mart shapes, from the dbt models' final selects (dbt/models/marts/viewing/*.sql).
TITLE_DAILY_SCHEMA = ddl(
    "title_id string, programme_id string, country string, device_type string, plays long, "
    "hours_viewed double, views double, unique_profiles long, unique_accounts long, starters long, "
    "watchers long, completers long, event_date date"
)
GENRE_WEEKLY_SCHEMA = ddl(
    "genre string, programmes_viewed long, hours_viewed double, views double, starters long, "
    "completers long, completion_rate double, share_of_hours double, week_end_date date, week_start_date date"
)
RELEASE_WINDOWS_SCHEMA = ddl(
    "programme_id string, programme_type string, window_days int, release_date date, "
    "window_end_date date, data_through_date date, is_window_complete boolean, runtime_s long, "
    "hours_viewed double, views double, plays long, unique_profiles long, unique_accounts long, "
    "increment_profiles long, starters long, watchers long, completers long, completion_rate double, "
    "avg_share_watched double"
)
SEASON_FUNNEL_SCHEMA = ddl(
    "season_id string, episode_number int, title_id string, episode_1_starters long, "
    "episode_starters long, episode_completers long, share_started double, share_completed double, "
    "season_starters long, season_completers long, binge_rate double, median_days_to_complete double"
)


def daily(title: str, day: date = DAY, **over) -> dict:
    row = dict(title_id=title, programme_id=title, country="GB", device_type="tv", plays=3, hours_viewed=1.5,
               views=1.5, unique_profiles=3, unique_accounts=2, starters=3, watchers=2, completers=1, event_date=day)
    row.update(over)
    return row


def genre_week(genre: str, **over) -> dict:
    row = dict(genre=genre, programmes_viewed=2, hours_viewed=3.0, views=2.0, starters=4, completers=2,
               completion_rate=0.5, share_of_hours=0.5, week_end_date=D("2024-01-14"), week_start_date=D("2024-01-08"))
    row.update(over)
    return row


def window(programme: str, **over) -> dict:
    row = dict(programme_id=programme, programme_type="film", window_days=28, release_date=D("2024-01-01"),
               window_end_date=D("2024-01-28"), data_through_date=DAY, is_window_complete=False, runtime_s=3600,
               hours_viewed=10.0, views=10.0, plays=12, unique_profiles=9, unique_accounts=8, increment_profiles=4,
               starters=8, watchers=6, completers=4, completion_rate=0.5, avg_share_watched=0.6)
    row.update(over)
    return row


def funnel(episode: int, **over) -> dict:
    row = dict(season_id="S1-S1", episode_number=episode, title_id=f"E{episode}", episode_1_starters=10,
               episode_starters=8, episode_completers=6, share_started=0.8, share_completed=0.6,
               season_starters=10, season_completers=5, binge_rate=0.4, median_days_to_complete=3.0)
    row.update(over)
    return row


def sessions_matching(mart_rows: list[dict]) -> list[dict]:
    """One silver session per date whose play time equals the mart's hours that day."""
    hours: dict[date, float] = {}
    for r in mart_rows:
        hours[r["event_date"]] = hours.get(r["event_date"], 0.0) + r["hours_viewed"]
    out = []
    for i, (day, h) in enumerate(sorted(hours.items())):
        seconds = h * 3600
        out.append(session(f"m{i}", day, play_time_s=seconds, session_end_ts=datetime.combine(day, datetime.min.time())
                           + timedelta(hours=20, seconds=seconds), runtime_s=max(int(seconds), 3600)))
    return out


def write_clean_marts(spark, title_daily: list[dict]) -> dict[str, int]:
    versions = {
        q.FCT_TITLE_DAILY: write(spark, q.FCT_TITLE_DAILY, title_daily, TITLE_DAILY_SCHEMA),
        q.FCT_GENRE_WEEKLY: write(spark, q.FCT_GENRE_WEEKLY, [genre_week("drama"), genre_week("comedy")],
                                  GENRE_WEEKLY_SCHEMA),
        q.FCT_TITLE_RELEASE_WINDOWS: write(spark, q.FCT_TITLE_RELEASE_WINDOWS, [window("F1"), window("F2")],
                                           RELEASE_WINDOWS_SCHEMA),
        q.FCT_SEASON_FUNNEL: write(spark, q.FCT_SEASON_FUNNEL, [funnel(1, share_started=1.0), funnel(2)],
                                   SEASON_FUNNEL_SCHEMA),
    }
    return versions


# --- Suites without Spark -----------------------------------------------------------------
def test_suites_are_well_formed_and_each_has_a_check():
    names = q.suite_names()
    subjects = {c.subject for c in q.CHECKS}
    for name in names:
        data = q.load_suite(name)  # raises on a bad name or file
        suite = q.build_suite(data)  # raises if GX drops an expectation
        assert len(suite.expectations) == len(data["expectations"])
        assert name.rsplit(".", 1)[0] in subjects, f"{name} has no Check in slatehouse.quality.CHECKS"
        assert all(e.get("notes") for e in data["expectations"]), f"{name}: every expectation says why"
    for check in q.CHECKS:
        assert f"{check.subject}.critical" in names or f"{check.subject}.warning" in names


def test_suites_restate_the_contract_exactly():
    events = q.load_suite("bronze__events.critical")["expectations"]
    by_type = lambda t: [e["kwargs"] for e in events if e["type"] == t]  # noqa: E731
    assert by_type("expect_table_columns_to_match_ordered_list")[0]["column_list"] == (
        S.BRONZE_EVENTS_SCHEMA.fieldNames() + ["lag_s"]
    )
    assert {k["column"]: k["type_"] for k in by_type("expect_column_values_to_be_of_type")} == {
        f.name: type(f.dataType).__name__ for f in S.BRONZE_EVENTS_SCHEMA.fields
    }
    sets = {k["column"]: k["value_set"] for k in by_type("expect_column_values_to_be_in_set")}
    assert sets == {"event_type": list(S.EVENT_TYPES), "schema_version": [S.SCHEMA_VERSION]}


def test_the_silver_playhead_bound_is_the_one_ingest_applies():
    """Ingest quarantines a playhead past POSITION_PAST_RUNTIME x the runtime so that one
    broken client cannot stop a day at the silver gate; the gate's bound must be that one."""
    from slatehouse.transforms.events import POSITION_PAST_RUNTIME

    sessions = q.load_suite("silver__playback_sessions.critical")["expectations"]
    bounds = [e["kwargs"]["max_value"] for e in sessions if e["kwargs"].get("column") == "max_position_to_runtime"]
    assert bounds == [POSITION_PAST_RUNTIME]


def test_a_misspelt_expectation_is_an_error_not_a_silent_drop():
    data = q.load_suite("bronze__events_totals.critical")
    data["expectations"].append({"type": "expect_column_values_to_be_betwen", "kwargs": {"column": "x"}})
    with pytest.raises(q.SuiteError, match="expect_column_values_to_be_betwen"):
        q.build_suite(data)


# --- Clean data passes ------------------------------------------------------------------
def test_a_gates_message_reads_consecutive_dates_as_ranges():
    days = [(date(2026, 1, 5) + timedelta(days=i)).isoformat() for i in range(120)]
    assert q.dates_text(days) == "2026-01-05..2026-05-04 (120 days)"
    assert q.dates_text(["2026-01-09", "2026-01-05", "2026-01-06", "2026-01-07", "2026-01-06"]) == \
        "2026-01-05..2026-01-07, 2026-01-09 (4 days)"
    assert q.dates_text(["2026-01-05", "2026-01-07"]) == "2026-01-05, 2026-01-07"
    assert q.dates_text(["2026-01-05", "2026-01-06"]) == "2026-01-05..2026-01-06"
    assert q.dates_text(["2026-01-05"]) == "2026-01-05"


def test_clean_data_passes_every_suite_and_is_recorded(empty_warehouse, settings):
    spark = empty_warehouse
    write(spark, S.BRONZE_EVENTS, [event(n) for n in range(1, 6)], S.BRONZE_EVENTS_SCHEMA)
    write(spark, S.BRONZE_QUARANTINE, [], S.QUARANTINE_SCHEMA)
    write(spark, S.SILVER_TITLES, TITLES, S.CATALOG_TITLES_SCHEMA)
    history = [daily(t, DAY - timedelta(days=k)) for k in range(1, 5) for t in ("F1", "F2")]
    mart = history + [daily("F1"), daily("F2", hours_viewed=0.5, views=0.5)]
    write(spark, S.SILVER_SESSIONS, sessions_matching(mart), S.PLAYBACK_SESSIONS_SCHEMA)
    write_clean_marts(spark, mart)

    results = [
        q.run_gate(spark, settings, "bronze", [RECEIVED], "clean-run"),
        q.run_gate(spark, settings, "silver", [DAY], "clean-run"),
        q.run_gate(spark, settings, "marts", [DAY], "clean-run"),
    ]

    suites = [s.suite for r in results for s in r.suites]
    assert sorted(suites) == q.suite_names(), "every suite ran"
    assert [(s.suite, e.describe()) for r in results for s in r.suites for e in s.failures] == []
    assert all(s.rows > 0 for r in results for s in r.suites)
    recorded = io.read_table(spark, q.VALIDATION_RESULTS).where("run_id = 'clean-run'")
    assert recorded.count() == sum(len(s.expectations) for r in results for s in r.suites)
    assert recorded.where("not success").count() == 0
    lag = recorded.where("column = 'lag_s'").first()
    assert json.loads(lag["kwargs_json"])["max_value"] == settings.lateness_days * 86400
    assert lag["run_dates"] == [RECEIVED] and lag["element_count"] == 5
    # A type check is about the column, not its rows: recorded with the observed type only.
    typed = recorded.where("expectation_type = 'expect_column_values_to_be_of_type'").collect()
    assert typed and all(r["element_count"] is None and r["unexpected_count"] is None for r in typed)
    index = settings.reports_dir / "data_docs" / "index.html"
    assert index.exists() and results[-1].data_docs and "clean-run" in index.read_text()


# --- Bronze ---------------------------------------------------------------------------------
def test_bronze_gate_names_each_broken_rule_and_restores(empty_warehouse, settings, monkeypatch):
    spark = empty_warehouse
    monkeypatch.setattr(q, "MIN_LINES_FOR_DAILY_RATES", 30)  # rates judged on this small run
    clean = [event(n) for n in range(1, 20)]
    before = {S.BRONZE_EVENTS: write(spark, S.BRONZE_EVENTS, clean, S.BRONZE_EVENTS_SCHEMA),
              S.BRONZE_QUARANTINE: None}
    base = datetime(2024, 1, 10, 12, 0)
    corrupt = [
        event(101, event_id=None),
        event(102, account_id=None),
        event(103, profile_id=None),
        event(104, session_id=None),
        event(105, title_id=None),
        event(106, event_ts=None),
        event(107, received_ts=None),
        event(108, event_id="e001"),  # a second e001: dedupe broke
        event(109, event_type="rewind"),
        event(110, schema_version=2),
        event(111, position_s=-1.0),
        event(112, received_ts=base, event_ts=base - timedelta(days=3, seconds=1)),  # too late
        event(113, received_ts=base, event_ts=base + timedelta(seconds=301)),  # from the future
    ]
    write(spark, S.BRONZE_EVENTS, corrupt, S.BRONZE_EVENTS_SCHEMA)
    # 4 quarantined of 19 + 13 + 4 = 36 lines: 11% > 5%
    write(spark, S.BRONZE_QUARANTINE, [quarantined(n) for n in range(4)], S.QUARANTINE_SCHEMA)

    error = gate_failure(spark, settings, "bronze", [RECEIVED], "run-bronze", restore=before)

    ev = "bronze__events.critical"
    assert failed(error.result) == Counter({
        (ev, "expect_column_values_to_not_be_null", "event_id"): 1,
        (ev, "expect_column_values_to_not_be_null", "account_id"): 1,
        (ev, "expect_column_values_to_not_be_null", "profile_id"): 1,
        (ev, "expect_column_values_to_not_be_null", "session_id"): 1,
        (ev, "expect_column_values_to_not_be_null", "title_id"): 1,
        (ev, "expect_column_values_to_not_be_null", "event_ts"): 1,
        (ev, "expect_column_values_to_not_be_null", "received_ts"): 1,
        (ev, "expect_column_values_to_be_unique", "event_id"): 2,
        (ev, "expect_column_values_to_be_in_set", "event_type"): 1,
        (ev, "expect_column_values_to_be_in_set", "schema_version"): 1,
        (ev, "expect_column_values_to_be_between", "position_s"): 1,
        (ev, "expect_column_values_to_be_between", "lag_s"): 2,
        # the day's row and the run's pooled row (one day: the same rate)
        ("bronze__events_totals.critical", "expect_column_values_to_be_between", "quarantine_rate"): 2,
    })
    message = str(error)
    assert "bronze.events: suite bronze__events.critical" in message
    assert "bronze.events_quarantine: suite bronze__events_totals.critical" in message
    assert "expect_column_values_to_be_in_set(column=event_type" in message and "event_type=rewind" in message
    assert "_line_number=111" in message and "position_s=-1.0" in message  # names the file line
    assert "1 of 32 rows unexpected" in message
    # restored: bronze.events is back to the clean rows; the quarantine table (new) is gone
    assert io.read_table(spark, S.BRONZE_EVENTS).count() == len(clean)
    assert not io.table_exists(spark, S.BRONZE_QUARANTINE)
    assert error.result.restored == before
    recorded = io.read_table(spark, q.VALIDATION_RESULTS).where("run_id = 'run-bronze' and not success")
    assert recorded.count() == len(failed(error.result)) + len(failed(error.result, "warning"))


def test_bronze_schema_drift_fails_the_column_and_type_checks(empty_warehouse, settings):
    spark = empty_warehouse
    drifted = StructType([
        StructField(f.name, LongType() if f.name == "schema_version" else f.dataType, True)
        for f in S.BRONZE_EVENTS_SCHEMA.fields
    ])
    io.append(spark, S.BRONZE_EVENTS, spark.createDataFrame([event(1)], drifted))
    spark.sql(f"ALTER TABLE {S.BRONZE_EVENTS} ADD COLUMNS (debug_note string)")
    write(spark, S.BRONZE_QUARANTINE, [], S.QUARANTINE_SCHEMA)

    error = gate_failure(spark, settings, "bronze", [RECEIVED], "run-drift")

    assert failed(error.result) == Counter({
        ("bronze__events.critical", "expect_table_columns_to_match_ordered_list", None): -1,
        ("bronze__events.critical", "expect_column_values_to_be_of_type", "schema_version"): -1,
    })
    assert "debug_note" in str(error) and "LongType" in str(error)


def test_bronze_warning_rates_are_recorded_and_do_not_stop_the_run(empty_warehouse, settings, monkeypatch):
    spark = empty_warehouse
    monkeypatch.setattr(q, "MIN_LINES_FOR_DAILY_RATES", 30)  # rates judged on this small run
    write(spark, S.BRONZE_EVENTS, [event(n) for n in range(1, 41)], S.BRONZE_EVENTS_SCHEMA)
    # 1 quarantined and 1 duplicate of 42 lines: 2.4% each, above the 1% warning, under 5%
    write(spark, S.BRONZE_QUARANTINE, [quarantined(1), quarantined(2, "duplicate")], S.QUARANTINE_SCHEMA)

    result = q.run_gate(spark, settings, "bronze", [RECEIVED], "run-warn")

    assert result.success
    assert failed(result, "warning") == Counter({
        ("bronze__events_totals.warning", "expect_column_values_to_be_between", "quarantine_rate"): 2,
        ("bronze__events_totals.warning", "expect_column_values_to_be_between", "duplicate_rate"): 2,
    })
    rows = io.read_table(spark, q.VALIDATION_RESULTS).where("run_id = 'run-warn' and not success").collect()
    assert {(r["severity"], r["column"]) for r in rows} == {("warning", "quarantine_rate"), ("warning", "duplicate_rate")}
    # One day: its row and the run's pooled row (received_date null) hold the same rates.
    assert all(sorted(r["unexpected_sample"]) == sorted(
        [f"received_date={d}: {r['column']}={1 / 42}" for d in (None, RECEIVED)]) for r in rows)


def test_a_run_too_small_for_a_rate_is_not_stopped_by_one(empty_warehouse, settings):
    """A quiet day run alone: 4 late stragglers, all quarantined, are 100 % of 4 lines, which
    says nothing about the data. Under MIN_LINES_FOR_DAILY_RATES lines no rate is judged."""
    spark = empty_warehouse
    write(spark, S.BRONZE_EVENTS, [], S.BRONZE_EVENTS_SCHEMA)
    write(spark, S.BRONZE_QUARANTINE, [quarantined(n, "too_late") for n in range(4)], S.QUARANTINE_SCHEMA)
    result = q.run_gate(spark, settings, "bronze", [RECEIVED], "run-quiet")
    assert result.success and not result.failed_warning


# --- Silver ---------------------------------------------------------------------------------
def test_silver_gate_names_each_broken_rule_and_restores(empty_warehouse, settings):
    spark = empty_warehouse
    write(spark, S.SILVER_TITLES, TITLES, S.CATALOG_TITLES_SCHEMA)
    clean = [session("s1"), session("s2", title_id="F2"), session("old", DAY - timedelta(days=1), runtime_s=0)]
    before = {S.SILVER_SESSIONS: write(spark, S.SILVER_SESSIONS, clean, S.PLAYBACK_SESSIONS_SCHEMA)}
    start = datetime(2024, 1, 10, 20, 0)
    corrupt = [
        session(None),
        session("s1"),  # a second s1
        session("r0", runtime_s=0, content_watched_s=0.0, max_position_s=0.0),
        session("neg", play_time_s=-1.0),
        session("long", play_time_s=1800.5, session_end_ts=start + timedelta(seconds=1800)),
        session("cw", content_watched_s=3600 * 1.06),
        session("pos", max_position_s=3600 * 1.11),
        session("ghost", title_id="GHOST"),
    ]
    write(spark, S.SILVER_SESSIONS, corrupt, S.PLAYBACK_SESSIONS_SCHEMA)

    error = gate_failure(spark, settings, "silver", [DAY], "run-silver", restore=before)

    sv = "silver__playback_sessions.critical"
    assert failed(error.result) == Counter({
        (sv, "expect_column_values_to_not_be_null", "session_id"): 1,
        (sv, "expect_column_values_to_be_unique", "session_id"): 2,
        (sv, "expect_column_values_to_be_between", "runtime_s"): 1,
        (sv, "expect_column_values_to_be_between", "play_time_s"): 1,
        (sv, "expect_column_values_to_be_between", "play_time_over_wall_clock_s"): 1,
        (sv, "expect_column_values_to_be_between", "content_watched_to_runtime"): 1,
        (sv, "expect_column_values_to_be_between", "max_position_to_runtime"): 1,
        (sv, "expect_column_values_to_be_null", "uncatalogued_title_id"): 1,
    })
    message = str(error)
    assert "silver.playback_sessions: suite silver__playback_sessions.critical (10 rows checked)" in message
    assert "session_id=ghost: uncatalogued_title_id=GHOST" in message
    assert "session_id=long: play_time_over_wall_clock_s=0.5" in message
    history = spark.sql(f"DESCRIBE HISTORY {S.SILVER_SESSIONS}").orderBy("version", ascending=False).first()
    assert history["operation"] == "RESTORE"
    assert sorted(r[0] for r in io.read_table(spark, S.SILVER_SESSIONS).select("session_id").collect()) == ["old", "s1", "s2"]


# --- Marts ----------------------------------------------------------------------------------
def test_marts_gate_names_each_broken_rule_and_restores(empty_warehouse, settings):
    spark = empty_warehouse
    clean = [daily("F1"), daily("F2")]
    before = write_clean_marts(spark, clean)
    corrupt_daily = [
        daily("F3", title_id=None),
        daily("F1"),  # the F1 / GB / tv cell twice
        daily("F4", unique_profiles=2),  # fewer profiles than starters
        daily("F5", starters=1, watchers=2, completers=1),
        daily("F6", watchers=2, completers=3),
        daily("F7", plays=0),
        daily("F8", hours_viewed=-0.5),
        daily("F9", views=-1.0),
    ]
    write(spark, q.FCT_TITLE_DAILY, corrupt_daily, TITLE_DAILY_SCHEMA)
    write(spark, S.SILVER_SESSIONS, sessions_matching(clean + corrupt_daily), S.PLAYBACK_SESSIONS_SCHEMA)
    write(spark, q.FCT_GENRE_WEEKLY, [
        genre_week(None), genre_week("horror", share_of_hours=1.2), genre_week("crime", completion_rate=1.5),
        genre_week("kids", starters=1, completers=2), genre_week("news", views=-2.0),
    ], GENRE_WEEKLY_SCHEMA)
    write(spark, q.FCT_TITLE_RELEASE_WINDOWS, [
        window("P1", watchers=9), window("P2", completers=7), window("P3", completion_rate=1.01),
        window("P4", avg_share_watched=-0.1), window("P5", views=-3.0), window("P6", increment_profiles=10),
        window("OLD", release_date=D("2023-01-01"), window_end_date=D("2023-01-07"), views=-1.0),  # closed: not checked
    ], RELEASE_WINDOWS_SCHEMA)
    write(spark, q.FCT_SEASON_FUNNEL, [
        funnel(3, share_started=1.1), funnel(4, share_completed=-0.2), funnel(5, binge_rate=2.0),
    ], SEASON_FUNNEL_SCHEMA)
    restore = {**before, q.FCT_SEASON_FUNNEL: None}  # as if the funnel were new in this run

    error = gate_failure(spark, settings, "marts", [DAY], "run-marts", restore=restore)

    td, gw = "marts__fct_title_daily.critical", "marts__fct_genre_weekly.critical"
    rw, sf = "marts__fct_title_release_windows.critical", "marts__fct_season_funnel.critical"
    between, pair = "expect_column_values_to_be_between", "expect_column_pair_values_a_to_be_greater_than_b"
    assert failed(error.result) == Counter({
        (td, "expect_column_values_to_not_be_null", "title_id"): 1,
        (td, "expect_compound_columns_to_be_unique", None): 2,
        (td, pair, "unique_profiles,starters"): 1,
        (td, pair, "starters,watchers"): 1,
        (td, pair, "watchers,completers"): 1,
        (td, between, "plays"): 1,
        (td, between, "hours_viewed"): 1,
        (td, between, "views"): 1,
        (gw, "expect_column_values_to_not_be_null", "genre"): 1,
        (gw, between, "share_of_hours"): 1,
        (gw, between, "completion_rate"): 1,
        (gw, pair, "starters,completers"): 1,
        (gw, between, "views"): 1,
        (rw, pair, "starters,watchers"): 1,
        (rw, pair, "watchers,completers"): 1,
        (rw, pair, "unique_profiles,increment_profiles"): 1,
        (rw, between, "completion_rate"): 1,
        (rw, between, "avg_share_watched"): 1,
        (rw, between, "views"): 1,
        (sf, between, "share_started"): 1,
        (sf, between, "share_completed"): 1,
        (sf, between, "binge_rate"): 1,
    })
    message = str(error)
    for table in (q.FCT_TITLE_DAILY, q.FCT_GENRE_WEEKLY, q.FCT_TITLE_RELEASE_WINDOWS, q.FCT_SEASON_FUNNEL):
        assert f"{table}: suite" in message
    assert "title_id=F5" in message and "watchers=2" in message
    # every mart is back at its clean version; the "new" funnel table is dropped
    assert sorted(r[0] for r in io.read_table(spark, q.FCT_TITLE_DAILY).select("title_id").collect()) == ["F1", "F2"]
    assert io.read_table(spark, q.FCT_GENRE_WEEKLY).count() == 2
    assert io.read_table(spark, q.FCT_TITLE_RELEASE_WINDOWS).count() == 2
    assert not io.table_exists(spark, q.FCT_SEASON_FUNNEL)


def test_a_failed_dbt_build_or_marts_gate_puts_the_marts_back_and_drops_the_new_ones(
        empty_warehouse, settings, monkeypatch):
    """dbt writes each model before it tests it: whatever fails after dbt began, the
    dashboards must keep reading the marts as they were before the run."""
    from slatehouse import marts, pipeline

    spark = empty_warehouse
    clean = [daily("F1"), daily("F2")]
    corrupt = clean + [daily("F7", plays=0)]
    write(spark, S.SILVER_SESSIONS, sessions_matching(corrupt), S.PLAYBACK_SESSIONS_SCHEMA)

    def dbt(rows, fails: bool):
        def build(spark_, settings_, start, end, **kwargs):
            write_clean_marts(spark_, rows)
            io.append(spark_, "marts.fct_added", spark_.createDataFrame([(1,)], "n int"))
            if fails:
                raise marts.MartsBuildError("dbt build failed: 1 of 40 nodes failed, 3 skipped.")
            return marts.MartsResult(success=True, command="build", start=start, end=end, full_refresh=False,
                                     elapsed_s=0.0)
        return build

    def run_marts():
        with pipeline.recorded(spark, settings, "run", [DAY]) as r:
            pipeline._build_marts(r, DAY, DAY)

    # The first run: no mart existed before it, and its gate fails. Every mart it made goes.
    monkeypatch.setattr(marts, "build_marts", dbt(corrupt, fails=False))
    with pytest.raises(pipeline.GateFailedError, match=r"Dropped .*marts.fct_added.* \(new in this run\)"):
        run_marts()
    assert marts.mart_tables(spark) == []

    # A later run whose dbt build fails after writing: back to the versions before it.
    write_clean_marts(spark, clean)
    before = {t: io.current_version(spark, t) for t in marts.mart_tables(spark)}
    monkeypatch.setattr(marts, "build_marts", dbt(clean, fails=True))
    with pytest.raises(marts.MartsBuildError) as failed_build:
        run_marts()
    assert f"{q.FCT_TITLE_DAILY} to v{before[q.FCT_TITLE_DAILY]}" in str(failed_build.value)
    assert "dropped marts.fct_added (new in this run)" in str(failed_build.value)
    assert marts.mart_tables(spark) == sorted(before)
    assert io.read_table(spark, q.FCT_TITLE_DAILY).count() == len(clean)
    assert pipeline.last_report().status == "failed" and "Restored" in pipeline.last_report().error

    # A gate whose checks cannot run has not passed either: its tables go back too.
    write(spark, q.FCT_TITLE_DAILY, [daily("F7", plays=0)], TITLE_DAILY_SCHEMA)
    monkeypatch.setattr(q, "_run_check", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("the JVM went away")))
    with pytest.raises(RuntimeError, match="the JVM went away"):
        with pipeline.recorded(spark, settings, "run", [DAY]) as r:
            pipeline._run_gates(r, "marts", [DAY], restore=before)
    assert io.read_table(spark, q.FCT_TITLE_DAILY).count() == len(clean)


def test_marts_totals_reconcile_with_silver_and_warn_on_volume(empty_warehouse, settings):
    spark = empty_warehouse
    history = [daily("F1", DAY - timedelta(days=k)) for k in range(1, 4)]
    today = [daily(f"T{i}") for i in range(5)]  # 5 cells against a trailing mean of 1
    versions = write_clean_marts(spark, history + today)
    sessions = sessions_matching(history + today)
    sessions[-1]["play_time_s"] += 1.0  # silver has one second more than the mart on DAY
    write(spark, S.SILVER_SESSIONS, sessions, S.PLAYBACK_SESSIONS_SCHEMA)
    write(spark, q.FCT_TITLE_DAILY, [daily("F1", DAY - timedelta(days=1), country="FR")], TITLE_DAILY_SCHEMA)

    error = gate_failure(spark, settings, "marts", [DAY], "run-totals", restore={q.FCT_TITLE_DAILY: versions[q.FCT_TITLE_DAILY]})

    tot = "marts__fct_title_daily_totals"
    assert failed(error.result) == Counter({
        (f"{tot}.critical", "expect_column_values_to_be_between", "hours_relative_diff"): 1,
    })
    assert failed(error.result, "warning") == Counter({
        (f"{tot}.warning", "expect_column_values_to_be_between", "rows_to_trailing_mean"): 1,
        (f"{tot}.warning", "expect_column_values_to_be_between", "hours_to_trailing_mean"): 1,
    })
    assert "event_date=2024-01-10: hours_relative_diff=" in str(error)
    # the extra FR row written for the day before is gone with the restore
    assert io.read_table(spark, q.FCT_TITLE_DAILY).count() == len(history + today)


def test_validate_is_the_cli_entry_point(empty_warehouse, settings):
    spark = empty_warehouse
    write(spark, S.SILVER_TITLES, TITLES, S.CATALOG_TITLES_SCHEMA)
    write(spark, S.SILVER_SESSIONS, [session("s1"), session("x", title_id="GHOST")], S.PLAYBACK_SESSIONS_SCHEMA)
    with pytest.raises(q.GateFailed, match="uncatalogued_title_id"):
        q.validate(settings, "silver", DAY)
    # A date with no rows passes nothing: it is reported as nothing to check (exit 3).
    with pytest.raises(q.NothingToValidate, match=f"no silver rows for {DAY - timedelta(days=1)}: nothing was checked"):
        q.validate(settings, "silver", DAY - timedelta(days=1))
    with pytest.raises(q.NothingToValidate, match="does not exist yet"):
        q.validate(settings, "marts", DAY)
    with pytest.raises(ValueError, match="bronze, silver, marts"):
        q.validate(settings, "gold", DAY)
