"""The one configuration object. Built once at the entry point and passed down.

Every field is read from a `SLATEHOUSE_<FIELD>` environment variable. The defaults are
the embedded setup: local Spark, a Delta warehouse and a Derby metastore under `./var/`.
The same fields point at a cluster master, object-store paths and an external metastore.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(RuntimeError):
    """A setting is missing or inconsistent; the message names it and says what to do."""


# The checkout Slatehouse runs from (jobs/ is the package); its .cache holds Delta's jars.
INSTALL_DIR = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SLATEHOUSE_", extra="ignore")

    # `demo` generates a local pseudonymisation key on first use; `production` refuses
    # to ingest without SLATEHOUSE_PSEUDONYM_KEY.
    mode: Literal["demo", "production"] = "production"

    home: Path = Path("var")
    landing_dir: str | None = None  # default: <home>/landing; may be an object-store URI
    warehouse_dir: str | None = None  # default: <home>/warehouse; may be an object-store URI
    reports_dir: Path | None = None  # default: <home>/reports

    spark_master: str = "local[*]"
    spark_driver_memory: str = "4g"
    shuffle_partitions: int = Field(8, ge=1)
    # Extra Spark configuration, e.g. '{"spark.hadoop.fs.s3a.endpoint": "..."}'.
    spark_conf: dict[str, str] = {}
    # Delta's JARs: resolved from Maven Central into this folder by `make setup`; an
    # offline cluster can point it at a folder of pre-fetched jars. The default is the
    # checkout's own cache, wherever the command runs from.
    jars_dir: Path = INSTALL_DIR / ".cache" / "jars"

    # Embedded Derby metastore (one process at a time) unless a JDBC URL is given,
    # e.g. jdbc:postgresql://127.0.0.1:5432/metastore for the shared setup.
    metastore_dir: Path | None = None  # default: <home>/metastore
    metastore_jdbc_url: str | None = None
    metastore_jdbc_user: str | None = None
    metastore_jdbc_password: SecretStr | None = None
    metastore_jdbc_driver: str = "org.postgresql.Driver"

    pseudonym_key: SecretStr | None = None

    lateness_days: int = Field(3, ge=0)  # events older than this (by received date) are quarantined
    # event_id uniqueness is enforced across this window of received dates; at least
    # lateness_days + 1, the most received dates two acceptable copies of one event can
    # lie apart (a clock up to 5 minutes fast puts the first before midnight)
    dedupe_lookback_days: int = Field(4, ge=1)
    heartbeat_s: int = Field(60, ge=1)  # the players' interval; a gap counts as play up to twice it
    mart_lookback_days: int = Field(3, ge=0)  # dbt recomputes this many days before the run's dates
    # dbt's threads on the pipeline's one Spark session: independent models and tests run
    # at once. Most of a small model's time is driver-side (planning, the Delta log, the
    # metastore), so threads help even on two cores (bench/results/marts_threads.json).
    dbt_threads: int = Field(4, ge=1)

    # Retention: raw landing files hold raw member ids, so they are kept only as long as
    # reruns and late events need them; bronze keeps parsed, pseudonymised events for
    # session rebuilds and audits. `slatehouse maintain` applies both.
    landing_retention_days: int = Field(30, ge=1)
    bronze_retention_days: int = Field(90, ge=1)
    # Each run's offline reports (<reports_dir>/<date>/, about 14 MB with plotly.js
    # embedded) are aggregates already suppressed; they are kept for this many days, and
    # so are the quality gates' data-docs pages and stored GX results of each run.
    reports_retention_days: int = Field(30, ge=1)

    # Small-cell suppression: a number resting on fewer distinct profiles is suppressed (k;
    # 1 would suppress nothing).
    min_audience: int = Field(10, ge=2)

    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = Field(8050, ge=1, le=65535)
    thrift_host: str = "127.0.0.1"
    thrift_port: int = Field(10000, ge=1, le=65535)

    @model_validator(mode="after")
    def _fill_paths(self) -> "Settings":
        home = self.home.resolve()
        self.home = home
        self.landing_dir = self.landing_dir or str(home / "landing")
        self.warehouse_dir = self.warehouse_dir or str(home / "warehouse")
        self.reports_dir = (self.reports_dir or home / "reports").resolve()
        self.metastore_dir = (self.metastore_dir or home / "metastore").resolve()
        self.jars_dir = self.jars_dir.resolve()
        if self.dedupe_lookback_days < self.lateness_days + 1:
            raise ConfigError(
                f"SLATEHOUSE_DEDUPE_LOOKBACK_DAYS ({self.dedupe_lookback_days}) must be at least "
                f"SLATEHOUSE_LATENESS_DAYS + 1 ({self.lateness_days + 1}): two copies of one event can "
                "be accepted that many received days apart, and each must see the other."
            )
        needed = self.lateness_days + self.dedupe_lookback_days
        if min(self.landing_retention_days, self.bronze_retention_days) <= needed:
            raise ConfigError(
                f"SLATEHOUSE_LANDING_RETENTION_DAYS ({self.landing_retention_days}) and "
                f"SLATEHOUSE_BRONZE_RETENTION_DAYS ({self.bronze_retention_days}) must exceed "
                f"lateness_days + dedupe_lookback_days ({needed}): reruns and late events need "
                "that much history."
            )
        if self.metastore_jdbc_url and not self.metastore_jdbc_user:
            raise ConfigError(
                "SLATEHOUSE_METASTORE_JDBC_USER is required when SLATEHOUSE_METASTORE_JDBC_URL is set"
            )
        return self

    @property
    def secrets_dir(self) -> Path:
        return self.home / "secrets"

    @property
    def lock_file(self) -> Path:
        """The flock that keeps this home's runs apart; it names its holder while held."""
        return self.home / "run.lock"

    def require_pseudonym_key(self) -> bytes:
        """The HMAC key for member ids. Demo mode creates one under <home>/secrets."""
        if self.pseudonym_key is not None and self.pseudonym_key.get_secret_value():
            return self.pseudonym_key.get_secret_value().encode()
        if self.mode == "demo":
            path = self.secrets_dir / "pseudonym.key"
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(secrets.token_hex(32))
                path.chmod(0o600)
            return path.read_text().strip().encode()
        raise ConfigError(
            "SLATEHOUSE_PSEUDONYM_KEY is not set. Ingest pseudonymises member ids with a keyed "
            "HMAC and will not run without a key: set SLATEHOUSE_PSEUDONYM_KEY to a long random "
            "secret (for example `openssl rand -hex 32`), or SLATEHOUSE_MODE=demo for a local key."
        )
