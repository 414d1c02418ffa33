"""Unit tests for sessionisation on a few inline events."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from slatehouse.contract.schema import BRONZE_EVENTS_SCHEMA
from slatehouse.transforms.sessions import sessionize

T0 = datetime(2026, 3, 1, 20, 0, 0)


def events(spark, rows, session="s1", title="f1", received=date(2026, 3, 1)):
    out = []
    for i, (event_type, offset_s, position_s) in enumerate(rows):
        ts = T0 + timedelta(seconds=offset_s)
        out.append((
            f"{session}-{i}", event_type, ts, ts, "acc", "prf", session, title, float(position_s),
            "tv", "FR", "1.0", 1, ts.date(), received, "f.jsonl", i + 1, ts,
        ))
    return spark.createDataFrame(out, BRONZE_EVENTS_SCHEMA)


def titles(spark, runtime_s=600):
    return spark.createDataFrame([("f1", runtime_s)], "title_id string, runtime_s int")


def one(spark, rows, runtime_s=600, **kw):
    return events(spark, rows, **kw).transform(sessionize(titles(spark, runtime_s))).collect()[0]


def test_play_time_excludes_pauses_and_seeks(spark):
    s = one(spark, [
        ("play_start", 0, 0), ("heartbeat", 60, 60), ("pause", 90, 90), ("resume", 300, 90),
        ("seek", 310, 300), ("heartbeat", 370, 360), ("play_stop", 400, 390),
    ])
    assert s["play_time_s"] == 60 + 30 + 10 + 60 + 30
    assert s["watched_segments"] == [(0.0, 100.0), (300.0, 390.0)]
    assert s["content_watched_s"] == 190.0
    assert s["contiguous_progress_s"] == 100.0
    assert s["max_position_s"] == 390.0 and s["event_count"] == 7
    assert s["has_play_stop"] and not s["has_late_events"]
    assert s["session_end_ts"] - s["session_start_ts"] == timedelta(seconds=400)


def test_gaps_are_capped_at_two_heartbeats(spark):
    # The app went silent for 20 minutes while playing, then one more heartbeat.
    s = one(spark, [("play_start", 0, 0), ("heartbeat", 60, 60), ("heartbeat", 1260, 1260)], runtime_s=5000)
    assert s["play_time_s"] == 60 + 120
    assert not s["has_play_stop"]


def test_rewatching_adds_play_time_but_not_distinct_content(spark):
    s = one(spark, [
        ("play_start", 0, 0), ("heartbeat", 60, 60), ("seek", 60, 0), ("heartbeat", 120, 60),
        ("play_stop", 150, 90),
    ])
    assert s["play_time_s"] == 150
    assert s["content_watched_s"] == 90


def test_coverage_is_clipped_to_runtime_and_out_of_order_rows_are_sorted(spark):
    rows = [("heartbeat", 60, 60), ("play_start", 0, 0), ("play_stop", 100, 100)]
    s = one(spark, rows, runtime_s=80)
    assert s["play_time_s"] == 100
    assert s["content_watched_s"] == 80 and s["contiguous_progress_s"] == 80


def test_resumed_session_has_no_contiguous_progress_from_the_start(spark):
    s = one(spark, [("play_start", 0, 200), ("heartbeat", 60, 260), ("play_stop", 90, 290)])
    assert s["content_watched_s"] == 90 and s["contiguous_progress_s"] == 0


def test_late_event_is_flagged_and_date_comes_from_the_start(spark):
    late = events(spark, [("play_start", 0, 0), ("heartbeat", 60, 60)], received=date(2026, 3, 3))
    s = late.transform(sessionize(titles(spark))).collect()[0]
    assert s["has_late_events"] and s["event_date"] == date(2026, 3, 1)


def test_contiguous_progress_bridges_a_sub_second_hole_but_not_a_skip(spark):
    s = one(spark, [
        ("play_start", 0, 0), ("seek", 60, 60.5), ("heartbeat", 120, 120.5),  # 0.5 s hole: bridged
        ("seek", 130, 400), ("play_stop", 160, 430),                        # skip ahead: not
    ], runtime_s=1000)
    assert s["watched_segments"] == [(0.0, 60.0), (60.5, 130.5), (400.0, 430.0)]
    assert s["contiguous_progress_s"] == 130.5
    assert s["content_watched_s"] == 60 + 70 + 30
