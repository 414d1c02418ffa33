"""The dbt marts on real Spark + Delta + dbt-spark (no mocks), over tiny inline silver tables.

Values are computed by hand from tests/marts_fixtures.py; see its docstring for the data.
"""

from __future__ import annotations

import math
import re
from datetime import date
from pathlib import Path

import pytest

from slatehouse import marts
from slatehouse.marts import MartsBuildError, build_marts, generate_docs

from marts_fixtures import SESSIONS_DAY1_TO_9, SESSIONS_LATE, write_catalog, write_sessions

MARTS = {
    "fct_title_daily": "title_id,event_date,country,device_type",
    "fct_title_release_windows": "programme_id,window_days",
    "fct_top10_weekly": "week_start_date,market,list_name,week_rank",
    "fct_title_retention": "title_id,progress_pct",
    "fct_season_funnel": "season_id,episode_number",
    "fct_genre_weekly": "genre,week_start_date",
    "fct_talent_track_record": "talent_id,role",
    "fct_market_offer_vs_demand": "country,month_start_date,breakdown,group_value",
    "fct_title_training": "programme_id",
    "dim_title": "title_id",
    "dim_programme": "programme_id",
    "dim_talent": "talent_id",
    "dim_genre": "genre",
}


@pytest.fixture(scope="module")
def first_build(spark, settings):
    # The session-wide `spark` and `settings` fixtures come from tests/conftest.py.
    for db in ("silver", "staging", "intermediate", "marts"):
        spark.sql(f"drop database if exists {db} cascade")
    write_catalog(spark)
    write_sessions(spark, SESSIONS_DAY1_TO_9)
    return build_marts(spark, settings, date(2024, 1, 1), date(2024, 1, 9), count_rows=False)


def one(spark, sql: str):
    rows = spark.sql(sql).collect()
    assert len(rows) == 1, f"{sql} returned {len(rows)} rows"
    return rows[0]


def test_build_reports_every_model_and_test(first_build, settings):
    assert first_build.success
    names = {n.name for n in first_build.model_nodes}
    assert {m for m in MARTS} <= names
    assert all(n.status == "success" for n in first_build.model_nodes)
    assert first_build.models == len(first_build.model_nodes) and first_build.failed == 0
    assert first_build.test_nodes and all(n.status == "pass" for n in first_build.test_nodes)
    assert any(n.resource_type == "unit_test" for n in first_build.test_nodes)
    # dbt's artefacts go under the settings home, never into the repository.
    assert (settings.home / "dbt" / "target" / "manifest.json").exists()


def test_unit_tests_run_again_only_when_the_project_changes(first_build, settings, monkeypatch):
    # The first build in a fresh home ran them and recorded the project they passed on.
    assert first_build.unit_tests_run
    assert not marts.unit_tests_due(settings)
    monkeypatch.setattr(marts, "project_fingerprint", lambda: "an edited model")
    assert marts.unit_tests_due(settings)


def test_title_daily_tiers_follow_cumulative_progress(spark, first_build):
    # P2 reached 50% of F1 on day 1 and 80% on day 3: a watcher only from day 3.
    day1 = one(spark, "select * from marts.fct_title_daily where title_id = 'F1' "
                      "and event_date = '2024-01-01' and device_type = 'mobile'")
    assert (day1.starters, day1.watchers, day1.completers) == (1, 0, 0)
    assert day1.hours_viewed == pytest.approx(3000 / 3600, rel=1e-12)
    assert day1.views == pytest.approx(0.5, rel=1e-12)
    day3 = one(spark, "select * from marts.fct_title_daily where title_id = 'F1' "
                      "and event_date = '2024-01-03'")
    assert (day3.starters, day3.watchers, day3.completers) == (1, 1, 0)
    # FR on day 2: P3 played 100 s (not a starter), P4 skipped to the end (a starter only).
    fr = one(spark, "select * from marts.fct_title_daily where title_id = 'F1' and country = 'FR'")
    assert (fr.plays, fr.unique_profiles, fr.unique_accounts, fr.starters, fr.watchers) == (2, 2, 2, 1, 0)


def test_release_windows_by_hand(spark, first_build):
    f1 = one(spark, "select * from marts.fct_title_release_windows "
                    "where programme_id = 'F1' and window_days = 7")
    assert f1.is_window_complete
    assert f1.hours_viewed == pytest.approx((6000 + 3000 + 1800 + 100 + 600) / 3600, rel=1e-12)
    assert f1.views == pytest.approx(11500 / 6000, rel=1e-12)
    assert (f1.starters, f1.watchers, f1.completers) == (3, 2, 1)
    assert f1.completion_rate == pytest.approx(1 / 3)
    assert f1.avg_share_watched == pytest.approx((1 + 0.8 + 0.1) / 3, rel=1e-12)
    f1_28 = one(spark, "select * from marts.fct_title_release_windows "
                       "where programme_id = 'F1' and window_days = 28")
    assert not f1_28.is_window_complete
    # The season counts views over its total runtime (2 x 1800 s): P1 watched it all.
    season = one(spark, "select * from marts.fct_title_release_windows "
                        "where programme_id = 'S1-S1' and window_days = 1")
    assert season.views == pytest.approx(0.5)
    assert (season.starters, season.completers) == (1, 0)
    season7 = one(spark, "select * from marts.fct_title_release_windows "
                         "where programme_id = 'S1-S1' and window_days = 7")
    assert (season7.starters, season7.watchers, season7.completers) == (2, 1, 1)
    # Rewatching counts for views but not for distinct seconds.
    f2 = one(spark, "select * from marts.fct_title_release_windows "
                    "where programme_id = 'F2' and window_days = 28")
    assert f2.views == pytest.approx(2.0) and f2.completers == 1


