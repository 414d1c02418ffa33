"""The `slatehouse` command line. Settings are built here, once, and passed down."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional

import typer
from typer.core import TyperGroup

from slatehouse.settings import ConfigError, Settings


class _Commands(TyperGroup):
    """Every command: Ctrl-C or SIGTERM during a command that writes the warehouse ends in
    `pipeline.Interrupted` once the ledger says 'interrupted'; it exits 130 or 143 (the
    shell's 128 + signal) with one line, not Click's "Aborted!" and exit 1. A configuration
    error (no Java, a cluster whose workers lack the storage) is one line too, whichever
    command met it."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            _fail(str(exc), EXIT_FAILED)
        except KeyboardInterrupt as exc:
            if not hasattr(exc, "exit_code"):  # a plain Ctrl-C, outside a recorded command
                raise
            _fail(str(exc), exc.exit_code)


app = typer.Typer(
    cls=_Commands,
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode="markdown",  # docstring paragraphs reflow to the terminal's width
    help="Slatehouse: audience and completion analytics for commissioning, on Spark, Delta and dbt.",
)
log = logging.getLogger("slatehouse")

# Exit codes a scheduler can act on.
EXIT_OK, EXIT_FAILED, EXIT_GATE, EXIT_INPUT_MISSING, EXIT_LOCKED = 0, 1, 2, 3, 4

JsonOpt = typer.Option(False, "--json", help="Print a machine-readable result on stdout.")


# Where results go. With --json, stdout carries the JSON document only: everything else
# the process (or the JVM it starts, which inherits the descriptor) prints goes to stderr.
_out = None  # None: sys.stdout, whatever it is at the time (a test may have replaced it)


def setup_logging(as_json: bool) -> None:
    """Log lines on stderr at INFO (the CLI's and `make demo`'s one setup); with `as_json`,
    the process's stdout is kept for the JSON result alone."""
    global _out
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("py4j", "great_expectations"):  # their INFO is about themselves, not the data
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if as_json and _out is None and sys.stdout is sys.__stdout__:
        sys.stdout.flush()
        _out = os.fdopen(os.dup(1), "w")
        os.dup2(2, 1)  # e.g. Delta's VACUUM prints "Deleted N files" on the JVM's stdout


def _echo(text: str, nl: bool = True) -> None:
    out = _out or sys.stdout
    typer.echo(text, nl=nl, file=out)
    out.flush()


def _settings() -> Settings:
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    try:
        return Settings()
    except ValidationError as exc:  # name the environment variable a user sets, not the field
        _fail("; ".join(f"{'SLATEHOUSE_' + '_'.join(map(str, e['loc'])).upper() if e['loc'] else 'settings'}: "
                        f"{e['msg']} (got {e['input']!r})" for e in exc.errors()), EXIT_FAILED)
        raise  # unreachable
    except SettingsError as exc:  # a complex value (a dict or list) that is not JSON
        field = str(exc).split('"')[1] if str(exc).count('"') >= 2 else "?"
        _fail(f"SLATEHOUSE_{field.upper()} must be JSON ({exc})", EXIT_FAILED)
        raise  # unreachable
    except (ConfigError, ValueError) as exc:
        _fail(str(exc), EXIT_FAILED)
        raise  # unreachable


def _fail(message: str, code: int) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    if _out is not None:  # --json: a scheduler reading stdout gets a document, not nothing
        _echo(json.dumps({"error": message, "exit_code": code}))
    raise typer.Exit(code)


def _emit(result: Any, as_json: bool, summary: str | None = None) -> None:
    if as_json:
        payload = dataclasses.asdict(result) if dataclasses.is_dataclass(result) else result
        _echo(json.dumps(payload, default=str))  # one line: a log of runs is JSON Lines
    elif summary:
        _echo(summary)


@contextmanager
def _catalogue(settings: Settings, command: str) -> Iterator[None]:
    """Hold the catalogue for a command that only reads it. The embedded Derby metastore
    lets one process open it at a time, so in the embedded setup such a command takes the
    run lock too: beside a run it is refused with who holds it (exit 4), instead of failing
    in Derby. With a shared metastore (SLATEHOUSE_METASTORE_JDBC_URL) it takes nothing."""
    if settings.metastore_jdbc_url:
        yield
        return
    from slatehouse.pipeline import LockedError, pipeline_lock

    try:
        with pipeline_lock(settings, command):
            yield
    except LockedError as exc:
        _fail(f"{exc} The embedded Derby metastore lets one process open the catalogue at a time; "
              "a shared metastore lets analysts query during runs (docs/operations.md).", EXIT_LOCKED)


def _day(value: str, flag: str) -> date:
    """A date option, or a clear error naming the option (before anything starts)."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"{flag} must be a date as YYYY-MM-DD, got {value!r}", EXIT_FAILED)
        raise  # unreachable


def _dates(day: Optional[str], start: Optional[str], end: Optional[str]) -> list[date]:
    if day and (start or end):
        _fail("give either --date or --start/--end, not both", EXIT_FAILED)
    if day:
        return [_day(day, "--date")]
    if not (start and end):
        _fail("give --date D, or --start D1 --end D2", EXIT_FAILED)
    first, last = _day(start, "--start"), _day(end, "--end")
    if last < first:
        _fail(f"--end {last} is before --start {first}", EXIT_FAILED)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


@app.command()
def setup(as_json: bool = JsonOpt) -> None:
    """Check Java and resolve Delta's JARs into the jar cache (once)."""
    setup_logging(as_json)
    from slatehouse.spark import check_java, resolve_delta_jars

    settings = _settings()
    try:
        java = check_java()
        jars = resolve_delta_jars(settings.jars_dir)
    except ConfigError as exc:
        _fail(str(exc), EXIT_FAILED)
    _emit({"java": java, "jars": [str(j) for j in jars]}, as_json,
          f"java {java}; {len(jars)} jars in {settings.jars_dir}")


@app.command()
def generate(
    out: Optional[Path] = typer.Option(None, help="Landing folder to write (default: the settings' landing dir)."),
    start_date: str = typer.Option("2026-01-05", help="First simulated day (YYYY-MM-DD)."),
    days: int = typer.Option(7, help="Number of simulated days of events."),
    members: int = typer.Option(2000, help="Number of member accounts."),
    titles: int = typer.Option(200, help="Number of films and series."),
    seed: int = typer.Option(42, help="Random seed; the same arguments give the same files."),
    history_days: int = typer.Option(0, help="Days of catalogue history (premieres) before --start-date."),
    clean: bool = typer.Option(False, "--clean", help="Inject no faults."),
    as_json: bool = JsonOpt,
) -> None:
    """Write a realistic, seeded catalogue and event log in the landing format."""
    setup_logging(as_json)
    from slatehouse.generate import FaultRates, generate as run_generate

    settings = _settings()
    if out is None and "://" in settings.landing_dir:
        _fail(f"SLATEHOUSE_LANDING_DIR is {settings.landing_dir}: generate writes local files only. Give "
              "--out DIR and upload DIR there (e.g. `aws s3 sync DIR s3://bucket/landing`)", EXIT_FAILED)
    target = out or Path(settings.landing_dir)
    try:
        result = run_generate(
            target, start_date=_day(start_date, "--start-date"), days=days, members=members,
            titles=titles, seed=seed, faults=FaultRates.clean() if clean else None,
            history_days=history_days,
        )
    except ValueError as exc:  # a size it cannot simulate, e.g. --days 0
        _fail(str(exc), EXIT_FAILED)
    _emit(result.as_dict(), as_json,
          f"wrote {result.lines} event lines ({result.sessions} sessions, {result.titles} titles) to {target}")


@app.command()
def ingest(
    day: Optional[str] = typer.Option(None, "--date", help="Received date to ingest (YYYY-MM-DD)."),
    start: Optional[str] = typer.Option(None, "--start", help="First received date of a range."),
    end: Optional[str] = typer.Option(None, "--end", help="Last received date of a range."),
    as_json: bool = JsonOpt,
) -> None:
    """Catalogue, events and sessions for one received date or a range (one Spark session)."""
    setup_logging(as_json)

    from slatehouse.ingest import CatalogError, ConservationError
    from slatehouse.ingest import ingest as ingest_dates
    from slatehouse.io import InputMissingError
    from slatehouse.pipeline import LockedError, recorded
    from slatehouse.spark import get_spark

    settings = _settings()
    dates = _dates(day, start, end)
    _not_in_the_future(dates)
    try:
        settings.require_pseudonym_key()
        # It writes what a run writes: same lock (taken before Spark starts), same ledger.
        with recorded(lambda: get_spark(settings, "slatehouse-ingest"), settings, "ingest", dates) as r:
            result = r.step("ingest", lambda: ingest_dates(r.spark, settings, dates))
        for e in result.events:
            log.info("%s: %d lines = %d accepted + %d quarantined + %d duplicates",
                     e.received_date, e.lines_read, e.accepted, e.quarantined, e.duplicates)
    except LockedError as exc:
        _fail(str(exc), EXIT_LOCKED)
    except InputMissingError as exc:
        _fail(str(exc), EXIT_INPUT_MISSING)
    except (ConfigError, CatalogError, ConservationError) as exc:
        _fail(str(exc), EXIT_FAILED)
    _emit(dataclasses.asdict(result), as_json,
          f"ingested {len(dates)} day(s); {result.sessions.sessions_written} sessions recomputed")


@app.command()
def sql(
    query: str = typer.Argument(..., help="A Spark SQL statement, e.g. \"SELECT * FROM marts.fct_title_daily\"."),
    output_format: str = typer.Option("table", "--format", help="table, csv or json."),
    limit: int = typer.Option(1000, help="At most this many rows are printed."),
    as_json: bool = JsonOpt,
) -> None:
    """Run SQL against the warehouse catalogue (bronze, silver, marts, ops; staging and
    intermediate hold dbt's views and tables)."""
    setup_logging(as_json)
    from slatehouse.spark import get_spark

    if output_format not in ("table", "csv", "json"):
        _fail(f"--format must be table, csv or json, not {output_format!r}", EXIT_FAILED)
    fmt = "json" if as_json else output_format
    if limit < 0:
        _fail(f"--limit must be 0 or more, got {limit}", EXIT_FAILED)
    settings = _settings()
    with _catalogue(settings, "sql"):
        spark = get_spark(settings, "slatehouse-sql")
        try:
            result = spark.sql(query)
            columns, rows = result.columns, result.limit(limit + 1).collect()
        except Exception as exc:  # an analyst's typo should read as a message, not a trace
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            _fail(lines[0] if lines else type(exc).__name__, EXIT_FAILED)
    if len(rows) > limit:
        rows = rows[:limit]
        log.warning("showing the first %d rows; --limit N shows more", limit)
    values = [[_sql_value(v) for v in row] for row in rows]
    if fmt == "json":
        _echo(json.dumps([dict(zip(columns, row)) for row in values], indent=2))
        return
    import pandas as pd

    frame = pd.DataFrame(values, columns=columns)
    if fmt == "csv":  # a struct, map or array cell as JSON text
        frame = frame.map(lambda v: json.dumps(v) if isinstance(v, (dict, list)) else v)
        _echo(frame.to_csv(index=False), nl=False)
    elif frame.empty:
        _echo(f"(no rows; columns: {', '.join(frame.columns)})")
    else:
        with pd.option_context("display.max_rows", limit, "display.max_columns", None, "display.width", 200):
            _echo(frame.to_string(index=False))


def _sql_value(value: Any) -> Any:
    """A Spark value as plain JSON-ready Python: structs as objects (field names kept),
    dates and timestamps as ISO text, decimals as numbers."""
    from decimal import Decimal

    from pyspark.sql import Row

    if isinstance(value, Row):
        return {k: _sql_value(v) for k, v in value.asDict().items()}
    if isinstance(value, dict):
        return {str(k): _sql_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_sql_value(v) for v in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    return value


def _payload(result: Any) -> Any:
    if hasattr(result, "to_dict"):
        return result.to_dict()
    return dataclasses.asdict(result) if dataclasses.is_dataclass(result) else result


@app.command()
def run(
    day: str = typer.Option(..., "--date", help="Received date to process (YYYY-MM-DD)."),
    as_json: bool = JsonOpt,
) -> None:
    """The daily run for one received date, in one Spark session.

    Catalogue, events, sessions, gates, dbt, gates, forecasts and reports.

    Exit codes: 0 succeeded, 1 failed, 2 a quality gate failed (or, as for every command,
    the command line itself is wrong), 3 input missing, 4 locked."""
    setup_logging(as_json)  # first: with --json, a bad date is a JSON document too
    _run_pipeline([_day(day, "--date")], "run", as_json)


@app.command()
def backfill(
    start: str = typer.Option(..., "--start", help="First received date."),
    end: str = typer.Option(..., "--end", help="Last received date."),
    skip_missing: bool = typer.Option(False, "--skip-missing",
                                      help="Skip received dates without a landing folder (listed in the report)."),
    as_json: bool = JsonOpt,
) -> None:
    """Process a range of received dates in bulk passes, in one Spark session.

    Ingest every date in one pass, gate, then one dbt build over all affected event dates.
    Every step is idempotent, so running a failed backfill again resumes it. A date with
    no landing folder stops it (exit 3) unless --skip-missing."""
    setup_logging(as_json)
    dates = _dates(None, start, end)
    _run_pipeline(dates, "backfill", as_json, skip_missing=skip_missing)


def _not_in_the_future(dates: list[date]) -> None:
    """Received dates are the server's UTC dates: one after tomorrow is a typo, not an upload
    still to come (exit 1, not 3, so a scheduler does not retry it)."""
    latest = datetime.now(timezone.utc).date() + timedelta(days=1)
    if max(dates) > latest:
        _fail(f"received date {max(dates)} is in the future (today is {latest - timedelta(days=1)} UTC)", EXIT_FAILED)


def _run_pipeline(dates: list[date], command: str, as_json: bool, skip_missing: bool = False) -> None:
    setup_logging(as_json)
    _not_in_the_future(dates)
    from slatehouse import pipeline
    from slatehouse.io import InputMissingError
    from slatehouse.spark import get_spark

    settings = _settings()
    try:
        settings.require_pseudonym_key()
    except ConfigError as exc:
        _fail(str(exc), EXIT_FAILED)
    progress = (lambda m: log.info(m)) if as_json else _echo
    report = None
    try:
        # Spark starts only once the run holds the lock: a refused run is cheap.
        report = pipeline.run(lambda: get_spark(settings, f"slatehouse-{command}"), settings, dates,
                              command=command, progress=progress, skip_missing=skip_missing)
        code = EXIT_OK
    except pipeline.LockedError as exc:
        _fail(str(exc), EXIT_LOCKED)
    except pipeline.Interrupted as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        code = exc.exit_code
    except pipeline.GateFailedError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        code = EXIT_GATE
    except InputMissingError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        code = EXIT_INPUT_MISSING
    except Exception as exc:
        typer.secho(f"error: {type(exc).__name__}: {exc}", fg=typer.colors.RED, err=True)
        code = EXIT_FAILED
    report = report or pipeline.last_report()
    if report is not None:
        _emit(dataclasses.asdict(report), as_json,
              f"run {report.run_id} {report.status} in {report.duration_s:.0f}s")
    raise typer.Exit(code)


@app.command()
def status(limit: int = typer.Option(10, help="How many runs to show."), as_json: bool = JsonOpt) -> None:
    """The last runs from the ledger, and how fresh each layer's data is (no Spark: it
    answers beside a running pipeline too, with the steps that run has done so far)."""
    setup_logging(as_json)
    if limit < 1:
        _fail(f"--limit must be 1 or more, got {limit}", EXIT_FAILED)
    from slatehouse import pipeline

    result = pipeline.status(_settings(), limit)
    if as_json:
        _emit(result, True)
        return
    _echo("Last runs:" if result["runs"] else "Last runs: none yet")
    for r in result["runs"]:
        dates = f"{r['first_date']}..{r['last_date']}" if r["first_date"] else "-"
        took = f"for {r['elapsed_s']:.0f}s" if "elapsed_s" in r else f"{r['duration_s']:.0f}s"
        _echo(f"  {r['started_at']}  {r['run_id']}  {r['command']:<11} {dates:<22}  {r['status']:<13} {took}")
        process = r.get("process", {})
        if process.get("is_alive"):
            _echo(f"      alive: pid {process['pid']} on {process['host']}")
        elif process.get("is_alive") is False:
            _echo("      its process is gone (it ended without recording how); the next run marks it abandoned")
        elif process.get("leased"):
            _echo(f"      holds the warehouse lease: pid {process['pid']} on {process['host']}; whether it is "
                  f"alive cannot be told from here (if that host is gone: slatehouse force-unlock {r['run_id']})")
        elif process:
            who = f" (pid {process['pid']} on {process['host']})" if process.get("host") else ""
            _echo(f"      whether its process{who} is alive cannot be told from here")
        if "steps" in r:
            done = ", ".join(f"{s['step']} {s['status']} {s['duration_s']:.0f}s" for s in r["steps"])
            _echo(f"      steps so far: {done or 'none'}")
    _echo("Freshness:")
    for table, latest in result["freshness"].items():
        _echo(f"  {table:<34} {latest or 'no data yet'}")


@app.command()
def maintain(
    retention_hours: float = typer.Option(168.0, help="VACUUM keeps files newer than this."),
    as_json: bool = JsonOpt,
) -> None:
    """Retention, then Delta OPTIMIZE and VACUUM on every warehouse table.

    Retention removes landing files and bronze rows past their keep period; the run
    records what it did."""
    setup_logging(as_json)
    from slatehouse import pipeline
    from slatehouse.spark import get_spark

    if retention_hours < 0:
        _fail(f"--retention-hours must be 0 or more, got {retention_hours}", EXIT_FAILED)
    settings = _settings()
    try:
        result = pipeline.maintain(lambda: get_spark(settings, "slatehouse-maintain"), settings, retention_hours)
    except pipeline.LockedError as exc:
        _fail(str(exc), EXIT_LOCKED)
    _emit(result, as_json, f"maintained {len(result['tables'])} tables")


@app.command("force-unlock")
def force_unlock(
    run_id: str = typer.Argument(..., metavar="RUN_ID", help="The run the lease names (the refusal message shows it)."),
    as_json: bool = JsonOpt,
) -> None:
    """Remove an s3a:// warehouse's lease left by a run whose host is gone.

    Only the lease naming RUN_ID is removed; a lease of another run is left alone (exit 4).
    A lease of this host and home needs no command: the next run takes it over."""
    setup_logging(as_json)
    from slatehouse import io, pipeline
    from slatehouse.spark import get_spark

    settings = _settings()
    if io.lease_path(settings) is None:
        _fail(f"the warehouse {settings.warehouse_dir} has no lease: only s3a:// warehouses do "
              f"(runs on one host are kept apart by {settings.lock_file}, which the OS "
              "releases when its holder dies)", EXIT_FAILED)
    try:
        removed = pipeline.force_unlock(lambda: get_spark(settings, "slatehouse-force-unlock"), settings, run_id)
    except (pipeline.LockedError, io.LeaseHeldError) as exc:
        _fail(str(exc), EXIT_LOCKED)
    path = io.lease_path(settings)
    _emit({"lease": path, "removed": removed}, as_json,
          f"removed the lease {path} of run {run_id} ({removed})" if removed else f"no lease at {path}: nothing to remove")


@app.command("build-marts")
def build_marts_command(
    full_refresh: bool = typer.Option(False, "--full-refresh", help="Rebuild every model from silver."),
    start: Optional[str] = typer.Option(None, "--start", help="First event date (with --end)."),
    end: Optional[str] = typer.Option(None, "--end", help="Last event date."),
    select: Optional[str] = typer.Option(None, help="dbt node selection, e.g. fct_top10_weekly+."),
    as_json: bool = JsonOpt,
) -> None:
    """`dbt build` on the marts by hand.

    For example a full refresh after upgrading Slatehouse changed a mart's columns
    (incremental marts refuse a schema change)."""
    setup_logging(as_json)
    from slatehouse import pipeline
    from slatehouse.marts import MartsBuildError, build_marts
    from slatehouse.spark import get_spark

    settings = _settings()
    first = _day(start, "--start") if start else None
    last = _day(end, "--end") if end else None
    if (first is None) != (last is None):
        _fail("give both --start and --end, or neither", EXIT_FAILED)
    if first is not None and last < first:
        _fail(f"--end {last} is before --start {first}", EXIT_FAILED)
    try:
        with pipeline.recorded(lambda: get_spark(settings, "slatehouse-marts"), settings, "build-marts") as r:
            result = r.step("dbt", lambda: build_marts(r.spark, settings, first, last,
                                                       full_refresh=full_refresh, select=select))
    except pipeline.LockedError as exc:
        _fail(str(exc), EXIT_LOCKED)
    except (MartsBuildError, ValueError) as exc:
        _fail(str(exc), EXIT_FAILED)
    _emit(result.to_dict(), as_json, f"dbt {result.command}: {result.models} models, {result.passed} tests "
          f"passed, {result.failed} failed in {result.elapsed_s:.0f}s")


@app.command()
def erase(
    account_id: list[str] = typer.Option([], "--account-id", help="A raw account id to erase (repeatable)."),
    profile_id: list[str] = typer.Option([], "--profile-id", help="A raw profile id to erase (repeatable)."),
    file: Optional[Path] = typer.Option(None, "--file", help="Requests, one per line: account,ID or profile,ID."),
    vacuum_hours: float = typer.Option(0.0, help="VACUUM retention after the deletes (0: old files go now)."),
    as_json: bool = JsonOpt,
) -> None:
    """Erase members from every layer and keep them out of later runs (docs/privacy.md)."""
    setup_logging(as_json)
    from slatehouse import pipeline, privacy
    from slatehouse.spark import get_spark

    accounts, profiles = [a for a in account_id if a.strip()], [p for p in profile_id if p.strip()]
    if file is not None:
        if not file.is_file():
            _fail(f"--file {file}: no such file", EXIT_FAILED)
        for n, line in enumerate(file.read_text().splitlines(), start=1):
            if not line.strip() or line.startswith("#"):
                continue
            kind, _, raw = line.partition(",")
            if kind.strip() not in privacy.ID_KINDS or not raw.strip():
                _fail(f"{file}:{n}: expected 'account,<id>' or 'profile,<id>', got {line!r}", EXIT_FAILED)
            (accounts if kind.strip() == "account" else profiles).append(raw.strip())
    if not accounts and not profiles:
        _fail("nothing to erase: give --account-id, --profile-id or --file", EXIT_FAILED)
    settings = _settings()
    try:
        settings.require_pseudonym_key()
        with pipeline.recorded(lambda: get_spark(settings, "slatehouse-erase"), settings, "erase") as r:
            result = r.step("erase", lambda: privacy.erase_members(r.spark, settings, accounts, profiles,
                                                                   vacuum_hours=vacuum_hours))
    except pipeline.LockedError as exc:
        _fail(str(exc), EXIT_LOCKED)
    except ConfigError as exc:
        _fail(str(exc), EXIT_FAILED)
    found = "" if sum(result.rows_deleted.values()) else (
        " (no rows held these members; they are recorded and kept out of later runs)")
    _emit(result, as_json, f"{result.request_id}: erased {result.accounts} accounts and {result.profiles} "
          f"profiles; rows deleted {result.rows_deleted}{found}; {len(result.vacuumed)} tables vacuumed")


@app.command()
def validate(
    layer: str = typer.Option(..., help="bronze, silver or marts."),
    day: str = typer.Option(..., "--date", help="Received date (bronze) or event date (silver, marts)."),
    as_json: bool = JsonOpt,
) -> None:
    """Run one layer's quality gate by hand (it records results, so it takes the lock).

    Exit codes: 0 the gate passed, 2 it failed, 3 nothing to check (no table, or no rows
    for the date), 4 locked."""
    setup_logging(as_json)
    from slatehouse import pipeline, quality
    from slatehouse.spark import get_spark

    if layer not in ("bronze", "silver", "marts"):
        _fail(f"--layer must be bronze, silver or marts, not {layer!r}", EXIT_FAILED)
    checked = _day(day, "--date")
    settings = _settings()
    try:
        with pipeline.recorded(lambda: get_spark(settings, "slatehouse-validate"), settings, "validate",
                               [checked]) as r:
            result = r.step(f"gate:{layer}", lambda: quality.validate(settings, layer, checked, r.report.run_id))
    except pipeline.LockedError as exc:
        _fail(str(exc), EXIT_LOCKED)
    except quality.GateFailed as exc:
        _fail(str(exc), EXIT_GATE)
    except quality.NothingToValidate as exc:
        _fail(str(exc), EXIT_INPUT_MISSING)
    _emit(_payload(result), as_json, f"{layer} gate passed for {day}")


@app.command()
def docs(as_json: bool = JsonOpt) -> None:
    """Generate the dbt docs (the data dictionary) and print where they are."""
    setup_logging(as_json)
    from slatehouse.marts import generate_docs
    from slatehouse.spark import get_spark

    settings = _settings()
    with _catalogue(settings, "docs"):
        target = generate_docs(get_spark(settings, "slatehouse-docs"), settings, static=True)
    page = Path(target) / "static_index.html"
    _emit({"docs": str(target), "page": str(page)}, as_json, f"dbt docs: {page}")


@app.command()
def forecast(
    pitch: Optional[Path] = typer.Option(None, help="A YAML pitch (see docs/examples/pitch.yaml)."),
    slate: Optional[Path] = typer.Option(None, help="A slate CSV; scored into marts.fct_slate_forecasts."),
    as_json: bool = JsonOpt,
) -> None:
    """Forecast demand for a prospective production, or score a slate of them."""
    setup_logging(as_json)
    from slatehouse import forecast_job
    from slatehouse.spark import get_spark

    if (pitch is None) == (slate is None):
        _fail("give exactly one of --pitch or --slate", EXIT_FAILED)
    from slatehouse.forecast import ForecastInputError, load_slate

    path = pitch if pitch is not None else slate
    if not path.is_file():
        _fail(f"{'--pitch' if pitch is not None else '--slate'} {path}: no such file", EXIT_FAILED)
    settings = _settings()
    try:
        if pitch is not None:  # reads the mart with delta-rs: no Spark, no lock
            result = forecast_job.forecast_pitch(settings, pitch)
            _emit(_payload(result), as_json, result.text)
            return
        from slatehouse import pipeline

        pitches = load_slate(slate)  # a malformed file fails before Spark starts
        try:  # scoring a slate writes a mart, so it waits its turn like a run
            with pipeline.recorded(lambda: get_spark(settings, "slatehouse-forecast"), settings,
                                   "forecast-slate") as r:
                result = r.step("slate", lambda: forecast_job.score_slate(r.spark, settings, slate, pitches))
        except pipeline.LockedError as exc:
            _fail(str(exc), EXIT_LOCKED)
    except (ForecastInputError, forecast_job.ForecastDataError) as exc:
        _fail(str(exc), EXIT_FAILED)
    _emit(_payload(result), as_json,
          f"{result.text}\nscored {result.pitches} pitches from {slate} into marts.fct_slate_forecasts")


@app.command()
def dashboard(
    host: Optional[str] = typer.Option(None, help="Bind address (default 127.0.0.1)."),
    port: Optional[int] = typer.Option(None, help="Port (default 8050)."),
    debug: bool = typer.Option(False, help="Dash debug mode."),
) -> None:
    """Serve the commissioning dashboards (reads the marts with delta-rs; no JVM)."""
    setup_logging(False)
    from slatehouse.dashboards.app import run_dashboard

    settings = _settings()
    try:
        run_dashboard(settings, host, port, debug)
    except OSError as exc:  # the address: out of range, taken, or not this machine's
        _fail(str(exc), EXIT_FAILED)


@app.command()
def report(
    day: str = typer.Option(..., "--date", help="Report date (YYYY-MM-DD)."),
    as_json: bool = JsonOpt,
) -> None:
    """Write the offline HTML reports (plotly.js embedded) for a date."""
    setup_logging(as_json)
    from slatehouse.dashboards.data import MissingTableError
    from slatehouse.dashboards.reports import write_reports

    report_date = _day(day, "--date")
    try:
        paths = write_reports(_settings(), report_date)
    except MissingTableError as exc:
        _fail(str(exc), EXIT_FAILED)
    _emit({"reports": [str(p) for p in paths]}, as_json, "\n".join(str(p) for p in paths))


@app.command("serve-sql")
def serve_sql() -> None:
    """Serve the warehouse over the HiveServer2 protocol (JDBC/ODBC, beeline, PyHive)."""
    setup_logging(False)
    from slatehouse.sqlserver import ThriftServerError, serve

    settings = _settings()
    try:
        with _catalogue(settings, "serve-sql"):  # embedded: runs are refused (exit 4) until it stops
            code = serve(settings)
    except ThriftServerError as exc:  # the port taken, or the server died starting or serving
        _fail(str(exc), EXIT_FAILED)
    raise typer.Exit(code)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    app()
