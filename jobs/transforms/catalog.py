"""Catalogue snapshots -> the catalogue dimensions, with SCD2 history."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F


# Each builder keeps `snapshot_date`, so it works on one snapshot or on many at once.
def titles_dim(snapshot: DataFrame) -> DataFrame:
    return snapshot.select(
        "snapshot_date", "title_id", "title_type", "show_id", "season_number", "episode_number", "title",
        "runtime_s", "release_date", "original_language", "origin_country",
    ).dropDuplicates(["snapshot_date", "title_id"])


def shows_dim(snapshot: DataFrame) -> DataFrame:
    episodes = snapshot.where(F.col("title_type") == "episode")
    first = F.struct("release_date", "title_id")
    return episodes.groupBy("snapshot_date", "show_id").agg(
        F.min_by("show_title", first).alias("show_title"),
        F.min_by("original_language", first).alias("original_language"),
        F.min_by("origin_country", first).alias("origin_country"),
    )


def seasons_dim(snapshot: DataFrame) -> DataFrame:
    episodes = snapshot.where(F.col("title_type") == "episode")
    return (
        episodes.groupBy("snapshot_date", "show_id", "season_number").agg(
            F.count(F.lit(1)).cast("int").alias("episode_count"),
            F.sum("runtime_s").cast("long").alias("season_runtime_s"),
            F.min("release_date").alias("season_release_date"),
        )
        .withColumn("season_id", F.concat("show_id", F.lit("-S"), F.col("season_number").cast("string")))
        .select("snapshot_date", "season_id", "show_id", "season_number", "episode_count",
                "season_runtime_s", "season_release_date")
    )


def title_genres_bridge(snapshot: DataFrame) -> DataFrame:
    """One row per title and genre, with the genre's place in the title's list
    (`genre_rank`, 1 = the primary genre); a genre listed twice keeps its first place."""
    return snapshot.select(
        "snapshot_date", "title_id", F.posexplode(F.array_distinct("genres")).alias("genre_rank", "genre"),
    ).select("snapshot_date", "title_id", "genre", (F.col("genre_rank") + 1).cast("int").alias("genre_rank"))


def talent_dim(snapshot: DataFrame) -> DataFrame:
    credits = snapshot.select("snapshot_date", F.explode("credits").alias("c")).select(
        "snapshot_date", "c.talent_id", "c.name")
    return credits.groupBy("snapshot_date", "talent_id").agg(F.min("name").alias("name"))


def credits_bridge(snapshot: DataFrame) -> DataFrame:
    return (
        snapshot.select("snapshot_date", "title_id", F.explode("credits").alias("c"))
        .select("snapshot_date", "title_id", "c.talent_id", "c.role", "c.billing_order")
        .dropDuplicates(["snapshot_date", "title_id", "talent_id", "role"])
    )


def availability_bridge(snapshot: DataFrame) -> DataFrame:
    return snapshot.select(
        "snapshot_date", "title_id", F.explode("available_countries").alias("country")).dropDuplicates()


def scd2_history(keys: list[str], snapshot_dates: DataFrame):
    """Per-snapshot dimension rows -> SCD2 rows (valid_from, valid_to, is_current).

    A key's row stays open while consecutive snapshots carry it unchanged. It closes at the
    first snapshot that changes one of its attributes or no longer lists it; valid_to is
    that snapshot's date. Deriving history from every snapshot makes loading them in any
    order, or again, give the same table.
    `snapshot_dates` holds one row per loaded snapshot date (column `snapshot_date`).
    """

    def transform(rows: DataFrame) -> DataFrame:
        attrs = [c for c in rows.columns if c not in keys and c != "snapshot_date"]
        calendar = snapshot_dates.select(
            "snapshot_date",
            F.lag("snapshot_date").over(Window.orderBy("snapshot_date")).alias("_prev_snapshot"),
            F.lead("snapshot_date").over(Window.orderBy("snapshot_date")).alias("_next_snapshot"),
        )
        by_key = Window.partitionBy(*keys).orderBy("snapshot_date")
        marked = (
            rows.join(F.broadcast(calendar), "snapshot_date")
            .withColumn("_attrs", F.to_json(F.struct(*attrs)))
            .withColumn(
                "_new_run",
                F.coalesce(
                    (F.lag("snapshot_date").over(by_key) != F.col("_prev_snapshot"))
                    | (F.lag("_attrs").over(by_key) != F.col("_attrs")),
                    F.lit(True),
                ).cast("int"),
            )
            .withColumn("_run", F.sum("_new_run").over(by_key.rowsBetween(Window.unboundedPreceding, 0)))
        )
        runs = marked.groupBy(*keys, "_run").agg(
            F.min("snapshot_date").alias("valid_from"),
            F.max_by("_next_snapshot", "snapshot_date").alias("valid_to"),
            *[F.min_by(a, "snapshot_date").alias(a) for a in attrs],
        )
        return runs.select(
            *keys, *attrs, "valid_from", "valid_to", F.col("valid_to").isNull().alias("is_current"),
        )

    return transform
