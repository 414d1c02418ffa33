"""An object-store warehouse, for real: a daily run with SLATEHOUSE_LANDING_DIR and
SLATEHOUSE_WAREHOUSE_DIR on `s3a://` URIs, against an S3 API served on this machine
(moto's server, in memory), then the marts read back the way the dashboards read them
(delta-rs, no JVM).

The run goes through the CLI in a subprocess, so it takes the same path as a scheduler:
settings from the environment, S3A settings in SLATEHOUSE_SPARK_CONF, hadoop-aws and the
AWS SDK modules resolved into the jar cache (`slatehouse.spark.resolve_s3a_jars`). The S3
API is moto's server, from its own environment (`bash .ci/tool-venv.sh s3-server`).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow

BUCKET = "slatehouse-test"
KEY = "test"  # moto accepts any key pair


S3_SERVER = Path(os.environ.get("S3_SERVER_VENV", REPO / ".cache" / "s3-server-venv")) / "bin" / "moto_server"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    """An S3 API on 127.0.0.1 for this module; stopped (and its data gone) at the end."""
    if not S3_SERVER.exists():
        message = f"no S3 server at {S3_SERVER}: create it with `bash .ci/tool-venv.sh s3-server`"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    port = _free_port()
    cmd = [str(S3_SERVER), "-H", "127.0.0.1", "-p", str(port)]
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(endpoint + "/", timeout=2).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the S3 server did not start: {log.read_text()[-2000:]}")
                time.sleep(0.3)
        yield endpoint
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


def _bucket_fs(endpoint: str):
    from pyarrow import fs

    return fs.S3FileSystem(endpoint_override=endpoint, scheme="http", access_key=KEY, secret_key=KEY,
                           region="us-east-1", allow_bucket_creation=True)


def _env(home: Path, endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLATEHOUSE_", "AWS_"))}
    env.update(
        SLATEHOUSE_HOME=str(home),
        SLATEHOUSE_MODE="demo",
        SLATEHOUSE_LANDING_DIR=f"s3a://{BUCKET}/landing",
        SLATEHOUSE_WAREHOUSE_DIR=f"s3a://{BUCKET}/warehouse",
        SLATEHOUSE_SPARK_MASTER="local[2]",
        SLATEHOUSE_SPARK_DRIVER_MEMORY="1g",
        SLATEHOUSE_SHUFFLE_PARTITIONS="1",
        SLATEHOUSE_JARS_DIR=str(REPO / ".cache" / "jars"),
        SLATEHOUSE_SPARK_CONF=json.dumps({
            "spark.hadoop.fs.s3a.endpoint": endpoint,
            "spark.hadoop.fs.s3a.endpoint.region": "us-east-1",
            "spark.hadoop.fs.s3a.path.style.access": "true",
            "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
            "spark.hadoop.fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
            "spark.hadoop.fs.s3a.access.key": KEY,
            "spark.hadoop.fs.s3a.secret.key": KEY,
        }),
    )
    return env


def test_a_daily_run_on_s3a_paths_builds_marts_the_dashboards_can_read(tmp_path, s3_endpoint):
    from pyarrow import fs

    from slatehouse.dashboards.data import MartReader, storage_options
    from slatehouse.generate import generate
    from slatehouse.settings import Settings

    # A small landing log, written locally and uploaded as a producer would.
    start = date(2026, 1, 5)
    landing = tmp_path / "landing"
    generate(landing, start_date=start, days=1, members=40, titles=20, seed=7)
    s3 = _bucket_fs(s3_endpoint)
    s3.create_dir(BUCKET)
    for part in ("events", "catalog"):
        fs.copy_files(str(landing / part), f"{BUCKET}/landing/{part}", destination_filesystem=s3)

    home = tmp_path / "home"
    env = _env(home, s3_endpoint)
    done = subprocess.run([sys.executable, "-m", "slatehouse.cli", "run", "--date", start.isoformat(), "--json"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout)
    assert report["status"] == "succeeded"
    assert {s["step"]: s["status"] for s in report["steps"]} == {
        step: "succeeded" for step in ("catalog", "events", "sessions", "gate:bronze", "gate:silver",
                                       "dbt", "gate:marts", "forecast", "reports")}

    # The tables are in the bucket, and nothing of the warehouse landed on local disk.
    log = s3.get_file_info(fs.FileSelector(f"{BUCKET}/warehouse/marts.db/fct_title_daily/_delta_log"))
    assert any(f.path.endswith("00000000000000000000.json") for f in log)
    assert not (home / "warehouse").exists()
    assert not (tmp_path / "s3a:").exists()

    # The dashboards' reader (delta-rs) finds them with the same settings as Spark.
    settings = Settings(_env_file=None, **{
        "home": home, "mode": "demo", "warehouse_dir": env["SLATEHOUSE_WAREHOUSE_DIR"],
        "landing_dir": env["SLATEHOUSE_LANDING_DIR"], "spark_conf": json.loads(env["SLATEHOUSE_SPARK_CONF"])})
    assert storage_options(settings)["AWS_ENDPOINT_URL"] == s3_endpoint
    daily = MartReader(settings).read("marts.fct_title_daily")
    assert len(daily) > 0
    assert daily["plays"].sum() > 0 and (daily["unique_profiles"] > 0).all()
    lookback = start - timedelta(days=3)
    assert daily["event_date"].dt.date.between(lookback, start).all()
    reports = list((home / "reports" / start.isoformat()).glob("*.html"))
    assert len(reports) == 3

    # The run released its warehouse lease; a lease held from another host keeps a writer
    # with another home out (exit 4), since Delta on S3 allows one writing driver.
    lease = f"{BUCKET}/warehouse/_slatehouse/run.lease"
    assert s3.get_file_info(lease).type == fs.FileType.NotFound
    with s3.open_output_stream(lease) as out:
        out.write(json.dumps({"run_id": "elsewhere", "host": "another-host", "home": "/srv/slatehouse"}).encode())
    other = subprocess.run([sys.executable, "-m", "slatehouse.cli", "ingest", "--date", start.isoformat()],
                           cwd=tmp_path, env=_env(tmp_path / "other-home", s3_endpoint),
                           capture_output=True, text=True, timeout=600)
    assert other.returncode == 4, other.stderr[-3000:]
    assert "another-host" in other.stderr and "leased to another run" in other.stderr
