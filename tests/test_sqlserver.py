"""The Thrift server over the real catalogue: Spark, Delta, Derby or PostgreSQL, PyHive.

Every Spark here runs in a process of its own (the writer, the server), never in the
pytest process: the point is that separate processes share one catalogue.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import signal
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from slatehouse.settings import Settings
from slatehouse.sqlserver import (
    ThriftServerError,
    start_thrift_server,
    stop_thrift_server,
)

REPO = Path(__file__).resolve().parents[1]
POSTGRES_ENV_FILE = REPO / ".cache" / "postgres" / "metastore.env"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _settings_env(home: Path, port: int, **extra: str) -> dict[str, str]:
    """SLATEHOUSE_* for a small, private setup; the caller's own SLATEHOUSE_* are dropped."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLATEHOUSE_")}
    env.update({
        "SLATEHOUSE_HOME": str(home),
        "SLATEHOUSE_MODE": "demo",
        "SLATEHOUSE_JARS_DIR": str(REPO / ".cache" / "jars"),
        "SLATEHOUSE_SPARK_MASTER": "local[1]",
        "SLATEHOUSE_SPARK_DRIVER_MEMORY": "1g",
        "SLATEHOUSE_SHUFFLE_PARTITIONS": "1",
        "SLATEHOUSE_THRIFT_PORT": str(port),
        **extra,
    })
    return env


def _settings(env: dict[str, str]) -> Settings:
    keys = {k.removeprefix("SLATEHOUSE_").lower(): v for k, v in env.items()
            if k.startswith("SLATEHOUSE_")}
    return Settings(**keys)


def _spark_script(body: str) -> str:
    return textwrap.dedent("""
        import json, sys, time
        from pathlib import Path
        from slatehouse.settings import Settings
        from slatehouse.spark import get_spark
        spark = get_spark(Settings(), "slatehouse-test-writer")
    """) + textwrap.dedent(body)


