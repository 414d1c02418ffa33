"""An object-store warehouse's lease: Delta's LogStore for s3a:// allows one writing driver,
so a run claims `<warehouse>/_slatehouse/run.lease` (a conditional create: If-None-Match)
and a run from another host's home is kept out while it is held; `slatehouse force-unlock
RUN_ID` removes a lease whose host is gone, and only the one naming that run; `status`
tells the run the lease names from a 'running' row whose run is gone.

The daily run itself on s3a:// folders (on a standalone cluster, the shape a warehouse takes
when it outgrows one machine) is in test_cluster.py. The S3 API is moto's server
(conftest.s3_endpoint); the command goes through the CLI in a subprocess, so it takes the
same path as a scheduler: settings from the environment, S3A settings in
SLATEHOUSE_SPARK_CONF, hadoop-aws and the AWS SDK resolved into the jar cache.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from conftest import REPO, S3_BUCKET, bucket_fs, s3a_spark_conf, upload_landing


def _env(home: Path, endpoint: str, landing: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLATEHOUSE_", "AWS_"))}
    env.update(
        SLATEHOUSE_HOME=str(home),
        SLATEHOUSE_MODE="demo",
        SLATEHOUSE_LANDING_DIR=landing,
        SLATEHOUSE_WAREHOUSE_DIR=f"s3a://{S3_BUCKET}/warehouse",
        SLATEHOUSE_SPARK_MASTER="local[1]",
        SLATEHOUSE_SPARK_DRIVER_MEMORY="1g",
        SLATEHOUSE_SHUFFLE_PARTITIONS="1",
        SLATEHOUSE_JARS_DIR=str(REPO / ".cache" / "jars"),
        SLATEHOUSE_SPARK_CONF=json.dumps(s3a_spark_conf(endpoint)),
    )
    return env


def test_a_lease_held_from_another_host_keeps_a_second_writer_out_until_it_is_force_unlocked(tmp_path, s3_endpoint):
    from pyarrow import fs

    from slatehouse.generate import generate

    day = date(2026, 1, 5)
    generate(tmp_path / "landing", start_date=day, days=1, members=10, titles=5, seed=7)
    landing = upload_landing(tmp_path / "landing", s3_endpoint, prefix="lease-landing")
    s3 = bucket_fs(s3_endpoint)
    lease = f"{S3_BUCKET}/warehouse/_slatehouse/run.lease"
    with s3.open_output_stream(lease) as out:
        out.write(json.dumps({"run_id": "elsewhere", "pid": 4242, "host": "another-host",
                              "home": "/srv/slatehouse"}).encode())

    env = _env(tmp_path / "other-home", s3_endpoint, landing)

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "slatehouse.cli", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)

    other = cli("ingest", "--date", day.isoformat())
    assert other.returncode == 4, other.stderr[-3000:]
    assert "another-host" in other.stderr and "leased to another run" in other.stderr
    assert "slatehouse force-unlock elsewhere" in other.stderr
    # Kept out before anything was written, and the other host's lease is left as it was.
    assert json.loads(s3.open_input_stream(lease).read())["run_id"] == "elsewhere"
    written = s3.get_file_info(fs.FileSelector(f"{S3_BUCKET}/warehouse", recursive=True))
    assert [f.path for f in written if f.type == fs.FileType.File] == [lease]

    # `status` (delta-rs, no Spark) tells the two 'running' rows of the ledger apart: the run
    # the lease names may be alive on its host; a run it does not name is gone.
    ledger = _write_running_rows(env, s3_endpoint, ["elsewhere", "crashed-elsewhere"])
    held = json.loads(cli("status", "--json").stdout)["runs"]
    assert {r["run_id"]: r["process"] for r in held} == {
        "elsewhere": {"is_alive": None, "pid": 4242, "host": "another-host", "leased": True},
        "crashed-elsewhere": {"is_alive": False}}
    assert "slatehouse force-unlock elsewhere" in cli("status").stdout

    # That host is gone: the operator removes its lease by the run id it names, and no other.
    wrong = cli("force-unlock", "not-the-holder")
    assert wrong.returncode == 4 and "held by run 'elsewhere'" in wrong.stderr, wrong.stderr[-3000:]
    assert s3.get_file_info(lease).type == fs.FileType.File
    unlocked = cli("force-unlock", "elsewhere", "--json")
    assert unlocked.returncode == 0, unlocked.stderr[-3000:]
    assert json.loads(unlocked.stdout)["removed"]["host"] == "another-host"
    assert s3.get_file_info(lease).type == fs.FileType.NotFound
    again = cli("force-unlock", "elsewhere")
    assert again.returncode == 0 and "nothing to remove" in again.stdout
    after = json.loads(cli("status", "--json").stdout)["runs"]
    assert [r["process"]["is_alive"] for r in after] == [False, False], after
    assert ledger == [r["run_id"] for r in after]


def _write_running_rows(env: dict[str, str], endpoint: str, run_ids: list[str]) -> list[str]:
    """'running' rows in the warehouse's ops.runs, as runs on other hosts leave them (written
    with delta-rs: this host has not run Spark on the warehouse). Newest first."""
    import pyarrow as pa
    from deltalake import write_deltalake

    from slatehouse.dashboards.data import storage_options, table_uri
    from slatehouse.settings import Settings

    settings = Settings(_env_file=None, warehouse_dir=env["SLATEHOUSE_WAREHOUSE_DIR"],
                        spark_conf=s3a_spark_conf(endpoint))
    now = datetime.now(timezone.utc)
    rows = pa.table({
        "run_id": run_ids, "command": ["run"] * len(run_ids),
        "first_date": [date(2026, 1, 5)] * len(run_ids), "last_date": [date(2026, 1, 5)] * len(run_ids),
        "status": ["running"] * len(run_ids),
        "started_at": pa.array([now - timedelta(minutes=i) for i in range(len(run_ids))], pa.timestamp("us", "UTC")),
        "duration_s": [0.0] * len(run_ids), "error": pa.array([None] * len(run_ids), pa.string()),
        "report_json": ["{}"] * len(run_ids)})
    write_deltalake(table_uri(settings, "ops.runs"), rows, storage_options=storage_options(settings))
    return run_ids
