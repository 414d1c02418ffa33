"""Sessionisation: accepted playback events -> one row per session_id."""

from __future__ import annotations

from typing import Callable

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

Transform = Callable[[DataFrame], DataFrame]

_STATE = {"play_start": "playing", "resume": "playing", "heartbeat": "playing", "pause": "paused", "play_stop": "stopped"}

# Merge a sorted array of [start_s, end_s) stretches into disjoint ones.
_MERGE_SEGMENTS = """
aggregate(
    array_sort(segments),
    cast(array() as array<struct<start_s: double, end_s: double>>),
    (acc, x) -> case
        when size(acc) > 0 and element_at(acc, -1).end_s >= x.start_s then concat(
            slice(acc, 1, size(acc) - 1),
            array(named_struct(
                'start_s', element_at(acc, -1).start_s,
                'end_s', greatest(element_at(acc, -1).end_s, x.end_s)
            ))
        )
        else concat(acc, array(x))
    end
)
"""


# Furthest progress from the start without a hole: stretches separated by less than
# CONTIGUITY_TOLERANCE_S (player jitter, a rebuffer) still count as one run.
CONTIGUITY_TOLERANCE_S = 1.0
_CONTIGUOUS = f"""
case when size(watched_segments) > 0 and watched_segments[0].start_s <= 0 then
    aggregate(
        watched_segments,
        named_struct('end_s', 0D, 'open', true),
        (acc, x) -> case
            when acc.open and x.start_s <= acc.end_s + {CONTIGUITY_TOLERANCE_S}
                then named_struct('end_s', greatest(acc.end_s, x.end_s), 'open', true)
            else named_struct('end_s', acc.end_s, 'open', false)
        end
    ).end_s
else 0D end
"""


def sessionize(titles: DataFrame, heartbeat_s: int = 60) -> Transform:
    """Events -> sessions, using `titles` (title_id, runtime_s) for the runtime.

    play_time_s counts the time between an event and the next one while the player is
    playing (after play_start, resume or heartbeat; a seek keeps the state it found), each
    gap capped at two heartbeats so a lost connection does not count as viewing.
    content_watched_s is the length of the union of the stretches of the title played,
    so rewinding and rewatching do not add to it and seeking ahead does not count.
    """

    def transform(events: DataFrame) -> DataFrame:
        order = Window.partitionBy("session_id").orderBy("event_ts", "event_id")
        running = order.rowsBetween(Window.unboundedPreceding, Window.currentRow)
        state_of = F.create_map(*[x for kv in _STATE.items() for x in (F.lit(kv[0]), F.lit(kv[1]))])
        runtime = titles.select("title_id", F.col("runtime_s").cast("int").alias("runtime_s"))
        steps = (
            events.join(F.broadcast(runtime), "title_id")
            .withColumn("_state", F.last(state_of[F.col("event_type")], ignorenulls=True).over(running))
            .withColumn("_next_ts", F.lead("event_ts").over(order))
            # Whole microseconds first, so positions plus gaps add up exactly.
            .withColumn("_gap_s", (F.unix_micros("_next_ts") - F.unix_micros("event_ts")) / 1e6)
            .withColumn(
                "_credit_s",
                F.when((F.col("_state") == "playing") & F.col("_gap_s").isNotNull(),
                       F.least(F.col("_gap_s"), F.lit(2.0 * heartbeat_s)))
                .otherwise(F.lit(0.0)),
            )
            .withColumn("_seg_start", F.least(F.col("position_s"), F.col("runtime_s").cast("double")))
            .withColumn("_seg_end", F.least(F.col("position_s") + F.col("_credit_s"), F.col("runtime_s").cast("double")))
            .withColumn(
                "_segment",
                F.when(F.col("_seg_end") > F.col("_seg_start"),
                       F.struct(F.col("_seg_start").alias("start_s"), F.col("_seg_end").alias("end_s"))),
            )
        )
        first = F.struct("event_ts", "event_id")
        sessions = steps.groupBy("session_id").agg(
            F.min_by("title_id", first).alias("title_id"),
            F.min_by("account_id", first).alias("account_id"),
            F.min_by("profile_id", first).alias("profile_id"),
            F.min_by("device_type", first).alias("device_type"),
            F.min_by("country", first).alias("country"),
            F.min("event_ts").alias("session_start_ts"),
            F.max("event_ts").alias("session_end_ts"),
            F.sum("_credit_s").alias("play_time_s"),
            F.collect_list("_segment").alias("segments"),
            F.max("position_s").alias("max_position_s"),
            F.first("runtime_s").alias("runtime_s"),
            F.count(F.lit(1)).alias("event_count"),
            F.max(F.col("event_type") == "play_stop").alias("has_play_stop"),
            F.max(F.col("received_date") > F.to_date("event_ts")).alias("has_late_events"),
        )
        merged = F.expr(_MERGE_SEGMENTS)
        return (
            sessions.withColumn("watched_segments", merged)
            .withColumn("content_watched_s", F.expr("aggregate(watched_segments, 0D, (a, x) -> a + x.end_s - x.start_s)"))
            .withColumn("contiguous_progress_s", F.expr(_CONTIGUOUS))
            .withColumn("event_date", F.to_date("session_start_ts"))
            .select(
                "session_id", "title_id", "account_id", "profile_id", "device_type", "country",
                "session_start_ts", "session_end_ts", "event_date", "play_time_s",
                "content_watched_s", "contiguous_progress_s", "max_position_s", "runtime_s",
                "event_count", "has_play_stop", "has_late_events", "watched_segments",
            )
        )

    return transform
