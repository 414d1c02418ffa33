"""The README's claim that the same jobs run on a Spark cluster with object storage, with
SLATEHOUSE_SPARK_MASTER=spark://host:7077, the landing and warehouse folders on s3a://
URIs, and nothing else changed.

A standalone master and one worker (1 core, 1 GB) are started from the pyspark package
with `spark-class` (no Spark distribution needed), in a clean environment: nothing of the
test's PYTHONPATH or SLATEHOUSE_* settings reaches them. The S3 API is moto's server on
this machine (conftest.s3_endpoint). A small daily run goes through them in a subprocess,
because the suite's own Spark session is local and one process holds one SparkContext.

The executors' Python is a stand-in for another machine's: the same interpreter and
libraries (pyspark, pyarrow, pydantic), but with `slatehouse` not installed
(`python -S`, site-packages put back by hand without the editable install's .pth hook).
On a real cluster nothing installs the package on the workers, and on one machine the
editable install would otherwise hide that (the executors would import whatever the
checkout holds, not the code the driver runs).

The run is the scheduled daily run (forecast and reports included) with dbt's models
only (`dbt run`, as the long scenario in test_pipeline.py does for all but its last daily
run), to stay near three minutes on two shared cores; the CLI's full `slatehouse run` adds
dbt's data and unit tests on the same session.

Checked: the run succeeds; its line counts equal the independent oracle's (the landing
files are read from the bucket and parsed in Python on the executor, `binaryFile` +
`mapInArrow`); the marts are built, in the bucket, and the dashboards' reader (delta-rs)
reads them; every task of the application ran on the worker's executor, none on the
driver (from the application's event log); the executor fetched Delta's and S3A's jars;
the master lists the application as finished with the worker's core; the run released its
warehouse lease; the session's storage check skips object storage, and on folders of a
shared filesystem it saw the executor and left no marker behind.

A second test gives the worker a view of the filesystem of its own (`unshare -m`, an empty
tmpfs over the folder that holds the Slatehouse home), as a worker on another host without
the driver's storage mounted: the session must refuse to start, naming the executor and the
folders, before anything is written. It needs root (CAP_SYS_ADMIN) and is skipped without.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest

import oracle
from conftest import REPO, S3_BUCKET, bucket_fs, free_port, s3a_spark_conf, upload_landing

DAY = date(2026, 3, 2)
DATASET = dict(start_date=DAY, days=1, members=40, titles=10, seed=5, history_days=10)
KEY = "test-cluster-pseudonym-key-0123456789abcdef"

# Runs in the driver subprocess: the daily run, then one task that reports where executor
# Python runs and which `slatehouse` it imports, then the storage check on local folders
# (argv[3]: the settings to check, as JSON). Writes one JSON document to argv[2].
DRIVER = r"""
import json, sys
from datetime import date

from slatehouse import marts, pipeline
from slatehouse.io import check_shared_storage
from slatehouse.settings import Settings
from slatehouse.spark import get_spark


def where(batches):
    import os, sys
    import pyarrow as pa
    try:
        import slatehouse
        module = slatehouse.__file__
    except ImportError as exc:
        module = f"{type(exc).__name__}: {exc}"
    daemon = int(open(f"/proc/{os.getppid()}/stat").read().split()[3])  # worker -> daemon -> JVM
    jvm = open(f"/proc/{daemon}/cmdline", "rb").read().split(b"\0")
    main = next((a.decode() for a in jvm if a.startswith(b"org.apache.spark.")), "?")
    for _ in batches:
        yield pa.RecordBatch.from_pylist([{"info": json.dumps(
            {"python": sys.executable, "slatehouse": module, "jvm_main_class": main})}])


settings = Settings()
real_build = marts.build_marts
marts.build_marts = lambda spark, s, start, end, **kw: real_build(spark, s, start, end, **{**kw, "with_tests": False})
report = pipeline.run(lambda: get_spark(settings, "slatehouse-run"), settings, [date.fromisoformat(sys.argv[1])],
                      command="run")
