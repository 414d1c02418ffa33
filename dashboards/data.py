"""Reading the marts for the dashboards and reports: delta-rs into Arrow into pandas, no JVM.

Inputs:  the dbt marts, Spark managed Delta tables at `<warehouse_dir>/<db>.db/<table>`
         (e.g. `<home>/warehouse/marts.db/fct_title_daily`), and the forecast tables
         `marts.fct_forecast_backtest` / `marts.fct_slate_forecasts` when they exist.
Outputs: pandas frames, cached per table and refreshed when the table's Delta version (or
         identity, after a drop and re-create) changes.

Every read checks the table's latest version (`update_incremental`, a listing of
`_delta_log`), so a page shows a dbt run's output on the next request without a restart.
Frames derived from several tables are cached the same way, keyed by their inputs' versions.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from slatehouse.settings import Settings

log = logging.getLogger(__name__)

# The marts the dashboards read, and the columns they rely on. The names are the dbt
# models' (dbt/models/marts/**/_*__models.yml); tests/test_dashboards_data.py checks them.
MART_COLUMNS: dict[str, tuple[str, ...]] = {
    "marts.dim_title": ("title_id", "title_name", "programme_id", "programme_type", "format",
                        "season_id", "episode_number", "runtime_s", "release_date",
                        "origin_country", "is_european_work", "genres"),
    "marts.dim_programme": ("programme_id", "programme_type", "format", "programme_name",
                            "show_title", "season_number", "episode_count", "runtime_s",
                            "release_date", "original_language", "language_group",
                            "origin_country", "is_european_work", "genres"),
    "marts.dim_talent": ("talent_id", "talent_name", "roles", "programmes_credited"),
    "marts.dim_genre": ("genre", "titles", "programmes"),
    "marts.fct_title_daily": ("title_id", "programme_id", "country", "device_type", "plays",
                              "hours_viewed", "views", "unique_profiles", "event_date"),
    "marts.fct_title_release_windows": ("programme_id", "window_days", "release_date",
                                        "window_end_date", "is_window_complete", "hours_viewed",
                                        "views", "plays", "unique_profiles", "increment_profiles", "starters", "watchers",
                                        "completers", "completion_rate", "avg_share_watched"),
    "marts.fct_top10_weekly": ("market", "list_name", "week_rank", "programme_id", "hours_viewed",
                               "views", "unique_profiles", "week_start_date", "week_end_date"),
    "marts.fct_title_retention": ("title_id", "progress_pct", "starters", "starters_reached",
                                  "share_reached"),
    "marts.fct_season_funnel": ("season_id", "episode_number", "title_id", "episode_1_starters",
                                "episode_starters", "episode_completers", "share_started",
                                "share_completed", "season_completers", "binge_rate",
                                "median_days_to_complete"),
    "marts.fct_genre_weekly": ("genre", "hours_viewed", "views", "unique_profiles", "starters", "completers",
                               "completion_rate", "share_of_hours", "week_start_date"),
    "marts.fct_talent_track_record": ("talent_id", "talent_name", "role", "programmes",
                                      "programmes_with_complete_28d", "median_views_28d",
                                      "mean_views_28d", "completion_rate_28d", "genre_mix"),
    "marts.fct_market_offer_vs_demand": ("country", "month_start_date", "breakdown", "group_value",
                                         "programme_share", "runtime_share", "hours_viewed",
                                         "unique_profiles",
                                         "demand_share", "european_works_programme_share",
                                         "meets_avmsd_european_quota"),
    "marts.fct_title_training": ("programme_id", "format", "programme_name", "release_date",
                                 "genres", "talent", "runtime_minutes", "episodes",
                                 "original_language", "origin_country", "views_28d",
                                 "is_window_complete"),
}


class MissingTableError(LookupError):
    """A mart the page needs is not in the warehouse yet."""


def table_uri(settings: Settings, table: str) -> str:
    """Where Spark keeps a managed table: `marts.fct_title_daily` ->
    `<warehouse_dir>/marts.db/fct_title_daily` (a local path or an object-store URI)."""
    database, _, name = table.partition(".")
    if not name:
        raise ValueError(f"table {table!r}: expected '<database>.<table>', e.g. 'marts.fct_title_daily'")
    return f"{str(settings.warehouse_dir).rstrip('/')}/{database}.db/{name}"


# Spark's S3A settings (SLATEHOUSE_SPARK_CONF) -> delta-rs storage options, so the
# dashboards read an object-store warehouse with the same endpoint and credentials as Spark.
_S3A_TO_DELTA_RS = {
    "fs.s3a.endpoint": "AWS_ENDPOINT_URL",
    "fs.s3a.endpoint.region": "AWS_REGION",
    "fs.s3a.access.key": "AWS_ACCESS_KEY_ID",
    "fs.s3a.secret.key": "AWS_SECRET_ACCESS_KEY",
    "fs.s3a.session.token": "AWS_SESSION_TOKEN",
}


def storage_options(settings: Settings) -> dict[str, str]:
    """delta-rs storage options for the warehouse: empty for a local folder; for
    `s3a://bucket/...`, the `spark.hadoop.fs.s3a.*` settings in SLATEHOUSE_SPARK_CONF
    (per-bucket `fs.s3a.bucket.<bucket>.*` ones first). Settings left out fall back to
    delta-rs's own AWS chain (AWS_* variables, profiles, instance roles)."""
    scheme, sep, rest = str(settings.warehouse_dir).partition("://")
    if not sep or scheme not in ("s3", "s3a", "s3n"):
        return {}
    bucket = rest.split("/", 1)[0]
    s3a = {k[len("spark.hadoop."):]: v for k, v in settings.spark_conf.items()
           if k.startswith("spark.hadoop.fs.s3a.")}
    conf = {k: v for k, v in s3a.items() if not k.startswith("fs.s3a.bucket.")}
    per_bucket = f"fs.s3a.bucket.{bucket}."
    conf.update({"fs.s3a." + k[len(per_bucket):]: v for k, v in s3a.items() if k.startswith(per_bucket)})
    options = {option: conf[key] for key, option in _S3A_TO_DELTA_RS.items() if conf.get(key)}
    endpoint = options.get("AWS_ENDPOINT_URL")
    if endpoint:
        if "://" not in endpoint:  # S3A takes a bare host; its scheme follows the ssl setting
            ssl = conf.get("fs.s3a.connection.ssl.enabled", "true").lower() != "false"
            endpoint = options["AWS_ENDPOINT_URL"] = ("https://" if ssl else "http://") + endpoint
        if endpoint.startswith("http://"):
            options["AWS_ALLOW_HTTP"] = "true"
    return options


