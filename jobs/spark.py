"""The one Spark session factory: Delta enabled, a Hive catalogue, quiet logs.

`get_spark` is the only place a SparkSession is built. One pipeline run uses one session
(one JVM); dbt, Great Expectations and the jobs all run on it.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shlex
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from slatehouse.settings import ConfigError, Settings

log = logging.getLogger(__name__)

DELTA_ARTIFACT = ("io.delta", "delta-spark_4.1_2.13", "4.4.0")
MIN_JAVA = 17
# Keys whose values are secrets: Spark's own `spark.redaction.regex`, plus "access key"
# without the dot (fs.s3a.access.key has one, some connectors' accesskey does not).
SECRET_KEY = re.compile(r"(?i)secret|password|token|access[.]?key")


class JavaMissingError(ConfigError):
    pass


_JAVA_HINT = (
    "Spark 4 needs Java 17 or newer. Install it (Debian/Ubuntu: `apt-get install "
    "openjdk-17-jre-headless`) and make sure `java` is on PATH or JAVA_HOME points at it."
)


def java_executable() -> str:
    """The `java` Spark's launcher runs: JAVA_HOME's, else the one on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        raise JavaMissingError(f"No Java runtime found. {_JAVA_HINT}")
    return java


def check_java() -> int:
    """Return the Java major version, or fail saying what to install."""
    java, hint = java_executable(), _JAVA_HINT
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        raise JavaMissingError(f"Could not read the Java version from `{java} -version`. {hint}")
    major = int(match.group(1))
    if major == 1:  # "1.8.0_x" style
        major = int(match.group(2))
    if major < MIN_JAVA:
        raise JavaMissingError(f"Found Java {major} at {java}. {hint}")
    return major


