"""`slatehouse serve-sql`: the Spark Thrift server over the warehouse's own catalogue.

Inputs: the Settings (the same `spark_conf` as `slatehouse sql` and the jobs, so the same
catalogue and Delta warehouse), `thrift_host` and `thrift_port`.
Output: a HiveServer2-protocol endpoint (JDBC `jdbc:hive2://host:port/default`, ODBC,
DBeaver, Superset, PyHive) until stopped; its log in `<home>/logs/thrift-server.log`.

pyspark ships the server's jar but not sbin/start-thriftserver.sh, so this module runs
`spark-submit --class ...HiveThriftServer2` itself. Authentication is Hive's NONE (any
user name is accepted), which is why the server binds to 127.0.0.1 unless told otherwise.

With the embedded Derby metastore the server holds the catalogue for itself: no other
slatehouse process can open it until the server stops. The shared setup (a PostgreSQL
metastore, see docs/operations.md) lets a daily run and the server work at once.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from slatehouse.metastore import check_metastore
from slatehouse.settings import ConfigError, Settings
from slatehouse.spark import _pyspark_home, check_java, is_local_master, java_properties, spark_conf

log = logging.getLogger(__name__)

THRIFT_SERVER_CLASS = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"
STOP_GRACE_S = 30.0


class ThriftServerError(RuntimeError):
    """The server did not start, or stopped on its own; the message quotes its log."""


@dataclass
class ThriftServerHandle:
    process: subprocess.Popen
    host: str
    port: int
    log_path: Path
    _conf_dir: Path | None = field(default=None, repr=False)

    @property
    def jdbc_url(self) -> str:
        return f"jdbc:hive2://{self.host}:{self.port}/default"

    @property
    def is_running(self) -> bool:
        return self.process.poll() is None


def thrift_server_command(settings: Settings, properties_file: Path) -> list[str]:
    """The spark-submit command line; the Spark configuration itself is in the file."""
    spark_submit = _pyspark_home() / "bin" / "spark-submit"
    return [
        str(spark_submit),
        "--class", THRIFT_SERVER_CLASS,
        "--name", "slatehouse-thrift",
        "--properties-file", str(properties_file),
        "--hiveconf", f"hive.server2.thrift.bind.host={settings.thrift_host}",
        "--hiveconf", f"hive.server2.thrift.port={settings.thrift_port}",
        # HiveServer2 would otherwise try to run queries as the connecting user.
        "--hiveconf", "hive.server2.enable.doAs=false",
    ]


def thrift_server_conf(settings: Settings) -> dict[str, str]:
    """`spark_conf` plus Delta's jars on the driver's own classpath.

    The server runs each statement under a session class loader that cannot see classes
    added through `spark.jars` later on (Delta's catalogue then fails with
    NoClassDefFoundError on its first table). `spark.jars` stays for executors elsewhere.
    """
    conf = spark_conf(settings, app_name="slatehouse-thrift")
    jars = [j for j in conf.get("spark.jars", "").split(",") if j]
    classpath = [p for p in conf.get("spark.driver.extraClassPath", "").split(os.pathsep) if p]
    conf["spark.driver.extraClassPath"] = os.pathsep.join(
        classpath + [j for j in jars if j not in classpath]
    )
    return conf


def _port_accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _select_one(host: str, port: int) -> None:
    from pyhive import hive

    conn = hive.connect(host=host, port=port, username="slatehouse")
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT 1")
        if cursor.fetchall() != [(1,)]:
            raise ThriftServerError("SELECT 1 did not return 1")
    finally:
        conn.close()


def start_thrift_server(settings: Settings, timeout_s: float = 300.0,
                        log_path: Path | None = None) -> ThriftServerHandle:
    """Start the Thrift server and return once it answers `SELECT 1`.

    Fails (and leaves nothing running) if the port is taken, the server exits, or it is
    not ready within `timeout_s`; the error quotes the end of the server's log.
    """
    host, port = settings.thrift_host, settings.thrift_port
    if _port_accepts(host, port):
        raise ThriftServerError(
            f"{host}:{port} is already in use (another Thrift server?). Stop it, or set "
            "SLATEHOUSE_THRIFT_PORT to a free port."
        )
    try:
        import pyhive.hive  # noqa: F401  (the readiness check speaks HiveServer2 with it)
    except ImportError as exc:
        raise ConfigError(
            "serve-sql checks the server with PyHive, which is not installed: "
            "pip install 'pyhive[hive_pure_sasl]'"
        ) from exc
    check_java()
    check_metastore(settings)
    settings.metastore_dir.mkdir(parents=True, exist_ok=True)
    if "://" not in settings.warehouse_dir:
        Path(settings.warehouse_dir).mkdir(parents=True, exist_ok=True)
    if not settings.metastore_jdbc_url:
        log.warning(
            "embedded Derby metastore: while the Thrift server runs, no other slatehouse "
            "process can open the catalogue (set SLATEHOUSE_METASTORE_JDBC_URL to share it)"
        )

    log_path = log_path or settings.home / "logs" / "thrift-server.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # The configuration holds the metastore password: a private file, not the command
    # line (which every local user can read in `ps`), removed once the server is up.
    conf_dir = Path(tempfile.mkdtemp(prefix="slatehouse-thrift-"))
    properties = conf_dir / "spark.properties"
    properties.touch(mode=0o600)
    properties.write_text(java_properties(thrift_server_conf(settings)), encoding="utf-8")

    env = dict(os.environ)
    if is_local_master(settings.spark_master):  # on a cluster the executors must reach it
        env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    cmd = thrift_server_command(settings, properties)
    log.info("starting the Thrift server on %s:%d (log %s)", host, port, log_path)
    with open(log_path, "ab") as log_file:
        # Its own session: Ctrl-C in the terminal reaches `serve`, which stops the server
        # cleanly, instead of killing the JVM mid-write.
        # And it dies with its parent: `serve` killed outright (SIGKILL, the OOM killer)
        # releases the run lock, and a server left behind would hold the port and the
        # embedded metastore against the next run.
        process = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=env, cwd=settings.home,
                                   start_new_session=True, preexec_fn=_die_with_parent)
    handle = ThriftServerHandle(process, host, port, log_path, conf_dir)
    try:
        _wait_ready(handle, timeout_s)
    except BaseException:
        stop_thrift_server(handle)
        raise
    _forget_conf(handle)
    log.info("Thrift server ready at %s (pid %d)", handle.jdbc_url, process.pid)
    return handle


def _wait_ready(handle: ThriftServerHandle, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if not handle.is_running:
            raise ThriftServerError(
                f"the Thrift server exited with code {handle.process.returncode} before it "
                f"was ready. End of {handle.log_path}:\n{_log_tail(handle.log_path)}"
            )
        if _port_accepts(handle.host, handle.port):
            try:
                _select_one(handle.host, handle.port)
                return
            except Exception as exc:  # the port opens a moment before sessions work
                last_error = exc
        time.sleep(1.0)
    raise ThriftServerError(
        f"the Thrift server was not ready within {timeout_s:.0f}s (last error: {last_error}). "
        f"End of {handle.log_path}:\n{_log_tail(handle.log_path)}"
    )


def _forget_conf(handle: ThriftServerHandle) -> None:
    if handle._conf_dir is not None:
        for path in handle._conf_dir.glob("*"):
            path.unlink(missing_ok=True)
        handle._conf_dir.rmdir()
        handle._conf_dir = None


def stop_thrift_server(handle: ThriftServerHandle, grace_s: float = STOP_GRACE_S) -> int:
    """Stop the server: SIGTERM (Spark's shutdown hooks close sessions and the metastore
    connection), then SIGKILL after `grace_s`. Safe to call twice. Returns the exit code."""
    process = handle.process
    if process.poll() is None:
        log.info("stopping the Thrift server (pid %d)", process.pid)
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            log.warning("the Thrift server did not stop within %.0fs; killing it", grace_s)
            _signal_group(process, signal.SIGKILL)
            process.wait()
    _forget_conf(handle)
    log.info("Thrift server stopped (exit %s)", process.returncode)
    return process.returncode


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)  # the group we created with start_new_session
    except (ProcessLookupError, PermissionError):
        pass


def _die_with_parent() -> None:
    """In the child before exec: Linux sends it SIGTERM when its parent dies."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def serve(settings: Settings) -> int:
    """Run the Thrift server in the foreground until Ctrl-C, SIGTERM or SIGHUP (the
    terminal closed); for the CLI.

    Returns 0 after a requested stop, or the server's exit code if it stopped on its own.
    """
    stop_requested = threading.Event()
    handle = None

    def request_stop(signum, _frame):
        log.info("received %s", signal.Signals(signum).name)
        stop_requested.set()
        if handle is None:  # still starting: abandon the wait (start stops the server)
            raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        try:
            handle = start_thrift_server(settings)
        except KeyboardInterrupt:
            return 0
        print(f"Serving SQL at {handle.jdbc_url} (HiveServer2 protocol; log {handle.log_path}). "
              "Ctrl-C stops.", flush=True)
        while not stop_requested.wait(1.0):
            if not handle.is_running:
                raise ThriftServerError(
                    f"the Thrift server stopped on its own (exit {handle.process.returncode}). "
                    f"End of {handle.log_path}:\n{_log_tail(handle.log_path)}"
                )
        return 0
    finally:
        if handle is not None:
            stop_thrift_server(handle)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
