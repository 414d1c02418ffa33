"""All storage access: landing files, Delta tables, the catalogue.

This is the only module that knows paths, `spark.read`, `.write`, `DeltaTable.merge`,
RESTORE, OPTIMIZE and VACUUM. Transforms never read or write; jobs call these functions.
"""

from __future__ import annotations

import codecs
import functools
import glob
import json
import logging
import os
import re
import socket
import time
import uuid
import zlib
from dataclasses import dataclass
from datetime import date
from typing import Callable, Iterator, Sequence
from urllib.parse import urlparse

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, MapType, StructType

from slatehouse.settings import ConfigError, Settings

log = logging.getLogger(__name__)


class InputMissingError(RuntimeError):
    """The landing files a run needs are not there."""


# --- Landing files -------------------------------------------------------------------------
LINES_SCHEMA = StructType.fromJson({
    "type": "struct",
    "fields": [
        {"name": "_source_file", "type": "string", "nullable": False, "metadata": {}},
        {"name": "_line_number", "type": "long", "nullable": False, "metadata": {}},
        {"name": "line", "type": "string", "nullable": True, "metadata": {}},
        {"name": "line_error", "type": "string", "nullable": True, "metadata": {}},
    ],
})
_LINES_ARROW = pa.schema([
    ("_source_file", pa.string()), ("_line_number", pa.int64()),
    ("line", pa.string()), ("line_error", pa.string()),
])
_BATCH_LINES = 200_000
# The landing contract's file names (docs/event-contract.md); anything else is reported.
LANDING_SUFFIXES = (".jsonl", ".jsonl.gz")
LANDING_GLOB = "*.{" + ",".join(suffix[1:] for suffix in LANDING_SUFFIXES) + "}"


_GZIP_CHUNK = 1 << 16
_GZIP_MAGIC = b"\x1f\x8b"


def _inflate(decomp, data: bytes, piece: int) -> tuple[list[bytes], int | None]:
    """Feed `data` to a decompressor in pieces; (output, None) or, at a fault, the output
    up to the faulty piece and that piece's offset."""
    out = []
    for start in range(0, len(data), piece):
        try:
            out.append(decomp.decompress(data[start:start + piece]))
        except zlib.error:
            return out, start
        if decomp.eof:
            break
    return out, None


def _gunzip(content: bytes) -> tuple[bytes, str | None]:
    """Every member of a gzip file (`cat a.gz b.gz` is one valid file), and why it ends
    early if it does: None when complete, else the reason, with everything decoded before
    the fault kept."""
    if not content.startswith(_GZIP_MAGIC):
        return b"", "not a gzip file"
    out: list[bytes] = []
    rest = content
    while rest:
        decomp = zlib.decompressobj(wbits=31)
        for start in range(0, len(rest), _GZIP_CHUNK):
            chunk = rest[start:start + _GZIP_CHUNK]
            saved = decomp.copy()
            try:
                out.append(decomp.decompress(chunk))
            except zlib.error as error:  # again from before the chunk, a byte at a time
                kept, at = _inflate(saved, chunk, 1)
                out += kept
                offset = len(content) - len(rest) + start + (at or 0)
                return b"".join(out), f"gzip data corrupt after {offset:,} bytes ({error})"
            if decomp.eof:
                break
        if not decomp.eof:
            return b"".join(out), f"gzip data ends early ({len(content):,} bytes)"
        out.append(decomp.flush())
        rest = decomp.unused_data
        if not rest.strip(b"\0"):  # zero padding after the last member ends the file
            break
        if not rest.startswith(_GZIP_MAGIC):
            return b"".join(out), f"data after the last gzip member is not gzip ({len(rest):,} bytes)"
    return b"".join(out), None


def _trailing_content(text: str) -> bool:
    """Whether a line holds more than one JSON value (`{...}{...}`, `{...} junk`, or lines
    joined by a bare carriage return). The parser reads the first object and would drop
    the rest, so such a line is refused whole. Only lines that look suspect are parsed here."""
    stripped = text.strip()
    if not stripped.startswith("{") or (stripped.endswith("}") and _NEXT_VALUE.search(stripped) is None):
        return False
    try:
        _, end = _DECODER.raw_decode(stripped)
    except ValueError:
        return False  # not JSON at all: the parser reports it
    return stripped[end:].strip() != ""


_DECODER = json.JSONDecoder()
_NEXT_VALUE = re.compile(r"}\s*[{\[\"\w]")


