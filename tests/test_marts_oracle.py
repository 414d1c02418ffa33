"""Oracle: generate -> ingest -> marts, against the marts recomputed in plain Python.

The landing files are read a second time by tests/oracle.py, which shares no code with the
Spark jobs; every mart is then recomputed there from its sessions and the catalogue
snapshots, following docs/metrics.md. Counts must match exactly, floats within 1e-9
relative. Each test runs on two generated datasets, both with late, duplicate and
malformed events:

- "two days" (the shared `landing` fixture): every fault, many titles, little history;
- "five weeks": 35 days of viewing, so 28-day windows complete, seasons are finished and
  binged, and titles are released across snapshots that list them in fewer markets. The
  figures that need a complete window (the forecast's target, the talent track record)
  are compared here on real values, not only on their nulls.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest

import oracle
from slatehouse.ingest import ingest
from slatehouse.marts import build_marts

REL = 1e-9


FIVE_WEEKS = dict(start_date=date(2026, 3, 2), days=35, members=50, titles=25, seed=11, history_days=10)


@pytest.fixture(scope="module", params=["two days", "five weeks"])
def dataset(request, settings, landing, tmp_path_factory):
    """The settings whose landing folder holds the dataset (see the module's docstring)."""
    if request.param == "two days":
        return settings
    from slatehouse.generate import generate

    folder = tmp_path_factory.mktemp("five-weeks") / "landing"
    generate(folder, **FIVE_WEEKS)
    return settings.model_copy(update={"landing_dir": str(folder)})


@pytest.fixture(scope="module")
def built(spark, dataset):
    from conftest import reset_warehouse

    reset_warehouse(spark)  # and forget the shared `ingested` state: this warehouse is another
    lnd = Path(dataset.landing_dir)
    days = oracle.received_dates(lnd)
    ingest(spark, dataset, days)
    event_dates = [r.event_date for r in spark.sql(
        "select distinct event_date from silver.playback_sessions").collect()]
    # Models only: test_marts.py runs the dbt tests; the box is shared.
    build_marts(spark, dataset, min(event_dates), max(event_dates), count_rows=False,
                with_tests=False)
    return spark


@pytest.fixture(scope="module")
def truth(dataset) -> oracle.Viewing:
    lnd = Path(dataset.landing_dir)
    received = oracle.received_dates(lnd)
    events, _, _ = oracle.accept_events(lnd, dataset.require_pseudonym_key(), received)
    sessions = list(oracle.sessions(events, oracle.runtimes(lnd)).values())
    # Ingest loads the catalogue snapshots up to the latest received date.
    return oracle.Viewing(sessions, oracle.Catalogue(lnd, max(received)))


def _long(truth: oracle.Viewing) -> bool:
    return (truth.through - truth.data_from).days >= 28


def _close(a, b) -> bool:
    # abs_tol: silver's play times and the oracle's differ by float noise of a few
    # microseconds per session (1e-9 hours is 3.6 us), as in test_ingest_integration.
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=REL, abs_tol=1e-9)


