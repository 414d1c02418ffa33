"""Fetching the jars Spark needs beyond pyspark's own: Delta's, and the PostgreSQL driver."""

from __future__ import annotations

from pathlib import Path

import pytest

from slatehouse.metastore import resolve_postgres_jdbc
from slatehouse.settings import ConfigError
from slatehouse.spark import ivy_retrieve, resolve_delta_jars


def test_a_jars_folder_filled_by_hand_is_used_as_it_is(tmp_path):
    # An offline cluster's folder: nothing is fetched, nothing is added.
    for name in ("delta-spark_4.1_2.13-4.4.0.jar", "delta-storage-4.4.0.jar", "postgresql-42.7.3.jar"):
        (tmp_path / name).write_bytes(b"")
    before = sorted(p.name for p in tmp_path.iterdir())
    assert [p.name for p in resolve_delta_jars(tmp_path)] == before
    assert resolve_postgres_jdbc(tmp_path) == tmp_path / "postgresql-42.7.3.jar"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_an_artifact_that_cannot_be_resolved_is_a_clear_error(tmp_path):
    jars = tmp_path / "jars"
    with pytest.raises(ConfigError) as raised:
        ivy_retrieve(("org.postgresql", "postgresql", "0.0.0-none"), jars, by_hand="postgresql-0.0.0-none.jar")
    message = str(raised.value)
    assert "Could not resolve org.postgresql:postgresql:0.0.0-none from Maven Central" in message
    assert f"put postgresql-0.0.0-none.jar in {jars} (SLATEHOUSE_JARS_DIR) by hand" in message
    assert not list(Path(jars).glob("*.jar"))