def _split_file(path: str, content: bytes) -> Iterator[pa.RecordBatch]:
    """One landing file's bytes -> (file, line number, text, error) batches.

    `line_error` is a quarantine reason, optionally followed by ": " and its detail. Gzip
    files that end early, or are corrupt part way, keep every complete line before the
    fault; the partial tail becomes one `truncated_file` line that says why. Lines that
    are not UTF-8 are kept (with replacement characters) and flagged `invalid_utf8`; a line
    with content after its JSON object is `malformed_json`. So nothing is lost and the
    reason is recorded. A UTF-8 byte-order mark at the start of a file is dropped.
    """
    truncated_tail = None
    if path.endswith(".gz"):
        data, fault = _gunzip(content)
        if fault is not None:
            head, sep, tail = data.rpartition(b"\n")
            data = head + sep
            truncated_tail = (tail, fault)
    else:
        data = content
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    try:
        texts = data.decode("utf-8").split("\n")
        if texts and texts[-1] == "":
            texts.pop()
        errors: list[str | None] = [None] * len(texts)
    except UnicodeDecodeError:
        texts, errors = [], []
        for raw in raw_lines:
            try:
                texts.append(raw.decode("utf-8"))
                errors.append(None)
            except UnicodeDecodeError:
                texts.append(raw.decode("utf-8", errors="replace"))
                errors.append("invalid_utf8")
    for i, text in enumerate(texts):
        if errors[i] is None and _trailing_content(text):
            errors[i] = "malformed_json: content after the JSON object"
    if truncated_tail is not None:
        texts.append(truncated_tail[0].decode("utf-8", errors="replace"))
        errors.append(f"truncated_file: {truncated_tail[1]}")
    for start in range(0, max(len(texts), 1), _BATCH_LINES):
        chunk = texts[start:start + _BATCH_LINES]
        if not chunk:
            return
        yield pa.RecordBatch.from_arrays([
            pa.array([path] * len(chunk), pa.string()),
            pa.array(range(start + 1, start + 1 + len(chunk)), pa.int64()),
            pa.array(chunk, pa.string()),
            pa.array(errors[start:start + _BATCH_LINES], pa.string()),
        ], schema=_LINES_ARROW)


