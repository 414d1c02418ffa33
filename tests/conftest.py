"""Shared fixtures: one Spark session (one JVM) for the whole test run.

The session gets its own warehouse and Derby metastore in a temporary folder, so tests
never touch ./var or a developer's warehouse.
"""

from __future__ import annotations

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
