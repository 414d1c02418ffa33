"""The scheduled pipeline: `slatehouse run` (one received date) and `slatehouse backfill`.

Inputs:  the landing folder (catalogue snapshots, event logs)
Outputs: every bronze, silver and marts table; ops.runs and ops.run_steps (the ledger);
         ops.validation_results; reports under <home>/reports.

One run is one Spark session (one JVM): ingest, the quality gates, dbt (in-process, on the
same session) and the forecast all share it.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import logging
import os
import signal
import socket
import threading
import time
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DateType

from slatehouse import io
from slatehouse.contract import schema as S
from slatehouse.settings import Settings
from slatehouse.spark import first_message

log = logging.getLogger(__name__)

RUNS_TABLE = S.OPS_RUNS
STEPS_TABLE = S.OPS_RUN_STEPS

# A session, or a function that starts one. `run` and `maintain` call the function only
# once they hold the lock, so a run refused by the lock costs no JVM (the CLI relies on it).
SparkOrFactory = SparkSession | Callable[[], SparkSession]


class LockedError(RuntimeError):
    """Another run holds the pipeline lock."""


class GateFailedError(RuntimeError):
    """A critical quality gate failed; the tables it guards were put back."""


class Interrupted(KeyboardInterrupt):
    """The command stopped on SIGINT (Ctrl-C) or SIGTERM (a scheduler's kill), after its
    Spark jobs were cancelled and the ledger recorded 'interrupted'. A KeyboardInterrupt,
    so a caller that does not expect it stops as on any Ctrl-C."""

    def __init__(self, signal_name: str):
        self.signal_name = signal_name
        # The shell's convention, 128 + the signal's number: 130 for SIGINT, 143 for SIGTERM.
        self.exit_code = 128 + signal.Signals[signal_name].value
        super().__init__(f"interrupted by {signal_name}: its Spark jobs were cancelled, and every table "
                         "is as its last Delta commit left it. Rerun the same command.")


@dataclass
class StepReport:
    step: str
    status: str = "running"
    started_at: str = ""
    duration_s: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)
    message: str | None = None


@dataclass
class RunReport:
    run_id: str
    command: str
    dates: list[str]
    status: str = "running"
    started_at: str = ""
    duration_s: float = 0.0
    steps: list[StepReport] = field(default_factory=list)
    error: str | None = None
    # Received dates left out because they have no landing folder (`skip_missing`).
    skipped_dates: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, int]]:
        """Lines read, accepted, quarantined and duplicates per received date."""
        out = {}
        for s in self.steps:
            if s.step == "events" and s.status == "succeeded":
                for d in s.detail["per_date"]:
                    out[d["received_date"]] = {k: d[k] for k in ("lines_read", "accepted", "quarantined", "duplicates")}
        return out


def _now() -> datetime:
    return datetime.now(timezone.utc)


# --- The lock ---------------------------------------------------------------------------------
def _describe_holder(text: str) -> str:
    try:
        h = json.loads(text)
        return f"run {h['run_id']}, pid {h['pid']} on {h['host']}, started {h['started_at']}"
    except (ValueError, KeyError, TypeError):
        return text or "holder unknown"


@contextmanager
def pipeline_lock(settings: Settings, run_id: str) -> Iterator[dict | None]:
    """One run at a time. The OS drops the lock when its holder dies, so a lock file left
    by a crashed run is recognised as stale and taken over.

    Yields the stale holder's record ({"run_id", "pid", "host", "started_at"}) when the
    lock was taken over from a run that did not finish cleanly, else None."""
    path = settings.lock_file
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = _describe_holder(handle.read().strip())
        handle.close()
        raise LockedError(
            f"another Slatehouse run holds the lock {path} ({holder}). Wait for it to finish; "
            "if that process is gone the lock is released automatically."
        ) from None
    handle.seek(0)
    previous = handle.read().strip()
    stale = None
    if previous:
        log.warning("stale lock from a run that did not finish cleanly (%s); taking it over",
                    _describe_holder(previous))
        try:
            stale = json.loads(previous)
        except ValueError:
            stale = None
        if not isinstance(stale, dict):
            stale = {"raw": previous}
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps({"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(),
                             "started_at": _now().isoformat()}))
    handle.flush()
    try:
        yield stale
    finally:
        handle.seek(0)
        handle.truncate()
        handle.flush()
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


@contextmanager
def warehouse_lease(spark: SparkSession, settings: Settings, run_id: str) -> Iterator[None]:
    """Beside the host's flock, the warehouse's own lease when it is on S3 (io.claim_lease):
    a run on another host, or with another home, is refused (LockedError) instead of
    writing the same Delta tables at once."""
    holder = {"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(), "home": str(settings.home),
              "started_at": _now().isoformat()}
    try:
        path = io.claim_lease(spark, settings, holder)
    except io.LeaseHeldError as exc:
        raise LockedError(str(exc)) from None
    try:
        yield
    finally:
        io.release_lease(spark, path, run_id)


def force_unlock(spark: SparkOrFactory, settings: Settings, run_id: str) -> dict | None:
    """Remove the object-store warehouse's lease left by run `run_id` (io.break_lease),
    holding this home's lock meanwhile, so a run still alive here is never unlocked under
    itself. Returns the holder removed, None when there was no lease."""
    with pipeline_lock(settings, f"force-unlock:{run_id}"):
        return io.break_lease(_session(spark), settings, run_id)


# --- The ledger -------------------------------------------------------------------------------
def _record_run(spark: SparkSession, report: RunReport) -> None:
    row = {
        "run_id": report.run_id, "command": report.command,
        "first_date": date.fromisoformat(min(report.dates)) if report.dates else None,
        "last_date": date.fromisoformat(max(report.dates)) if report.dates else None,
        "status": report.status, "started_at": datetime.fromisoformat(report.started_at),
        "duration_s": float(report.duration_s), "error": report.error,
        "report_json": json.dumps(dataclasses.asdict(report), default=str),
    }
    df = spark.createDataFrame([row], S.RUNS_SCHEMA)
    io.merge_replace(spark, RUNS_TABLE, df, keys=["run_id"], preserve=())


def _close_abandoned(spark: SparkSession, stale: dict | None, taken_by: str) -> None:
    """Runs killed while they held the lock are left 'running' in the ledger: mark them
    'abandoned' (their tables are as their last finished step left them; rerun their
    dates). The lock lets one run write at a time, so while this one holds it every other
    'running' row is abandoned, including one whose lock another command took over."""
    if not io.table_exists(spark, RUNS_TABLE):
        return
    rows = (io.read_table(spark, RUNS_TABLE).where("status = 'running'")
            .where(F.col("run_id") != taken_by).collect())
    if not rows:
        return
    updated = []
    for r in rows:
        row = r.asDict()
        holder = (_describe_holder(json.dumps(stale)) if (stale or {}).get("run_id") == row["run_id"]
                  else f"run {row['run_id']}")
        row["status"] = "abandoned"
        row["error"] = (f"the process ({holder}) ended without finishing; run {taken_by} found it so "
                        "when it took the lock. Rerun its dates.")
        updated.append(row)
    io.merge_replace(spark, RUNS_TABLE, spark.createDataFrame(updated, S.RUNS_SCHEMA), keys=["run_id"], preserve=())
    log.warning("ledger: run(s) %s marked abandoned", ", ".join(r["run_id"] for r in updated))


def _record_step(spark: SparkSession, run_id: str, step: StepReport) -> None:
    row = (run_id, step.step, step.status, datetime.fromisoformat(step.started_at), float(step.duration_s),
           json.dumps(step.detail, default=str), step.message)
    io.append(spark, STEPS_TABLE, spark.createDataFrame([row], S.RUN_STEPS_SCHEMA))


class _CancelOnSignal:
    """While a command runs, SIGINT and SIGTERM cancel its Spark jobs instead of raising
    inside the driver's call into the JVM.

    pyspark's own SIGINT handler calls `cancelAllJobs` and raises KeyboardInterrupt in the
    main thread, which is usually blocked in a py4j call: the cancel is a reentrant call on
    that same connection, the gateway breaks, and the run can no longer even record how it
    ended. Here the handler only sets a flag and cancels from a thread of its own (its own
    py4j connection), again every half second, so the blocked call returns with Spark's
    "cancelled" error, every later job fails at once, and the step ends. The runner then
    records the step and the run as 'interrupted' on the healthy gateway. A second signal
    stops at once, as before.

    While it cancels, the JVM's log is off: every task it kills logs an ERROR with a Java
    stack trace (over a thousand lines for an interrupted dbt step) that says no more than
    'cancelled'. It is back to log4j2.properties once the step has ended."""

    def __init__(self, spark: SparkSession):
        self.spark = spark
        self.signal_name: str | None = None
        self._done = threading.Event()
        self._canceller: threading.Thread | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "_CancelOnSignal":
        if threading.current_thread() is threading.main_thread():  # only it may set handlers
            self._previous = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop_cancelling()
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    @property
    def is_set(self) -> bool:
        return self.signal_name is not None

    def _handle(self, signum: int, _frame) -> None:
        if self.is_set:
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name
        log.warning("%s: cancelling the running Spark jobs; the command stops after recording it "
                    "(send it again to stop at once)", self.signal_name)
        self._canceller = threading.Thread(target=self._cancel_until_stopped, name="slatehouse-cancel", daemon=True)
        self._canceller.start()

    def _cancel_until_stopped(self) -> None:
        self._jvm_log(quiet=True)
        while not self._done.is_set():
            try:
                self.spark.sparkContext.cancelAllJobs()
            except Exception as exc:  # the JVM may be going away; the main thread will say why
                log.debug("cancelAllJobs: %s", exc)
            self._done.wait(0.5)

    def stop_cancelling(self) -> None:
        """Before the ledger writes: no cancel may be in flight when they run."""
        self._done.set()
        if self._canceller is not None:
            self._canceller.join()
            self._canceller = None
            self._jvm_log(quiet=False)

    def _jvm_log(self, quiet: bool) -> None:
        try:
            jvm = self.spark.sparkContext._jvm
            configurator = jvm.org.apache.logging.log4j.core.config.Configurator
            if quiet:  # every logger, also those log4j2.properties sets to error
                configurator.setAllLevels("", jvm.org.apache.logging.log4j.Level.OFF)
            else:
                configurator.reconfigure()  # log4j2.properties again
        except Exception as exc:  # the JVM may be going away
            log.debug("JVM log %s: %s", "off" if quiet else "on", exc)

    def check(self) -> None:
        if self.is_set:
            self.stop_cancelling()
            raise Interrupted(self.signal_name)


class _Runner:
    def __init__(self, spark: SparkSession, settings: Settings, report: RunReport, progress: Callable[[str], None],
                 interrupt: _CancelOnSignal):
        self.spark, self.settings, self.report, self.progress = spark, settings, report, progress
        self.interrupt = interrupt

    def step(self, name: str, fn: Callable[[], Any]) -> Any:
        self.interrupt.check()  # a signal between steps: start no other
        step = StepReport(step=name, started_at=_now().isoformat())
        self.report.steps.append(step)
        t0 = time.perf_counter()
        self.progress(f"[{len(self.report.steps)}] {name} ...")
        try:
            result = fn()
            self.interrupt.check()  # jobs cancelled inside it may have been caught and passed over
        except Exception as exc:
            step.duration_s = round(time.perf_counter() - t0, 3)
            if not self.interrupt.is_set:
                step.status, step.message = "failed", str(exc)
                _record_step(self.spark, self.report.run_id, step)
                raise
            self.interrupt.stop_cancelling()
            self._record_interrupted(step)
            raise Interrupted(self.interrupt.signal_name) from None
        except Interrupted:
            step.duration_s = round(time.perf_counter() - t0, 3)
            self._record_interrupted(step)
            raise
        step.status = "succeeded"
        step.duration_s = round(time.perf_counter() - t0, 3)
        step.detail = dataclasses.asdict(result) if dataclasses.is_dataclass(result) else (result or {})
        _record_step(self.spark, self.report.run_id, step)
        self.progress(f"    {name}: done in {step.duration_s:.1f}s {_summary(step.detail)}")
        return result

    def _record_interrupted(self, step: StepReport) -> None:
        step.status, step.message = "interrupted", str(Interrupted(self.interrupt.signal_name))
        try:
            _record_step(self.spark, self.report.run_id, step)
        except Exception as exc:  # the JVM is gone (killed on its own)
            log.warning("could not record step %s as interrupted (%s)", step.step, type(exc).__name__)


def _events_detail(results: list) -> dict:
    keys = ("lines_read", "accepted", "quarantined", "duplicates")
    totals = {k: sum(getattr(e, k) for e in results) for k in keys}
    return {**totals, "per_date": [dataclasses.asdict(e) for e in results]}


def _summary(detail: dict) -> str:
    keys = ("lines_read", "accepted", "quarantined", "duplicates", "sessions_written", "models", "passed")
    parts = [f"{k}={detail[k]}" for k in keys if k in detail and not isinstance(detail[k], (dict, list))]
    return " ".join(parts)


def _versions(spark: SparkSession, tables: list[str]) -> dict[str, int | None]:
    return {t: io.current_version(spark, t) for t in tables}


_LAST: dict[str, RunReport] = {}


def last_report() -> RunReport | None:
    """The report of this process's latest run, also when it raised."""
    return _LAST.get("report")


BRONZE_SILVER_TABLES = [S.BRONZE_EVENTS, S.BRONZE_QUARANTINE, S.SILVER_SESSIONS]


def _session(spark: SparkOrFactory) -> SparkSession:
    return spark if isinstance(spark, SparkSession) else spark()


# How an exception reads in the ledger's status column; any other is 'failed'.
def _status_of(exc: BaseException) -> str:
    from slatehouse import quality

    if isinstance(exc, (GateFailedError, quality.GateFailed)):
        return "gate_failed"
    if isinstance(exc, (io.InputMissingError, quality.NothingToValidate)):
        return "input_missing"
    return "failed"


@contextmanager
def recorded(
    spark: SparkOrFactory,
    settings: Settings,
    command: str,
    dates: Sequence[date] = (),
    progress: Callable[[str], None] = lambda m: log.info(m),
) -> Iterator["_Runner"]:
    """Every command that writes the warehouse runs inside this: it holds the lock, starts
    Spark (only once it holds it), marks runs that died 'abandoned', and keeps the
    command's row in ops.runs from 'running' to how it ended, with each `step` in
    ops.run_steps. `slatehouse status` reads them."""
    report = RunReport(run_id=uuid.uuid4().hex[:12], command=command,
                       dates=[d.isoformat() for d in dates], started_at=_now().isoformat())
    _LAST["report"] = report
    t0 = time.perf_counter()
    with pipeline_lock(settings, report.run_id) as stale, ExitStack() as held:
        try:
            spark = _session(spark)
        except Exception as exc:  # no session, so no ledger: the report says why
            report.status, report.error = "failed", f"could not start Spark: {type(exc).__name__}: {exc}"
            raise
        try:  # the first touch of the warehouse: a wrong endpoint, key or bucket fails here
            held.enter_context(warehouse_lease(spark, settings, report.run_id))
            io.ensure_database(spark, "ops")
            _close_abandoned(spark, stale, report.run_id)
            _record_run(spark, report)
        except LockedError:
            raise
        except Exception as exc:  # no ledger to write to: the report says why
            report.status, report.error = "failed", f"{type(exc).__name__}: {exc}"
            raise
        interrupt = held.enter_context(_CancelOnSignal(spark))
        try:
            yield _Runner(spark, settings, report, progress, interrupt)
            report.status = "succeeded"
        except Exception as exc:
            if interrupt.is_set:  # the step's jobs were cancelled under it
                interrupt.stop_cancelling()
                report.status, report.error = "interrupted", str(Interrupted(interrupt.signal_name))
                raise Interrupted(interrupt.signal_name) from None
            report.status = _status_of(exc)
            report.error = f"{type(exc).__name__}: {exc}" if report.status == "failed" else str(exc)
            raise
        except Interrupted as exc:
            report.status, report.error = "interrupted", str(exc)
            raise
        except KeyboardInterrupt:  # a second signal, mid-call: the gateway may be broken
            report.status, report.error = "interrupted", "stopped at once by a second signal"
            raise
        finally:
            interrupt.stop_cancelling()
            report.duration_s = round(time.perf_counter() - t0, 3)
            try:
                _record_run(spark, report)
            except Exception as exc:
                if report.status == "succeeded":
                    raise
                # The run's own error is on its way out; the ledger's must not replace it
                # (nor the exit code a scheduler reads from it).
                log.warning("could not record run %s as %s (%s: %s); the next command marks it "
                            "abandoned", report.run_id, report.status, type(exc).__name__, first_message(exc))


def run(
    spark: SparkOrFactory,
    settings: Settings,
    dates: list[date],
    command: str = "run",
    progress: Callable[[str], None] = lambda m: log.info(m),
    with_outputs: bool = True,
    skip_missing: bool = False,
) -> RunReport:
    """Process received dates in bulk passes: ingest each date, gate, one dbt build, gate,
    forecasts and reports. Raises after recording the failure in the ledger; raises
    LockedError, before starting Spark if `spark` is a factory, when another run is on.
    With `skip_missing`, dates without a landing folder are left out (`skipped_dates`);
    the run still needs one that has."""
    from slatehouse.ingest import build_sessions, clear_marts_stale_from, ingest_catalog, ingest_events, marts_stale_from

    with recorded(spark, settings, command, dates, progress) as r:
        spark, report = r.spark, r.report
        for db in ("bronze", "silver", "marts"):
            io.ensure_database(spark, db)
        if skip_missing:
            present = [d for d in dates if io.path_exists(spark, io.event_landing_dir(settings, d))]
            report.skipped_dates = [d.isoformat() for d in dates if d not in present]
            if report.skipped_dates and present:
                log.warning("no landing folder for %s: skipped", ", ".join(report.skipped_dates))
                dates = present
                report.dates = [d.isoformat() for d in dates]
        before = _versions(spark, BRONZE_SILVER_TABLES)
        r.step("catalog", lambda: ingest_catalog(spark, settings, max(dates)))
        r.step("events", lambda: _events_detail(ingest_events(spark, settings, dates)))
        sessions = r.step("sessions", lambda: build_sessions(spark, settings, dates))
        sorted_event_dates = [date.fromisoformat(d) for d in sessions.event_dates]
        _run_gates(r, "bronze", dates, restore=before)
        if sorted_event_dates:
            _run_gates(r, "silver", sorted_event_dates, restore=before)
        # A catalogue change to a programme already watched (this run's or a failed
        # earlier run's) moves the marts' first date back to its earliest play.
        stale = marts_stale_from(spark)
        starts = sorted_event_dates[:1] + ([stale] if stale else [])
        if starts:
            first = min(starts)
            _build_marts(r, first, sorted_event_dates[-1] if sorted_event_dates else first)
            if stale:  # the build started on or before it
                clear_marts_stale_from(spark)
        if with_outputs:
            _outputs(r, dates)
    return report


def _run_gates(r: _Runner, layer: str, dates: list[date], restore: dict[str, int | None]) -> None:
    """Run one layer's suites; a failed critical suite restores `restore` and stops the run."""
    from slatehouse import quality

    try:
        r.step(f"gate:{layer}", lambda: quality.run_gate(
            r.spark, r.settings, layer, dates, r.report.run_id, restore=restore))
    except quality.GateFailed as exc:
        raise GateFailedError(str(exc)) from exc
    except Exception:
        # Checks that could not run have not passed: the tables go back too. (Not on an
        # interrupt, which `step` raises as Interrupted: its Spark jobs are being cancelled.)
        io.restore_after_error(r.spark, lambda: restore, f"the {layer} gate could not run its checks")
        raise


def _build_marts(r: _Runner, first: date, last: date) -> None:
    """dbt from the first event date the run touched (dbt adds the lookback) through the
    newest event date in silver, then the marts gate. A failed dbt build or marts gate
    puts every mart back to its version before the run and drops those the run created.

    Through the newest date, not only the last one touched: the accumulated models (a
    profile's progress as of each day) carry every earlier day forward, so a backfill of
    a past range changes the days after it too. For a daily run the two are the same.
    """
    from slatehouse import marts

    newest = io.read_table(r.spark, S.SILVER_SESSIONS).agg(F.max("event_date")).first()[0]
    last = max(last, newest) if newest else last
    before = _versions(r.spark, marts.mart_tables(r.spark))

    def restore() -> dict[str, int | None]:
        # The marts dbt created in this run are dropped, like bronze's and silver's tables.
        return {**{t: None for t in marts.mart_tables(r.spark)}, **before}

    try:
        r.step("dbt", lambda: marts.build_marts(r.spark, r.settings, first, last))
    except Exception as exc:  # not an interrupt (`step` raises Interrupted)
        # dbt writes each model before its tests run, and a failed model leaves those
        # before it written: the dashboards keep reading the marts as they were.
        done = io.restore_after_error(r.spark, restore, "dbt failed")
        if isinstance(exc, marts.MartsBuildError) and done:
            raise marts.MartsBuildError(f"{exc}\n{done}", exc.result) from exc
        raise
    start = first - timedelta(days=r.settings.mart_lookback_days)
    days = [start + timedelta(days=i) for i in range((last - start).days + 1)]
    _run_gates(r, "marts", days, restore=restore())


def _outputs(r: _Runner, dates: list[date]) -> None:
    """The forecast's backtest and slate, then the offline reports."""
    from slatehouse.dashboards.reports import write_reports
    from slatehouse.forecast_job import refresh_forecasts

    r.step("forecast", lambda: refresh_forecasts(r.spark, r.settings))
    r.step("reports", lambda: {"reports": [str(p) for p in write_reports(r.settings, max(dates))]})


# --- Status and maintenance --------------------------------------------------------------------
# How far each layer has got: the latest date in this column.
FRESHNESS = {
    S.BRONZE_EVENTS: "received_date",
    S.SILVER_SESSIONS: "event_date",
    "marts.fct_title_daily": "event_date",
}
_RUN_COLUMNS = [f.name for f in S.RUNS_SCHEMA if f.name != "report_json"]
_STEP_COLUMNS = ["run_id", "step", "status", "started_at", "duration_s"]


def _plain(value: Any, field_type: Any) -> Any:
    """A ledger cell as JSON has it: dates as YYYY-MM-DD, timestamps in ISO 8601, no NaN."""
    if pd.isna(value):
        return None
    if isinstance(field_type, DateType):
        return value.date().isoformat()
    return value.isoformat() if hasattr(value, "isoformat") else value


def _flock_holders(path: Path) -> set[int] | None:
    """The pids holding a lock on `path`, from the kernel's own table (/proc/locks), or None
    where there is no such table. Any kind of lock counts (an NFS client keeps a flock as a
    POSIX lock); lines of waiters ("->") do not."""
    try:
        stat = path.stat()
        table = Path("/proc/locks").read_text()
    except OSError:
        return None
    inode = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    holders = set()
    for line in table.splitlines():
        fields = line.split()
        if len(fields) >= 6 and fields[1] != "->" and fields[5] == inode:
            holders.add(int(fields[4]))
    return holders


def _process_of(settings: Settings, run_id: str) -> dict:
    """Whether a run the ledger calls 'running' still has a process. The lock file names the
    run that holds this home's lock, and keeps naming one whose process died without
    releasing it; a clean end empties it. Alive means that process still holds the lock
    (the kernel's lock table says so; a pid reused by another process does not), or, where
    there is no such table, that the pid is still there. On an object-store warehouse a run
    holds the lease until its end is recorded, so a run the lease does not name is gone; one
    it names on another host may be alive or not (`is_alive` None: `force-unlock` if that
    host is gone)."""
    try:
        record = json.loads(settings.lock_file.read_text() or "null")
    except (OSError, ValueError):
        record = None
    if isinstance(record, dict) and record.get("run_id") == run_id:
        holder = {"pid": record.get("pid"), "host": record.get("host")}
        return {"is_alive": _is_alive_here(settings, holder), **holder}
    if io.lease_path(settings) is None:
        return {"is_alive": False}
    from slatehouse.dashboards.data import read_warehouse_object

    try:
        lease = json.loads(read_warehouse_object(settings, io.LEASE_OBJECT) or "{}")
    except Exception as exc:  # unreachable store, or not ours to parse: say so, not fail
        log.warning("could not read the warehouse lease (%s: %s)", type(exc).__name__, exc)
        return {"is_alive": None}
    if not isinstance(lease, dict) or lease.get("run_id") != run_id:
        return {"is_alive": False}
    return {"is_alive": None, "pid": lease.get("pid"), "host": lease.get("host"), "leased": True}


def _is_alive_here(settings: Settings, holder: dict) -> bool | None:
    if holder["host"] != socket.gethostname():
        return None
    holders = _flock_holders(settings.lock_file)
    if holders is not None:
        return holder["pid"] in holders
    try:
        os.kill(int(holder["pid"]), 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except (TypeError, ValueError):
        return None


def status(settings: Settings, limit: int = 10) -> dict:
    """The last runs in the ledger (a run still running with its steps so far, and whether
    its process is alive), and how far each layer has got. Read with delta-rs, not Spark:
    no JVM and no catalogue, so it answers in a second or two, beside a running pipeline
    too (a Delta reader sees whole commits only)."""
    from slatehouse.dashboards.data import MartReader

    reader = MartReader(settings)
    runs = []
    if reader.exists(RUNS_TABLE):
        ledger = reader.read(RUNS_TABLE, _RUN_COLUMNS).sort_values("started_at", ascending=False).head(limit)
        types = {f.name: f.dataType for f in S.RUNS_SCHEMA}
        runs = [{k: _plain(v, types[k]) for k, v in row.items()} for row in ledger.to_dict("records")]
        running = [r for r in runs if r["status"] == "running"]
        for run in running:
            run["process"] = _process_of(settings, run["run_id"])
            started = datetime.fromisoformat(run["started_at"])
            started = started if started.tzinfo else started.replace(tzinfo=timezone.utc)  # the ledger's clock is UTC
            run["elapsed_s"] = round((_now() - started).total_seconds(), 1)
        if running and reader.exists(STEPS_TABLE):
            steps = reader.read(STEPS_TABLE, _STEP_COLUMNS).sort_values("started_at")
            for run in running:
                done = steps[steps["run_id"] == run["run_id"]]
                run["steps"] = [{"step": s.step, "status": s.status, "duration_s": float(s.duration_s)}
                                for s in done.itertuples()]
    freshness = {}
    for table, column in FRESHNESS.items():
        latest = reader.bounds(table, column)[1] if reader.exists(table) else None
        freshness[table] = latest.isoformat() if latest else None
    return {"runs": runs, "freshness": freshness}


def maintain(spark: SparkOrFactory, settings: Settings, retention_hours: float = 168.0) -> dict:
    """Retention (old landing folders and bronze rows, `privacy.apply_retention`), then
    OPTIMIZE and VACUUM every Delta table in the warehouse's databases, under the lock."""
    from slatehouse.privacy import apply_retention

    def optimize_and_vacuum(spark: SparkSession) -> dict:
        retention = dataclasses.asdict(apply_retention(spark, settings))
        done = []
        for db in ("bronze", "silver", "intermediate", "marts", "ops"):
            if not spark.catalog.databaseExists(db):
                continue
            for t in spark.catalog.listTables(db):
                name = f"{db}.{t.name}"
                if t.tableType == "VIEW" or t.isTemporary:  # dbt's temporary views in this session
                    continue
                t0 = time.perf_counter()
                metrics = io.optimize(spark, name)
                io.vacuum(spark, name, retention_hours)
                done.append({"table": name, "optimize": metrics.get("metrics", metrics),
                             "duration_s": round(time.perf_counter() - t0, 2)})
        return {"retention_hours": retention_hours, "retention": retention, "tables": done}

    with recorded(spark, settings, "maintain") as r:
        result = r.step("maintain", lambda: optimize_and_vacuum(r.spark))
    return {"run_id": r.report.run_id, **result}