def _split_files(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        paths = batch.column("path").to_pylist()
        contents = batch.column("content")
        for i, path in enumerate(paths):
            yield from _split_file(path, contents[i].as_py())


def event_landing_dir(settings: Settings, received_date: date) -> str:
    return f"{settings.landing_dir}/events/received_date={received_date.isoformat()}"


def read_event_lines(spark: SparkSession, settings: Settings, received_dates: Sequence[date]) -> DataFrame:
    """Every line of the events received on the given dates, with its file, line number
    and `received_date` (from the folder)."""
    folders = [event_landing_dir(settings, d) for d in received_dates]
    missing = [f for f in folders if not path_exists(spark, f)]
    if missing:
        raise InputMissingError(
            f"No landing files for received date(s) {', '.join(m.rsplit('=', 1)[1] for m in missing)}: "
            f"{missing[0]} does not exist. Check that the producers delivered, or run "
            "`slatehouse generate` for a demo."
        )
    files = (
        spark.read.format("binaryFile")
        .option("recursiveFileLookup", "true")
        .option("pathGlobFilter", LANDING_GLOB)
        .load(folders)
        .select("path", "content")
    )
    received = F.to_date(F.regexp_extract("_source_file", r"received_date=(\d{4}-\d{2}-\d{2})", 1))
    return files.mapInArrow(_split_files, LINES_SCHEMA).withColumn("received_date", received)


def hadoop_fs(spark: SparkSession, path: str):
    """Hadoop's FileSystem for `path` (local, s3a://, hdfs://...) and the path as Hadoop's
    Path: how the driver reads, lists and deletes files on any storage Spark can use."""
    hpath = spark._jvm.org.apache.hadoop.fs.Path(path)
    return hpath.getFileSystem(spark._jsc.hadoopConfiguration()), hpath


def ignored_event_files(spark: SparkSession, settings: Settings, received_date: date) -> list[str]:
    """Files under a received date's folder that ingest does not read: not named `*.jsonl`
    or `*.jsonl.gz` (a partial `.tmp` upload, another format), or hidden, or in a hidden
    folder (`.staging/`, `_temporary/`): Spark's listing skips every name that starts with
    `.`, or with `_` unless it holds `=` or is `_metadata`/`_common_metadata`, and every
    `._COPYING_` file. Reported, so that none goes unnoticed."""
    folder = event_landing_dir(settings, received_date)
    fs, hpath = hadoop_fs(spark, folder)
    if not fs.exists(hpath):
        return []
    ignored = []
    files = fs.listFiles(hpath, True)
    while files.hasNext():
        relative = files.next().getPath().toString().split(f"received_date={received_date.isoformat()}/", 1)[-1]
        parts = relative.split("/")
        if any(_hidden_by_spark(part) for part in parts) or not parts[-1].endswith(LANDING_SUFFIXES):
            ignored.append(relative)
    return sorted(ignored)


def _hidden_by_spark(name: str) -> bool:
    """Whether Spark's file listing leaves this file or folder name out (as its
    HadoopFSUtils.shouldFilterOutPathName does)."""
    excluded = (name.startswith("_") and "=" not in name) or name.startswith(".") or name.endswith("._COPYING_")
    return excluded and not name.startswith(("_common_metadata", "_metadata"))


def path_exists(spark: SparkSession, path: str) -> bool:
    fs, hpath = hadoop_fs(spark, path)
    return bool(fs.exists(hpath))


def remove_path(spark: SparkSession, path: str) -> None:
    """Delete a landing folder (and everything under it), on any Hadoop filesystem."""
    fs, hpath = hadoop_fs(spark, path)
    fs.delete(hpath, True)
    log.info("removed %s", path)


# --- The warehouse lease (object stores) ------------------------------------------------------
# <home>/run.lock is a local flock: it keeps runs on one host apart. Delta's default LogStore
# for s3a:// (S3SingleDriverLogStore) is only safe with one writing driver per table, so a
# warehouse on S3 also gets a lease object in the bucket, created only if absent (S3A's
# conditional create: If-None-Match: *, Hadoop 3.4.2+), that runs on other hosts respect.
class LeaseHeldError(RuntimeError):
    """Another host's run holds the warehouse lease."""


_CONDITIONAL_CREATE = "fs.option.create.conditional.overwrite"


LEASE_OBJECT = "_slatehouse/run.lease"  # under the warehouse folder


def lease_path(settings: Settings) -> str | None:
    """The lease object of an s3a:// warehouse (None for a local one)."""
    warehouse = str(settings.warehouse_dir)
    return f"{warehouse.rstrip('/')}/{LEASE_OBJECT}" if warehouse.startswith("s3a://") else None


def claim_lease(spark: SparkSession, settings: Settings, holder: dict) -> str | None:
    """Create the lease with `holder` in it, or raise LeaseHeldError naming its holder. A
    lease left by a run of the same host and home is stale (the caller holds that home's
    flock, so its holder is gone) and is taken over. Returns the lease's path (None when
    the warehouse needs none)."""
    path = lease_path(settings)
    if path is None:
        return None
    fs, hpath = hadoop_fs(spark, path)
    for attempt in range(2):
        try:
            out = fs.createFile(hpath).overwrite(False).must(_CONDITIONAL_CREATE, True).build()
            out.write(bytearray(json.dumps(holder).encode()))
            out.close()  # the PUT, with If-None-Match: *
            return path
        except Exception as exc:  # py4j: FileAlreadyExists (seen first) or 412 on close
            if "FileAlreadyExistsException" not in str(exc) and "RemoteFileChangedException" not in str(exc):
                raise
        current = _read_lease(spark, fs, hpath)
        if attempt == 0 and (current.get("host"), current.get("home")) == (holder["host"], holder["home"]):
            log.warning("stale warehouse lease from this host (%s); taking it over", current)
            fs.delete(hpath, False)
            continue
        raise LeaseHeldError(
            f"the warehouse {settings.warehouse_dir} is leased to another run ({current}): Delta on S3 "
            f"allows one writing driver at a time. Wait for it; if that run is gone (its host stopped), "
            f"remove the lease with `slatehouse force-unlock {current.get('run_id')}`.")
    raise AssertionError("unreachable")


def release_lease(spark: SparkSession, path: str | None, run_id: str) -> None:
    """Delete the lease if it is still this run's."""
    if path is None:
        return
    fs, hpath = hadoop_fs(spark, path)
    if fs.exists(hpath) and _read_lease(spark, fs, hpath).get("run_id") == run_id:
        fs.delete(hpath, False)


def break_lease(spark: SparkSession, settings: Settings, run_id: str) -> dict | None:
    """Delete the warehouse lease if it names `run_id`: the way out when the run holding it
    died on a host that is gone (its own host and home take it over by themselves).
    Returns the holder removed, None when there was no lease; raises LeaseHeldError when
    the lease names another run, which is left alone."""
    path = lease_path(settings)
    if path is None:
        raise ValueError(f"the warehouse {settings.warehouse_dir} has no lease: only s3a:// warehouses do")
    fs, hpath = hadoop_fs(spark, path)
    if not fs.exists(hpath):
        return None
    current = _read_lease(spark, fs, hpath)
    if current.get("run_id") != run_id:
        raise LeaseHeldError(f"the lease {path} is held by run {current.get('run_id')!r} ({current}), not "
                             f"{run_id!r}: nothing was removed. Give the run id the lease names.")
    fs.delete(hpath, False)
    log.warning("removed the warehouse lease %s of run %s (%s)", path, run_id, current)
    return current


def _read_lease(spark: SparkSession, fs, hpath) -> dict:
    try:
        stream = fs.open(hpath)
        try:
            text = spark._jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8")
        finally:
            stream.close()
        return json.loads(text)
    except Exception:  # gone meanwhile, or not ours to parse
        return {}


# --- Shared storage (clusters) ------------------------------------------------------------------
# On a cluster the executors write the Delta tables' data files and read the landing files
# themselves, while the driver commits the Delta log. A folder given as a plain path must
# therefore be the same storage, at the same path, on every worker as on the driver; where it
# is not, executors write data files onto their own disks and the table is corrupt (missing
# files) from its first commit. Object stores and HDFS are reached by name from every host.
class StorageNotSharedError(ConfigError):
    """A cluster's executors do not see the driver's warehouse or landing folder."""


STORAGE_PROBE_DIR = "_slatehouse"
# A new folder can stay out of another NFS client's listing for a while (directory attribute
# caching: a minute by default, longer where a mount raises actimeo), so executors are held
# only to the landing entries older than this.
_LANDING_SETTLED_S = 600


def local_folder(folder: str) -> str | None:
    """The local filesystem path of a folder setting (a plain path or a file: URI); None for
    any other filesystem (s3a://, hdfs://, ...)."""
    parsed = urlparse(folder)
    if parsed.scheme == "file":
        return os.path.abspath(parsed.path)
    return None if parsed.scheme else os.path.abspath(folder)


def _scan(folder: str) -> list[os.DirEntry]:
    with os.scandir(folder) as entries:
        return list(entries)


def _landing_entries(folder: str, settled_before: float | None = None) -> set[str]:
    """The names one and two levels down (`events`, `events/received_date=...`); with
    `settled_before`, only those last modified before that time."""
    names = set()
    for top in _scan(folder):
        entries = [(top.name, top)]
        if top.is_dir():
            entries += [(f"{top.name}/{e.name}", e) for e in _scan(top.path)]
        names.update(name for name, e in entries
                     if settled_before is None or e.stat(follow_symlinks=False).st_mtime < settled_before)
    return names


def _executor_identity() -> tuple[str, str]:
    """(executor id, host) as Spark names them, from the executor JVM's command line (an
    ancestor of this Python worker); ('?', this machine's name) where /proc cannot tell."""
    pid = os.getpid()
    for _ in range(4):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                args = f.read().decode(errors="replace").split("\0")
            if "--executor-id" in args:
                host = args[args.index("--hostname") + 1] if "--hostname" in args else socket.gethostname()
                return args[args.index("--executor-id") + 1], host
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return "?", socket.gethostname()


def _storage_view(marker: str | None, token: str, landing: str | None, expected: Sequence[str],
                  _rows: Iterator) -> Iterator[str]:
    """Executor side: what this executor sees of the driver's marker and landing entries
    (one JSON document). It writes only once it sees the marker, so onto shared storage."""
    executor, host = _executor_identity()
    view = {"executor": executor, "host": host, "hostname": socket.gethostname(), "problems": []}
    if marker is not None:
        folder = os.path.dirname(os.path.dirname(marker))
        try:
            with open(marker) as f:
                seen = f.read() == token
        except OSError:
            seen = False
        if not seen:
            view["problems"].append(
                f"no folder {folder}" if not os.path.isdir(folder)
                else f"{folder} is another folder than the driver's (its marker "
                     f"{os.path.relpath(marker, folder)} is not there)")
        else:
            try:
                os.close(os.open(f"{marker}-{uuid.uuid4().hex}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except OSError as exc:
                view["problems"].append(f"cannot write in {os.path.dirname(marker)} as uid {os.getuid()} "
                                        f"({type(exc).__name__}: {exc.strerror})")
    if landing is not None:
        try:
            view["landing_missing"] = sorted(set(expected) - _landing_entries(landing))
        except FileNotFoundError:
            view["problems"].append(f"no folder {landing}")
        except OSError as exc:
            view["problems"].append(f"cannot list {landing} ({type(exc).__name__}: {exc.strerror})")
    yield json.dumps(view)


def _executor_ids(spark: SparkSession) -> set[str]:
    ids = spark.sparkContext._jsc.sc().getExecutorIds()
    return set(spark._jvm.scala.jdk.javaapi.CollectionConverters.asJava(ids))


def check_shared_storage(spark: SparkSession, settings: Settings) -> dict | None:
    """On a cluster, raise StorageNotSharedError unless every executor sees the warehouse
    and landing folders that are local paths as the driver does.

    The driver writes a marker file under <warehouse>/_slatehouse; one small job, with a
    task for every executor core, has each executor read it (and write beside it), and
    list the landing folder one and two levels down, to compare with the driver's listing.
    The markers are removed. Executors that join the application later are not checked.
    Returns what was checked (None when no folder is a local path)."""
    warehouse, landing = local_folder(settings.warehouse_dir), local_folder(settings.landing_dir)
    if warehouse is None and landing is None:
        return None
    began, t0 = time.time(), time.perf_counter()
    token = uuid.uuid4().hex
    marker = None
    if warehouse is not None:
        os.makedirs(os.path.join(warehouse, STORAGE_PROBE_DIR), exist_ok=True)
        marker = os.path.join(warehouse, STORAGE_PROBE_DIR, f"storage-probe-{token}")
        with open(marker, "w") as f:
            f.write(token)
    if landing is not None and not os.path.isdir(landing):
        landing = None  # nothing to compare yet: ingest says so when it needs the files
    expected = sorted(_landing_entries(landing, began - _LANDING_SETTLED_S)) if landing else []
    sc = spark.sparkContext
    views: dict[str, dict] = {}
    sc.setJobDescription("slatehouse: do the executors see the driver's storage?")
    try:
        for _ in range(3):  # executors still registering are caught by the next round
            tasks = max(sc.defaultParallelism, 2 * len(_executor_ids(spark)), 2)
            probe = functools.partial(_storage_view, marker, token, landing, expected)
            for row in sc.parallelize(range(tasks), tasks).mapPartitions(probe).collect():
                view = json.loads(row)
                seen = views.setdefault(view["executor"], view)
                if seen is not view:  # another task on the same executor
                    seen["problems"] += [p for p in view["problems"] if p not in seen["problems"]]
                    seen["landing_missing"] = sorted({*seen.get("landing_missing", ()),
                                                      *view.get("landing_missing", ())})
            if "?" in views or _executor_ids(spark) <= views.keys():
                break
    finally:
        sc.setJobDescription(None)
        if marker is not None:
            for path in glob.glob(f"{glob.escape(marker)}*"):
                os.remove(path)
    now = _landing_entries(landing) if landing is not None and os.path.isdir(landing) else set()
    for view in views.values():  # an entry removed meanwhile (retention) is no executor's fault
        missing = sorted(now.intersection(view.get("landing_missing", ())))
        if missing:
            view["problems"].append(f"{landing} lacks {len(missing)} of the driver's entries "
                                    f"(e.g. {', '.join(missing[:3])})")
    failing = [v for v in views.values() if v["problems"]]
    if failing:
        raise StorageNotSharedError(
            f"The Spark executors do not see the driver's storage (master {sc.master}):\n"
            + "".join(f"  - executor {v['executor']} on {v['host']} (hostname {v['hostname']}): "
                      f"{'; '.join(v['problems'])}\n" for v in sorted(failing, key=lambda v: v["executor"]))
            + "Executors write the Delta tables' data files and read the landing files themselves, so "
            "SLATEHOUSE_WAREHOUSE_DIR and SLATEHOUSE_LANDING_DIR must be the same storage at the same "
            "path on the driver and on every worker. Mount the same shared storage (e.g. NFS) at that "
            "path on every worker, or put both folders on object storage (s3a://...); see the README, "
            "\"Running on a cluster\". Stopped before writing to the warehouse.")
    checked = {"executors": sorted(views), "hosts": sorted({v["host"] for v in views.values()}),
               "warehouse": warehouse, "landing": landing, "landing_entries_compared": len(expected),
               "duration_s": round(time.perf_counter() - t0, 3)}
    log.info("storage check: %d executor(s) on %s see %s (%.2fs)", len(views), ", ".join(checked["hosts"]),
             " and ".join(p for p in (warehouse, landing) if p), checked["duration_s"])
    return checked


def list_partition_dates(spark: SparkSession, folder: str, key: str) -> list[date]:
    """Dates of the `key=YYYY-MM-DD` sub-folders of `folder` (sorted)."""
    if not path_exists(spark, folder):
        return []
    fs, hpath = hadoop_fs(spark, folder)
    found = []
    for status in fs.listStatus(hpath):
        name = status.getPath().getName()
        if status.isDirectory() and name.startswith(f"{key}="):
            try:
                found.append(date.fromisoformat(name.split("=", 1)[1]))
            except ValueError:
                log.warning("ignoring folder %s/%s: not a date", folder, name)
    return sorted(found)


def catalog_snapshot_dates(spark: SparkSession, settings: Settings) -> list[date]:
    return list_partition_dates(spark, f"{settings.landing_dir}/catalog", "snapshot_date")


def read_catalog_snapshots(
    spark: SparkSession, settings: Settings, snapshot_dates: Sequence[date], schema: StructType
) -> DataFrame:
    """The catalogue snapshots of the given dates, each row with its `snapshot_date`."""
    paths = [f"{settings.landing_dir}/catalog/snapshot_date={d.isoformat()}" for d in snapshot_dates]
    return (
        spark.read.schema(schema).option("mode", "FAILFAST").option("dateFormat", "yyyy-MM-dd")
        .json(paths)
        .withColumn("snapshot_date", F.to_date(F.regexp_extract(
            F.input_file_name(), r"snapshot_date=(\d{4}-\d{2}-\d{2})", 1)))
    )


def overwrite(spark: SparkSession, name: str, df: DataFrame, partition_by: Sequence[str] = ()) -> WriteResult:
    """Replace a derived table's contents (one Delta commit, so readers see old or new).
    When the derivation's columns changed (a release added one), its schema is replaced too."""
    if table_exists(spark, name):
        if not same_columns(read_table(spark, name).schema, df.schema):
            return replace_table(spark, name, df)
        df.writeTo(name).overwrite(F.lit(True))
    else:
        create_table(spark, name, df.schema, partition_by)
        df.writeTo(name).append()
    return _last_write(spark, name)


def overwrite_all(spark: SparkSession, tables: dict[str, DataFrame], threads: int = 4) -> dict[str, WriteResult]:
    """`overwrite` each table, several at a time from threads on the one session. A small
    table's write is mostly waiting on planning, the Delta log and the metastore, not on
    the cores, so the writes overlap well (bench/bench_catalog.py). Every write runs to
    its end, or is cancelled with the session's jobs; then the first failed table's error
    (in the order given) is raised."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max(1, min(threads, len(tables))), thread_name_prefix="slatehouse-write") as pool:
        futures = {name: pool.submit(overwrite, spark, name, df) for name, df in tables.items()}
    return {name: future.result() for name, future in futures.items()}


# --- Delta tables ----------------------------------------------------------------------------
def ensure_database(spark: SparkSession, name: str) -> None:
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {name}")


def table_exists(spark: SparkSession, name: str) -> bool:
    return spark.catalog.tableExists(name)


def read_table(spark: SparkSession, name: str) -> DataFrame:
    return spark.read.table(name)


def current_version(spark: SparkSession, name: str) -> int | None:
    """The Delta version of a table, or None if it does not exist yet."""
    if not table_exists(spark, name):
        return None
    from delta.tables import DeltaTable

    return DeltaTable.forName(spark, name).history(1).select("version").first()[0]


def table_property(spark: SparkSession, name: str, key: str) -> str | None:
    """A table property's value, or None when the table or the property is missing."""
    if not table_exists(spark, name):
        return None
    rows = spark.sql(f"SHOW TBLPROPERTIES {name}").collect()
    return next((r.value for r in rows if r.key == key), None)


def set_table_property(spark: SparkSession, name: str, key: str, value: str) -> None:
    """Set one table property (a metadata-only Delta commit)."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    spark.sql(f"ALTER TABLE {name} SET TBLPROPERTIES ('{key}' = '{escaped}')")


def table_location(spark: SparkSession, name: str) -> str:
    return spark.sql(f"DESCRIBE DETAIL {name}").select("location").first()[0]


def restore_table(spark: SparkSession, name: str, version: int | None) -> bool:
    """Put a table back to a version (or drop it if it did not exist before); False when
    it was already so."""
    if version is None:
        if not table_exists(spark, name):
            return False
        spark.sql(f"DROP TABLE IF EXISTS {name}")
        log.warning("dropped %s (it did not exist before this run)", name)
        return True
    if current_version(spark, name) == version:
        return False
    spark.sql(f"RESTORE TABLE {name} TO VERSION AS OF {version}")
    log.warning("restored %s to version %d", name, version)
    return True


def restore_tables(spark: SparkSession, versions: dict[str, int | None]) -> dict[str, int | None]:
    """Put every table back (`restore_table`); returns those that had changed."""
    return {name: version for name, version in versions.items() if restore_table(spark, name, version)}


def restore_after_error(spark: SparkSession, versions: Callable[[], dict[str, int | None]], what: str) -> str:
    """On the way out of a failed step: put the tables `versions()` names back and log it,
    without letting a failed restore (or listing) hide the step's own error (a rerun
    repairs the tables then). Returns what was done, as a sentence ('' for nothing)."""
    try:
        done = restored_text(restore_tables(spark, versions()))
    except Exception:
        log.exception("%s, and its tables could not be restored; rerun the same dates to repair them", what)
        return ""
    log.error("%s%s", what, f": {done}" if done else "; no table had changed")
    return done


def restored_text(versions: dict[str, int | None]) -> str:
    """e.g. 'Restored marts.a to v3, marts.b to v1; dropped marts.c (new in this run).'"""
    back = ", ".join(f"{t} to v{v}" for t, v in versions.items() if v is not None)
    dropped = ", ".join(t for t, v in versions.items() if v is None)
    parts = ([f"Restored {back}"] if back else []) + ([f"dropped {dropped} (new in this run)"] if dropped else [])
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "." if text else ""


def create_table(
    spark: SparkSession, name: str, schema: StructType, partition_by: Sequence[str] = ()
) -> None:
    if table_exists(spark, name):
        return
    ensure_database(spark, name.split(".")[0])
    writer = spark.createDataFrame([], schema).write.format("delta")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.saveAsTable(name)
    log.info("created %s", name)


@dataclass(frozen=True)
class WriteResult:
    table: str
    version: int | None
    rows_inserted: int
    rows_updated: int
    rows_deleted: int


def _differs(columns: Sequence[str]) -> str:
    return " OR ".join(f"NOT (t.`{c}` <=> s.`{c}`)" for c in columns)


def merge_replace(
    spark: SparkSession,
    name: str,
    df: DataFrame,
    keys: Sequence[str],
    scope: str | None = None,
    partition_by: Sequence[str] = (),
    preserve: Sequence[str] = ("_ingested_at",),
    delete_missing: bool = True,
) -> WriteResult:
    """Make the rows of `name` within `scope` (a SQL predicate on `t`) equal to `df`.

    Rows are matched on `keys`; `scope` also prunes the files the merge reads. Unchanged
    rows are left alone, so a rerun with the same input leaves the table's contents
    exactly as they were, including audit columns in `preserve`. With
    `delete_missing=False` (or no scope) nothing is deleted: an upsert.
    """
    from delta.tables import DeltaTable

    create_table(spark, name, df.schema, partition_by)
    target = DeltaTable.forName(spark, name)
    before = current_version(spark, name)
    compare = [c for c in df.columns if c not in keys and c not in preserve]
    on = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
    if scope:
        on = f"({on}) AND ({scope})"
    merge = target.alias("t").merge(df.alias("s"), on)
    if compare:
        merge = merge.whenMatchedUpdate(condition=_differs(compare), set={c: f"s.`{c}`" for c in compare})
    merge = merge.whenNotMatchedInsertAll()
    if scope and delete_missing:
        merge = merge.whenNotMatchedBySourceDelete(condition=scope)
    merge.execute()
    return _last_write(spark, name, before)


def same_columns(a: StructType, b: StructType) -> bool:
    """The same column names and types, nested ones included; nullability aside."""
    def shape(t):
        if isinstance(t, StructType):
            return tuple((f.name, shape(f.dataType)) for f in t.fields)
        if isinstance(t, ArrayType):
            return ("array", shape(t.elementType))
        if isinstance(t, MapType):
            return ("map", shape(t.keyType), shape(t.valueType))
        return t.simpleString()

    return shape(a) == shape(b)


def replace_table(spark: SparkSession, name: str, df: DataFrame) -> WriteResult:
    """Replace a table's schema and contents in one Delta commit (REPLACE TABLE: readers
    see the old or the new table, and the old versions stay in its history)."""
    ensure_database(spark, name.split(".")[0])
    df.writeTo(name).using("delta").createOrReplace()
    return _last_write(spark, name)


def _last_write(spark: SparkSession, name: str, before: int | None = None) -> WriteResult:
    """What the latest commit wrote. Given the version `before` a write, a write that made
    no commit (nothing to add, change or delete) reports zeros: the latest commit then is
    an earlier one's."""
    from delta.tables import DeltaTable

    last = DeltaTable.forName(spark, name).history(1).select("version", "operationMetrics").first()
    if before is not None and last["version"] == before:
        log.info("wrote %s: nothing to change (still v%s)", name, before)
        return WriteResult(table=name, version=before, rows_inserted=0, rows_updated=0, rows_deleted=0)
    metrics = last["operationMetrics"] or {}

    def metric(*keys: str) -> int:
        return sum(int(metrics.get(k, 0) or 0) for k in keys)

    result = WriteResult(
        table=name,
        version=last["version"],
        rows_inserted=metric("numTargetRowsInserted") if "numTargetRowsInserted" in metrics
        else metric("numOutputRows"),
        rows_updated=metric("numTargetRowsUpdated", "numUpdatedRows"),
        rows_deleted=metric("numTargetRowsDeleted", "numDeletedRows"),
    )
    log.info(
        "wrote %s v%s: +%d ~%d -%d rows", name, result.version,
        result.rows_inserted, result.rows_updated, result.rows_deleted,
    )
    return result


def delete_where(spark: SparkSession, name: str, condition: str) -> WriteResult:
    """DELETE the rows matching a SQL predicate (one Delta commit; none when no row
    matches, and then nothing was deleted - the latest commit is someone else's)."""
    from delta.tables import DeltaTable

    before = current_version(spark, name)
    DeltaTable.forName(spark, name).delete(condition)
    return _last_write(spark, name, before)


def delete_rows(spark: SparkSession, name: str, rows: DataFrame, keys: Sequence[str]) -> WriteResult:
    """DELETE the rows of `name` whose `keys` equal those of a row of `rows` (a MERGE, so
    the keys' values need no quoting)."""
    from delta.tables import DeltaTable

    before = current_version(spark, name)
    on = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
    DeltaTable.forName(spark, name).alias("t").merge(rows.select(*keys).distinct().alias("s"), on) \
        .whenMatchedDelete().execute()
    return _last_write(spark, name, before)


def update_where(spark: SparkSession, name: str, condition: str, values: dict) -> WriteResult:
    """UPDATE the rows matching a SQL predicate to the given literal values."""
    from delta.tables import DeltaTable

    before = current_version(spark, name)
    DeltaTable.forName(spark, name).update(condition, {k: F.lit(v) for k, v in values.items()})
    return _last_write(spark, name, before)


def append(spark: SparkSession, name: str, df: DataFrame, partition_by: Sequence[str] = ()) -> WriteResult:
    create_table(spark, name, df.schema, partition_by)
    before = current_version(spark, name)
    df.write.format("delta").mode("append").saveAsTable(name)
    return _last_write(spark, name, before)


def optimize(spark: SparkSession, name: str) -> dict:
    row = spark.sql(f"OPTIMIZE {name}").first()
    return row.asDict(recursive=True) if row else {}


def vacuum(spark: SparkSession, name: str, retention_hours: float) -> None:
    """Remove the files no Delta version newer than `retention_hours` needs."""
    began = time.perf_counter()
    spark.sql(f"VACUUM {name} RETAIN {retention_hours} HOURS")
    log.info("vacuumed %s (retain %s h) in %.1fs", name, retention_hours, time.perf_counter() - began)
