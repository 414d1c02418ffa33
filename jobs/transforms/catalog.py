"""Catalogue snapshot -> the dimension tables' current rows (before SCD2 history)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def titles_dim(snapshot: DataFrame) -> DataFrame:
    return snapshot.select(
        "title_id", "title_type", "show_id", "season_number", "episode_number", "title",
        "runtime_s", "release_date", "original_language", "origin_country",
    ).dropDuplicates(["title_id"])


def shows_dim(snapshot: DataFrame) -> DataFrame:
    episodes = snapshot.where(F.col("title_type") == "episode")
    first = F.struct("release_date", "title_id")
    return episodes.groupBy("show_id").agg(
        F.min_by("show_title", first).alias("show_title"),
        F.min_by("original_language", first).alias("original_language"),
        F.min_by("origin_country", first).alias("origin_country"),
    )


def seasons_dim(snapshot: DataFrame) -> DataFrame:
    episodes = snapshot.where(F.col("title_type") == "episode")
    return (
        episodes.groupBy("show_id", "season_number").agg(
            F.count(F.lit(1)).cast("int").alias("episode_count"),
            F.sum("runtime_s").cast("long").alias("season_runtime_s"),
            F.min("release_date").alias("season_release_date"),
        )
        .withColumn("season_id", F.concat("show_id", F.lit("-S"), F.col("season_number").cast("string")))
        .select("season_id", "show_id", "season_number", "episode_count", "season_runtime_s", "season_release_date")
    )


def title_genres_bridge(snapshot: DataFrame) -> DataFrame:
    return snapshot.select("title_id", F.explode("genres").alias("genre")).dropDuplicates()


def talent_dim(snapshot: DataFrame) -> DataFrame:
    credits = snapshot.select(F.explode("credits").alias("c")).select("c.talent_id", "c.name")
    return credits.groupBy("talent_id").agg(F.min("name").alias("name"))


def credits_bridge(snapshot: DataFrame) -> DataFrame:
    return (
        snapshot.select("title_id", F.explode("credits").alias("c"))
        .select("title_id", "c.talent_id", "c.role", "c.billing_order")
        .dropDuplicates(["title_id", "talent_id", "role"])
    )


def availability_bridge(snapshot: DataFrame) -> DataFrame:
    return snapshot.select("title_id", F.explode("available_countries").alias("country")).dropDuplicates()