spark = get_spark(settings)
executor = json.loads(spark.range(1).mapInArrow(where, "info string").first()["info"])
rows = {t: spark.table(t).count() for t in marts.mart_tables(spark)}
# Object-store folders are not checked; folders on a shared filesystem are, on a warm executor.
unchecked = check_shared_storage(spark, settings)
local = json.loads(sys.argv[3])
storage = check_shared_storage(spark, settings.model_copy(update=local))
with open(sys.argv[2], "w") as out:  # not stdout: the JVM prints there too
    json.dump({"status": report.status, "master": spark.sparkContext.master, "counts": report.counts(),
               "steps": {s.step: round(s.duration_s, 1) for s in report.steps}, "executor": executor,
               "marts": rows, "unchecked": unchecked, "storage": storage}, out)
spark.stop()
"""


# Runs in the driver subprocess: only the session's start, which must fail. Writes one JSON
# document to argv[1].
STARTING_DRIVER = r"""
import json, sys

from pyspark.sql import SparkSession

from slatehouse.settings import ConfigError, Settings
from slatehouse.spark import get_spark

try:
    get_spark(Settings(), "slatehouse-unshared")
    result = {"error": None}
except ConfigError as exc:
    result = {"error": type(exc).__name__, "message": str(exc)}
result["session_left"] = SparkSession.getActiveSession() is not None
with open(sys.argv[1], "w") as out:
    json.dump(result, out)
"""


def _master_state(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.load(response)
    except OSError:
        return None


def _wait(what: str, ready, procs: list[subprocess.Popen], logs: list[Path], timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = ready()
        if value:
            return value
        for proc, log in zip(procs, logs):
            if proc.poll() is not None:
                pytest.fail(f"{what}: {log.name} exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        time.sleep(1)
    pytest.fail(f"{what}: not ready after {timeout:.0f}s:\n" + "\n".join(log.read_text()[-2000:] for log in logs))


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)  # spark-class execs java; the group catches any child
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


@contextmanager
def _standalone(root: Path, worker_prefix: tuple[str, ...] = ()):
    """A Spark standalone master and one worker (1 core, 1 GB) on 127.0.0.1, free ports; the
    worker's command line starts with `worker_prefix` (e.g. `unshare ...`)."""
    import pyspark

    from slatehouse.settings import ConfigError
    from slatehouse.spark import check_java

    try:
        check_java()
    except ConfigError as exc:
        pytest.skip(str(exc))
    spark_home = Path(pyspark.__file__).parent
    spark_class = spark_home / "bin" / "spark-class"
    if not spark_class.exists():
        pytest.skip(f"{spark_class} is missing")
    root.mkdir(parents=True, exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root), "SPARK_HOME": str(spark_home),
           "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_DAEMON_MEMORY": "256m", "SPARK_LOG_DIR": str(root)}
    if os.environ.get("JAVA_HOME"):
        env["JAVA_HOME"] = os.environ["JAVA_HOME"]
    port, master_ui, worker_ui = free_port(), free_port(), free_port()
    url, state_url = f"spark://127.0.0.1:{port}", f"http://127.0.0.1:{master_ui}/json/"
    work = root / "work"
    procs, logs = [], []

    def start(name: str, *args: str, prefix: tuple[str, ...] = ()) -> None:
        log = root / f"{name}.log"
        with log.open("w") as out:
            procs.append(subprocess.Popen([*prefix, str(spark_class), *args], env=env, cwd=root, stdout=out,
                                          stderr=subprocess.STDOUT, start_new_session=True))
        logs.append(log)

    try:
        start("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
              "--port", str(port), "--webui-port", str(master_ui))
        _wait("master", lambda: (_master_state(state_url) or {}).get("status") == "ALIVE", procs, logs)
        start("worker", "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1", "--cores", "1",
              "--memory", "1g", "--webui-port", str(worker_ui), "--work-dir", str(work), prefix=worker_prefix)
        _wait("worker", lambda: (_master_state(state_url) or {}).get("aliveworkers") == 1, procs, logs)
        yield {"url": url, "state_url": state_url, "work_dir": work, "logs": logs}
    finally:
        for proc in reversed(procs):
            _stop(proc)


@pytest.fixture
def standalone_cluster(tmp_path):
    """A Spark standalone master and one worker (1 core, 1 GB) on 127.0.0.1, free ports.
    Function-scoped: one test's JVMs are gone before the next test starts others (two cores)."""
    with _standalone(tmp_path / "spark-standalone") as cluster:
        yield cluster


# `sh -c MASK folder cmd...`: an empty tmpfs over the folder, then cmd, in the mount namespace.
_MASK = 'mount -t tmpfs -o size=64m slatehouse-test "$0" && exec "$@"'