def _plain(value):
    if hasattr(value, "asDict"):
        return tuple(_plain(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _agree(got: dict, expected: dict, mart: str) -> None:
    """Same keys; per row, counts, flags, dates and lists equal, floats within REL."""
    missing, extra = set(expected) - set(got), set(got) - set(expected)
    assert not missing and not extra, f"{mart}: rows only in the oracle {sorted(missing)[:5]}, " \
                                      f"only in the mart {sorted(extra)[:5]}"
    for key, want in expected.items():
        row = got[key]
        for column, value in want.items():
            have = _plain(row[column])
            if isinstance(value, float) or isinstance(have, float):
                ok = _close(None if have is None else float(have), None if value is None else float(value))
            elif isinstance(value, list):
                ok = [tuple(x) for x in have] == [tuple(x) for x in value]
            else:
                ok = have == value
            assert ok, f"{mart} {key} {column}: mart {have!r}, oracle {value!r}"


def _rows(spark, table: str, keys: str) -> dict:
    names = keys.split(",")
    return {tuple(r[k] for k in names) if len(names) > 1 else r[names[0]]: r.asDict()
            for r in spark.table(table).collect()}


def test_title_daily_matches_oracle(built, truth):
    v = truth
    cells = defaultdict(list)
    for s in v.all:
        cells[(s["title_id"], s["event_date"], s["country"], s["device_type"])].append(s)
    expected = {}
    for (title, day, country, device), ss in cells.items():
        profiles = {s["profile_id"] for s in ss}
        rt = v.cat.runtime(title)
        tiers = [oracle.tiers(*v.title_progress(p, title, day)[:2], rt) for p in profiles]
        hours = sum(s["play_time_s"] for s in ss) / 3600
        expected[(title, day, country, device)] = dict(
            plays=len(ss), hours_viewed=hours, views=hours / (rt / 3600), unique_profiles=len(profiles),
            unique_accounts=len({s["account_id"] for s in ss}), starters=sum(t[0] for t in tiers),
            watchers=sum(t[1] for t in tiers), completers=sum(t[2] for t in tiers))
    _agree(_rows(built, "marts.fct_title_daily", "title_id,event_date,country,device_type"), expected,
           "fct_title_daily")


def test_release_windows_match_oracle(built, truth):
    _agree(_rows(built, "marts.fct_title_release_windows", "programme_id,window_days"),
           oracle.release_windows(truth), "fct_title_release_windows")


def test_top10_every_market_matches_oracle(built, truth):
    expected = oracle.top10_weekly(truth)
    assert any(key[1] == "GLOBAL" for key in expected) and any(key[1] != "GLOBAL" for key in expected)
    _agree(_rows(built, "marts.fct_top10_weekly", "week_start_date,market,list_name,week_rank"), expected,
           "fct_top10_weekly")


def test_title_retention_matches_oracle(built, truth):
    _agree(_rows(built, "marts.fct_title_retention", "title_id,progress_pct"), oracle.title_retention(truth),
           "fct_title_retention")


def test_season_funnel_matches_oracle(built, truth):
    expected = oracle.season_funnel(truth)
    # The data must exercise the funnel, not only its zeros. Two days complete no season;
    # five weeks finish and binge some, and take longer than a week over others.
    assert any(row["episode_starters"] > 0 and number > 1 for (_, number), row in expected.items())
    if _long(truth):
        finished = [row for row in expected.values() if row["season_completers"]]
        assert len({row["binge_rate"] for row in finished}) > 1
        assert any(row["median_days_to_complete"] >= 7 for row in finished)
    _agree(_rows(built, "marts.fct_season_funnel", "season_id,episode_number"), expected, "fct_season_funnel")


def test_programme_genres_keep_the_catalogues_order(built, truth):
    # The first genre is the primary one (the per-genre-median baseline and the talent
    # page use it), so the marts keep the catalogue's order rather than sorting.
    expected = {pid: {"genres": p.genres} for pid, p in truth.cat.programmes.items()}
    assert any(p["genres"] != sorted(p["genres"]) for p in expected.values())
    _agree(_rows(built, "marts.dim_programme", "programme_id"), expected, "dim_programme")


def test_genre_weekly_matches_oracle(built, truth):
    _agree(_rows(built, "marts.fct_genre_weekly", "genre,week_start_date"), oracle.genre_weekly(truth),
           "fct_genre_weekly")


def test_talent_track_record_matches_oracle(built, truth):
    expected = oracle.talent_track_record(truth, oracle.release_windows(truth))
    # Two days of events complete no 28-day window (a title released before them was never
    # observed in full): there this compares the credits, programme counts and genre mix.
    # Five weeks complete some, and credit people with more than one.
    assert any(row["programmes"] > 1 for row in expected.values())
    complete = [row["programmes_with_complete_28d"] for row in expected.values()]
    assert any(n > 1 for n in complete) if _long(truth) else not any(complete)
    got = _rows(built, "marts.fct_talent_track_record", "talent_id,role")
    for row in got.values():
        row["genre_mix"] = [(m["genre"], m["programmes"]) for m in row["genre_mix"] or []]
    _agree(got, expected, "fct_talent_track_record")


def test_market_offer_vs_demand_matches_oracle(built, truth):
    expected = oracle.market_offer_vs_demand(truth)
    assert any(row["european_works_programme_share"] for row in expected.values())
    _agree(_rows(built, "marts.fct_market_offer_vs_demand", "country,month_start_date,breakdown,group_value"),
           expected, "fct_market_offer_vs_demand")


def test_title_training_matches_oracle(built, truth):
    expected = oracle.title_training(truth, oracle.release_windows(truth))
    # Programmes released before the first snapshot have none in effect on their release
    # date (a null share); the ones released inside the data carry one. Five weeks release
    # titles in fewer markets (a share below 1) and complete their 28-day windows.
    shares = [row["release_availability_share"] for row in expected.values()]
    assert None in shares and any(share is not None for share in shares)
    if _long(truth):
        assert any(share is not None and share < 1 for share in shares)
        assert any(row["is_window_complete"] and row["views_28d"] > 0 for row in expected.values())
    assert any(row["format"] == "series" and row["episodes"] > 1 for row in expected.values())
    _agree(_rows(built, "marts.fct_title_training", "programme_id"), expected, "fct_title_training")


def test_genre_and_talent_dimensions_match_oracle(built, truth):
    _agree(_rows(built, "marts.dim_genre", "genre"), oracle.genre_catalogue(truth), "dim_genre")
    talent = oracle.talent_credits(truth)
    assert any(row["programmes_credited"] > 1 for row in talent.values())
    _agree(_rows(built, "marts.dim_talent", "talent_id"), talent, "dim_talent")


def test_ground_truth_availability_share_agrees_with_the_oracle(tmp_path, settings):
    # No Spark: the simulator's own figure (slatehouse.generate.truth, what bench_forecast
    # measures the model on) against the oracle's plain reading of the files it writes.
    # Without faults both see the same sessions, so they must agree exactly.
    from datetime import date

    from slatehouse.generate import FaultRates, generate, simulate
    from slatehouse.generate.truth import training_rows

    args = dict(start_date=date(2026, 3, 2), days=40, members=150, titles=80, seed=5, history_days=10)
    generate(tmp_path, faults=FaultRates.clean(), **args)
    rows = training_rows(simulate(**args))
    received = oracle.received_dates(tmp_path)
    events, _, _ = oracle.accept_events(tmp_path, settings.require_pseudonym_key(), received)
    viewing = oracle.Viewing(list(oracle.sessions(events, oracle.runtimes(tmp_path)).values()),
                             oracle.Catalogue(tmp_path, max(received)))
    expected = oracle.release_availability_share(viewing)
    shares = dict(zip(rows["title_id"], rows["release_availability_share"]))
    assert len(shares) >= 10 and any(share < 1 for share in shares.values())
    for pid, share in shares.items():
        assert _close(share, expected[pid]), f"{pid}: truth {share}, oracle {expected[pid]}"
