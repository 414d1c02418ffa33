"""The scheduled pipeline: the lock, and daily runs recorded in the ledger."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import oracle
from slatehouse import io, pipeline


def test_a_second_run_is_refused_while_one_holds_the_lock(settings, tmp_path):
    local = settings.model_copy(update={"home": tmp_path})
    with pipeline.pipeline_lock(local, "first-run"):
        with pytest.raises(pipeline.LockedError, match="first-run"):
            with pipeline.pipeline_lock(local, "second-run"):
                pass
    # Released: the next run gets it.
    with pipeline.pipeline_lock(local, "third-run"):
        assert json.loads((tmp_path / "run.lock").read_text())["run_id"] == "third-run"


def test_a_stale_lock_from_a_crashed_run_is_taken_over(settings, tmp_path, caplog):
    local = settings.model_copy(update={"home": tmp_path})
    (tmp_path / "run.lock").write_text(json.dumps({"run_id": "crashed", "pid": 999999}))
    with pipeline.pipeline_lock(local, "next-run"):
        pass
    assert "stale lock" in caplog.text and "crashed" in caplog.text


def test_daily_runs_fill_the_ledger(spark, settings, landing):
    from conftest import reset_warehouse

    reset_warehouse(spark)
    days = oracle.received_dates(Path(settings.landing_dir))[:2]
    reports = [pipeline.run(spark, settings, [d], with_outputs=False) for d in days]

    runs = {r["run_id"]: r for r in io.read_table(spark, pipeline.RUNS_TABLE).collect()}
    steps = io.read_table(spark, pipeline.STEPS_TABLE).collect()
    expected_steps = ["catalog", "events", "sessions", "gate:bronze", "gate:silver", "dbt", "gate:marts"]
    for report in reports:
        assert report.status == "succeeded"
        assert runs[report.run_id]["status"] == "succeeded"
        assert [s.step for s in report.steps] == expected_steps
        recorded = sorted(s["step"] for s in steps if s["run_id"] == report.run_id)
        assert recorded == sorted(expected_steps)
        assert all(s["status"] == "succeeded" for s in steps if s["run_id"] == report.run_id)
        counts = report.counts()[report.dates[0]]
        assert counts["lines_read"] == counts["accepted"] + counts["quarantined"] + counts["duplicates"] > 0
        ledger = json.loads(runs[report.run_id]["report_json"])
        assert ledger["steps"][1]["detail"]["lines_read"] == counts["lines_read"]
    # The marts hold what silver holds for the days the runs touched.
    hours_marts = spark.sql("select sum(hours_viewed) from marts.fct_title_daily").first()[0]
    hours_silver = spark.sql("select sum(play_time_s) / 3600 from silver.playback_sessions").first()[0]
    assert hours_marts == pytest.approx(hours_silver, rel=1e-9)
    status = pipeline.status(spark)
    assert {r["run_id"] for r in status["runs"]} >= {r.run_id for r in reports}
    assert status["freshness"]["bronze.events"] == max(d.isoformat() for d in days)
