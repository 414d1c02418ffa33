"""Airflow DAGs for Slatehouse: the daily run, on-demand backfills, weekly maintenance.

Deploy by copying this file into Airflow's dags folder. It lives under docs/ rather than
in the `slatehouse` package because it belongs to the Airflow deployment, not to the
warehouse's environment: Airflow is installed on its own (never beside dbt, whose
dependencies it fights), this file imports nothing from `slatehouse`, and every step is
a call of the `slatehouse` CLI, the same command a person or cron would type.

The worker that runs these tasks needs:
- `slatehouse` on PATH, or SLATEHOUSE_CLI set to the command (e.g.
  `/srv/slatehouse/.venv/bin/slatehouse`);
- the warehouse's SLATEHOUSE_* settings in its environment (home, metastore, key);
- optionally SLATEHOUSE_DAG_START (first logical date, YYYY-MM-DD; default below) and
  SLATEHOUSE_ALERT_CMD, a shell command that receives each failure message on stdin
  (`mail -s slatehouse ops@example.org`, a chat webhook through curl, ...).

Exit codes of the CLI and what the tasks make of them:
  0 ok · 2 a critical quality gate failed: the task fails at once, no retry (the data
  will not change by waiting) · 3 an input is missing: retried, files may land late ·
  4 another run holds the warehouse lock: retried · anything else: retried.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import subprocess
import tempfile
from datetime import datetime, timedelta

try:  # Airflow 3
    from airflow.sdk import DAG, Param, task
    from airflow.sdk.exceptions import AirflowException, AirflowFailException
except ImportError:  # Airflow 2.x
    from airflow import DAG
    from airflow.decorators import task
    from airflow.exceptions import AirflowException, AirflowFailException
    from airflow.models.param import Param
from airflow.timetables.interval import CronDataIntervalTimetable  # the same in Airflow 2 and 3

log = logging.getLogger("slatehouse.airflow")

EXIT_OK, EXIT_GATE_FAILED, EXIT_INPUT_MISSING, EXIT_LOCKED = 0, 2, 3, 4
EXIT_MEANINGS = {
    EXIT_GATE_FAILED: "a critical quality gate failed",
    EXIT_INPUT_MISSING: "an input is missing",
    EXIT_LOCKED: "another run holds the warehouse lock",
    130: "interrupted (SIGINT)",
    143: "interrupted (SIGTERM)",
}

START_DATE = datetime.fromisoformat(os.environ.get("SLATEHOUSE_DAG_START", "2026-01-01"))

DEFAULT_ARGS = {
    "owner": "slatehouse",
    "retries": 3,
    "retry_delay": timedelta(minutes=15),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(hours=2),
    "execution_timeout": timedelta(hours=6),
}


class SlatehouseStepFailed(AirflowException):
    """A CLI step failed in a way worth retrying (input missing, lock held, crash)."""


class SlatehouseGateFailed(AirflowFailException):
    """A critical quality gate failed: fail now, without retries."""


def parse_report(stdout: str) -> dict:
    """The `--json` report: the whole output, or else its last line that is a JSON object."""
    text = stdout.strip()
    for candidate in [text, *reversed(text.splitlines())]:
        try:
            report = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(report, dict):
            return report
    return {}


def failure_message(args: list[str], exit_code: int, report: dict, stderr: str) -> str:
    """One readable message: the step, what the exit code means, and the CLI's own words:
    the run report's `error` (for a gate, which suite failed and how), else its failed
    steps' messages, else the end of stderr."""
    step = "slatehouse " + " ".join(args)
    meaning = EXIT_MEANINGS.get(exit_code, f"exit code {exit_code}")
    detail = report.get("error") or report.get("message")
    if not detail:
        failed = [f"{s.get('step')}: {s.get('message')}" for s in report.get("steps", [])
                  if isinstance(s, dict) and s.get("status") in ("failed", "interrupted")]
        detail = "; ".join(failed) or None
    if not detail:
        detail = "\n".join(stderr.strip().splitlines()[-15:]) or "(no output)"
    return f"{step}: {meaning}: {detail}"


