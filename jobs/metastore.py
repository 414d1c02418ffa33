"""The shared Hive metastore on PostgreSQL: its JDBC driver and a reachability check.

The embedded default is Derby, which lets one process at a time open the catalogue. The
shared setup (`.ci/setup-postgres.sh`, SLATEHOUSE_METASTORE_JDBC_URL=jdbc:postgresql://...)
keeps the catalogue in PostgreSQL instead, so a daily run and the Thrift server can both
have it open. Spark's built-in Hive 2.3 client creates the metastore tables on first use
(DataNucleus auto-create, switched on in `slatehouse.spark.spark_conf`); no schematool.

The driver jar is fetched into `settings.jars_dir`, beside Delta's jars, because
`spark_conf` puts every jar of that folder on `spark.jars`: the same classpath then
serves `slatehouse run`, `slatehouse sql` and the Thrift server.
"""

from __future__ import annotations

import logging
import shutil
import socket
from pathlib import Path
from urllib.parse import urlparse

from slatehouse.settings import ConfigError, Settings
from slatehouse.spark import ivy_retrieve

log = logging.getLogger(__name__)

POSTGRES_JDBC_ARTIFACT = ("org.postgresql", "postgresql", "42.7.14")


def resolve_postgres_jdbc(jars_dir: Path) -> Path:
    """Fetch the PostgreSQL JDBC driver from Maven Central into `jars_dir` once.

    Resolved as Delta's jars are (`slatehouse.spark.ivy_retrieve`). A driver jar put
    in the folder by hand (any `postgresql-*.jar`) is used as it is.
    """
    present = sorted(jars_dir.glob("postgresql-*.jar"))
    if present:
        return present[-1]
    _, artifact, version = POSTGRES_JDBC_ARTIFACT
    retrieved = ivy_retrieve(POSTGRES_JDBC_ARTIFACT, jars_dir, by_hand=f"{artifact}-{version}.jar")
    # The driver's only dependency (checker-qual) is compile-time annotations: not needed.
    fetched = retrieved / f"{artifact}-{version}.jar"
    target = jars_dir / fetched.name
    shutil.copy2(fetched, target)
    shutil.rmtree(retrieved.parent, ignore_errors=True)
    log.info("resolved %s", target.name)
    return target


def external_metastore_conf(settings: Settings) -> dict[str, str]:
    """Spark configuration an external (JDBC) metastore needs beyond the connection itself.

    - The JDBC driver goes on the driver JVM's own classpath: the metastore's connection
      pool asks `java.sql.DriverManager`, which ignores jars added later (`spark.jars`),
      and fails with "No suitable driver found".
    - DataNucleus creates the metastore tables on first use (no schematool needed) ...
    - ... but eagerly, for every class in Hive's `package.jdo`, at connect time. Left
      lazy, it creates a table the first time one is needed, inside a metastore
      transaction: on PostgreSQL the first CREATE TABLE then waits forever, because the
      new table's foreign key needs a lock that the open transaction holds.
    """
    conf = {
        "spark.hadoop.datanucleus.schema.autoCreateAll": "true",
        "spark.hadoop.datanucleus.autoStartMechanism": "MetaData",
        "spark.hadoop.datanucleus.autoStartMetaDataFiles": "package.jdo",
    }
    if (settings.metastore_jdbc_url or "").startswith("jdbc:postgresql:"):
        conf["spark.driver.extraClassPath"] = str(resolve_postgres_jdbc(settings.jars_dir))
    return conf


def check_metastore(settings: Settings, timeout_s: float = 5.0) -> None:
    """Fail early, with what to do, when the external metastore cannot be used.

    Spark would otherwise start a JVM and bury a refused connection deep in a DataNucleus
    stack trace. The embedded Derby metastore needs nothing and passes.
    """
    url = settings.metastore_jdbc_url
    if not url:
        return
    if url.startswith("jdbc:postgresql:"):
        resolve_postgres_jdbc(settings.jars_dir)
    parsed = urlparse(url.removeprefix("jdbc:"))
    if not parsed.hostname:
        return  # a URL form we don't parse (a socket factory, say): let the driver judge
    default_ports = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306}
    port = parsed.port or default_ports.get(parsed.scheme)
    if port is None:
        return
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout_s):
            pass
    except OSError as exc:
        raise ConfigError(
            f"The metastore database at {parsed.hostname}:{port} "
            f"(SLATEHOUSE_METASTORE_JDBC_URL={url}) does not accept connections: {exc}. "
            "Start it (`bash .ci/setup-postgres.sh` installs and starts a local PostgreSQL), "
            "or unset SLATEHOUSE_METASTORE_JDBC_URL to use the embedded Derby metastore."
        ) from exc


if __name__ == "__main__":  # `python -m slatehouse.metastore`: fetch the driver for setup
    import sys

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    print(resolve_postgres_jdbc(Settings().jars_dir if len(sys.argv) < 2 else Path(sys.argv[1])))
