"""The dashboards' data layer without a browser: the suppression rule, the pages' data
functions (plain pandas over hand-made frames), the Delta reader's cache, the column names
against the dbt models, and the offline reports."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import yaml
from deltalake import write_deltalake

from slatehouse import forecast
from slatehouse.dashboards import figures, forecasting, queries, write_reports
from slatehouse.dashboards.data import MART_COLUMNS, MartReader, table_uri
from slatehouse.dashboards.pages import greenlight
from slatehouse.dashboards.privacy import SUPPRESSED_TEXT, is_suppressed, profiles_at_least, suppress
from slatehouse.dashboards.sample import SCHEMAS, TINY_PROGRAMME, write_sample_warehouse
from slatehouse.settings import Settings

K = 10
D = pd.Timestamp
MARTS_DIR = Path(__file__).resolve().parent.parent / "dbt" / "models" / "marts"


# --- the one suppression rule ------------------------------------------------------------------

def test_suppress_blanks_small_and_unknown_counts_and_flags_them():
    frame = pd.DataFrame({"unique_profiles": [3, 10, None, 250], "hours_viewed": [1.5, 2.0, 3.0, 4.0],
                          "plays": [4, 12, 5, 300]})
    out = suppress(frame, K, {"unique_profiles": ["hours_viewed", "plays"]})
    assert out["hours_viewed"].isna().tolist() == [True, False, True, False]
    assert out["plays"].isna().tolist() == [True, False, True, False]
    # The count itself is a number resting on too few profiles.
    assert out["unique_profiles"].isna().tolist() == [True, False, True, False]
    assert is_suppressed(out, "hours_viewed").tolist() == [True, False, True, False]
    assert out.loc[1, "hours_viewed"] == 2.0 and out.loc[3, "plays"] == 300
    assert frame["hours_viewed"].notna().all(), "the input frame is not modified"
    again = suppress(out, K, {"unique_profiles": ["hours_viewed", "plays"]})
    pd.testing.assert_frame_equal(again, out)


def test_suppress_keeps_rates_apart_from_volumes():
    windows = pd.DataFrame({"programme_id": ["P"] * 2, "window_days": [1, 7], "is_window_complete": True,
                            "unique_profiles": [40, 60], "increment_profiles": [40, 45],
                            "starters": [6, 30], "watchers": [4, 20], "completers": [2, 12],
                            "hours_viewed": [10.0, 30.0], "views": [5.0, 15.0], "plays": [50, 90],
                            "completion_rate": [2 / 6, 0.4], "avg_share_watched": [0.5, 0.6]})
    out = queries.release_windows(windows, "P", K)
    first = out.iloc[0]
    assert first["hours_viewed"] == 10.0 and first["views"] == 5.0  # 40 profiles: shown
    assert np.isnan(first["completion_rate"]) and np.isnan(first["starters"])  # 6 starters: not
    assert np.isnan(first["completers"])
    assert out.iloc[1]["completion_rate"] == 0.4


def test_profiles_at_least_is_the_largest_cell_of_a_group():
    cells = pd.DataFrame({"k": ["a", "a", "b"], "unique_profiles": [6, 7, 30]})
    bound = profiles_at_least(cells, ["k"]).set_index("k")["profiles_at_least"]
    assert bound.to_dict() == {"a": 7, "b": 30}


# --- page data functions -----------------------------------------------------------------------

def _programmes():
    return pd.DataFrame({
        "programme_id": ["A", "B", "C", "S-S1"], "programme_name": ["Alpha", "Beta", "Gamma", "Show: Season 1"],
        "programme_type": ["film", "film", "film", "season"], "format": ["film", "film", "film", "series"],
        "runtime_s": [7200, 3600, 5400, 3 * 1800], "release_date": [D("2024-01-01")] * 4,
    })


def test_top10_lists_movement_weeks_and_suppression():
    def row(week, rank, pid, hours, profiles, market="GLOBAL", list_name="films_english"):
        return dict(market=market, list_name=list_name, week_rank=rank, programme_id=pid, hours_viewed=hours,
                    views=hours / 2, unique_profiles=profiles, week_start_date=D(week),
                    week_end_date=D(week) + pd.Timedelta(days=6))

    top10 = pd.DataFrame([
        row("2024-01-01", 1, "A", 100, 50), row("2024-01-01", 2, "B", 50, 30),
        row("2024-01-08", 1, "B", 80, 90), row("2024-01-08", 2, "A", 60, 40), row("2024-01-08", 3, "C", 5, 3),
        row("2024-01-15", 1, "B", 70, 10), row("2024-01-15", 2, "A", 50, 9),
        row("2024-01-22", 1, "C", 70, 10), row("2024-01-22", 2, "D", 50, 9),
    ])
    week2 = queries.top10_lists(top10, _programmes(), "GLOBAL", D("2024-01-08"), K).set_index("programme_id")
    assert week2["movement"].to_dict() == {"B": "up 1", "A": "down 1", "C": "new"}
    assert week2["weeks_in_top10"].to_dict() == {"A": 2, "B": 2, "C": 1}
    assert week2.loc["C", "programme_name"] == "Gamma"
    assert np.isnan(week2.loc["C", "hours_viewed"]) and bool(week2.loc["C", "hours_viewed__suppressed"])
    assert np.isnan(week2.loc["C", "views"]) and np.isnan(week2.loc["C", "unique_profiles"])
    assert week2.loc["A", "hours_viewed"] == 60
    week3 = queries.top10_lists(top10, _programmes(), "GLOBAL", D("2024-01-15"), K).set_index("programme_id")
    assert week3["movement"].to_dict() == {"B": "same", "A": "same"}
    # Exactly k profiles is enough; one fewer is not.
    assert week3.loc["B", "hours_viewed"] == 70 and np.isnan(week3.loc["A", "hours_viewed"])
    week4 = queries.top10_lists(top10, _programmes(), "GLOBAL", D("2024-01-22"), K).set_index("programme_id")
    assert week4["movement"].to_dict() == {"C": "back", "D": "new"}  # C was in the list two weeks before
    first = queries.top10_lists(top10, _programmes(), "GLOBAL", D("2024-01-01"), K)
    assert set(first["movement"]) == {""}, "no previous week in the data: no movement shown"


def test_top10_suppresses_on_the_lists_own_market():
    # 12 profiles worldwide, 4 of them in FR: the FR list holds the programme's numbers back.
    top10 = pd.DataFrame([dict(market=m, list_name=name, week_rank=1, programme_id="A",
                               hours_viewed=h, views=h / 2, unique_profiles=n, week_start_date=D("2024-01-01"),
                               week_end_date=D("2024-01-07"))
                          for m, name, h, n in (("GLOBAL", "films_english", 10.0, 12), ("FR", "films", 3.0, 4))])
    assert queries.top10_lists(top10, _programmes(), "GLOBAL", D("2024-01-01"), K).loc[0, "hours_viewed"] == 10.0
    assert np.isnan(queries.top10_lists(top10, _programmes(), "FR", D("2024-01-01"), K).loc[0, "hours_viewed"])


def _top10_week(rows) -> pd.DataFrame:
    return pd.DataFrame([dict(market=market, list_name=name, week_rank=1, programme_id="A", hours_viewed=hours,
                              views=hours / 2, unique_profiles=profiles, week_start_date=D("2024-03-25"),
                              week_end_date=D("2024-03-31"))
                         for market, name, hours, profiles in rows])


def test_a_hidden_countrys_hours_are_not_the_global_hours_minus_the_shown_countries():
    # A is in the Top 10 of every country it was watched in: LU's 4 hours (4 profiles)
    # would be the global 1,000 minus the US's 700 and GB's 296.
    top10 = _top10_week([("GLOBAL", "films_english", 1000.0, 612), ("US", "films", 700.0, 400),
                         ("GB", "films", 296.0, 208), ("LU", "films", 4.0, 4)])
    pages = {market: queries.top10_lists(top10, _programmes(), market, D("2024-03-25"), K)
             for market in queries.top10_markets(top10)}
    assert pages["GLOBAL"].loc[0, "hours_viewed"] == 1000.0
    shown = {m: page.loc[0, "hours_viewed"] for m, page in pages.items() if not np.isnan(page.loc[0, "hours_viewed"])}
    # GB, the smallest shown country, is held back with LU: the rest is 300 hours of 212.
    assert shown == {"GLOBAL": 1000.0, "US": 700.0}
    assert bool(pages["GB"].loc[0, "views__suppressed"]) and np.isnan(pages["GB"].loc[0, "unique_profiles"])
    # Watched outside its lists by at least k profiles (642 - 612 = 30), the hidden
    # countries' hours are inside that rest's: nothing more is held back.
    wider = _top10_week([("GLOBAL", "films_english", 1030.0, 642), ("US", "films", 700.0, 400),
                         ("GB", "films", 296.0, 208), ("LU", "films", 4.0, 4)])
    assert queries.top10_lists(wider, _programmes(), "GB", D("2024-03-25"), K).loc[0, "hours_viewed"] == 296.0
    # A rest of fewer than k profiles is a small number by itself: 3 profiles' 6 hours
    # would be the global hours minus the countries shown.
    rest = _top10_week([("GLOBAL", "films_english", 1002.0, 611), ("US", "films", 700.0, 400),
                        ("GB", "films", 296.0, 208)])
    assert np.isnan(queries.top10_lists(rest, _programmes(), "GB", D("2024-03-25"), K).loc[0, "hours_viewed"])
    assert queries.top10_lists(rest, _programmes(), "US", D("2024-03-25"), K).loc[0, "hours_viewed"] == 700.0
    # Listed wherever it was watched, every country shown: nothing to hide.
    whole = _top10_week([("GLOBAL", "films_english", 996.0, 608), ("US", "films", 700.0, 400),
                         ("GB", "films", 296.0, 208)])
    assert queries.top10_lists(whole, _programmes(), "GB", D("2024-03-25"), K).loc[0, "hours_viewed"] == 296.0


def test_title_daily_sums_cells_and_suppresses_on_the_largest_cell():
    daily = pd.DataFrame({
        "programme_id": ["A"] * 4, "event_date": [D("2024-01-01")] * 2 + [D("2024-01-02")] * 2,
        "hours_viewed": [6.0, 4.0, 1.0, 1.0], "plays": [5, 4, 3, 3], "unique_profiles": [12, 3, 6, 6],
    })
    out = queries.title_daily(daily, _programmes(), "A", K)
    assert out["days_since_release"].tolist() == [1, 2]
    assert out.loc[0, "hours_viewed"] == 10.0
    assert out.loc[0, "views"] == pytest.approx(5.0)  # 10 hours / a 2-hour runtime
    # Day 2: two cells of 6 profiles could be the same 6 people, so the day is held back.
    assert np.isnan(out.loc[1, "hours_viewed"]) and bool(out.loc[1, "views__suppressed"])


def test_a_day_inside_a_shown_window_or_top10_week_is_held_back_with_a_hidden_one():
    days = pd.date_range("2024-01-01", periods=9)  # A came out on Monday 1 January
    profiles = [12, 30, 5, 30, 25, 30, 30, 40, 3]
    daily = pd.DataFrame({"programme_id": "A", "event_date": days, "hours_viewed": 1.0, "plays": 2,
                          "unique_profiles": profiles})
    n = np.array([12, 120, 130, 130])
    windows = pd.DataFrame({"programme_id": "A", "window_days": [1, 7, 28, 91], "is_window_complete": True,
                            "unique_profiles": n, "increment_profiles": [12, 80, 40, 0], "hours_viewed": 1.0,
                            "views": 1.0, "plays": n, "starters": n, "watchers": n, "completers": n,
                            "completion_rate": 1.0, "avg_share_watched": 0.5})
    top10 = pd.DataFrame({"market": ["GLOBAL", "US"], "programme_id": "A", "unique_profiles": [120, 60],
                          "week_start_date": [D("2024-01-01")] * 2})

    def hidden(**totals):
        out = queries.title_daily(daily, _programmes(), "A", K, **totals)
        return out.loc[is_suppressed(out, "hours_viewed"), "days_since_release"].tolist()

    assert hidden() == [3, 9]  # fewer than 10 profiles
    # The 7-day window minus the 1-day one minus the shown days 2, 4-7 would give day 3's
    # 5 profiles away; so would the 28-day minus the 7-day minus day 8 for day 9. With the
    # smallest shown day of each beside it, the hidden sum rests on 10 or more profiles.
    assert hidden(windows=windows) == [3, 5, 8, 9]
    # The global Top 10 week (days 1-7) likewise: its smallest shown day is the first.
    assert hidden(top10=top10) == [1, 3, 9]
    # But the first day is the 1-day window, shown as it is: hiding it protects nothing,
    # so the next smallest goes instead.
    assert hidden(windows=windows, top10=top10) == [3, 5, 8, 9]


def test_overlapping_windows_and_weeks_never_give_a_small_day_away():
    # Released Wednesday 3 January: the 7-day window ends on day 7 (Tuesday), the Top 10
    # weeks run Monday to Sunday (days 6-12, 13-19). Day 9 has 5 profiles. Hiding the
    # smallest shown day of its week (day 7) would leave day 7 the only hidden day of
    # days 2-7, so the 7-day window would give day 7, then the week day 9.
    days = pd.date_range("2024-01-03", periods=18)
    profiles = [40] * 18
    profiles[8], profiles[6], profiles[13] = 5, 11, 12
    daily = pd.DataFrame({"programme_id": "A", "event_date": days, "hours_viewed": np.arange(1.0, 19.0),
                          "plays": 2, "unique_profiles": profiles})
    programmes = _programmes().assign(release_date=D("2024-01-03"))
    n = np.array([40, 80, 200, 200])
    windows = pd.DataFrame({"programme_id": "A", "window_days": [1, 7, 28, 91], "is_window_complete": True,
                            "unique_profiles": n, "increment_profiles": [40, 60, 100, 0], "hours_viewed": 1.0,
                            "views": 1.0, "plays": n, "starters": n, "watchers": n, "completers": n,
                            "completion_rate": 1.0, "avg_share_watched": 0.5})
    top10 = pd.DataFrame({"market": "GLOBAL", "programme_id": "A", "unique_profiles": [100, 100],
                          "week_start_date": [D("2024-01-08"), D("2024-01-15")]})
    out = queries.title_daily(daily, programmes, "A", K, windows=windows, top10=top10)
    hidden = out.loc[is_suppressed(out, "hours_viewed"), "days_since_release"].to_numpy()
    assert 9 in hidden
    # Every total a reader sees, as sums of the hidden days (the shown days subtracted):
    # days 2-7 and 8-28 (the windows; day 1 is the 1-day window), and the two weeks.
    totals = np.array([[2 <= d <= 7 for d in hidden], [8 <= d <= 28 for d in hidden],
                       [6 <= d <= 12 for d in hidden], [13 <= d <= 19 for d in hidden]], dtype=float)
    day_9 = (hidden == 9).astype(float)
    weights, *_ = np.linalg.lstsq(totals.T, day_9, rcond=None)
    assert np.abs(totals.T @ weights - day_9).max() > 1e-6, "day 9 is a combination of the totals"


def _audit(parts: np.ndarray, totals: list, published: np.ndarray, hidden: np.ndarray) -> list[int]:
    """The small parts a reader can work out from the totals, the shown parts and the
    published ones, that the totals and the published parts alone would not give away."""
    system = np.array(totals, dtype=float)

    def determined(unknown, i):
        columns = np.flatnonzero(unknown)
        target = (columns == i).astype(float)
        weights = np.linalg.lstsq(system[:, columns].T, target, rcond=None)[0]
        return np.abs(system[:, columns].T @ weights - target).max() < 1e-9

    return [int(i) for i in np.flatnonzero(hidden & ~published)
            if parts[i] < K and determined(hidden & ~published, i) and not determined(~published, i)]


def test_a_small_day_is_not_given_away_through_a_total_that_does_not_hold_it():
    # Released on a Sunday: day 1 (8 profiles) is hidden, and with it the 1-day window;
    # the 7-day window is days 1-7 and the Top 10 week Monday-Sunday days 2-8. Hiding
    # days inside the 7-day window cannot help (each is in both totals), but with day 8
    # shown, the window minus the week plus day 8 is day 1.
    release = D("2024-03-03")
    profiles, hours = [8, 12, 20, 3, 8, 12, 50, 12, 50, 50], [5.0, 11, 19, 2, 6, 13, 40, 17, 45, 44]
    daily = pd.DataFrame({"programme_id": "A", "event_date": pd.date_range(release, periods=10),
                          "hours_viewed": hours, "plays": profiles, "unique_profiles": profiles})
    programmes = _programmes().assign(release_date=release)
    windows = pd.DataFrame({"programme_id": "A", "window_days": [1, 7], "is_window_complete": True,
                            "unique_profiles": [8, 90], "increment_profiles": [8, 85],
                            "hours_viewed": [5.0, sum(hours[:7])], "views": 1.0, "plays": [8, 90],
                            "starters": [8, 90], "watchers": [8, 90], "completers": [4, 45],
                            "completion_rate": 0.5, "avg_share_watched": 0.5})
    top10 = pd.DataFrame({"market": "GLOBAL", "programme_id": "A", "unique_profiles": [95],
                          "hours_viewed": [sum(hours[1:8])], "week_start_date": [D("2024-03-04")]})
    shown_windows = queries.release_windows(windows, "A", K)
    assert shown_windows["hours_viewed"].isna().tolist() == [True, False]
    out = queries.title_daily(daily, programmes, "A", K, windows=windows, top10=top10)
    hidden = is_suppressed(out, "hours_viewed").to_numpy()
    since = out["days_since_release"].to_numpy()
    assert hidden[since == 1].all() and hidden[since == 8].all(), "day 8 goes: it is in the week only"
    totals = [(since >= 1) & (since <= 7), (since >= 2) & (since <= 8)]
    assert _audit(np.array(profiles), totals, np.zeros(len(since), dtype=bool), hidden) == []


def test_no_small_hidden_day_is_a_combination_of_the_totals_and_the_shown_days():
    from slatehouse.dashboards.privacy import suppress_complement
    rng = np.random.default_rng(7)
    for trial in range(600):
        n = int(rng.integers(4, 30))
        profiles = rng.choice([0, 1, 3, 5, 8, 12, 20, 50], size=n, p=[.05, .1, .1, .1, .1, .2, .2, .15])
        days = suppress(pd.DataFrame({"p": profiles.astype(float), "h": rng.random(n)}), K, {"p": ["h"]})
        since = np.arange(1, n + 1)
        windows = [w for w in (1, 7, 28) if rng.random() < 0.7]
        totals, previous = [], 0
        for window in windows:  # the days between two shown windows
            if ((since > previous) & (since <= window)).any():
                totals.append((since > previous) & (since <= window))
            previous = window
        offset = int(rng.integers(0, 7))
        for start in range(-offset, n, 7):  # Top 10 weeks, overlapping the windows
            week = (since - 1 >= start) & (since - 1 < start + 7)
            if rng.random() < 0.6 and profiles[week].max() >= K:
                totals.append(week)
        if not totals:
            continue
        published = (since == 1) & (1 in windows)
        out = suppress_complement(days, "p", ["h"], totals, published)
        hidden = is_suppressed(out, "h").to_numpy()
        assert not _audit(profiles, totals, published, hidden), (trial, profiles.tolist(), windows, offset)


def test_season_funnel_and_where_people_drop():
    # Every two counts at least k apart (100, 90, 80, ... 20): none gives another away.
    funnel = pd.DataFrame({"season_id": ["S-S1"] * 4, "episode_number": [1, 2, 3, 4], "title_id": list("wxyz"),
                           "episode_1_starters": [100] * 4, "episode_starters": [100, 80, 50, 30],
                           "episode_completers": [90, 70, 40, 20], "share_started": [1.0, 0.8, 0.5, 0.3],
                           "share_completed": [0.9, 0.7, 0.4, 0.2], "season_completers": [8] * 4,
                           "binge_rate": [0.5] * 4, "median_days_to_complete": [3.0] * 4})
    out = queries.season_funnel(funnel, "S-S1", K)
    assert queries.biggest_drop(out) == {"episode_number": 3, "drop": pytest.approx(0.3),
                                         "share_before": 0.8, "share_after": 0.5}
    assert out["share_started"].notna().all() and out["share_completed"].notna().all()
    assert out["binge_rate"].isna().all(), "8 season completers: binge rate suppressed"
    # A share on a numerator below k is held back with it: 9 of 100 completed episode 4.
    funnel.loc[3, ["episode_completers", "share_completed"]] = [9, 0.09]
    out = queries.season_funnel(funnel, "S-S1", K)
    assert np.isnan(out.loc[3, "share_completed"]) and bool(out.loc[3, "episode_completers__suppressed"])
    assert out.loc[3, "share_started"] == 0.3 and out["share_completed"].notna().sum() == 3


def test_two_funnel_shares_never_differ_by_fewer_than_k_profiles():
    # 100 started episode 1, 95 episode 2: the shares 100 % and 95 % would say 5 profiles
    # stopped after episode 1. Completers: 80 of episode 1 beside 88 of episode 2, and 55
    # of episode 3's 60 starters (5 started it and did not finish).
    funnel = pd.DataFrame({"season_id": "S-S1", "episode_number": [1, 2, 3], "title_id": list("xyz"),
                           "episode_1_starters": 100, "episode_starters": [100, 95, 60],
                           "episode_completers": [80, 88, 55], "share_started": [1.0, 0.95, 0.6],
                           "share_completed": [0.8, 0.88, 0.55], "season_completers": 30,
                           "binge_rate": 0.5, "median_days_to_complete": 3.0})
    out = queries.season_funnel(funnel, "S-S1", K)

    def apart(counts):
        gaps = np.abs(np.subtract.outer(counts, counts))
        return not ((gaps > 0) & (gaps < K)).any()

    for column in ("episode_starters", "episode_completers"):  # each against the others and the 100
        assert apart(np.r_[100, out[column].dropna()]), column
    assert all(apart(np.array(pair)) for pair in out[["episode_starters", "episode_completers"]].dropna().to_numpy())
    assert out["share_started"].isna().tolist() == [False, True, False]  # 100 - 95
    assert out["share_completed"].isna().tolist() == [True, False, True]  # 8 from the 88 kept; 60 - 55
    assert is_suppressed(out, "episode_starters").tolist() == [False, True, False]
    assert out.loc[0, "share_started"] == 1.0 and out.loc[1, "share_completed"] == 0.88


def test_a_retention_point_is_held_back_with_the_profiles_who_reached_it():
    retention = pd.DataFrame({"title_id": ["w"] * 3, "progress_pct": [10, 50, 100], "starters": [30] * 3,
                              "starters_reached": [30, 20, 1], "share_reached": [1.0, 20 / 30, 1 / 30]})
    titles = pd.DataFrame({"title_id": ["w"], "programme_id": ["F"], "title_name": ["Film"],
                           "episode_number": [None]})
    out = queries.retention_curves(retention, titles, "F", K).set_index("progress_pct")
    # 30 starters are enough, but 3 % of them is one profile.
    assert out.loc[50, "share_reached"] == pytest.approx(20 / 30) and out.loc[10, "starters"] == 30
    assert np.isnan(out.loc[100, "share_reached"]) and bool(out.loc[100, "share_reached__suppressed"])
    assert np.isnan(out.loc[100, "starters_reached"])


def test_two_retention_points_never_differ_by_fewer_than_k_profiles():
    # Who reached 90 % reached 80 %: 50 % and 47 % of 100 starters are 3 who stopped between.
    retention = pd.DataFrame({"title_id": ["f"] * 5 + ["e"] * 2, "progress_pct": [10, 80, 90, 100, 50, 10, 50],
                              "starters": [100] * 5 + [40] * 2,
                              "starters_reached": [96, 50, 47, 40, 50, 40, 31]})
    retention["share_reached"] = retention["starters_reached"] / retention["starters"]
    titles = pd.DataFrame({"title_id": ["f", "e"], "programme_id": ["F", "F"], "title_name": ["Film", "Extra"],
                           "episode_number": [None, None]})
    out = queries.retention_curves(retention, titles, "F", K)
    for title, curve in out.groupby("title_id"):
        counts = np.r_[curve["starters"].iloc[0], curve["share_reached"].dropna() * curve["starters"].iloc[0]]
        gaps = np.abs(counts[:, None] - counts[None, :])
        assert not ((gaps > 1e-9) & (gaps < K)).any(), (title, counts)
    film = out[out["title_id"] == "f"].set_index("progress_pct")
    # 96 of 100 reached 10 %; 50 reached both 50 % and 80 % (nobody stopped between: shown).
    assert film["share_reached"].isna().to_dict() == {10: True, 50: False, 80: False, 90: True, 100: False}
    assert bool(film.loc[90, "starters_reached__suppressed"])
    # Each title is its own curve: 31 of the extra's 40 reached 50 % (9 stopped before).
    assert out.loc[out["title_id"] == "e", "share_reached"].isna().tolist() == [False, True]


def test_market_demand_is_suppressed_on_the_groups_profiles_and_offer_never_is():
    def row(group, programmes, hours, profiles):
        return dict(country="FR", month_start_date=D("2024-01-01"), breakdown="origin_group", group_value=group,
                    programmes_available=programmes, programme_share=programmes / 10, runtime_share=programmes / 10,
                    hours_viewed=hours, unique_profiles=profiles, demand_share=hours / 100,
                    demand_minus_offer_share=hours / 100 - programmes / 10)

    market = pd.DataFrame([row("rest_of_world", 1, 2.0, 3), row("us", 5, 60.0, 40), row("domestic", 3, 30.0, 10),
                           row("other_european", 1, 8.0, 0)])
    out = queries.market_shares(market, "FR", D("2024-01-01"), "origin_group", K).set_index("group_value")
    assert list(out.index) == ["domestic", "other_european", "us", "rest_of_world"]
    assert out.loc["us", "demand_share"] == 0.6 and out.loc["us", "hours_viewed"] == 60.0
    # rest_of_world (3 profiles) and other_european (0) are small; shown beside the others,
    # their sum (3 profiles' hours) would be 100 % minus the rest, so domestic (10, the
    # smallest shown) is held back with them.
    for group in ("rest_of_world", "other_european", "domestic"):
        assert np.isnan(out.loc[group, "demand_share"]) and bool(out.loc[group, "hours_viewed__suppressed"])
        assert np.isnan(out.loc[group, "demand_minus_offer_share"])
    assert out["programme_share"].notna().all() and out["runtime_share"].notna().all()


def test_one_hidden_demand_share_takes_the_next_smallest_with_it():
    def row(group, hours, profiles):
        return dict(country="CA", month_start_date=D("2024-01-01"), breakdown="origin_group", group_value=group,
                    programmes_available=2, programme_share=0.25, runtime_share=0.25, hours_viewed=hours,
                    unique_profiles=profiles, demand_share=hours / 100, demand_minus_offer_share=hours / 100 - 0.25)

    market = pd.DataFrame([row("domestic", 8.6, 4), row("other_european", 23.4, 30), row("us", 37.5, 60),
                           row("rest_of_world", 30.5, 45)])
    out = queries.market_shares(market, "CA", D("2024-01-01"), "origin_group", K).set_index("group_value")
    # Alone, domestic would be 100 % minus the three shown shares; other_european (30
    # profiles, the smallest of the rest) is held back with it.
    hidden = out.index[out["demand_share"].isna()].tolist()
    assert hidden == ["domestic", "other_european"]
    assert out.loc["other_european", "demand_share__suppressed"] and out.loc["other_european", "hours_viewed__suppressed"]
    assert np.isnan(out.loc["other_european", "demand_minus_offer_share"])
    assert out.loc["us", "demand_share"] == pytest.approx(0.375) and out["programme_share"].notna().all()
    # Two small groups (4 and 5 profiles): their sum rests on 9 profiles at most, so the
    # smallest shown group (45) is held back with them. None hidden: all shown.
    market.loc[1, "unique_profiles"] = 5
    out = queries.market_shares(market, "CA", D("2024-01-01"), "origin_group", K).set_index("group_value")
    assert out.index[out["demand_share"].isna()].tolist() == ["domestic", "other_european", "rest_of_world"]
    market["unique_profiles"] = 50
    assert queries.market_shares(market, "CA", D("2024-01-01"), "origin_group", K)["demand_share"].notna().all()


def test_a_completion_rate_is_held_back_with_its_completers():
    windows = pd.DataFrame({"programme_id": ["A"] * 2, "window_days": [7, 28], "is_window_complete": True,
                            "unique_profiles": [20, 30], "increment_profiles": [20, 25],
                            "hours_viewed": [10.0, 20.0], "views": [5.0, 10.0], "plays": [30, 50],
                            "starters": [12, 25], "watchers": [10, 20], "completers": [3, 12],
                            "completion_rate": [0.25, 0.48], "avg_share_watched": [0.4, 0.5]})
    out = queries.release_windows(windows, "A", K)
    # 12 starters at 25 % would say 3 completers: the rate goes with them.
    assert np.isnan(out.loc[0, "completers"]) and np.isnan(out.loc[0, "completion_rate"])
    assert bool(out.loc[0, "completion_rate__suppressed"]) and out.loc[0, "starters"] == 12
    assert out.loc[1, "completion_rate"] == 0.48 and out.loc[1, "completers"] == 12


def _nested_windows(**columns) -> pd.DataFrame:
    base = {"programme_id": "P", "window_days": [1, 7, 28, 91], "is_window_complete": True,
            "unique_profiles": [30, 34, 60, 61], "increment_profiles": [30, 6, 40, 3],
            "hours_viewed": [10.0, 12.0, 30.0, 31.0], "views": [5.0, 6.0, 15.0, 15.5], "plays": [40, 46, 90, 93],
            "starters": [20, 22, 45, 45], "watchers": [15, 15, 35, 35], "completers": [10, 10, 30, 30],
            "completion_rate": [0.5, 10 / 22, 30 / 45, 30 / 45], "avg_share_watched": [0.4, 0.45, 0.6, 0.6]}
    return pd.DataFrame({**base, **columns})


def test_a_window_beside_a_smaller_one_is_held_back_when_their_difference_is_small():
    out = queries.release_windows(_nested_windows(), "P", K)
    # 7 days minus 1 day: the hours of days 2-7 rest on 6 profiles; 91 minus 28 on 3.
    assert is_suppressed(out, "hours_viewed").tolist() == [False, True, False, True]
    assert out["views"].isna().tolist() == [False, True, False, True]
    assert out["avg_share_watched"].isna().tolist() == [False, True, False, True]
    # 28 days minus 1 day rests on days 2-28's profiles: at least the 40 of days 8-28.
    assert out.loc[2, "hours_viewed"] == 30.0
    # A difference of two counts is a count: 34 - 30 = 4 new profiles, 22 - 20 = 2 starters
    # (and their rate, which would give them back); 45 - 45 = 0 gives nobody away.
    assert out["unique_profiles"].isna().tolist() == [False, True, False, True]
    assert out["starters"].isna().tolist() == [False, True, False, False]
    assert out["completion_rate"].isna().tolist() == [False, True, False, False]
    assert out["completers"].notna().all()  # 10, 10 (+0), 30 (+20), 30 (+0)
    # Nothing new on days 8-28 (no profile): the 28-day window is the 7-day one, shown.
    quiet = queries.release_windows(_nested_windows(
        unique_profiles=[30, 40, 40, 41], increment_profiles=[30, 12, 0, 2], starters=[20, 30, 30, 30],
        hours_viewed=[10.0, 20.0, 20.0, 20.5]), "P", K)
    assert is_suppressed(quiet, "hours_viewed").tolist() == [False, False, False, True]
    # An unknown increment is small; days 2-28 still rest on the 40 of days 8-28.
    unknown = queries.release_windows(_nested_windows(increment_profiles=[30, None, 40, 12]), "P", K)
    assert is_suppressed(unknown, "hours_viewed").tolist() == [False, True, False, False]


def test_a_28_day_actual_suppressed_beside_its_7_day_window_stays_suppressed_everywhere():
    windows = _nested_windows(increment_profiles=[30, 12, 4, 20])  # days 8-28: 4 profiles
    assert queries.views_profiles(windows, K).isna().to_dict() == {"P": True}
    comparables = forecasting.suppressed_comparables([{"title_id": "P", "actual": 15.0}], windows, K)
    assert comparables["actual"].isna().all() and is_suppressed(comparables, "actual").all()
    shown = forecasting.suppressed_comparables([{"title_id": "P", "actual": 15.0}],
                                               _nested_windows(increment_profiles=[30, 12, 40, 20]), K)
    assert shown["actual"].tolist() == [15.0]


def test_a_window_is_complete_open_or_before_the_data():
    def windows(pid, complete):
        return pd.DataFrame({"programme_id": pid, "window_days": [1, 7, 28, 91], "is_window_complete": complete,
                             "unique_profiles": 50, "increment_profiles": 50, "hours_viewed": 1.0, "views": 1.0,
                             "plays": 60, "starters": 40,
                             "watchers": 30, "completers": 20, "completion_rate": 0.5, "avg_share_watched": 0.6})

    frame = pd.concat([windows("new", [True, True, False, False]), windows("library", [False] * 4)])
    assert queries.release_windows(frame, "new", K)["window_state"].tolist() == ["complete", "complete", "open", "open"]
    assert set(queries.release_windows(frame, "library", K)["window_state"]) == {queries.WINDOW_BEFORE_DATA}


def test_genre_weekly_suppresses_volumes_on_profiles_and_tiers_on_distinct_profiles():
    # horror: one profile finished twelve films, so the sums say 12 starters and 12
    # completers; its distinct starters (1) are what the threshold applies to.
    genres = pd.DataFrame({"genre": ["drama", "comedy", "horror"], "week_start_date": [D("2024-01-01")] * 3,
                           "hours_viewed": [50.0, 2.0, 12.0], "views": [25.0, 1.0, 12.0],
                           "share_of_hours": [0.78, 0.03, 0.19], "unique_profiles": [40, 6, 1],
                           "starters": [30, 5, 12], "completers": [12, 1, 12],
                           "starter_profiles": [25, 5, 1], "completer_profiles": [4, 1, 1],
                           "completion_rate": [0.4, 0.2, 1.0]})
    out = queries.genre_weekly(genres, K).set_index("genre")
    assert out.loc["drama", "hours_viewed"] == 50.0 and out.loc["drama", "starters"] == 30
    assert np.isnan(out.loc["drama", "completion_rate"]) and np.isnan(out.loc["drama", "completers"])
    assert out.loc["comedy", "hours_viewed__suppressed"] and np.isnan(out.loc["comedy", "share_of_hours"])
    for column in ("hours_viewed", "starters", "completers", "completion_rate"):
        assert out.loc["horror", f"{column}__suppressed"] and np.isnan(out.loc["horror", column]), column


def test_talent_record_against_the_genre_median():
    training = pd.DataFrame({
        "programme_id": ["A", "B", "C", "D"], "programme_name": ["Alpha", "Beta", "Gamma", "Delta"],
        "release_date": [D("2024-01-01"), D("2024-02-01"), D("2024-03-01"), D("2024-03-02")],
        "genres": [["drama"], ["drama", "crime"], ["drama"], ["comedy"]],
        "talent": [[{"talent_id": "T1", "role": "director"}], [{"talent_id": "T1", "role": "director"}],
                   [{"talent_id": "T2", "role": "actor"}], [{"talent_id": "T1", "role": "actor"}]],
        "views_28d": [10.0, 30.0, 50.0, 7.0], "is_window_complete": [True, True, True, False],
    })
    windows = pd.DataFrame({"programme_id": list("ABCDAD"), "window_days": [28] * 4 + [1, 1],
                            "is_window_complete": [True, True, True, False, True, False],
                            "unique_profiles": [40, 80, 120, 5, 30, 1]})
    profiles = windows["unique_profiles"]
    windows = windows.assign(increment_profiles=profiles, hours_viewed=1.0, views=1.0, plays=profiles,
                             starters=profiles, watchers=profiles, completers=profiles, completion_rate=1.0,
                             avg_share_watched=0.5)
    medians = queries.genre_medians(training, windows, K).set_index("genre")
    assert medians.loc["drama", "genre_median_views_28d"] == 30.0
    programmes = queries.talent_programmes(training, windows, medians.reset_index(), "T1", K)
    assert programmes["programme_id"].tolist() == ["A", "B", "D"]
    assert programmes["genre_median_views_28d"].tolist()[:2] == [30.0, 30.0]
    assert np.isnan(programmes.loc[2, "views_28d"]), "5 profiles: suppressed"
    # A's 1-day window is complete; D's is not, so D came out before the data began.
    assert programmes["window_state"].tolist() == ["complete", "complete", queries.WINDOW_BEFORE_DATA]
    track = pd.DataFrame({"talent_id": ["T1", "T1"], "talent_name": ["Ada", "Ada"], "role": ["director", "actor"],
                          "programmes": [2, 1], "programmes_with_complete_28d": [2, 0],
                          "median_views_28d": [20.0, None], "mean_views_28d": [20.0, None],
                          "completion_rate_28d": [0.4, None],
                          "genre_mix": [[{"genre": "drama", "programmes": 2}], [{"genre": "comedy", "programmes": 1}]]})
    summary = queries.talent_summary(track, programmes, medians.reset_index(), "T1", K).set_index("role")
    assert summary.loc["director", "median_views_28d"] == 20.0
    assert summary.loc["director", "genre_median_views_28d"] == 30.0
    assert bool(summary.loc["actor", "median_views_28d__suppressed"])
    # One of the director's two programmes hidden: 2 x the mean - the other's 30 would be it.
    windows.loc[0, "unique_profiles"] = 6
    programmes = queries.talent_programmes(training, windows, medians.reset_index(), "T1", K)
    summary = queries.talent_summary(track, programmes, medians.reset_index(), "T1", K).set_index("role")
    assert np.isnan(summary.loc["director", "mean_views_28d"]) and bool(summary.loc["director", "median_views_28d__suppressed"])


def _talent_marts(profiles: dict[str, int], completers: dict[str, int] | None = None, genres=None):
    """Training rows and 28-day windows of one-window films, all directed by T1."""
    ids = list(profiles)
    training = pd.DataFrame({
        "programme_id": ids, "programme_name": ids, "release_date": D("2024-01-01"),
        "genres": genres or [["horror"]] * len(ids),
        "talent": [[{"talent_id": "T1", "role": "director"}]] * len(ids),
        "views_28d": [float(profiles[p]) for p in ids], "is_window_complete": True})
    n = np.array([profiles[p] for p in ids])
    done = np.array([(completers or {}).get(p, n[i] // 2) for i, p in enumerate(ids)])
    windows = pd.DataFrame({"programme_id": ids, "window_days": 28, "is_window_complete": True,
                            "unique_profiles": n, "increment_profiles": n, "hours_viewed": 2.0 * n,
                            "views": n.astype(float), "plays": n, "starters": n, "watchers": n,
                            "completers": done, "completion_rate": done / n, "avg_share_watched": 0.5})
    return training, windows


def test_a_genre_median_is_shown_only_when_each_of_its_programmes_is():
    # BIG (500 views) and SMALL (3 profiles): their median, 251.5, is (500 + SMALL) / 2.
    training, windows = _talent_marts({"BIG": 500, "SMALL": 3})
    medians = queries.genre_medians(training, windows, K).set_index("genre")
    assert np.isnan(medians.loc["horror", "genre_median_views_28d"])
    assert bool(medians.loc["horror", "genre_median_views_28d__suppressed"])
    programmes = queries.talent_programmes(training, windows, medians.reset_index(), "T1", K)
    assert programmes["genre_median_views_28d"].isna().all()
    training, windows = _talent_marts({"BIG": 500, "MID": 40, "LOW": 12})
    assert queries.genre_medians(training, windows, K).loc[0, "genre_median_views_28d"] == 40.0


def test_a_genre_with_no_median_is_not_labelled_suppressed():
    training, windows = _talent_marts({"A": 50, "B": 60}, genres=[["western"], ["horror"]])
    training.loc[0, "is_window_complete"] = False  # the western has no complete programme
    medians = queries.genre_medians(training, windows, K)
    programmes = queries.talent_programmes(training, windows, medians, "T1", K).set_index("programme_id")
    assert np.isnan(programmes.loc["A", "genre_median_views_28d"])
    assert programmes["genre_median_views_28d__suppressed"].tolist() == [False, False]
    track = pd.DataFrame({"talent_id": ["T1"], "talent_name": ["Ada"], "role": ["director"], "programmes": [2],
                          "programmes_with_complete_28d": [1], "median_views_28d": [60.0],
                          "mean_views_28d": [60.0], "completion_rate_28d": [0.5],
                          "genre_mix": [[{"genre": "western", "programmes": 1}]]})
    summary = queries.talent_summary(track, programmes.reset_index(), medians, "T1", K)
    assert summary["genre_median_views_28d__suppressed"].tolist() == [False]
    from slatehouse.dashboards import components
    cells = str(components.table(summary, [("genre_median_views_28d", "Genre median", components.ONE)]))
    assert SUPPRESSED_TEXT not in cells


def test_a_roles_completion_rate_is_held_back_with_a_programmes_hidden_completers():
    # A: 20 starters, 3 completers (hidden on the Title page, the 20 starters shown); B: 20
    # and 10. The pooled 13 / 40 times 40, minus B's 10, would be A's 3.
    training, windows = _talent_marts({"A": 25, "B": 25}, completers={"A": 3, "B": 10})
    windows["starters"] = windows["watchers"] = 20
    windows["completion_rate"] = windows["completers"] / 20
    title_a = queries.release_windows(windows, "A", K)
    assert title_a.loc[0, "starters"] == 20 and is_suppressed(title_a, "completers").all()
    medians = queries.genre_medians(training, windows, K)
    programmes = queries.talent_programmes(training, windows, medians, "T1", K)
    track = pd.DataFrame({"talent_id": ["T1"], "talent_name": ["Ada"], "role": ["director"], "programmes": [2],
                          "programmes_with_complete_28d": [2], "median_views_28d": [25.0],
                          "mean_views_28d": [25.0], "completion_rate_28d": [13 / 40],
                          "genre_mix": [[{"genre": "horror", "programmes": 2}]]})
    summary = queries.talent_summary(track, programmes, medians, "T1", K)
    assert np.isnan(summary.loc[0, "completion_rate_28d"]) and bool(summary.loc[0, "completion_rate_28d__suppressed"])
    assert summary.loc[0, "median_views_28d"] == 25.0, "the views are all shown"
    windows.loc[0, ["completers", "completion_rate"]] = [12, 12 / 20]
    programmes = queries.talent_programmes(training, windows, medians, "T1", K)
    track["completion_rate_28d"] = 22 / 40
    assert queries.talent_summary(track, programmes, medians, "T1", K).loc[0, "completion_rate_28d"] == 22 / 40


def test_a_long_career_is_charted_by_its_latest_programmes():
    n = figures.TALENT_FIGURE_ROWS + 15
    days = pd.date_range("2022-01-01", periods=n, freq="W")
    programmes = pd.DataFrame({
        "programme_id": [f"P{i}" for i in range(n)], "programme_name": [f"Show {i}" for i in range(n)],
        "release_date": days[::-1], "views_28d": np.arange(n, dtype=float), "is_window_complete": True,
        "genre_median_views_28d": 10.0, "primary_genre": "drama",
    })
    figure = figures.talent_figure(programmes, K)
    bars = figure.data[0]
    assert len(bars.y) == figures.TALENT_FIGURE_ROWS
    assert bars.y[0] == f"Show {figures.TALENT_FIGURE_ROWS - 1} (2022)" and bars.y[-1] == "Show 0 (2022)"
    assert f"latest {figures.TALENT_FIGURE_ROWS} of {n}" in figure.layout.title.text
    assert "latest" not in figures.talent_figure(programmes.head(5), K).layout.title.text


def test_training_history_follows_the_pipelines_rules():
    training = pd.DataFrame({
        "programme_id": ["old", "film", "season", "open"], "format": ["film", "film", "series", "film"],
        "release_date": [D("2023-06-01"), D("2024-01-02"), D("2024-01-03"), D("2024-03-01")],
        "genres": [["drama"]] * 4, "talent": [[{"talent_id": "T1", "role": "director"}]] * 4,
        "runtime_minutes": [90.0, 100.0, 400.0, 90.0], "episodes": [1, 1, 8, 1],
        "original_language": ["en"] * 4, "origin_country": ["US"] * 4,
        "views_28d": [5.0, 6.0, 7.0, 8.0], "is_window_complete": [True, True, True, False],
    })
    history = forecast.history_from_training_mart(training, data_from=D("2024-01-01"))
    assert history["title_id"].tolist() == ["film", "season"]
    assert history["runtime_minutes"].tolist() == [100.0, 50.0]  # per episode, as pitches give it


# --- the warehouse: layout, cache, names ---------------------------------------------------------

def test_table_uri_is_sparks_managed_table_layout(tmp_path):
    settings = Settings(home=tmp_path, warehouse_dir=str(tmp_path / "warehouse"))
    assert table_uri(settings, "marts.fct_title_daily") == f"{tmp_path}/warehouse/marts.db/fct_title_daily"


def test_reader_caches_until_the_delta_version_changes(tmp_path):
    settings = Settings(home=tmp_path, warehouse_dir=str(tmp_path / "warehouse"))
    path = table_uri(settings, "marts.dim_genre")
    write_deltalake(path, pa.table({"genre": ["drama"], "titles": [3], "programmes": [2]}))
    reader = MartReader(settings)
    first = reader.read("marts.dim_genre")
    assert reader.read("marts.dim_genre") is first, "unchanged table: served from the cache"
    built = []
    derived = reader.derived("n", ["marts.dim_genre"], lambda g: built.append(1) or len(g))
    write_deltalake(path, pa.table({"genre": ["comedy"], "titles": [1], "programmes": [1]}), mode="append")
    second = reader.read("marts.dim_genre")
    assert sorted(second["genre"]) == ["comedy", "drama"]
    assert derived == 1 and reader.derived("n", ["marts.dim_genre"], lambda g: built.append(1) or len(g)) == 2
    assert len(built) == 2
    assert not reader.exists("marts.fct_missing")


def _dbt_columns() -> dict[str, list[str]]:
    columns = {}
    for path in MARTS_DIR.rglob("_*__models.yml"):
        for model in yaml.safe_load(path.read_text()).get("models", []):
            columns[model["name"]] = [c["name"] for c in model.get("columns", [])]
    return columns


def test_dashboard_columns_exist_in_the_dbt_models():
    documented = _dbt_columns()
    for table, columns in MART_COLUMNS.items():
        name = table.split(".")[1]
        assert name in documented, f"{table}: no dbt model documents it"
        missing = [c for c in columns if c not in documented[name]]
        assert not missing, f"{table}: the dashboards read {missing}, which the dbt model does not document"


def test_sample_warehouse_has_the_dbt_models_columns():
    documented = _dbt_columns()
    for name, schema in SCHEMAS.items():
        assert set(schema.names) == set(documented[name]), f"{name}: sample {schema.names} vs dbt {documented[name]}"


# --- over a sample warehouse: forecasts and reports ----------------------------------------------

@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    root = tmp_path_factory.mktemp("dash-data")
    write_sample_warehouse(root / "warehouse")
    settings = Settings(home=root, warehouse_dir=str(root / "warehouse"), min_audience=K)
    return settings, MartReader(settings)


@pytest.mark.parametrize(("content", "inputs", "table"), [
    ("title-content", {"title-programme": TINY_PROGRAMME}, "marts.fct_title_retention"),
    ("talent-content", {"talent-person": "T00001"}, "marts.fct_talent_track_record"),
])
def test_a_missing_mart_in_a_pages_content_is_named_not_a_server_error(tmp_path, content, inputs, table):
    from slatehouse.dashboards.app import create_app

    write_sample_warehouse(tmp_path / "warehouse", skip=(table.split(".")[1],))
    app = create_app(Settings(home=tmp_path, warehouse_dir=str(tmp_path / "warehouse"), min_audience=K))
    client = app.server.test_client()
    assert client.get("/").status_code == 200
    reply = client.post("/_dash-update-component", json={
        "output": f"{content}.children", "outputs": {"id": content, "property": "children"},
        "inputs": [{"id": key, "property": "value", "value": value} for key, value in inputs.items()],
        "changedPropIds": [f"{key}.value" for key in inputs], "state": []})
    assert reply.status_code == 200, reply.get_data(as_text=True)[-500:]
    assert f"{table}: no Delta table" in reply.get_data(as_text=True)


def test_the_missing_mart_guard_replies_in_the_shape_each_callback_declares():
    """A list of outputs gets a list, an `output=` keyword its one value; a pattern-matching
    output, which needs a list per output, is not guarded (the error goes on)."""
    from dash import ALL, Dash, Input, Output, html

    from slatehouse.dashboards.app import _MissingMartsSaySo
    from slatehouse.dashboards.data import MissingTableError

    app = Dash(__name__)
    app.layout = html.Div([html.Div(id="a"), html.Div(id="b"), html.Div(id={"n": 1}), html.Button(id="go")])
    guard = _MissingMartsSaySo(app)

    def missing(_):
        raise MissingTableError("marts.fct_x: no Delta table")

    guard.callback([Output("a", "children")], Input("go", "n_clicks"))(missing)
    guard.callback(output=Output("b", "children"), inputs=Input("go", "title"))(missing)
    guard.callback(Output({"n": ALL}, "children"), Input("go", "className"))(missing)
    app.server.config["PROPAGATE_EXCEPTIONS"] = True  # an error not replied to reaches the test
    client = app.server.test_client()
    assert client.get("/").status_code == 200

    def post(output, outputs, prop):
        return client.post("/_dash-update-component", json={
            "output": output, "outputs": outputs, "changedPropIds": [f"go.{prop}"], "state": [],
            "inputs": [{"id": "go", "property": prop, "value": 1}]})

    listed = post("..a.children..", [{"id": "a", "property": "children"}], "n_clicks")
    assert listed.status_code == 200 and "marts.fct_x: no Delta table" in listed.get_data(as_text=True)
    assert isinstance(listed.get_json()["response"]["a"]["children"], dict)
    keyword = post("b.children", {"id": "b", "property": "children"}, "title")
    assert keyword.status_code == 200 and "marts.fct_x: no Delta table" in keyword.get_data(as_text=True)
    with pytest.raises(MissingTableError):
        post('{"n":["ALL"]}.children', [{"id": {"n": 1}, "property": "children"}], "className")


def test_a_pitch_gets_a_forecast_with_interval_comparables_and_explanation(sample):
    settings, reader = sample
    pitch = greenlight.pitch_from_form("series", ["drama", "crime"], 6, 45, "en", "GB", "2024-09-01",
                                       {"director": ["T00001"], "actor": ["T00002", "T00003"]})
    talent = reader.read("marts.dim_talent")
    result = forecasting.forecast_pitch(forecasting.demand_model(reader), pitch, reader.read("marts.dim_programme"),
                                        reader.read("marts.fct_title_release_windows"), K, talent=talent)
    assert 0 < result["p10"] <= result["point"] <= result["p90"]
    # People are named in the explanation, with their role.
    people = result["explanation"].loc[result["explanation"]["component"] == "talent", "feature"].tolist()
    name = talent.set_index("talent_id")["talent_name"]["T00001"]
    assert f"{name} (director)" in people and not any(p.startswith("T0") for p in people)
    assert len(result["comparables"]) == 5 and result["comparables"]["programme_name"].notna().all()
    assert result["explanation"]["contribution"].sum() == pytest.approx(np.log1p(result["point"]), rel=1e-6)
    assert forecasting.demand_model(reader) is forecasting.demand_model(reader), "fitted once, then cached"
    assert result["held_to_range"] == []
    extreme = greenlight.pitch_from_form("film", ["drama"], None, 0.5, "en", "GB", None, {})
    held = forecasting.forecast_pitch(forecasting.demand_model(reader), extreme, reader.read("marts.dim_programme"),
                                      reader.read("marts.fct_title_release_windows"), K, talent=talent)
    assert [note.split(" outside")[0] for note in held["held_to_range"]] == ["runtime_minutes 0.5"]


def test_the_pitch_form_bills_actors_in_order_and_states_its_release_plan(sample):
    settings, reader = sample
    history = forecasting.history(reader)
    assert history["release_availability_share"].between(0, 1).all()
    assert (history["release_availability_share"] < 1).any()
    assert any(c.get("billing_order") == 1 for credits in history["talent"] for c in credits)
    talent = {"director": ["T00001"], "actor": ["T00002", "T00003"]}
    form = ("film", ["drama"], None, 100, "en", "US", None, talent)
    everywhere, some_markets, unknown = (greenlight.pitch_from_form(*form, share) for share in (100, 25, None))
    assert everywhere.credits() == [
        {"talent_id": "T00001", "role": "director"},
        {"talent_id": "T00002", "role": "actor", "billing_order": 1},
        {"talent_id": "T00003", "role": "actor", "billing_order": 2}]
    assert (everywhere.availability_share, some_markets.availability_share, unknown.availability_share) == (1.0, 0.25, None)
    model = forecasting.demand_model(reader)
    explained = {p: model.explain(pitch.frame()).set_index("feature")["contribution"]
                 for p, pitch in (("all", everywhere), ("some", some_markets))}
    term = [f for f in explained["all"].index if "availability" in f]
    assert term, "the release plan reaches the model"
    assert explained["all"][term[0]] != explained["some"][term[0]]


def test_the_pitch_form_can_pitch_a_returning_shows_next_season(sample):
    settings, reader = sample
    history = forecasting.history(reader)
    options = forecasting.form_options(reader.read("marts.fct_title_training"), reader.read("marts.dim_talent"),
                                       reader.read("marts.dim_genre"), reader.read("marts.dim_programme"), history)
    # The shows the model has seen: a season released before the data began is not one.
    assert {o["value"] for o in options["shows"]} == set(history["show_id"].dropna())
    assert len(options["shows"]) < reader.read("marts.fct_title_training")["show_id"].nunique()
    assert all(" so far)" in o["label"] and o["label"] != o["value"] for o in options["shows"])  # named
    show = history.dropna(subset=["show_id"]).iloc[0]["show_id"]
    form = ("series", ["drama"], 6, 45, "en", "GB", None, {})
    returning, new = (greenlight.pitch_from_form(*form, 100, s) for s in (show, None))
    model = forecasting.demand_model(reader)
    explained = model.explain(returning.frame())
    assert explained.loc[explained["component"] == "show", "feature"].tolist() == [show]
    assert "show" not in set(model.explain(new.frame())["component"])
    # A film is nobody's next season: the form ignores a show picked for one.
    assert greenlight.pitch_from_form("film", ["drama"], None, 100, "en", "GB", None, {}, 100, show).show_id is None


@pytest.mark.parametrize(("release", "reach", "message"), [
    (None, 150, "reach at release is a percentage from 0 to 100, not 150"),
    ("2026-02-31", 100, "planned release '2026-02-31' is not a date"),
])
def test_the_pitch_form_refuses_what_it_cannot_mean_in_its_own_words(release, reach, message):
    from slatehouse.forecast import ForecastInputError

    with pytest.raises(ForecastInputError, match=re.escape(message)):
        greenlight.pitch_from_form("film", ["drama"], None, 100, "en", "GB", release, {}, reach)


def test_options_that_share_a_name_read_apart():
    talent = pd.DataFrame({"talent_id": ["T1", "T2", "T3"], "talent_name": ["Clara Bernard", "Clara Bernard", "Ana Rossi"],
                           "roles": [["actor"], ["actor"], ["director"]], "programmes_credited": [3, 1, 2]})
    labels = [o["label"] for o in queries.talent_options(talent)]
    assert labels == ["Ana Rossi (director)", "Clara Bernard (actor) · T1", "Clara Bernard (actor) · T2"]
    programmes = pd.DataFrame({"programme_id": ["F1", "F2"], "programme_name": ["Blue Engine", "Blue Engine"],
                               "programme_type": ["film", "film"], "release_date": [D("2021-03-01"), D("2025-06-01")]})
    assert [o["label"] for o in queries.programme_options(programmes)] == [
        "Blue Engine (film) · 2021, F1", "Blue Engine (film) · 2025, F2"]
    actors = forecasting.form_options(pd.DataFrame({"format": ["film"], "runtime_minutes": [90.0],
                                                    "original_language": ["en"], "origin_country": ["US"]}),
                                      talent, pd.DataFrame({"genre": ["drama"]}))["talent"]["actor"]
    assert [o["label"] for o in actors] == ["Clara Bernard · T1", "Clara Bernard · T2"]


def test_reports_are_self_contained_and_suppress_small_cells(sample):
    settings, reader = sample
    paths = write_reports(settings, date(2024, 3, 31))
    assert [p.name for p in paths] == ["top10_weekly.html", "title_performance.html", "slate_forecast.html"]
    assert all(p.parent == settings.reports_dir / "2024-03-31" for p in paths)
    for path in paths:
        text = path.read_text()
        assert "plotly.js v" in text, f"{path.name}: plotly.js is not embedded"
        assert not re.search(r"<script[^>]+src=['\"]?https?:", text), f"{path.name}: loads a script from the network"
    top10 = paths[0].read_text()
    lists = queries.top10_lists(reader.read("marts.fct_top10_weekly"), reader.read("marts.dim_programme"),
                                "GLOBAL", D("2024-03-25"), K)
    expected = int(lists["views__suppressed"].sum() + lists["hours_viewed__suppressed"].sum())
    assert expected > 0, "the sample's week should have small cells"
    assert top10.count(f">{SUPPRESSED_TEXT}</td>") == expected


def test_the_tiny_title_is_never_shown_as_a_number(sample):
    settings, reader = sample
    windows = queries.release_windows(reader.read("marts.fct_title_release_windows"), TINY_PROGRAMME, K)
    assert len(windows) == 4
    shown = windows[["hours_viewed", "views", "unique_profiles", "starters", "completion_rate"]]
    assert shown.isna().all().all()


def test_reader_turns_spark_decimals_into_floats(tmp_path):
    settings = Settings(home=tmp_path, warehouse_dir=str(tmp_path / "warehouse"))
    from decimal import Decimal

    write_deltalake(table_uri(settings, "marts.t"),
                    pa.table({"runtime_share": pa.array([Decimal("0.27272724793")], pa.decimal128(38, 11))}))
    frame = MartReader(settings).read("marts.t")
    assert frame["runtime_share"].dtype == np.float64


def test_an_object_store_warehouse_is_read_with_sparks_s3a_settings(tmp_path):
    from slatehouse.dashboards.data import storage_options
    from slatehouse.settings import Settings

    conf = {"spark.hadoop.fs.s3a.endpoint": "minio.internal:9000",
            "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
            "spark.hadoop.fs.s3a.access.key": "AK", "spark.hadoop.fs.s3a.secret.key": "SK",
            "spark.hadoop.fs.s3a.bucket.lake.endpoint.region": "eu-west-1",
            "spark.hadoop.fs.s3a.bucket.other.access.key": "NOT-OURS",
            "spark.sql.shuffle.partitions": "4"}
    s3 = Settings(home=tmp_path, warehouse_dir="s3a://lake/warehouse", spark_conf=conf)
    assert storage_options(s3) == {"AWS_ENDPOINT_URL": "http://minio.internal:9000", "AWS_ALLOW_HTTP": "true",
                                   "AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK",
                                   "AWS_REGION": "eu-west-1"}
    # On AWS itself nothing is set: delta-rs finds the role the way S3A does.
    assert storage_options(Settings(home=tmp_path, warehouse_dir="s3a://lake/warehouse")) == {}
    assert storage_options(Settings(home=tmp_path, spark_conf=conf)) == {}  # a local warehouse


@pytest.mark.parametrize(("report_date", "heading"), [
    (date(2024, 3, 31), "Week of 25 Mar 2024 – 31 Mar 2024."),  # a Sunday: that week is whole
    (date(2024, 3, 27), "Week of 18 Mar 2024 – 24 Mar 2024."),  # mid-week: the last whole week
    (date(2030, 1, 1), "Week of 25 Mar 2024 – 31 Mar 2024."),   # past the data: its last whole week
])
def test_a_report_shows_the_last_whole_week_by_its_date(sample, tmp_path, report_date, heading):
    settings, reader = sample
    paths = write_reports(settings.model_copy(update={"reports_dir": tmp_path}), report_date, reader)
    for path in paths[:2]:
        text = path.read_text()
        assert heading in text and "(so far" not in text, path.name
    assert "viewing through 2024-03-31" in paths[0].read_text()


def test_a_week_in_progress_is_labelled_so_in_a_report(sample, tmp_path):
    """Before any week has ended, the report shows the week in progress and says so."""
    settings, reader = sample
    first_week = queries.top10_weeks(reader.read("marts.fct_top10_weekly"))[-1]
    day = (first_week + pd.Timedelta(days=2)).date()
    text = write_reports(settings.model_copy(update={"reports_dir": tmp_path}), day, reader)[0].read_text()
    assert f"Week of {first_week:%d %b %Y}" in text and f"(so far: viewing through {day:%d %b %Y})" in text