@pytest.fixture
def cluster_without_shared_storage(tmp_path):
    """A master and a worker that sees an empty folder at `shared`: the worker runs in a mount
    namespace of its own, with a tmpfs over `shared`."""
    shared = tmp_path / "shared"
    shared.mkdir()
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("`unshare` (util-linux) is missing: cannot give a worker a filesystem view of its own")
    prefix = (unshare, "-m", "--propagation", "private", "sh", "-c", _MASK, str(shared))
    probe = subprocess.run([*prefix, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"`unshare -m` with a tmpfs mount is not permitted here (it needs root or CAP_SYS_ADMIN): "
                    f"{probe.stderr.strip()}")
    with _standalone(tmp_path / "spark-standalone", prefix) as cluster:
        yield {**cluster, "shared": shared}


def _python_without_slatehouse(folder: Path) -> Path:
    """This interpreter and its libraries, but without the editable install of slatehouse:
    what an executor host with the project's requirements, and not the project, has."""
    script = folder / "python-executor"
    purelib = sysconfig.get_paths()["purelib"]
    script.write_text(f'#!/bin/sh\nPYTHONPATH="${{PYTHONPATH:+$PYTHONPATH:}}{purelib}" '
                      f'exec "{sys.executable}" -S "$@"\n')
    script.chmod(0o755)
    bare = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # as the worker starts it
    check = subprocess.run([str(script), "-c", "import pyarrow, pyspark, pydantic_settings; import slatehouse"],
                           capture_output=True, text=True, cwd=folder, env=bare)
    assert "No module named 'slatehouse'" in check.stderr, check.stderr
    return script


def _task_executors(eventlog: Path) -> dict[str, int]:
    """Tasks per executor id, from the application's (uncompressed) event log."""
    tasks: dict[str, int] = {}
    for path in eventlog.rglob("events_*"):  # eventlog_v2_<app>/events_<n>_<app>: rolled files
        with path.open() as lines:
            for line in lines:
                if line.startswith('{"Event":"SparkListenerTaskEnd"'):
                    executor = json.loads(line)["Task Info"]["Executor ID"]
                    tasks[executor] = tasks.get(executor, 0) + 1
    return tasks


def _driver_env(home: Path, master: str, tmp_path: Path, spark_conf: dict[str, str] | None = None) -> dict:
    """The driver subprocess's environment: nothing of the suite's SLATEHOUSE_*, PYSPARK_* or
    SPARK_* settings, and executors whose Python lacks `slatehouse`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLATEHOUSE_", "PYSPARK_", "SPARK_"))}
    env.update(
        SLATEHOUSE_HOME=str(home), SLATEHOUSE_MODE="demo", SLATEHOUSE_PSEUDONYM_KEY=KEY,
        SLATEHOUSE_SPARK_MASTER=master, SLATEHOUSE_SPARK_DRIVER_MEMORY="1g",
        SLATEHOUSE_SHUFFLE_PARTITIONS="1", SLATEHOUSE_DBT_THREADS="2",
        SLATEHOUSE_JARS_DIR=os.environ.get("SLATEHOUSE_JARS_DIR", str(REPO / ".cache" / "jars")),
        SLATEHOUSE_SPARK_CONF=json.dumps(spark_conf or {}),
        SPARK_LOCAL_IP="127.0.0.1", OPENBLAS_NUM_THREADS="1",
        PYSPARK_PYTHON=str(_python_without_slatehouse(tmp_path)),
    )
    return env


def test_a_daily_run_on_a_standalone_cluster_with_object_storage_runs_on_its_executor(
        standalone_cluster, s3_endpoint, tmp_path):
    from pyarrow import fs

    from slatehouse.dashboards.data import MartReader, storage_options
    from slatehouse.generate import generate
    from slatehouse.settings import Settings

    # The landing log, delivered into the bucket as producers would; the warehouse is in
    # the bucket too. A local copy of the landing folder (delivered an hour ago) is what the
    # storage check compares on a shared filesystem: it looks at entries that have settled.
    home = tmp_path / "home"
    local_landing = tmp_path / "landing"
    generate(local_landing, **DATASET)
    an_hour_ago = time.time() - 3600
    for path in [*local_landing.glob("*"), *local_landing.glob("*/*")]:
        os.utime(path, (an_hour_ago, an_hour_ago))
    landing = upload_landing(local_landing, s3_endpoint)
    warehouse = f"s3a://{S3_BUCKET}/warehouse"
    eventlog = tmp_path / "eventlog"
    eventlog.mkdir()
    env = _driver_env(home, standalone_cluster["url"], tmp_path,
                      {**s3a_spark_conf(s3_endpoint), "spark.eventLog.enabled": "true",
                       "spark.eventLog.compress": "false", "spark.eventLog.dir": eventlog.as_uri()})
    env.update(SLATEHOUSE_LANDING_DIR=landing, SLATEHOUSE_WAREHOUSE_DIR=warehouse)
    shared = {"warehouse_dir": str(tmp_path / "shared-warehouse"), "landing_dir": str(local_landing)}
    began = time.perf_counter()
    result = tmp_path / "result.json"
    done = subprocess.run([sys.executable, "-c", DRIVER, DAY.isoformat(), str(result), json.dumps(shared)],
                          cwd=home.parent, env=env, capture_output=True, text=True, timeout=900)
    elapsed = time.perf_counter() - began
    assert done.returncode == 0, done.stderr[-5000:]
    out = json.loads(result.read_text())
    print(f"cluster daily run on s3a:// (dbt models only) in {elapsed:.0f}s: {out['steps']}")

    assert out["status"] == "succeeded" and out["master"] == standalone_cluster["url"]
    assert list(out["steps"]) == ["catalog", "events", "sessions", "gate:bronze", "gate:silver", "dbt",
                                  "gate:marts", "forecast", "reports"]
    # Python on the executor: the executor JVM's own Python worker, with the driver's code.
    assert out["executor"]["jvm_main_class"] == "org.apache.spark.executor.CoarseGrainedExecutorBackend"
    assert "No module named" not in out["executor"]["slatehouse"], out["executor"]

    # The landing files were split and parsed on the executor exactly as the oracle reads them.
    _, expected, _ = oracle.accept_events(local_landing, KEY.encode(), [DAY])
    counts = out["counts"][DAY.isoformat()]
    want = expected[DAY]
    assert counts == {"lines_read": want.lines_read, "accepted": want.accepted,
                      "quarantined": want.quarantined, "duplicates": want.duplicates}
    assert out["marts"].get("marts.fct_title_daily", 0) > 0 and len(out["marts"]) >= 10, out["marts"]

    # Every task ran on the worker's executor; none in the driver (there is no local mode).
    tasks = _task_executors(eventlog)
    assert tasks and "driver" not in tasks, tasks
    state = _master_state(standalone_cluster["state_url"])
    app = next(a for a in state["completedapps"] + state["activeapps"] if a["name"] == "slatehouse-run")
    assert app["cores"] == 1
    app_dir = standalone_cluster["work_dir"] / app["id"]
    jars = {p.name for p in app_dir.glob("*/*.jar")}
    assert any(j.startswith("delta-spark_") for j in jars), "the executor did not fetch Delta's jars (spark.jars)"
    assert any(j.startswith("hadoop-aws-") for j in jars), "the executor did not fetch S3A's jars (spark.jars)"

    # The tables are in the bucket and nothing of the warehouse landed on local disk; the run
    # released its lease.
    s3 = bucket_fs(s3_endpoint)
    log = s3.get_file_info(fs.FileSelector(f"{S3_BUCKET}/warehouse/marts.db/fct_title_daily/_delta_log"))
    assert any(f.path.endswith("00000000000000000000.json") for f in log)
    assert not (home / "warehouse").exists() and not list(tmp_path.rglob("s3a:*"))
    assert s3.get_file_info(f"{S3_BUCKET}/warehouse/_slatehouse/run.lease").type == fs.FileType.NotFound
    reports = list((home / "reports" / DAY.isoformat()).glob("*.html"))
    assert len(reports) == 3

    # The dashboards' reader (delta-rs, no JVM) finds the marts with the same settings as Spark.
    settings = Settings(_env_file=None, home=home, mode="demo", warehouse_dir=warehouse, landing_dir=landing,
                        spark_conf=s3a_spark_conf(s3_endpoint))
    assert storage_options(settings)["AWS_ENDPOINT_URL"] == s3_endpoint
    daily = MartReader(settings).read("marts.fct_title_daily")
    assert len(daily) == out["marts"]["marts.fct_title_daily"]
    assert daily["plays"].sum() > 0 and (daily["unique_profiles"] > 0).all()

    # The storage check: nothing to check on object storage; on a shared filesystem it reached
    # the executor, compared the landing listing, and cleaned up.
    assert out["unchecked"] is None
    storage = out["storage"]
    print(f"storage check on a warm executor: {storage['duration_s']}s")
    assert storage["hosts"] == ["127.0.0.1"] and len(storage["executors"]) == 1, storage
    assert (storage["warehouse"], storage["landing"]) == (shared["warehouse_dir"], str(local_landing))
    assert storage["landing_entries_compared"] > 0
    assert not any((tmp_path / "shared-warehouse" / "_slatehouse").iterdir())


def test_a_worker_without_the_drivers_storage_stops_the_session_before_any_write(
        cluster_without_shared_storage, tmp_path):
    """The worker sees an empty folder where the driver has the Slatehouse home: as a worker
    on another host where the shared storage is not mounted. Without the check, its executor
    would write the first Delta table's data file onto its own disk (docs: README)."""
    from slatehouse.generate import generate

    home = cluster_without_shared_storage["shared"] / "home"
    generate(home / "landing", **DATASET)
    env = _driver_env(home, cluster_without_shared_storage["url"], tmp_path)
    result = tmp_path / "result.json"
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", STARTING_DRIVER, str(result)], cwd=home, env=env,
                          capture_output=True, text=True, timeout=300)
    print(f"refused session in {time.perf_counter() - began:.0f}s")
    assert done.returncode == 0, done.stderr[-5000:]
    out = json.loads(result.read_text())

    assert out["error"] == "StorageNotSharedError", out
    message = out["message"]
    assert re.search(r"executor \d+ on 127.0.0.1 \(hostname ", message), message
    assert f"no folder {home / 'warehouse'}; no folder {home / 'landing'}" in message, message
    assert "same path on the driver and on every worker" in message and "s3a://" in message, message
    assert not out["session_left"]  # stopped: a later get_spark starts (and checks) a new one
    # Nothing reached the warehouse: the marker is gone, its folder is empty.
    assert [p.relative_to(home / "warehouse") for p in (home / "warehouse").rglob("*")] == [Path("_slatehouse")]