def _query(port: int, sql: str) -> list[tuple]:
    from pyhive import hive

    conn = hive.connect(host="127.0.0.1", port=port, username="analyst")
    try:
        cursor = conn.cursor()
        cursor.execute(sql)
        return cursor.fetchall()
    finally:
        conn.close()


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket LISTENing on `port`, from /proc/net/tcp and tcp6.

    The JVM listens on an IPv6 socket even for 127.0.0.1 (as ::ffff:127.0.0.1), so both
    tables are read and IPv4-mapped addresses are reported as IPv4."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            addr_hex, port_hex = fields[1].split(":")
            if fields[3] != "0A" or int(port_hex, 16) != port:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(addr_hex)
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))  # host order
            addr = ipaddress.ip_address(raw)
            mapped = getattr(addr, "ipv4_mapped", None)
            found.add(str(mapped or addr))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_server_process_dies_with_a_parent_killed_outright(tmp_path):
    """`serve-sql` killed with SIGKILL runs no cleanup: the server it started must not
    outlive it, holding the port and the embedded metastore against the next run."""
    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import subprocess, sys, time
        from slatehouse.sqlserver import _die_with_parent
        child = subprocess.Popen(["sleep", "60"], start_new_session=True, preexec_fn=_die_with_parent)
        print(child.pid, flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    child_pid = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Path(f"/proc/{child_pid}").exists() and \
            Path(f"/proc/{child_pid}/stat").read_text().split()[2] != "Z":
        time.sleep(0.05)
    alive = Path(f"/proc/{child_pid}").exists() and Path(f"/proc/{child_pid}/stat").read_text().split()[2] != "Z"
    assert not alive, "the child outlived its parent"


def test_serve_sql_answers_over_a_delta_table_and_stops_cleanly_on_sigterm(tmp_path):
    port = _free_port()
    env = _settings_env(tmp_path / "home", port)
    # A Delta table written by another process, which must exit first: the embedded Derby
    # metastore opens in one process at a time.
    created = subprocess.run(
        [sys.executable, "-c", _spark_script("""
            spark.sql("CREATE DATABASE IF NOT EXISTS marts")
            spark.createDataFrame(
                [("t1", 3600.0), ("t2", 1800.0), ("t3", 60.0)], "title_id string, play_time_s double"
            ).write.format("delta").saveAsTable("marts.smoke")
        """)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert created.returncode == 0, created.stderr[-3000:]

    serve_log = tmp_path / "serve.log"
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "slatehouse"), "serve-sql"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=serve_log.open("w"), text=True,
    )
    try:
        banner = server.stdout.readline()  # printed once `SELECT 1` works
        assert f"jdbc:hive2://127.0.0.1:{port}/default" in banner, serve_log.read_text()[-3000:]
        assert _listening_addresses(port) == {"127.0.0.1"}  # loopback only by default
        assert _query(port, "SHOW TABLES IN marts") == [("marts", "smoke", False)]
        rows = _query(port, "SELECT title_id, play_time_s FROM marts.smoke ORDER BY title_id")
        assert rows == [("t1", 3600.0), ("t2", 1800.0), ("t3", 60.0)]
        # A second server on the same port is refused before anything starts.
        with pytest.raises(ThriftServerError, match="already in use"):
            start_thrift_server(_settings(env))

        server.send_signal(signal.SIGTERM)  # what systemd sends; Ctrl-C takes the same path
        assert server.wait(timeout=120) == 0, serve_log.read_text()[-3000:]
        assert not _listening_addresses(port)  # the JVM is gone, not orphaned
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


# --- the shared PostgreSQL metastore -------------------------------------------------


def _postgres_env() -> dict[str, str] | None:
    """The metastore connection made by .ci/setup-postgres.sh, or from the environment."""
    if os.environ.get("SLATEHOUSE_METASTORE_JDBC_URL", "").startswith("jdbc:postgresql:"):
        return {k: os.environ[k] for k in (
            "SLATEHOUSE_METASTORE_JDBC_URL", "SLATEHOUSE_METASTORE_JDBC_USER",
            "SLATEHOUSE_METASTORE_JDBC_PASSWORD") if k in os.environ}
    if POSTGRES_ENV_FILE.exists():
        pairs = (line.split("=", 1) for line in POSTGRES_ENV_FILE.read_text().splitlines() if "=" in line)
        return {k.strip(): v.strip() for k, v in pairs}
    return None


def _no_postgres(reason: str):
    message = (f"PostgreSQL metastore unavailable: {reason}. Run `bash .ci/setup-postgres.sh` "
               "(as root; installs and starts PostgreSQL) to run this test.")
    if os.environ.get("CI"):  # CI sets PostgreSQL up first: a skip there would hide a break
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def postgres_metastore():
    """A throwaway metastore database on the setup's PostgreSQL, dropped afterwards."""
    conn = _postgres_env()
    if conn is None:
        _no_postgres(f"neither SLATEHOUSE_METASTORE_JDBC_URL nor {POSTGRES_ENV_FILE} is set")
    if shutil.which("psql") is None:
        _no_postgres("`psql` is not installed")
    url = conn["SLATEHOUSE_METASTORE_JDBC_URL"]
    hostport = url.removeprefix("jdbc:postgresql://").split("/", 1)[0]
    host, _, port = hostport.partition(":")
    psql_env = {**os.environ, "PGPASSWORD": conn.get("SLATEHOUSE_METASTORE_JDBC_PASSWORD", "")}
    psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", port or "5432",
            "-U", conn["SLATEHOUSE_METASTORE_JDBC_USER"], "-d", "postgres", "-c"]
    name = f"slatehouse_test_{secrets.token_hex(4)}"
    made = subprocess.run([*psql, f'CREATE DATABASE "{name}"'], env=psql_env,
                          capture_output=True, text=True)
    if made.returncode != 0:
        _no_postgres(f"cannot create a database at {hostport}: {made.stderr.strip()}")
    yield {**conn, "SLATEHOUSE_METASTORE_JDBC_URL": f"jdbc:postgresql://{hostport}/{name}"}
    subprocess.run([*psql, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], env=psql_env,
                   capture_output=True, text=True)