def test_top10_retention_funnel_by_hand(spark, first_build):
    top = spark.sql("select list_name, programme_id, week_rank, views from marts.fct_top10_weekly "
                    "where market = 'GLOBAL' and week_start_date = '2024-01-01' "
                    "order by list_name").collect()
    assert [(r.list_name, r.programme_id, r.week_rank) for r in top] == [
        ("films_english", "F1", 1), ("tv_english", "S1-S1", 1)]
    assert top[0].views == pytest.approx(11500 / 6000)
    week2 = one(spark, "select * from marts.fct_top10_weekly "
                       "where market = 'FR' and week_start_date = '2024-01-08'")
    assert (week2.list_name, week2.programme_id, week2.views) == ("films", "F2", 2.0)

    curve = {r.progress_pct: r.share_reached for r in spark.sql(
        "select * from marts.fct_title_retention where title_id = 'F1'").collect()}
    # Starters P1 (to 6000 s), P2 (0-3000 + 3000-4800 joined: 4800 s), P4 (300 s then a skip).
    assert curve[10] == pytest.approx(2 / 3) and curve[80] == pytest.approx(2 / 3)
    assert curve[90] == pytest.approx(1 / 3) and curve[100] == pytest.approx(1 / 3)

    funnel = {r.episode_number: r for r in spark.sql(
        "select * from marts.fct_season_funnel where season_id = 'S1-S1'").collect()}
    assert funnel[1].episode_1_starters == 2 and funnel[1].share_completed == pytest.approx(0.5)
    assert funnel[2].share_started == pytest.approx(0.5)
    assert funnel[2].season_completers == 1 and funnel[2].binge_rate == 1.0
    assert funnel[2].median_days_to_complete == 1.0


def test_catalogue_marts_by_hand(spark, first_build):
    genres = {r.genre: r for r in spark.sql(
        "select * from marts.fct_genre_weekly where week_start_date = '2024-01-01'").collect()}
    total = (11500 + 1800 + 1800 + 900) / 3600
    # F1 is drama and thriller: its hours count fully in both.
    assert genres["drama"].hours_viewed == pytest.approx(total)
    assert genres["thriller"].share_of_hours == pytest.approx(11500 / 3600 / total)

    talent = {(r.talent_id, r.role): r for r in spark.sql(
        "select * from marts.fct_talent_track_record").collect()}
    assert talent[("T1", "actor")].programmes == 2
    assert ("T2", "actor") not in talent  # billed 5th: not a top-billed actor
    assert talent[("T3", "director")].latest_release_date == date(2024, 1, 2)
    assert talent[("T1", "actor")].median_views_28d is None  # no complete 28-day window yet

    fr = {r.group_value: r for r in spark.sql(
        "select * from marts.fct_market_offer_vs_demand where country = 'FR' "
        "and breakdown = 'origin_group'").collect()}
    assert fr["domestic"].programme_share == pytest.approx(1 / 3)
    assert fr["us"].runtime_share == pytest.approx(6000 / 13200)
    assert fr["domestic"].demand_share == pytest.approx(7200 / 7900)
    assert fr["us"].european_works_programme_share == pytest.approx(2 / 3)
    assert fr["us"].meets_avmsd_european_quota

    training = {r.programme_id: r for r in spark.sql("select * from marts.fct_title_training").collect()}
    assert set(training) == {"F1", "F2", "S1-S1"}
    assert training["S1-S1"].episodes == 2 and training["S1-S1"].runtime_minutes == 60.0
    assert training["S1-S1"].show_id == "S1" and training["F1"].show_id is None
    # Genres keep the catalogue's order, so the first is the primary genre (thriller for F1).
    assert {pid: list(row.genres) for pid, row in training.items()} == {
        "F1": ["thriller", "drama"], "F2": ["comedy"], "S1-S1": ["drama"]}
    assert spark.sql("select genres from marts.dim_title where title_id = 'F1'").first().genres == ["thriller", "drama"]
    # One credit per person and role with the best billing over the programme's titles; null
    # for crew; the actor billed 5th (past the top 3) is left out.
    credits = {pid: sorted((t.talent_id, t.role, t.billing_order) for t in row.talent) for pid, row in training.items()}
    assert credits == {"F1": [("T1", "actor", 1), ("T3", "director", None)],
                       "F2": [("T1", "actor", 2), ("T3", "director", None)],
                       "S1-S1": [("T4", "showrunner", None), ("T5", "actor", 1)]}
    # Availability at release, weighted by the profiles that played anything in each country
    # in the 28 days up to the release day. On 2024-01-01 only GB has played (P1, P2): F1 and
    # the season (GB, FR) reach everyone. By 2024-01-02 FR has P3 and P4 too, and F2 is
    # available in FR alone: half the members.
    assert training["F1"].release_availability_share == pytest.approx(1.0)
    assert training["S1-S1"].release_availability_share == pytest.approx(1.0)
    assert training["F2"].release_availability_share == pytest.approx(0.5)


