"""The `slatehouse` command line. Settings are built here, once, and passed down."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Optional

import typer

from slatehouse.settings import ConfigError, Settings

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Slatehouse: audience and completion analytics for commissioning, on Spark, Delta and dbt.",
)
log = logging.getLogger("slatehouse")

# Exit codes a scheduler can act on.
EXIT_OK, EXIT_FAILED, EXIT_GATE, EXIT_INPUT_MISSING, EXIT_LOCKED = 0, 1, 2, 3, 4

JsonOpt = typer.Option(False, "--json", help="Print a machine-readable result on stdout.")


def _setup_logging(as_json: bool) -> None:
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("py4j").setLevel(logging.WARNING)


def _settings() -> Settings:
    try:
        return Settings()
    except (ConfigError, ValueError) as exc:
        _fail(str(exc), EXIT_FAILED)
        raise  # unreachable


def _fail(message: str, code: int) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _emit(result: Any, as_json: bool, summary: str | None = None) -> None:
    if as_json:
        payload = dataclasses.asdict(result) if dataclasses.is_dataclass(result) else result
        typer.echo(json.dumps(payload, indent=2, default=str))
    elif summary:
        typer.echo(summary)


def _dates(day: Optional[str], start: Optional[str], end: Optional[str]) -> list[date]:
    if day and (start or end):
        _fail("give either --date or --start/--end, not both", EXIT_FAILED)
    if day:
        return [date.fromisoformat(day)]
    if not (start and end):
        _fail("give --date D, or --start D1 --end D2", EXIT_FAILED)
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    if last < first:
        _fail(f"--end {last} is before --start {first}", EXIT_FAILED)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


@app.command()
def setup(as_json: bool = JsonOpt) -> None:
    """Check Java and resolve Delta's JARs into the jar cache (once)."""
    _setup_logging(as_json)
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
    _setup_logging(as_json)
    from slatehouse.generate import FaultRates, generate as run_generate

    settings = _settings()
    target = out or Path(settings.landing_dir)
    result = run_generate(
        target, start_date=date.fromisoformat(start_date), days=days, members=members,
        titles=titles, seed=seed, faults=FaultRates.clean() if clean else None,
        history_days=history_days,
    )
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
    _setup_logging(as_json)
    from slatehouse.ingest import ingest_day
    from slatehouse.io import InputMissingError
    from slatehouse.spark import get_spark

    settings = _settings()
    dates = _dates(day, start, end)
    try:
        settings.require_pseudonym_key()
        spark = get_spark(settings, "slatehouse-ingest")
        results = []
        for d in dates:
            r = ingest_day(spark, settings, d)
            results.append(r)
            e = r.events
            log.info(
                "%s: %d lines = %d accepted + %d quarantined + %d duplicates; %d sessions",
                d, e.lines_read, e.accepted, e.quarantined, e.duplicates, r.sessions.sessions_written,
            )
    except InputMissingError as exc:
        _fail(str(exc), EXIT_INPUT_MISSING)
    except ConfigError as exc:
        _fail(str(exc), EXIT_FAILED)
    payload = [dataclasses.asdict(r) for r in results]
    _emit(payload, as_json, f"ingested {len(dates)} day(s)")


@app.command()
def sql(
    query: str = typer.Argument(..., help="A Spark SQL statement, e.g. \"SELECT * FROM marts.fct_title_daily\"."),
    output_format: str = typer.Option("table", "--format", help="table, csv or json."),
    limit: int = typer.Option(1000, help="At most this many rows are printed."),
    as_json: bool = JsonOpt,
) -> None:
    """Run SQL against the warehouse catalogue (bronze, silver, marts, ops)."""
    _setup_logging(as_json)
    from slatehouse.spark import get_spark

    settings = _settings()
    spark = get_spark(settings, "slatehouse-sql")
    try:
        frame = spark.sql(query).limit(limit).toPandas()
    except Exception as exc:  # an analyst's typo should read as a message, not a trace
        _fail(str(exc).splitlines()[0], EXIT_FAILED)
    fmt = "json" if as_json else output_format
    if fmt == "csv":
        typer.echo(frame.to_csv(index=False), nl=False)
    elif fmt == "json":
        typer.echo(frame.to_json(orient="records", date_format="iso", indent=2))
    elif fmt == "table":
        import pandas as pd

        with pd.option_context("display.max_rows", limit, "display.max_columns", None, "display.width", 200):
            typer.echo(frame.to_string(index=False))
    else:
        _fail(f"--format must be table, csv or json, not {fmt!r}", EXIT_FAILED)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    app()
