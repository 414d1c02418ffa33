"""Tiny inline silver + catalogue Delta tables for the marts tests (hand-computable).

Catalogue (snapshot 2024-01-01, all rows current):
  F1  film, en, US, 6000 s, released Mon 2024-01-01, genres thriller (primary), drama,
      actor T1 (billing 1), actor T2 (billing 5: not top-billed), director T3; GB, FR
  F2  film, fr, FR, 3600 s, released 2024-01-02, comedy; director T3, actor T1 (billing 2); FR
  S1  series "Harbour", en, GB; season S1-S1 = E1, E2 (1800 s each, released 2024-01-01),
      drama; showrunner T4, actor T5 (billed 3rd on E1, 1st on E2: the season bills T5 1st); GB, FR
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from slatehouse.contract import schema as c

D = date.fromisoformat
SNAP = D("2024-01-01")


def _scd(row: dict) -> dict:
    return {**row, "valid_from": SNAP, "valid_to": None, "is_current": True}


TITLES = [
    dict(title_id="F1", title_type="film", show_id=None, season_number=None, episode_number=None,
         title="The Long Night", runtime_s=6000, release_date=D("2024-01-01"),
         original_language="en", origin_country="US"),
    dict(title_id="F2", title_type="film", show_id=None, season_number=None, episode_number=None,
         title="Le Jour", runtime_s=3600, release_date=D("2024-01-02"),
         original_language="fr", origin_country="FR"),
    dict(title_id="E1", title_type="episode", show_id="S1", season_number=1, episode_number=1,
         title="Harbour 1", runtime_s=1800, release_date=D("2024-01-01"),
         original_language="en", origin_country="GB"),
    dict(title_id="E2", title_type="episode", show_id="S1", season_number=1, episode_number=2,
         title="Harbour 2", runtime_s=1800, release_date=D("2024-01-01"),
         original_language="en", origin_country="GB"),
]
SHOWS = [dict(show_id="S1", show_title="Harbour", original_language="en", origin_country="GB")]
SEASONS = [dict(season_id="S1-S1", show_id="S1", season_number=1, episode_count=2,
                season_runtime_s=3600, season_release_date=D("2024-01-01"))]
GENRES = [("F1", "thriller", 1), ("F1", "drama", 2), ("F2", "comedy", 1), ("E1", "drama", 1), ("E2", "drama", 1)]
TALENT = [("T1", "Ada Actor"), ("T2", "Ben Bitpart"), ("T3", "Cy Director"), ("T4", "Di Runner"), ("T5", "Eve Ensemble")]
CREDITS = [
    ("F1", "T1", "actor", 1), ("F1", "T2", "actor", 5), ("F1", "T3", "director", None),
    ("F2", "T3", "director", None), ("F2", "T1", "actor", 2),
    ("E1", "T4", "showrunner", None), ("E2", "T4", "showrunner", None),
    ("E1", "T5", "actor", 3), ("E2", "T5", "actor", 1),
]
AVAILABILITY = [("F1", "GB"), ("F1", "FR"), ("F2", "FR"), ("E1", "GB"), ("E1", "FR"),
                ("E2", "GB"), ("E2", "FR")]


def session(sid, title, profile, account, day, segments, play_time_s=None, country="GB",
            device="tv", runtime_s=None):
    """A silver session; play time defaults to the length of its segments."""
    runtime = runtime_s or {t["title_id"]: t["runtime_s"] for t in TITLES}[title]
    length = sum(e - s for s, e in segments)
    start = datetime.combine(D(day), datetime.min.time()) + timedelta(hours=20)
    contiguous = max((e for s, e in segments if s == 0), default=0.0)
    return dict(
        session_id=sid, title_id=title, account_id=account, profile_id=profile,
        device_type=device, country=country, session_start_ts=start,
        session_end_ts=start + timedelta(seconds=play_time_s or length),
        event_date=D(day), play_time_s=float(play_time_s if play_time_s is not None else length),
        content_watched_s=float(length), contiguous_progress_s=float(contiguous),
        max_position_s=float(max(e for _, e in segments)), runtime_s=runtime,
        event_count=3, has_play_stop=True, has_late_events=False,
        watched_segments=[dict(start_s=float(s), end_s=float(e)) for s, e in segments],
    )


# The first load: 2024-01-01 .. 2024-01-09.
SESSIONS_DAY1_TO_9 = [
    # F1: P1 completes on day 1; P2 reaches 50% on day 1 and 80% on day 3 (on mobile);
    # P3 plays 100 s (not a starter); P4 plays the start and skips to the end (10%).
    session("s01", "F1", "P1", "A1", "2024-01-01", [(0, 6000)]),
    session("s02", "F1", "P2", "A1", "2024-01-01", [(0, 3000)], device="mobile"),
    session("s03", "F1", "P2", "A1", "2024-01-03", [(3000, 4800)], device="mobile"),
    session("s04", "F1", "P3", "A2", "2024-01-02", [(0, 100)], country="FR"),
    session("s05", "F1", "P4", "A3", "2024-01-02", [(0, 300), (5700, 6000)], country="FR"),
    # Harbour S1: P1 finishes E1 on day 1 and E2 on day 2 (a binge); P2 starts E1 only.
    session("s06", "E1", "P1", "A1", "2024-01-01", [(0, 1800)]),
    session("s07", "E2", "P1", "A1", "2024-01-02", [(0, 1800)]),
    session("s08", "E1", "P2", "A1", "2024-01-02", [(0, 900)]),
    # F2: P5 watches it twice (rewatching counts for hours, not for distinct seconds).
    session("s09", "F2", "P5", "A4", "2024-01-08", [(0, 3600)], country="FR"),
    session("s10", "F2", "P5", "A4", "2024-01-09", [(0, 3600)], country="FR"),
]

# A late session for 2024-01-08 that only reaches silver with the 2024-01-10 load, plus
# that day's own viewing: P1 rewatches the second half of E1 on 2024-01-10.
SESSIONS_LATE = [
    session("s11", "F2", "P6", "A5", "2024-01-08", [(0, 3300)], country="FR", device="web"),
    session("s12", "E1", "P1", "A1", "2024-01-10", [(900, 1800)]),
]


def _frame(spark, rows, schema):
    return spark.createDataFrame(rows, schema)


def write_catalog(spark) -> None:
    spark.sql("create database if not exists silver")
    tables = {
        c.SILVER_TITLES: ([_scd(t) for t in TITLES], c.CATALOG_TITLES_SCHEMA),
        c.SILVER_SHOWS: ([_scd(s) for s in SHOWS], c.CATALOG_SHOWS_SCHEMA),
        c.SILVER_SEASONS: ([_scd(s) for s in SEASONS], c.CATALOG_SEASONS_SCHEMA),
        c.SILVER_TITLE_GENRES: ([_scd(dict(title_id=t, genre=g, genre_rank=r)) for t, g, r in GENRES],
                                c.CATALOG_TITLE_GENRES_SCHEMA),
        c.SILVER_TALENT: ([_scd(dict(talent_id=t, name=n)) for t, n in TALENT],
                          c.CATALOG_TALENT_SCHEMA),
        c.SILVER_CREDITS: ([_scd(dict(title_id=t, talent_id=p, role=r, billing_order=b))
                            for t, p, r, b in CREDITS], c.CATALOG_CREDITS_SCHEMA),
        c.SILVER_AVAILABILITY: ([_scd(dict(title_id=t, country=k)) for t, k in AVAILABILITY],
                                c.CATALOG_AVAILABILITY_SCHEMA),
    }
    for name, (rows, schema) in tables.items():
        _frame(spark, rows, schema).write.format("delta").mode("overwrite") \
            .option("overwriteSchema", "true").saveAsTable(name)


def write_sessions(spark, rows, mode: str = "overwrite") -> None:
    spark.sql("create database if not exists silver")
    _frame(spark, rows, c.PLAYBACK_SESSIONS_SCHEMA).write.format("delta").mode(mode) \
        .saveAsTable(c.SILVER_SESSIONS)


def mart_rows(spark, table: str, order_by: str) -> list[tuple]:
    """A mart's rows as plain tuples in a stable order (arrays/structs made hashable)."""
    df = spark.table(table)
    return [tuple(_plain(v) for v in row) for row in df.orderBy(*order_by.split(",")).collect()]


def _plain(value):
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    if hasattr(value, "asDict"):
        return tuple(sorted((k, _plain(v)) for k, v in value.asDict().items()))
    return value
