"""Oracle: generate -> ingest -> marts, against the marts recomputed in plain Python.

The landing files (a small generated dataset with late, duplicate and malformed events,
the shared `landing` fixture) are read a second time by tests/oracle.py, which shares no
code with the Spark jobs; the marts' definitions (docs/metrics.md) are then recomputed
here over its sessions. Counts must match exactly, floats within 1e-9 relative.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import pytest

import oracle
from slatehouse.ingest import ingest
from slatehouse.marts import build_marts

REL = 1e-9
WINDOWS = (1, 7, 28, 91)


@pytest.fixture(scope="module")
def built(spark, settings, landing):
    from conftest import WAREHOUSE_DATABASES

    for db in WAREHOUSE_DATABASES:
        spark.sql(f"drop database if exists {db} cascade")
    lnd = Path(settings.landing_dir)
    days = oracle.received_dates(lnd)
    ingest(spark, settings, days)
    event_dates = [r.event_date for r in spark.sql(
        "select distinct event_date from silver.playback_sessions").collect()]
    # Models only: test_marts.py runs the dbt tests; the box is shared.
    build_marts(spark, settings, min(event_dates), max(event_dates), count_rows=False,
                with_tests=False)
    return spark


@pytest.fixture(scope="module")
def truth(settings, landing):
    lnd = Path(settings.landing_dir)
    events, _, _ = oracle.accept_events(lnd, settings.require_pseudonym_key(), oracle.received_dates(lnd))
    sessions = list(oracle.sessions(events, oracle.runtimes(lnd)).values())
    titles = max(oracle.catalogue(lnd).items())[1]
    return sessions, titles


def _programmes(titles: dict) -> tuple[dict, dict]:
    """title_id -> programme_id, and programme_id -> {runtime_s, release_date, format, language}."""
    of_title, progs = {}, {}
    for t in titles.values():
        if t["title_type"] == "film":
            pid = t["title_id"]
        else:
            pid = f"{t['show_id']}-S{t['season_number']}"
        of_title[t["title_id"]] = pid
        p = progs.setdefault(pid, {"runtime_s": 0, "release_date": date.max,
                                   "format": "film" if t["title_type"] == "film" else "series",
                                   "language": t["original_language"]})
        p["runtime_s"] += t["runtime_s"]
        p["release_date"] = min(p["release_date"], date.fromisoformat(t["release_date"]))
    return of_title, progs


def _union(segments, runtime_s: float) -> tuple[float, float]:
    """(distinct seconds watched, contiguous progress from 0), clipped to the runtime."""
    total, contiguous, cur = 0.0, 0.0, None
    islands = []
    for s, e in sorted(segments):
        if e <= s:
            continue
        if cur is not None and s <= cur[1]:
            cur[1] = max(cur[1], e)
        else:
            cur = [s, e]
            islands.append(cur)
    for s, e in islands:
        total += max(min(e, runtime_s) - max(s, 0.0), 0.0)
        if s <= 0:
            contiguous = max(contiguous, min(e, runtime_s))
    return total, contiguous


def _tiers(play_s: float, content_s: float, runtime_s: float) -> tuple[bool, bool, bool]:
    starter = play_s >= 120
    return starter, starter and content_s >= 0.7 * runtime_s, starter and content_s >= 0.9 * runtime_s


def _close(a, b) -> bool:
    # abs_tol: silver's play times and the oracle's differ by float noise of a few
    # microseconds per session (1e-9 hours is 3.6 us), as in test_ingest_integration.
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=REL, abs_tol=1e-9)


def test_title_daily_matches_oracle(built, truth):
    sessions, titles = truth
    by_profile_title = defaultdict(list)
    for s in sessions:
        by_profile_title[(s["profile_id"], s["title_id"])].append(s)

    def status(profile, title, day):
        mine = [s for s in by_profile_title[(profile, title)] if s["event_date"] <= day]
        rt = titles[title]["runtime_s"]
        content, _ = _union([seg for s in mine for seg in s["watched_segments"]], rt)
        return _tiers(sum(s["play_time_s"] for s in mine), content, rt)

    cells = defaultdict(list)
    for s in sessions:
        cells[(s["title_id"], s["event_date"], s["country"], s["device_type"])].append(s)
    expected = {}
    for (title, day, country, device), ss in cells.items():
        profiles = {s["profile_id"] for s in ss}
        tiers = [status(p, title, day) for p in profiles]
        hours = sum(s["play_time_s"] for s in ss) / 3600
        expected[(title, day, country, device)] = (
            len(ss), hours, hours / (titles[title]["runtime_s"] / 3600), len(profiles),
            len({s["account_id"] for s in ss}),
            sum(t[0] for t in tiers), sum(t[1] for t in tiers), sum(t[2] for t in tiers),
        )
    got = {(r.title_id, r.event_date, r.country, r.device_type):
           (r.plays, r.hours_viewed, r.views, r.unique_profiles, r.unique_accounts,
            r.starters, r.watchers, r.completers)
           for r in built.table("marts.fct_title_daily").collect()}
    assert set(got) == set(expected)
    for key, want in expected.items():
        have = got[key]
        assert have[0] == want[0] and have[3:] == want[3:], (key, have, want)
        assert _close(have[1], want[1]) and _close(have[2], want[2]), (key, have, want)


def test_release_windows_match_oracle(built, truth):
    sessions, titles = truth
    of_title, progs = _programmes(titles)
    through = max(s["event_date"] for s in sessions)
    by_prog = defaultdict(list)
    for s in sessions:
        by_prog[of_title[s["title_id"]]].append(s)
    got = {(r.programme_id, r.window_days): r for r in built.table("marts.fct_title_release_windows").collect()}
    expected_keys = {(pid, n) for pid, p in progs.items() if p["release_date"] <= through for n in WINDOWS}
    assert set(got) == expected_keys
    for (pid, n), row in got.items():
        p = progs[pid]
        end = p["release_date"] + timedelta(days=n - 1)
        assert row.window_end_date == end and row.is_window_complete == (end <= through)
        in_window = [s for s in by_prog[pid] if p["release_date"] <= s["event_date"] <= end]
        hours = sum(s["play_time_s"] for s in in_window) / 3600
        assert _close(row.hours_viewed, hours) and _close(row.views, hours / (p["runtime_s"] / 3600))
        assert row.plays == len(in_window)
        assert row.unique_profiles == len({s["profile_id"] for s in in_window})
        assert row.unique_accounts == len({s["account_id"] for s in in_window})
        tiers, shares = [], []
        for profile in {s["profile_id"] for s in in_window}:
            upto = [s for s in by_prog[pid] if s["profile_id"] == profile and s["event_date"] <= end]
            content = 0.0
            for title in {s["title_id"] for s in upto}:
                content += _union([g for s in upto if s["title_id"] == title for g in s["watched_segments"]],
                                  titles[title]["runtime_s"])[0]
            t = _tiers(sum(s["play_time_s"] for s in upto), content, p["runtime_s"])
            tiers.append(t)
            if t[0]:
                shares.append(min(content / p["runtime_s"], 1.0))
        starters, watchers, completers = (sum(t[i] for t in tiers) for i in range(3))
        assert (row.starters, row.watchers, row.completers) == (starters, watchers, completers), (pid, n)
        assert _close(row.completion_rate, completers / starters if starters else None)
        assert _close(row.avg_share_watched, sum(shares) / len(shares) if shares else None)


def test_top10_global_matches_oracle(built, truth):
    sessions, titles = truth
    of_title, progs = _programmes(titles)
    hours = defaultdict(float)
    for s in sessions:
        week = s["event_date"] - timedelta(days=s["event_date"].weekday())
        hours[(week, of_title[s["title_id"]])] += s["play_time_s"] / 3600
    lists = defaultdict(list)
    for (week, pid), h in hours.items():
        p = progs[pid]
        name = ("films" if p["format"] == "film" else "tv") + (
            "_english" if p["language"].lower() == "en" else "_non_english")
        lists[(week, name)].append((-h / (p["runtime_s"] / 3600), -h, pid))
    expected = {}
    for (week, name), rows in lists.items():
        for rank, (neg_views, _, pid) in enumerate(sorted(rows)[:10], start=1):
            expected[(week, name, rank)] = (pid, -neg_views)
    got = {(r.week_start_date, r.list_name, r.week_rank): (r.programme_id, r.views)
           for r in built.sql("select * from marts.fct_top10_weekly where market = 'GLOBAL'").collect()}
    assert set(got) == set(expected)
    for key, (pid, views) in expected.items():
        assert got[key][0] == pid and _close(got[key][1], views), key