def _pyspark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def ivy_retrieve(artifact: tuple[str, str, str], jars_dir: Path, by_hand: str,
                 module: str | None = None) -> Path:
    """Resolve a Maven artifact and its dependencies from Maven Central with the Ivy that
    ships with pyspark, into a staging folder under `jars_dir`; returns the folder of the
    retrieved jars (the caller copies what it needs, then removes its parent). Raises
    ConfigError, saying what to put in `jars_dir` by hand (`by_hand`), when it cannot.
    `module`, an Ivy module file's text, resolves its dependencies (with their excludes)
    instead of `artifact` alone; `artifact` still names the jar that must come back."""
    check_java()
    jars_dir.mkdir(parents=True, exist_ok=True)
    ivy = next((_pyspark_home() / "jars").glob("ivy-*.jar"))
    group, name, version = artifact
    staging = jars_dir / f".ivy-{name}"
    log.info("resolving %s:%s:%s from Maven Central into %s", group, name, version, jars_dir)
    retrieved = staging / "jars"
    if module is None:
        what = ["-dependency", group, name, version]
    else:
        staging.mkdir(parents=True, exist_ok=True)
        (staging / "ivy.xml").write_text(module)
        what = ["-ivy", str(staging / "ivy.xml")]
    cmd = [
        java_executable(), "-jar", str(ivy), *what,
        "-confs", "default", "-types", "jar", "-m2compatible",
        "-cache", str(staging / "cache"),
        "-retrieve", str(retrieved / "[artifact]-[revision](-[classifier]).[ext]"),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0 or not (retrieved / f"{name}-{version}.jar").exists():
        raise ConfigError(
            f"Could not resolve {group}:{name}:{version} from Maven Central "
            f"(exit {result.returncode}). Check network access to Maven Central, or put "
            f"{by_hand} in {jars_dir} (SLATEHOUSE_JARS_DIR) by hand.\n{result.stdout[-2000:]}"
        )
    return retrieved


def resolve_delta_jars(jars_dir: Path) -> list[Path]:
    """Fetch Delta's JARs (and what they need beyond Spark's own) into `jars_dir` once.

    Jars that pyspark already ships are left out so the classpath holds one copy of each
    library. A folder filled by hand (for an offline cluster) is used as it is.
    """
    jars = sorted(jars_dir.glob("*.jar"))
    if any("delta-spark" in j.name for j in jars):
        return jars
    retrieved = ivy_retrieve(DELTA_ARTIFACT, jars_dir, by_hand="the jars")
    shipped = {_artifact_name(p.name) for p in (_pyspark_home() / "jars").glob("*.jar")}
    # delta-spark's jar marks the cache complete, so it is copied last, and each jar lands
    # whole (copied beside, then renamed): a copy cut short leaves no marker, and the next
    # setup fetches again.
    for jar in sorted(retrieved.glob("*.jar"), key=lambda j: "delta-spark" in j.name):
        if _artifact_name(jar.name) not in shipped:
            partial = jars_dir / f"{jar.name}.part"
            shutil.copy2(jar, partial)
            partial.replace(jars_dir / jar.name)
    shutil.rmtree(retrieved.parent, ignore_errors=True)
    jars = sorted(jars_dir.glob("*.jar"))
    log.info("resolved %d jars", len(jars))
    return jars


# S3A (s3a:// warehouse or landing URIs): hadoop-aws at the version of pyspark's Hadoop
# client, with the two AWS SDK v2 modules it loads (and what they need) at the SDK version
# that Hadoop release was built against (hadoop-project's aws-java-sdk-v2.version), instead
# of the 641 MB `software.amazon.awssdk:bundle` its POM names: about 12 MB of jars.
HADOOP_AWS_ARTIFACT = ("org.apache.hadoop", "hadoop-aws", "3.4.2")
AWS_SDK_V2_VERSION = "2.29.52"
AWS_SDK_MODULES = ("s3", "s3-transfer-manager")
_S3A_IVY_MODULE = """<ivy-module version="2.0">
  <info organisation="slatehouse" module="s3a"/>
  <configurations><conf name="default"/></configurations>
  <dependencies>
    <dependency org="{0}" name="{1}" rev="{2}" conf="default->default">
      <exclude org="software.amazon.awssdk" module="bundle"/>
    </dependency>
{3}
  </dependencies>
</ivy-module>
"""


def uses_s3a(settings: Settings) -> bool:
    return any(str(d).startswith("s3a://") for d in (settings.warehouse_dir, settings.landing_dir))


def resolve_s3a_jars(jars_dir: Path) -> list[Path]:
    """Fetch hadoop-aws and the AWS SDK modules S3A needs into `jars_dir`/s3a once (a
    folder that already holds a hadoop-aws jar is used as it is: an offline cluster fills
    it by hand). Jars that pyspark or Delta's folder already hold are left out. Only
    sessions with an s3a:// warehouse or landing folder put them on the classpath."""
    group, name, version = HADOOP_AWS_ARTIFACT
    delta_jars = jars_dir
    jars_dir = jars_dir / "s3a"
    if not any(jars_dir.glob(f"{name}-*.jar")):
        hadoop = next((_pyspark_home() / "jars").glob("hadoop-client-api-*.jar")).name
        if f"-{version}.jar" not in hadoop:
            raise ConfigError(f"{name} {version} does not match pyspark's {hadoop}: update "
                              "HADOOP_AWS_ARTIFACT and AWS_SDK_V2_VERSION in slatehouse/spark.py")
        sdk = "\n".join(f'    <dependency org="software.amazon.awssdk" name="{m}" rev="{AWS_SDK_V2_VERSION}" '
                        'conf="default->default"/>' for m in AWS_SDK_MODULES)
        retrieved = ivy_retrieve(HADOOP_AWS_ARTIFACT, jars_dir, by_hand=f"{name}-{version}.jar and the AWS "
                                 f"SDK v2 {AWS_SDK_V2_VERSION} modules {', '.join(AWS_SDK_MODULES)}",
                                 module=_S3A_IVY_MODULE.format(group, name, version, sdk))
        have = {_artifact_name(p.name) for p in (_pyspark_home() / "jars").glob("*.jar")}
        have |= {_artifact_name(p.name) for p in delta_jars.glob("*.jar")}
        for jar in retrieved.glob("*.jar"):
            if _artifact_name(jar.name) not in have:
                shutil.copy2(jar, jars_dir / jar.name)
        shutil.rmtree(retrieved.parent, ignore_errors=True)
    return sorted(jars_dir.glob("*.jar"))


def _artifact_name(filename: str) -> str:
    """'parquet-hadoop-1.16.0.jar' -> 'parquet-hadoop'."""
    return re.sub(r"-\d[\w.\-]*\.jar$", "", filename)


def spark_conf(settings: Settings, app_name: str = "slatehouse") -> dict[str, str]:
    """The full Spark configuration for these settings (also used for spark-submit)."""
    jars = resolve_delta_jars(settings.jars_dir)
    if uses_s3a(settings):
        jars += resolve_s3a_jars(settings.jars_dir)
    log4j = Path(__file__).parent / "log4j2.properties"
    metastore = settings.metastore_dir
    java_opts = f"-Dlog4j2.configurationFile=file:{log4j} -Dderby.system.home={metastore}"
    conf = {
        "spark.app.name": app_name,
        "spark.master": settings.spark_master,
        "spark.jars": ",".join(str(j) for j in jars),
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": settings.warehouse_dir,
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        # Delta rebuilds table state with this many tasks (50 by default): on small and
        # medium tables that is mostly scheduling overhead.
        "spark.databricks.delta.snapshotPartitions": str(max(1, settings.shuffle_partitions)),
        # VACUUM lists a table's files with this many tasks (10,000 by default), which on
        # a local session makes each VACUUM take minutes of scheduling.
        "spark.sql.sources.parallelPartitionDiscovery.parallelism": str(max(1, settings.shuffle_partitions)),
        "spark.sql.adaptive.enabled": "true",
        "spark.ui.enabled": "false",
        "spark.sql.debug.maxToStringFields": "500",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.memory": settings.spark_driver_memory,
        "spark.driver.extraJavaOptions": java_opts,
        "spark.executor.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{log4j}",
        "spark.databricks.delta.schema.autoMerge.enabled": "false",
        "spark.databricks.delta.retentionDurationCheck.enabled": "false",
        "spark.hadoop.datanucleus.autoCreateSchema": "true",
        "spark.hadoop.hive.metastore.schema.verification": "false",
    }
    if settings.metastore_jdbc_url:
        conf.update({
            "spark.hadoop.javax.jdo.option.ConnectionURL": settings.metastore_jdbc_url,
            "spark.hadoop.javax.jdo.option.ConnectionDriverName": settings.metastore_jdbc_driver,
            "spark.hadoop.javax.jdo.option.ConnectionUserName": settings.metastore_jdbc_user or "",
            "spark.hadoop.javax.jdo.option.ConnectionPassword": (
                settings.metastore_jdbc_password.get_secret_value()
                if settings.metastore_jdbc_password else ""
            ),
        })
        # The driver jar on the JVM classpath and eager schema creation: see there.
        from slatehouse.metastore import external_metastore_conf  # here: import cycle

        conf.update(external_metastore_conf(settings))
    else:
        # Derby keeps metastore_db/ and derby.log out of the current directory.
        conf["spark.hadoop.javax.jdo.option.ConnectionURL"] = (
            f"jdbc:derby:;databaseName={metastore}/metastore_db;create=true"
        )
    conf.update(settings.spark_conf)
    return conf


def java_properties(conf: dict[str, str]) -> str:
    """`conf` as a Java properties file (the format of spark-submit's --properties-file)."""
    def escape(text: str, is_key: bool) -> str:
        text = text.replace("\\", "\\\\").replace("\n", "\\n")
        if is_key:
            for ch in " =:":
                text = text.replace(ch, "\\" + ch)
        elif text.startswith(" "):
            text = "\\" + text
        return text

    return "".join(f"{escape(k, True)}={escape(v, False)}\n" for k, v in sorted(conf.items()))


def split_secrets(conf: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(public, secret) parts of a Spark configuration, by key (see SECRET_KEY)."""
    public = {k: v for k, v in conf.items() if not SECRET_KEY.search(k)}
    return public, {k: v for k, v in conf.items() if k not in public}


@contextmanager
def secret_properties(settings: Settings, secret: dict[str, str]) -> Iterator[Path | None]:
    """While the JVM starts, hand it `secret` in a private properties file.

    pyspark starts the JVM as `spark-submit --conf k=v ...`, and every local user can read
    a command line in `ps`. So secrets (the metastore password, object-store keys) go in a
    file only its owner can read (mode 600, under <home>/secrets), named to spark-submit
    through PYSPARK_SUBMIT_ARGS; spark-submit reads it before the gateway answers, and the
    file is removed as soon as the session is up.
    """
    if not secret:
        yield None
        return
    folder = settings.secrets_dir
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    path = folder / f"spark-{os.getpid()}-{secrets.token_hex(4)}.properties"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    previous = os.environ.get("PYSPARK_SUBMIT_ARGS")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(java_properties(secret))
        # --load-spark-defaults: a properties file would otherwise replace spark-defaults.conf.
        os.environ["PYSPARK_SUBMIT_ARGS"] = (
            f"--properties-file {shlex.quote(str(path))} --load-spark-defaults {previous or 'pyspark-shell'}"
        )
        yield path
    finally:
        if previous is None:
            os.environ.pop("PYSPARK_SUBMIT_ARGS", None)
        else:
            os.environ["PYSPARK_SUBMIT_ARGS"] = previous
        path.unlink(missing_ok=True)


def is_local_master(master: str) -> bool:
    """`local`, `local[*]`, `local[4]`, `local[2,3]`, `local-cluster[...]`: one machine."""
    return master.startswith("local")


def ship_package(spark) -> Path:
    """Send the driver's own `slatehouse` package to the executors (SparkContext.addPyFile).

    Executor-side Python imports it: the landing reader's `mapInArrow(_split_files)` is
    pickled by reference to `slatehouse.io`. The workers of a cluster do not have the
    project installed, and where they have a copy (a shared virtualenv, an editable
    install) it may be another version than the driver's. The zip holds the package's
    files without the dashboards (driver-only); Spark's file server serves it for the
    session's lifetime, so it stays in a private temporary folder removed at exit."""
    import atexit
    import tempfile
    import zipfile

    package = Path(__file__).resolve().parent
    folder = Path(tempfile.mkdtemp(prefix="slatehouse-pyfiles-"))
    atexit.register(shutil.rmtree, folder, True)
    target = folder / "slatehouse.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(package.rglob("*")):
            relative = path.relative_to(package)
            if path.is_file() and "__pycache__" not in relative.parts and relative.parts[0] != "dashboards":
                archive.write(path, Path("slatehouse") / relative)
    spark.sparkContext.addPyFile(str(target))
    log.info("shipped %s to the executors", target)
    return target


def _launch_jvm_in_its_own_session(conf: dict[str, str]) -> None:
    """Start the driver's JVM the way pyspark does, but in a session (and process group) of
    its own, unless this process already has one.

    A scheduler that stops a job signals its whole process group: systemd's default
    `KillMode=control-group`, Airflow's BashOperator, `kill -- -PGID`, a terminal's hangup.
    The JVM took that SIGTERM as its own and exited under the command, which could then
    neither cancel its Spark jobs nor record the run as interrupted (the next command found
    it `running` and marked it abandoned). Apart, only the Python driver gets the signal
    and handles it (`pipeline._CancelOnSignal`). The JVM still ends with the driver:
    pyspark's gateway exits when its stdin, a pipe from this process, closes.
    `builder.getOrCreate()` then finds the gateway and starts the SparkContext on it, with
    the same configuration it would have launched the JVM with.
    """
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway

    if SparkContext._gateway is not None:  # this process's JVM is up (a stopped session's)
        return
    gateway = launch_gateway(SparkConf().setAll(conf.items()), popen_kwargs={"start_new_session": True})
    SparkContext._ensure_initialized(gateway=gateway)


def get_spark(settings: Settings, app_name: str = "slatehouse"):
    """Return the process's SparkSession, building it on first call. On a cluster it also
    ships the package to the executors and checks that they see the warehouse and landing
    folders as the driver does (`io.check_shared_storage`), raising a ConfigError if not."""
    local = is_local_master(settings.spark_master)
    if local:
        # A local session only talks to itself. On a cluster the executors connect back to
        # the driver, so it must listen where they can reach it: Spark's own choice (the
        # host's address), or SPARK_LOCAL_IP / spark.driver.host when set.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # On a cluster the executors start this same path (spark.pyspark.python overrides it).
    os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)
    os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    check_java()
    settings.metastore_dir.mkdir(parents=True, exist_ok=True)
    if "://" not in settings.warehouse_dir:
        Path(settings.warehouse_dir).mkdir(parents=True, exist_ok=True)
    public, secret = split_secrets(spark_conf(settings, app_name))
    builder = SparkSession.builder
    for key, value in public.items():
        builder = builder.config(key, value)
    with secret_properties(settings, secret):
        _launch_jvm_in_its_own_session(public)
        spark = builder.enableHiveSupport().getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    # pyspark logs each SQL error it raises as one JSON line on stderr holding the whole plan
    # and Java trace (tens of KB); the error is raised all the same, and its catcher reports it.
    from pyspark.logger import PySparkLogger

    for query_errors in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(query_errors).setLevel(logging.CRITICAL)
    if not local:
        ship_package(spark)
        from slatehouse.io import check_shared_storage  # here: io needs pyspark, imported above

        try:  # before anything writes: executors writing onto their own disks corrupt the tables
            check_shared_storage(spark, settings)
        except BaseException:
            spark.stop()  # or the next get_spark would hand out this unchecked session
            raise
    log.info("spark %s started (master %s)", spark.version, spark.sparkContext.master)
    return spark


# A Spark error class and what follows it: "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column ...".
_ERROR_CLASS = re.compile(r"\[[A-Z][A-Z_.]+\].*")
# Lines that wrap an error rather than say what it is: a JVM frame, py4j's "An error occurred
# while calling o70.sql.", pyspark's "JVM stacktrace:", dbt's "Runtime Error in model x (path)".
_WRAPPER = re.compile(r"at |\.\.\. \d+ more$|An error occurred while calling |JVM stacktrace:$"
                      r"|(\w+ )?Error( in \w+ .*)?$")


def first_message(error: BaseException | str) -> str:
    """What went wrong, in one line: a Spark error's causes by their error classes (which
    file, then what in it); else its first line that is not a Java frame or a wrapper's
    header. For an exception from Spark, or a message dbt-spark reports for a node."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    named = list(dict.fromkeys(m.group(0).strip() for line in lines if (m := _ERROR_CLASS.search(line))))
    if named:
        return " / ".join(named)[:1000]
    said = [line for line in lines if not _WRAPPER.match(line)] or lines
    if said:
        return said[0].removeprefix(": ")[:500]
    return type(error).__name__ if isinstance(error, BaseException) else "(no message)"
