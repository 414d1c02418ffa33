"""Shared fixtures: one Spark session (one JVM) for the whole test run.

The session gets its own warehouse and Derby metastore in a temporary folder, so tests
never touch ./var or a developer's warehouse. An S3 API on this machine (`s3_endpoint`)
serves the tests of object-store warehouses.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from slatehouse.settings import Settings

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    home = tmp_path_factory.mktemp("slatehouse-home")
    return Settings(
        home=home,
        mode="demo",
        shuffle_partitions=1,
        spark_master="local[2]",
        jars_dir=REPO / ".cache" / "jars",
    )


@pytest.fixture(scope="session")
def spark(settings):
    from slatehouse.spark import get_spark

    session = get_spark(settings, "slatehouse-tests")
    yield session
    session.stop()


WAREHOUSE_DATABASES = ("bronze", "silver", "staging", "intermediate", "marts", "ops")


_INGESTED: dict = {}


def reset_warehouse(spark) -> None:
    """Drop every Slatehouse database (and forget the shared ingested state)."""
    _INGESTED.clear()
    for db in WAREHOUSE_DATABASES:
        spark.sql(f"DROP DATABASE IF EXISTS {db} CASCADE")


@pytest.fixture
def empty_warehouse(spark):
    """Drop every Slatehouse database so the test starts from nothing."""
    reset_warehouse(spark)
    yield spark


SMALL_DATASET = dict(start_date="2026-03-02", days=2, members=120, titles=25, seed=11, history_days=20)


@pytest.fixture(scope="session")
def landing(settings):
    """A small generated landing folder with every kind of fault (ground truth beside it)."""
    from datetime import date

    from slatehouse.generate import generate

    args = dict(SMALL_DATASET, start_date=date.fromisoformat(SMALL_DATASET["start_date"]))
    result = generate(Path(settings.landing_dir), **args)
    return result


@pytest.fixture
def ingested(spark, settings, landing):
    """The small landing dataset ingested (every received date), shared by the modules that
    only read it; rebuilt if a test emptied the warehouse since."""
    from slatehouse.ingest import ingest

    import oracle

    if not _INGESTED:
        reset_warehouse(spark)
        days = oracle.received_dates(Path(settings.landing_dir))
        _INGESTED["days"] = days
        _INGESTED["results"] = ingest(spark, settings, days)
    return spark, _INGESTED["days"], _INGESTED["results"]


# --- An S3 API on this machine ------------------------------------------------------------
# moto's server, in memory, from its own environment (`bash .ci/tool-venv.sh s3-server`).
S3_SERVER = Path(os.environ.get("S3_SERVER_VENV", REPO / ".cache" / "s3-server-venv")) / "bin" / "moto_server"
S3_BUCKET = "slatehouse-test"
S3_KEY = "test"  # moto accepts any key pair


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    """An S3 API on 127.0.0.1 with the bucket S3_BUCKET, for one module; stopped (and its
    data gone) at the module's end."""
    if not S3_SERVER.exists():
        message = f"no S3 server at {S3_SERVER}: create it with `bash .ci/tool-venv.sh s3-server`"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "wb") as out:
        server = subprocess.Popen([str(S3_SERVER), "-H", "127.0.0.1", "-p", str(port)],
                                  stdout=out, stderr=subprocess.STDOUT)
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
        bucket_fs(endpoint).create_dir(S3_BUCKET)
        yield endpoint
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


def bucket_fs(endpoint: str):
    """pyarrow's S3 filesystem on the test S3 API: a producer's or an operator's view."""
    from pyarrow import fs

    return fs.S3FileSystem(endpoint_override=endpoint, scheme="http", access_key=S3_KEY, secret_key=S3_KEY,
                           region="us-east-1", allow_bucket_creation=True)


def s3a_spark_conf(endpoint: str) -> dict[str, str]:
    """SLATEHOUSE_SPARK_CONF for s3a:// folders on the test S3 API."""
    return {
        "spark.hadoop.fs.s3a.endpoint": endpoint,
        "spark.hadoop.fs.s3a.endpoint.region": "us-east-1",
        "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
        "spark.hadoop.fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
        "spark.hadoop.fs.s3a.access.key": S3_KEY,
        "spark.hadoop.fs.s3a.secret.key": S3_KEY,
    }


def upload_landing(landing: Path, endpoint: str, prefix: str = "landing") -> str:
    """Copy a generated landing folder (events and catalogue) into the bucket, as producers
    deliver it; returns its s3a:// URI."""
    from pyarrow import fs

    s3 = bucket_fs(endpoint)
    for part in ("events", "catalog"):
        fs.copy_files(str(landing / part), f"{S3_BUCKET}/{prefix}/{part}", destination_filesystem=s3)
    return f"s3a://{S3_BUCKET}/{prefix}"
