"""Build the dbt marts in-process on the pipeline's Spark session.

Inputs:  the silver Delta tables (`silver.playback_sessions`, `silver.catalog_*`).
Outputs: `staging.*` views, `intermediate.*` and `marts.*` Delta tables (see dbt/ and
docs/metrics.md), plus dbt's artefacts under `<home>/dbt/target` and `<home>/dbt/logs`.

dbt-spark's `session` method calls `SparkSession.builder.getOrCreate()`, which returns
the session `slatehouse.spark.get_spark` already built, so dbt runs in the same JVM as the
ingest jobs. Call `get_spark(settings)` first and pass the session in.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from slatehouse.settings import Settings
from slatehouse.spark import first_message

log = logging.getLogger(__name__)

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt"
MART_SCHEMAS = ("staging", "intermediate", "marts")


class MartsBuildError(RuntimeError):
    """dbt failed: the message names every failed model and test and what dbt said."""

    def __init__(self, message: str, result: "MartsResult | None" = None):
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class NodeResult:
    unique_id: str  # e.g. model.slatehouse.fct_title_daily
    resource_type: str  # model | test | unit_test | seed
    name: str
    status: str  # success | error | fail | warn | skipped | pass
    execution_time_s: float
    relation: str | None = None  # schema.table for models
    path: str | None = None  # e.g. models/marts/viewing/fct_title_daily.sql
    rows: int | None = None  # row count after the build, for `marts.*` tables
    message: str | None = None


@dataclass
class MartsResult:
    success: bool
    command: str
    start: date | None
    end: date | None
    full_refresh: bool
    elapsed_s: float
    unit_tests_run: bool = False  # False when skipped because the project had not changed
    models: int = 0  # models built
    passed: int = 0  # data tests and unit tests passed
    failed: int = 0  # models, tests and unit tests that errored or failed
    nodes: list[NodeResult] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.models = sum(1 for n in self.model_nodes if n.status == "success")
        self.passed = sum(1 for n in self.test_nodes if n.status == "pass")
        self.failed = len(self.failures)

    @property
    def model_nodes(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.resource_type == "model"]

    @property
    def test_nodes(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.resource_type in ("test", "unit_test")]

    @property
    def failures(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.status in ("error", "fail", "runtime error")]

    def to_dict(self) -> dict:
        return {
            "success": self.success,
            "command": self.command,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "full_refresh": self.full_refresh,
            "elapsed_s": round(self.elapsed_s, 3),
            "nodes": [n.__dict__ for n in self.nodes],
        }


def mart_tables(spark) -> list[str]:
    """The `marts.*` tables that exist now (e.g. to note their Delta versions before a build)."""
    if not spark.catalog.databaseExists("marts"):
        return []
    return sorted(f"marts.{t.name}" for t in spark.catalog.listTables("marts") if not t.isTemporary
                  and t.tableType != "VIEW")


def dbt_paths(settings: Settings) -> tuple[Path, Path]:
    """dbt's target and log folders: under the settings home, never in the repo."""
    root = settings.home / "dbt"
    return root / "target", root / "logs"