def _snapshot(spark) -> dict[str, list[tuple]]:
    return {
        name: [tuple(row) for row in spark.table(f"marts.{name}").orderBy(*keys.split(",")).collect()]
        for name, keys in MARTS.items()
    }


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def test_incremental_late_events_then_full_refresh_are_identical(spark, settings, first_build):
    # A session of 2024-01-08 arrives with the 2024-01-10 load: the lookback (3 days)
    # recomputes 2024-01-07..10, so it lands in the day it belongs to.
    write_sessions(spark, SESSIONS_LATE, mode="append")
    # Models only: the first build ran every test, and the box is shared.
    build_marts(spark, settings, date(2024, 1, 10), date(2024, 1, 10), count_rows=False,
                with_tests=False)
    late = one(spark, "select * from marts.fct_title_daily where title_id = 'F2' "
                      "and event_date = '2024-01-08' and device_type = 'web'")
    assert late.starters == 1 and late.completers == 1  # 3300 of 3600 s = 91.7%
    incremental = _snapshot(spark)

    result = build_marts(spark, settings, date(2024, 1, 10), date(2024, 1, 10),
                         full_refresh=True, count_rows=False, with_tests=False)
    assert result.full_refresh
    full = _snapshot(spark)
    for name in MARTS:
        assert len(incremental[name]) == len(full[name]), name
        for inc_row, full_row in zip(incremental[name], full[name]):
            assert _same(inc_row, full_row), f"{name}: {inc_row} != {full_row}"


def test_failed_model_is_named(spark, settings, first_build):
    spark.sql("alter table silver.playback_sessions rename to silver.playback_sessions_away")
    try:
        with pytest.raises(MartsBuildError, match="stg_silver__playback_sessions"):
            build_marts(spark, settings, date(2024, 1, 10), date(2024, 1, 10),
                        select="stg_silver__playback_sessions", count_rows=False,
                        with_tests=False)
    finally:
        spark.sql("alter table silver.playback_sessions_away rename to silver.playback_sessions")


def test_a_failed_model_reads_as_sparks_error_and_dbt_log_keeps_the_trace(spark, settings, first_build,
                                                                         tmp_path, capfd):
    # The catalogue's data files go missing under its Delta log: the model that reads them
    # fails while Spark runs it, with a Java stack trace in what dbt-spark reports.
    table_dir = Path(spark.sql("describe detail silver.catalog_titles").first().location.removeprefix("file:"))
    data_files = sorted(table_dir.glob("*.parquet"))
    assert data_files
    log_file = settings.home / "dbt" / "logs" / "dbt.log"
    logged_before = log_file.stat().st_size
    capfd.readouterr()
    for f in data_files:
        f.rename(tmp_path / f.name)
    try:
        with pytest.raises(MartsBuildError) as raised:
            build_marts(spark, settings, select="int_titles_joined", count_rows=False, with_tests=False)
    finally:
        for f in data_files:
            (tmp_path / f.name).rename(f)

    [failed] = raised.value.result.failures
    assert "\tat org.apache.spark" in failed.message  # what dbt-spark said: Spark's trace
    message = str(raised.value)
    lines = message.splitlines()
    assert "model int_titles_joined (models/intermediate/catalog/int_titles_joined.sql): error: [" in message
    assert re.search(r"\[FAILED_READ_FILE[A-Z_.]*\]", message)
    assert not [line for line in lines if line.strip().startswith("at ")], message
    assert len(lines) <= 4 and str(log_file) in lines[-1], message
    # dbt printed nothing (neither its result line nor its failure summary): its account of
    # the failure is in its log, in full.
    console = "".join(capfd.readouterr())
    assert "ERROR creating" not in console and "Failure in model" not in console, console
    with log_file.open(errors="replace") as log:
        log.seek(logged_before)
        logged = log.read()
    assert "Failure in model int_titles_joined" in logged and "FAILED_READ_FILE" in logged
    assert "\tat org.apache.spark" in logged


def test_docs_generate(spark, settings, first_build):
    target = generate_docs(spark, settings)
    assert (target / "catalog.json").exists() and (target / "index.html").exists()