def read_warehouse_object(settings: Settings, relative: str) -> bytes | None:
    """One object under the warehouse folder (e.g. an s3a:// warehouse's lease), read through
    delta-rs's object store with the same storage options as the tables: None when there is
    no such object."""
    from deltalake.fs import DeltaStorageHandler

    store = DeltaStorageHandler(str(settings.warehouse_dir).rstrip("/"), storage_options(settings) or None)
    try:
        return store.open_input_file(relative).read()
    except FileNotFoundError:
        return None


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    # Spark writes some divisions as decimals; the dashboards want floats. Dates become
    # datetime64 so that pandas and Plotly treat them as time.
    fields = []
    for field in table.schema:
        if pa.types.is_decimal(field.type):
            field = field.with_type(pa.float64())
        fields.append(field)
    table = table.cast(pa.schema(fields))
    return table.to_pandas(date_as_object=False)


class MartReader:
    """Cached, version-aware reads of the warehouse's Delta tables. Thread-safe."""

    def __init__(self, settings: Settings, *, version_check_s: float = 0.0):
        self.settings = settings
        self.k = settings.min_audience
        # Checking a table's version is a listing of its _delta_log; a positive
        # `version_check_s` skips re-checks within that many seconds (for slow object stores).
        self.version_check_s = version_check_s
        self._lock = threading.RLock()
        self._tables: dict[str, DeltaTable] = {}
        self._checked: dict[str, tuple[float, tuple]] = {}
        self._frames: dict[tuple[str, tuple[str, ...] | None], tuple[tuple, pd.DataFrame]] = {}
        self._derived: dict[Hashable, tuple[tuple, Any]] = {}

    # --- versions ------------------------------------------------------------------------
    def _delta_table(self, table: str) -> DeltaTable:
        uri = table_uri(self.settings, table)
        dt = self._tables.get(table)
        if dt is None:
            try:
                dt = DeltaTable(uri, storage_options=storage_options(self.settings) or None)
            except TableNotFoundError as exc:
                raise MissingTableError(
                    f"{table}: no Delta table at {uri}. Build the marts first "
                    f"(`slatehouse run` or `make demo`), or point SLATEHOUSE_WAREHOUSE_DIR at them."
                ) from exc
            self._tables[table] = dt
        return dt

    def version(self, table: str) -> tuple:
        """(table id, version) of the latest commit; changes on every write or re-create."""
        with self._lock:
            now = time.monotonic()
            checked = self._checked.get(table)
            if checked and now - checked[0] < self.version_check_s:
                return checked[1]
            dt = self._delta_table(table)
            try:
                dt.update_incremental()
            except Exception:  # the table was dropped and re-created, or vacuumed: reload
                self._tables.pop(table, None)
                dt = self._delta_table(table)
            key = (dt.metadata().id, dt.version())
            self._checked[table] = (now, key)
            return key

    def exists(self, table: str) -> bool:
        try:
            self.version(table)
            return True
        except MissingTableError:
            return False

    # --- reads ---------------------------------------------------------------------------
    def read(self, table: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The whole table as pandas, or only `columns` of it (cached until its version
        changes). Do not mutate."""
        with self._lock:
            key = self.version(table)
            which = (table, tuple(columns) if columns is not None else None)
            cached = self._frames.get(which)
            if cached and cached[0] == key:
                return cached[1]
            started = time.perf_counter()
            frame = _to_pandas(self._tables[table].to_pyarrow_table(columns=None if columns is None else list(columns)))
            self._frames[which] = (key, frame)
            log.info("read %s version %s: %d rows in %.0f ms", table, key[1], len(frame),
                     (time.perf_counter() - started) * 1000)
            return frame

    def bounds(self, table: str, column: str) -> tuple[Any, Any]:
        """The smallest and largest value of `column` ((None, None) for an empty table), from
        the Delta log alone where it can be: a partition column's values, or every data
        file's column statistics. A table with a file that has no statistics for it is read
        (that column only)."""
        with self._lock:
            self.version(table)
            files = pa.table(self._tables[table].get_add_actions(flatten=True))
        if files.num_rows == 0:
            return None, None
        for low, high in ((f"partition.{column}",) * 2, (f"min.{column}", f"max.{column}")):
            if all(n in files.column_names and files[n].null_count == 0 for n in (low, high)):
                return pc.min(files[low]).as_py(), pc.max(files[high]).as_py()
        values = self.read(table, [column])[column].dropna()
        if values.empty:
            return None, None
        return tuple(v.date() if hasattr(v, "date") else v for v in (values.min(), values.max()))

    def derived(self, name: Hashable, tables: Sequence[str], build: Callable[..., Any],
                reads: Sequence[str] | None = None) -> Any:
        """`build(*frames)` over the frames of `reads` (by default, all of `tables`), cached
        until one of the versions of `tables` changes."""
        with self._lock:
            key = tuple(self.version(t) for t in tables)
            cached = self._derived.get(name)
            if cached and cached[0] == key:
                return cached[1]
            value = build(*(self.read(t) for t in (tables if reads is None else reads)))
            self._derived[name] = (key, value)
            return value

    def versions(self, tables: Sequence[str]) -> dict[str, int | None]:
        """Delta version per table (None when missing), for page footers and reports."""
        out: dict[str, int | None] = {}
        for table in tables:
            try:
                out[table] = self.version(table)[1]
            except MissingTableError:
                out[table] = None
        return out


def local_warehouse(settings: Settings) -> Path | None:
    """The warehouse folder when it is local (None for an object-store URI)."""
    return None if "://" in str(settings.warehouse_dir) else Path(settings.warehouse_dir)