def project_fingerprint() -> str:
    """A hash of everything the unit tests' outcome depends on: the dbt project's models,
    macros, tests and settings, and the dbt and Spark versions that run them."""
    from importlib.metadata import version

    digest = hashlib.sha256()
    for name in ("dbt-core", "dbt-spark", "pyspark"):
        digest.update(f"{name}=={version(name)}\n".encode())
    for path in sorted(DBT_PROJECT_DIR.rglob("*")):
        if path.is_file() and path.suffix in (".sql", ".yml", ".md") and not any(
                part in ("target", "logs", "dbt_packages") for part in path.relative_to(DBT_PROJECT_DIR).parts):
            digest.update(str(path.relative_to(DBT_PROJECT_DIR)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _unit_tests_stamp(settings: Settings) -> Path:
    return dbt_paths(settings)[0] / "unit_tests_passed.json"


def unit_tests_due(settings: Settings) -> bool:
    """True unless the unit tests last passed against this very project (same fingerprint)."""
    stamp = _unit_tests_stamp(settings)
    try:
        return json.loads(stamp.read_text()).get("fingerprint") != project_fingerprint()
    except (OSError, ValueError):
        return True


def dbt_vars(settings: Settings, start: date | None, end: date | None, **extra) -> dict:
    from slatehouse.transforms.sessions import CONTIGUITY_TOLERANCE_S

    values: dict = {"lookback_days": settings.mart_lookback_days, "contiguity_tolerance_s": CONTIGUITY_TOLERANCE_S}
    if start is not None:
        values["start_date"] = start.isoformat()
    if end is not None:
        values["end_date"] = end.isoformat()
    values.update(extra)
    return values


def _log_warning(msg) -> None:
    """dbt's warnings (deprecations, a test over its warn_if threshold) on our log: they are
    for whoever reads the run, and dbt's own console output is off."""
    if msg.info.level == "warn":
        log.warning("dbt: %s", msg.info.msg)


def _invoke(settings: Settings, args: list[str]):
    from dbt.cli.main import dbtRunner

    target_path, log_path = dbt_paths(settings)
    target_path.mkdir(parents=True, exist_ok=True)
    log_path.mkdir(parents=True, exist_ok=True)
    # The session target is the embedded path; SLATEHOUSE_DBT_TARGET selects another.
    os.environ.setdefault("SLATEHOUSE_DBT_TARGET", "session")
    common = [
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(target_path),
        "--log-path", str(log_path),
        # No console output from dbt: dbt-spark's message for a failed model is Spark's whole
        # plan or Java stack trace, and a cancelled run fails every running model at once.
        # dbt.log keeps all of it; MartsBuildError says what failed in a line per node, and
        # _log_warning passes dbt's warnings on. No colour codes in the log file either.
        "--log-level", "none",
        "--log-level-file", "info",
        "--no-use-colors",
    ]
    # Parse first without the run's --vars, then run on that manifest. dbt re-parses the
    # whole project whenever --vars differ from the last parse, and every run's window
    # does; parsed without them, dbt's partial parsing finds nothing changed. The window
    # is only read when the SQL is compiled, which the run does with its own --vars.
    parsed = dbtRunner(callbacks=[_log_warning]).invoke(["parse", *common])
    if not parsed.success:
        return parsed
    full_args = args + common + ["--threads", str(settings.dbt_threads)]
    log.debug("dbt %s", " ".join(full_args))
    return dbtRunner(manifest=parsed.result, callbacks=[_log_warning]).invoke(full_args)


def _ensure_schemas(spark) -> None:
    for schema in MART_SCHEMAS:
        spark.sql(f"create database if not exists {schema}")


def _node_results(spark, run_result, count_rows: bool) -> list[NodeResult]:
    nodes: list[NodeResult] = []
    for r in getattr(run_result, "results", None) or []:
        node = r.node
        resource_type = str(getattr(node, "resource_type", "")).split(".")[-1].lower()
        relation = None
        rows = None
        if resource_type == "model":
            relation = f"{node.schema}.{node.alias}"
            status = str(r.status).split(".")[-1].lower()
            materialized = node.config.materialized
            if (count_rows and status == "success" and node.schema == "marts"
                    and materialized in ("table", "incremental")):
                rows = spark.table(relation).count()
        nodes.append(NodeResult(
            unique_id=node.unique_id,
            resource_type=resource_type,
            name=node.name,
            status=str(r.status).split(".")[-1].lower(),
            execution_time_s=round(float(r.execution_time or 0.0), 3),
            relation=relation,
            path=getattr(node, "original_file_path", None),
            rows=rows,
            message=(r.message if r.message and str(r.status).lower() not in ("success", "pass",
                     "runstatus.success", "teststatus.pass") else None),
        ))
    return nodes


def _raise_on_failure(result: MartsResult, exception: BaseException | None, log_file: Path) -> None:
    """One line per failed node with what Spark or dbt said (its error class, not its plan
    or Java frames, which stay in dbt.log), then what was skipped and where the log is."""
    if result.success:
        return
    skipped = [n for n in result.nodes if n.status == "skipped"]
    lines = [f"dbt {result.command} failed: {len(result.failures)} of {len(result.nodes)} nodes failed, "
             f"{len(skipped)} skipped." if result.nodes else f"dbt {result.command} failed before it ran a node."]
    for n in result.failures:
        where = f" ({n.path})" if n.path else ""
        lines.append(f"  {n.resource_type} {n.name}{where}: {n.status}: {first_message(n.message or '')}")
    skipped_models = [n.name for n in skipped if n.resource_type == "model"]
    if skipped_models:
        lines.append(f"  skipped models (downstream of a failure): {', '.join(skipped_models)}")
    if len(skipped) > len(skipped_models):
        lines.append(f"  skipped tests: {len(skipped) - len(skipped_models)}")
    if exception is not None:  # its first line names the node: "Compilation Error in model x (path)"
        head = (str(exception).strip().splitlines() or [""])[0]
        cause = first_message(exception)
        said = head if cause == head else f"{head}: {cause}" if head else ""
        lines.append(f"  dbt raised {type(exception).__name__}" + (f": {said}" if said else ""))
    lines.append(f"The whole errors (Spark's plan, its stack trace, the compiled SQL's path) are in {log_file}. "
                 "Rerun one model with `slatehouse build-marts --select <model>`.")
    raise MartsBuildError("\n".join(lines), result)


def build_marts(
    spark,
    settings: Settings,
    start: date | None = None,
    end: date | None = None,
    full_refresh: bool = False,
    select: str | None = None,
    count_rows: bool = True,
    with_tests: bool = True,
    unit_tests: bool | None = None,
) -> MartsResult:
    """`dbt build` (models, data tests, unit tests) for the event dates [start, end].

    Incremental marts recompute [start - mart_lookback_days, end]; `full_refresh=True`
    rebuilds everything from silver. `with_tests=False` runs the models only (`dbt run`).
    Data tests check the data, so they run on every build. Unit tests check the SQL on fixed
    rows, so their outcome changes only with the project or the dbt/Spark versions:
    `unit_tests=None` (the default) runs them when that fingerprint differs from the last
    passing run's, or on a full refresh; True or False forces them on or off.
    Raises MartsBuildError naming the failed models and tests.
    """
    if (start is None) != (end is None):
        raise ValueError("build_marts needs both start and end, or neither")
    if start is not None and end < start:
        raise ValueError(f"build_marts: end {end} is before start {start}")
    _ensure_schemas(spark)
    command = "build" if with_tests else "run"
    explicit_off = unit_tests is False
    if unit_tests is None:
        unit_tests = full_refresh or unit_tests_due(settings)
    run_unit_tests = with_tests and unit_tests
    args = [command, "--vars", json.dumps(dbt_vars(settings, start, end))]
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", select]
    if with_tests and not run_unit_tests:
        args += ["--exclude-resource-type", "unit_test"]
    # A selection runs only some unit tests: it proves nothing about the others.
    fingerprint = project_fingerprint() if run_unit_tests and not select else None
    began = time.perf_counter()
    res = _invoke(settings, args)
    elapsed = time.perf_counter() - began
    result = MartsResult(
        success=bool(res.success),
        command=command,
        start=start,
        end=end,
        full_refresh=full_refresh,
        elapsed_s=elapsed,
        unit_tests_run=run_unit_tests,
        nodes=_node_results(spark, res.result, count_rows) if res.result is not None else [],
    )
    unit_nodes = [n for n in result.test_nodes if n.resource_type == "unit_test"]
    if not with_tests:
        unit_note = "models only"
    elif run_unit_tests:
        unit_note = f"{len(unit_nodes)} of them unit tests"
    else:
        unit_note = "unit tests skipped: " + ("not asked for" if explicit_off else "project unchanged since they passed")
    log.info(
        "dbt %s %s..%s%s: %d models, %d tests passed (%s), %d failed in %.1fs",
        command, start, end, " (full refresh)" if full_refresh else "", result.models,
        result.passed, unit_note, result.failed, elapsed,
    )
    for n in result.model_nodes:  # the others are in the error below (or were cancelled)
        if n.status == "success":
            log.info("  %s %s rows=%s %.2fs", n.relation, n.status, n.rows, n.execution_time_s)
    _raise_on_failure(result, res.exception, dbt_paths(settings)[1] / "dbt.log")
    if fingerprint is not None and unit_nodes and all(n.status == "pass" for n in unit_nodes):
        _unit_tests_stamp(settings).write_text(json.dumps({
            "fingerprint": fingerprint, "unit_tests": len(unit_nodes), "passed_at": time.time()}) + "\n")
    return result


def generate_docs(spark, settings: Settings, static: bool = False) -> Path:
    """`dbt docs generate`; returns the folder holding index.html, manifest and catalog."""
    _ensure_schemas(spark)
    args = ["docs", "generate"]
    if static:
        args.append("--static")
    began = time.perf_counter()
    res = _invoke(settings, args)
    target_path, _ = dbt_paths(settings)
    if not res.success:
        errors = getattr(res.result, "errors", None) or []  # the catalog's, one per failed query
        why = first_message(res.exception) if res.exception else "; ".join(first_message(e) for e in errors[:3])
        raise MartsBuildError(
            f"dbt docs generate failed: {why or 'see the log'}. Build the marts first "
            f"(build_marts) and read {dbt_paths(settings)[1] / 'dbt.log'}."
        )
    log.info("dbt docs generated in %s (%.1fs)", target_path, time.perf_counter() - began)
    return target_path
