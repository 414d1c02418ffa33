"""The Airflow DAGs in docs/airflow/ load in a real Airflow and map exit codes right.

Airflow never shares an environment with dbt, so it runs in its own virtual environment
(.cache/airflow-venv, made by `bash .ci/tool-venv.sh airflow`) as a subprocess of this test.
The CLI the tasks call is replaced by a tiny script with the real CLI's exit codes and
`--json` output: what is under test is the DAG's handling of them, not the pipeline.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DAG_FILE = REPO / "docs" / "airflow" / "slatehouse_dag.py"
AIRFLOW_PYTHON = Path(os.environ.get("AIRFLOW_VENV", REPO / ".cache" / "airflow-venv")) / "bin" / "python"

if not AIRFLOW_PYTHON.exists():
    message = (
        f"\n\n*** Airflow DAG tests SKIPPED: no Airflow environment at {AIRFLOW_PYTHON}. ***\n"
        "*** Create it with `bash .ci/tool-venv.sh airflow` (a few minutes, once). ***\n"
    )
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    print(message)
    pytest.skip(message, allow_module_level=True)


def _airflow(tmp_path: Path, script: str, **env: str) -> dict:
    """Run `script` in the Airflow environment; it prints one JSON object last."""
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SLATEHOUSE_"))},
        "AIRFLOW_HOME": str(tmp_path / "airflow-home"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAG_FILE.parent),
        **env,
    }
    result = subprocess.run(
        [str(AIRFLOW_PYTHON), "-c", textwrap.dedent(script), str(DAG_FILE)],
        env=full_env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_dags_load_with_the_expected_tasks_schedules_and_retries(tmp_path):
    summary = _airflow(tmp_path, """
        import json, sys
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=sys.argv[1])
        out = {"import_errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": {}}
        for dag_id, dag in bag.dags.items():
            out["dags"][dag_id] = {
                "schedule": str(dag.schedule) if dag.schedule is not None else None,
                "catchup": dag.catchup,
                "max_active_runs": dag.max_active_runs,
                "params": sorted(dag.params.keys()),
                "tasks": {t.task_id: {
                    "downstream": sorted(t.downstream_task_ids),
                    "retries": t.retries,
                    "has_failure_callback": bool(t.on_failure_callback),
                } for t in dag.tasks},
            }
        # Which day the daily DAG's first run processes, and when it starts.
        import pendulum
        from airflow.timetables.base import TimeRestriction
        first = bag.dags["slatehouse_daily"].timetable.next_dagrun_info(
            last_automated_data_interval=None,
            restriction=TimeRestriction(earliest=pendulum.datetime(2026, 1, 1, tz="UTC"), latest=None, catchup=True))
        out["daily_first_run"] = {"ds": first.logical_date.strftime("%Y-%m-%d"), "run_after": first.run_after.isoformat()}
        print(json.dumps(out))
    """)
    assert summary["import_errors"] == {}
    dags = summary["dags"]
    assert set(dags) == {"slatehouse_daily", "slatehouse_backfill", "slatehouse_maintain"}

    daily = dags["slatehouse_daily"]
    # The run for a day starts once that day is over (and its files are in): `ds` is the
    # day the run processes, not the day it fires on.
    assert summary["daily_first_run"] == {"ds": "2026-01-01", "run_after": "2026-01-02T02:30:00+00:00"}
    assert daily["catchup"] is True  # missed days are run, in order...
    assert daily["max_active_runs"] == 1  # ...one at a time: they share the warehouse
    assert set(daily["tasks"]) == {"run", "report"}
    assert daily["tasks"]["run"]["downstream"] == ["report"]
    assert daily["tasks"]["run"]["retries"] == 3
    assert all(t["has_failure_callback"] for d in dags.values() for t in d["tasks"].values())

    backfill = dags["slatehouse_backfill"]
    assert backfill["schedule"] is None and backfill["params"] == ["end", "start"]
    assert set(backfill["tasks"]) == {"backfill"}

    maintain = dags["slatehouse_maintain"]
    assert maintain["schedule"] == "@weekly" and maintain["catchup"] is False
    assert set(maintain["tasks"]) == {"maintain"}


FAKE_CLI = """#!/bin/sh
# Stands in for `slatehouse`: logs to stderr, prints a --json report, exits as told.
echo "$@" >> "$(dirname "$0")/calls.txt"
echo "INFO slatehouse: step log line" >&2
# The reports have the shape of slatehouse.pipeline.RunReport.
case "$FAKE_EXIT" in
  0) printf '{\n  "run_id": "r1",\n  "status": "succeeded",\n  "dates": ["2026-03-01"]\n}\n' ;;
  2) echo '{"run_id": "r2", "status": "gate_failed", "steps": [], "error": "silver__playback_sessions.critical: play_time_s < 0 in 3 rows"}' ;;
  3) echo "error: landing/2026-03-01/events.jsonl not found" >&2 ;;
  *) echo '{"run_id": "r4", "status": "failed", "error": null, "steps": [{"step": "dbt", "status": "failed", "message": "warehouse locked by pid 123"}]}' ;;