def run_cli(args: list[str]) -> dict:
    """Run one `slatehouse` step with `--json`, stream its log, return its report."""
    cmd = [*shlex.split(os.environ.get("SLATEHOUSE_CLI", "slatehouse")), *args, "--json"]
    log.info("running %s", shlex.join(cmd))
    stderr_lines: list[str] = []
    # The report goes to a file, not a pipe, so a long log on stderr can never block it.
    with tempfile.TemporaryFile("w+") as stdout:
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, text=True)
        try:
            for line in proc.stderr:
                stderr_lines.append(line)
                log.info("%s", line.rstrip())
            exit_code = proc.wait()
        except BaseException:  # the task was stopped (execution_timeout, a kill): stop the step too
            stop_cli(proc)
            raise
        stdout.seek(0)
        report = parse_report(stdout.read())
    if exit_code == EXIT_OK:
        return report
    message = failure_message(args, exit_code, report, "".join(stderr_lines))
    if exit_code == EXIT_GATE_FAILED:
        raise SlatehouseGateFailed(message)
    raise SlatehouseStepFailed(message)


def stop_cli(proc: subprocess.Popen, grace_s: float = 120.0) -> None:
    """SIGTERM to the CLI process alone: it cancels its Spark jobs, records the run as
    'interrupted' and exits 143.
    Left running, it would hold the warehouse lock against the task's own retry."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def notify_failure(context) -> None:
    """on_failure_callback: put the step's message (the gate's, for a gate failure)
    where people look: the log, and SLATEHOUSE_ALERT_CMD if set."""
    ti = context.get("task_instance") or context.get("ti")
    where = f"{getattr(ti, 'dag_id', '?')}.{getattr(ti, 'task_id', '?')} for {context.get('ds')}"
    message = f"Slatehouse {where} failed: {context.get('exception')}"
    log.error("%s", message)
    alert = os.environ.get("SLATEHOUSE_ALERT_CMD")
    if alert:
        result = subprocess.run(alert, shell=True, input=message, text=True, timeout=60)
        if result.returncode != 0:
            log.error("SLATEHOUSE_ALERT_CMD exited %d", result.returncode)


DEFAULT_ARGS["on_failure_callback"] = notify_failure


# The daily run. Each run's `ds` is the day it processes, and it starts at 02:30 UTC the
# day after, once that day's files are in (a data-interval timetable: with a bare cron
# string or "@daily", Airflow 3 dates a run by when it fires, so it would process the day
# that had just begun). catchup=True: when the scheduler was down, or the DAG is switched
# on after START_DATE, Airflow runs each missed day in order (max_active_runs=1, since
# runs share the warehouse) and a day's report follows its own run.
with DAG(
    dag_id="slatehouse_daily",
    description="Ingest, model and check one day, then write its report",
    schedule=CronDataIntervalTimetable("30 2 * * *", timezone="UTC"),
    start_date=START_DATE,
    catchup=True,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["slatehouse"],
):

    @task(task_id="run")
    def run_day(**context) -> dict:
        return run_cli(["run", "--date", context["ds"]])

    @task(task_id="report", retries=1)
    def report_day(**context) -> dict:
        return run_cli(["report", "--date", context["ds"]])

    run_day() >> report_day()


# A range of days in one process (one Spark session), on demand: trigger with
# {"start": "2026-01-01", "end": "2026-01-31"}.
with DAG(
    dag_id="slatehouse_backfill",
    description="Re-run a range of days in one process",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params={
        "start": Param(type="string", format="date", description="first day, YYYY-MM-DD"),
        "end": Param(type="string", format="date", description="last day, YYYY-MM-DD"),
    },
    tags=["slatehouse"],
):

    @task(task_id="backfill", execution_timeout=timedelta(hours=24))
    def backfill(**context) -> dict:
        params = context["params"]
        return run_cli(["backfill", "--start", params["start"], "--end", params["end"]])

    backfill()


# Compaction and retention; weekly, and never replayed for missed weeks.
with DAG(
    dag_id="slatehouse_maintain",
    description="OPTIMIZE and VACUUM the Delta tables",
    schedule="@weekly",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["slatehouse"],
):

    @task(task_id="maintain")
    def maintain() -> dict:
        return run_cli(["maintain"])

    maintain()
