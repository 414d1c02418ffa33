"""The README's claim that the same jobs run on a Spark cluster, with
SLATEHOUSE_SPARK_MASTER=spark://host:7077 and nothing else changed.

A standalone master and one worker (1 core, 1 GB) are started from the pyspark package
with `spark-class` (no Spark distribution needed), in a clean environment: nothing of the
test's PYTHONPATH or SLATEHOUSE_* settings reaches them. A small daily run goes through
them in a subprocess, because the suite's own Spark session is local and one process
holds one SparkContext.

The executors' Python is a stand-in for another machine's: the same interpreter and
libraries (pyspark, pyarrow, pydantic), but with `slatehouse` not installed
(`python -S`, site-packages put back by hand without the editable install's .pth hook).
On a real cluster nothing installs the package on the workers, and on one machine the
editable install would otherwise hide that (the executors would import whatever the
checkout holds, not the code the driver runs).

The run is the daily run with dbt's models only (`dbt run`, as the long scenario in
test_pipeline.py does for nine of its ten runs) and without the forecast and reports,
to stay near three minutes on two shared cores; the CLI's full `slatehouse run` adds
dbt's data and unit tests on the same session.

Checked: the run succeeds; its line counts equal the independent oracle's (the landing
files are parsed in Python on the executor, `binaryFile` + `mapInArrow`); the marts are
built; every task of the application ran on the worker's executor, none on the driver
(from the application's event log); the executor fetched Delta's jars; the master lists
the application as finished with the worker's core.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from datetime import date
from pathlib import Path

import pytest

import oracle
from conftest import REPO

DAY = date(2026, 3, 2)
DATASET = dict(start_date=DAY, days=1, members=40, titles=10, seed=5, history_days=10)
KEY = "test-cluster-pseudonym-key-0123456789abcdef"

# Runs in the driver subprocess: the daily run, then one task that reports where executor
# Python runs and which `slatehouse` it imports. Writes one JSON document to argv[2].
DRIVER = r"""
import json, sys
from datetime import date

from slatehouse import marts, pipeline
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
                      command="run", with_outputs=False)
spark = get_spark(settings)
executor = json.loads(spark.range(1).mapInArrow(where, "info string").first()["info"])
rows = {t: spark.table(t).count() for t in marts.mart_tables(spark)}
with open(sys.argv[2], "w") as out:  # not stdout: the JVM prints there too
    json.dump({"status": report.status, "master": spark.sparkContext.master, "counts": report.counts(),
               "steps": {s.step: round(s.duration_s, 1) for s in report.steps}, "executor": executor,
               "marts": rows}, out)
spark.stop()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


@pytest.fixture(scope="module")
def standalone_cluster(tmp_path_factory):
    """A Spark standalone master and one worker (1 core, 1 GB) on 127.0.0.1, free ports."""
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
    root = tmp_path_factory.mktemp("spark-standalone")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root), "SPARK_HOME": str(spark_home),
           "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_DAEMON_MEMORY": "256m", "SPARK_LOG_DIR": str(root)}
    if os.environ.get("JAVA_HOME"):
        env["JAVA_HOME"] = os.environ["JAVA_HOME"]
    port, master_ui, worker_ui = _free_port(), _free_port(), _free_port()
    url, state_url = f"spark://127.0.0.1:{port}", f"http://127.0.0.1:{master_ui}/json/"
    work = root / "work"
    procs, logs = [], []

    def start(name: str, *args: str) -> None:
        log = root / f"{name}.log"
        with log.open("w") as out:
            procs.append(subprocess.Popen([str(spark_class), *args], env=env, cwd=root, stdout=out,
                                          stderr=subprocess.STDOUT, start_new_session=True))
        logs.append(log)

    try:
        start("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
              "--port", str(port), "--webui-port", str(master_ui))
        _wait("master", lambda: (_master_state(state_url) or {}).get("status") == "ALIVE", procs, logs)
        start("worker", "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1", "--cores", "1",
              "--memory", "1g", "--webui-port", str(worker_ui), "--work-dir", str(work))
        _wait("worker", lambda: (_master_state(state_url) or {}).get("aliveworkers") == 1, procs, logs)
        yield {"url": url, "state_url": state_url, "work_dir": work, "logs": logs}
    finally:
        for proc in reversed(procs):
            _stop(proc)


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


def test_a_daily_run_on_a_standalone_cluster_runs_on_its_executor(standalone_cluster, tmp_path):
    from slatehouse.generate import generate

    home = tmp_path / "home"
    landing = home / "landing"
    generate(landing, **DATASET)
    eventlog = tmp_path / "eventlog"
    eventlog.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLATEHOUSE_", "PYSPARK_", "SPARK_"))}
    env.update(
        SLATEHOUSE_HOME=str(home), SLATEHOUSE_MODE="demo", SLATEHOUSE_PSEUDONYM_KEY=KEY,
        SLATEHOUSE_SPARK_MASTER=standalone_cluster["url"], SLATEHOUSE_SPARK_DRIVER_MEMORY="1g",
        SLATEHOUSE_SHUFFLE_PARTITIONS="1", SLATEHOUSE_DBT_THREADS="2",
        SLATEHOUSE_JARS_DIR=os.environ.get("SLATEHOUSE_JARS_DIR", str(REPO / ".cache" / "jars")),
        SLATEHOUSE_SPARK_CONF=json.dumps({"spark.eventLog.enabled": "true", "spark.eventLog.compress": "false",
                                          "spark.eventLog.dir": eventlog.as_uri()}),
        SPARK_LOCAL_IP="127.0.0.1", OPENBLAS_NUM_THREADS="1",
        PYSPARK_PYTHON=str(_python_without_slatehouse(tmp_path)),
    )
    began = time.perf_counter()
    result = tmp_path / "result.json"
    done = subprocess.run([sys.executable, "-c", DRIVER, DAY.isoformat(), str(result)], cwd=home, env=env,
                          capture_output=True, text=True, timeout=900)
    elapsed = time.perf_counter() - began
    assert done.returncode == 0, done.stderr[-5000:]
    out = json.loads(result.read_text())
    print(f"cluster daily run (dbt models only) in {elapsed:.0f}s: {out['steps']}")

    assert out["status"] == "succeeded" and out["master"] == standalone_cluster["url"]
    # Python on the executor: the executor JVM's own Python worker, with the driver's code.
    assert out["executor"]["jvm_main_class"] == "org.apache.spark.executor.CoarseGrainedExecutorBackend"
    assert "No module named" not in out["executor"]["slatehouse"], out["executor"]

    # The landing files were split and parsed on the executor exactly as the oracle reads them.
    _, expected, _ = oracle.accept_events(landing, KEY.encode(), [DAY])
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
    assert any(app_dir.glob("*/delta-spark_*.jar")), "the executor did not fetch Delta's jars (spark.jars)"