esac
exit "$FAKE_EXIT"
"""


def test_tasks_fail_fast_on_a_gate_and_retry_on_missing_input_or_lock(tmp_path):
    cli = tmp_path / "slatehouse"
    cli.write_text(FAKE_CLI)
    cli.chmod(0o755)
    alerts = tmp_path / "alerts.txt"
    outcomes = _airflow(tmp_path, """
        import importlib.util, json, os, sys

        spec = importlib.util.spec_from_file_location("slatehouse_dag", sys.argv[1])
        dag = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(dag)

        out = {}
        for code in ("0", "2", "3", "4"):
            os.environ["FAKE_EXIT"] = code
            try:
                out[code] = {"report": dag.run_cli(["run", "--date", "2026-03-01"])}
            except Exception as exc:
                out[code] = {"error": type(exc).__name__, "message": str(exc),
                             "fails_without_retry": isinstance(exc, dag.AirflowFailException)}
                if code == "2":
                    class TI: dag_id, task_id = "slatehouse_daily", "run"
                    dag.notify_failure({"ti": TI(), "ds": "2026-03-01", "exception": exc})
        print(json.dumps(out))
    """, SLATEHOUSE_CLI=str(cli), SLATEHOUSE_ALERT_CMD=f"cat > {alerts}")

    assert outcomes["0"] == {"report": {"run_id": "r1", "status": "succeeded", "dates": ["2026-03-01"]}}

    gate = outcomes["2"]
    assert gate["fails_without_retry"] is True
    assert "a critical quality gate failed" in gate["message"]
    assert "silver__playback_sessions.critical: play_time_s < 0 in 3 rows" in gate["message"]
    # The failure callback passes the gate's own words on.
    alert = alerts.read_text()
    assert "slatehouse_daily.run for 2026-03-01 failed" in alert
    assert "play_time_s < 0 in 3 rows" in alert

    missing = outcomes["3"]
    assert missing["fails_without_retry"] is False
    assert "an input is missing" in missing["message"]
    assert "events.jsonl not found" in missing["message"]  # no report: stderr's end instead

    locked = outcomes["4"]
    assert locked["fails_without_retry"] is False
    assert "dbt: warehouse locked by pid 123" in locked["message"]  # from the failed step

    calls = (tmp_path / "calls.txt").read_text().splitlines()
    assert calls == ["run --date 2026-03-01 --json"] * 4


SLOW_CLI = """#!/bin/sh
# Stands in for a long `slatehouse run`: says when it is stopped, as the real CLI records it.
trap 'echo interrupted > "$(dirname "$0")/stopped.txt"; exit 143' TERM
echo "INFO slatehouse: [2] events ..." >&2
while :; do sleep 0.1; done
"""


def test_a_task_stopped_by_its_timeout_stops_the_cli_it_runs(tmp_path):
    """Airflow's execution_timeout raises in the task (SIGALRM). The CLI must not run on
    after it, holding the warehouse lock against the retry: it gets SIGTERM, which the
    real CLI turns into an 'interrupted' run."""
    cli = tmp_path / "slatehouse"
    cli.write_text(SLOW_CLI)
    cli.chmod(0o755)
    outcome = _airflow(tmp_path, """
        import importlib.util, json, signal, sys, time

        spec = importlib.util.spec_from_file_location("slatehouse_dag", sys.argv[1])
        dag = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(dag)

        class TaskTimeout(Exception):  # what Airflow's SIGALRM handler raises
            pass

        def timeout(*_):
            raise TaskTimeout()

        signal.signal(signal.SIGALRM, timeout)
        signal.alarm(2)
        t0 = time.monotonic()
        try:
            dag.run_cli(["run", "--date", "2026-03-01"])
            raised = None
        except TaskTimeout:
            raised = "TaskTimeout"
        print(json.dumps({"raised": raised, "seconds": round(time.monotonic() - t0, 1)}))
    """, SLATEHOUSE_CLI=str(cli))

    assert outcome["raised"] == "TaskTimeout" and outcome["seconds"] < 60
    assert (tmp_path / "stopped.txt").read_text().strip() == "interrupted"