def test_the_storage_checks_executor_side_says_what_it_does_not_see(tmp_path, monkeypatch):
    """The check's task, called in this process: each way an executor's view can differ."""
    from slatehouse import io

    warehouse, landing = tmp_path / "warehouse", tmp_path / "landing"
    (warehouse / "_slatehouse").mkdir(parents=True)
    (landing / "events" / "received_date=2026-03-02").mkdir(parents=True)
    marker = warehouse / "_slatehouse" / "storage-probe-t"

    def view(expected=("events", "events/received_date=2026-03-02")) -> dict:
        return json.loads(next(io._storage_view(str(marker), "t", str(landing), list(expected), iter(()))))

    assert view()["problems"] == [f"{warehouse} is another folder than the driver's (its marker "
                                  "_slatehouse/storage-probe-t is not there)"]
    marker.write_text("t")
    assert view() | {"hostname": None} == {"executor": "?", "host": socket.gethostname(), "hostname": None,
                                           "problems": [], "landing_missing": []}
    assert view(["events/received_date=2026-03-01"]) | {"hostname": None} == {
        "executor": "?", "host": socket.gethostname(), "hostname": None, "problems": [],
        "landing_missing": ["events/received_date=2026-03-01"]}  # a second task in the same worker
    assert len(list(marker.parent.glob("storage-probe-t-*"))) == 2  # each wrote beside the marker

    def refused(*args):  # a worker running as a user who may not write there
        raise PermissionError(13, "Permission denied")

    with monkeypatch.context() as patched:
        patched.setattr(io.os, "open", refused)
        assert view()["problems"] == [f"cannot write in {marker.parent} as uid {os.getuid()} "
                                      "(PermissionError: Permission denied)"]
    shutil.rmtree(landing)
    shutil.rmtree(warehouse)
    assert view()["problems"] == [f"no folder {warehouse}", f"no folder {landing}"]

    assert io.local_folder("s3a://bucket/warehouse") is None and io.local_folder("hdfs://nn/w") is None
    assert io.local_folder("file:///srv/warehouse") == "/srv/warehouse" == io.local_folder("/srv/warehouse")