WRITER = """
    # Commit after commit to one Delta table until told to stop, printing after each
    # commit the (count, total) it must show: the oracle for telling a committed
    # snapshot from a torn one, kept in plain arithmetic rather than read back.
    go_file, stop_file, max_commits = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    spark.sql("CREATE DATABASE IF NOT EXISTS ops")
    spark.sql("CREATE TABLE ops.counter (batch int, value long) USING delta")
    spark.sql("INSERT INTO ops.counter VALUES (0, 1), (0, 2)")
    rows, count, total = {0: 2}, 2, 3
    print("STATE", count, total, flush=True)
    print("READY", flush=True)
    while not go_file.exists():  # commits start once the server answers
        time.sleep(0.2)
    batch = 0
    while not stop_file.exists() and batch < max_commits:
        batch += 1
        if batch % 3 == 0:  # an UPDATE rewrites files: the total changes, the count not
            spark.sql(f"UPDATE ops.counter SET value = value + 10 WHERE batch = {batch - 1}")
            total += 10 * rows[batch - 1]
        else:
            n = batch * 7
            spark.sql(f"INSERT INTO ops.counter SELECT {batch}, id FROM range({n})")
            rows[batch], count, total = n, count + n, total + n * (n - 1) // 2
        print("STATE", count, total, flush=True)
    # A table created while the server runs: the catalogue is shared, not copied.
    spark.sql("CREATE TABLE ops.late (x int) USING delta")
    spark.sql("INSERT INTO ops.late VALUES (42)")
"""


def test_thrift_server_reads_consistent_snapshots_while_another_process_writes(
    tmp_path, postgres_metastore
):
    port = _free_port()
    env = _settings_env(tmp_path / "home", port, **postgres_metastore)
    go_file, stop_file = tmp_path / "go", tmp_path / "stop"
    writer_log = tmp_path / "writer.log"  # a file, not a pipe nobody drains while it runs
    writer = subprocess.Popen(
        [sys.executable, "-c", _spark_script(WRITER), str(go_file), str(stop_file), "40"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=writer_log.open("w"), text=True,
    )
    handle = None
    try:
        first_state = writer.stdout.readline().split()
        if writer.stdout.readline().strip() != "READY":
            writer.wait(timeout=60)
            pytest.fail(f"the writer did not start:\n{writer_log.read_text()[-3000:]}")
        # The writer's JVM keeps its metastore connection open: with Derby this fails.
        handle = start_thrift_server(_settings(env))
        go_file.touch()
        seen: list[tuple[int, int]] = []
        from pyhive import hive

        conn = hive.connect(host=handle.host, port=handle.port, username="analyst")
        cursor = conn.cursor()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and (len(set(seen)) < 3 or len(seen) < 6):
            cursor.execute("SELECT count(*), sum(value) FROM ops.counter")
            seen.extend(cursor.fetchall())
        conn.close()
        stop_file.touch()
        out, _ = writer.communicate(timeout=600)
        assert writer.returncode == 0, writer_log.read_text()[-3000:]
        states = [tuple(map(int, first_state[1:]))] + [
            tuple(map(int, line.split()[1:])) for line in out.splitlines() if line.startswith("STATE")
        ]

        torn = [s for s in seen if s not in states]
        assert not torn, f"query results that match no committed state: {torn} (states {states})"
        assert len(set(seen)) >= 2, f"the server never saw a new commit: {seen}"
        # Sequential queries never go back in time.
        order = [states.index(s) for s in seen]
        assert order == sorted(order), f"a query saw an older commit than the one before: {seen}"
        # After the writer is done the server sees its last commit and its new table.
        assert _query(port, "SELECT count(*), sum(value) FROM ops.counter") == [states[-1]]
        assert _query(port, "SELECT x FROM ops.late") == [(42,)]

        assert stop_thrift_server(handle) in (0, 143)  # 143: the JVM's answer to SIGTERM
        assert not handle.is_running and not _listening_addresses(port)
        assert stop_thrift_server(handle) in (0, 143)  # a second stop is harmless
    finally:
        go_file.touch()
        stop_file.touch()
        if handle is not None:
            stop_thrift_server(handle)
        if writer.poll() is None:
            writer.terminate()
            writer.wait(timeout=60)
