"""A synthetic warehouse of the marts' exact shape, written with delta-rs (no JVM).

For the dashboard tests (a few dozen programmes, one of them watched by only three
profiles) and for the dashboard benchmark when no demo warehouse has been built (demo
scale: ~400 programmes, ~13k profiles, 90 days). The Arrow schemas are those Spark writes
for the dbt marts (checked against a real build: column order and types, after the marts' switch to double
literals in daab911);
tests/test_dashboards_data.py checks the names against dbt/models/marts/**/_*__models.yml.

Numbers are simulated per session and aggregated, so counts such as `unique_profiles`
are real distinct counts; the tiers and curves are plausible, not exact replicas of the
dbt logic. This is test data, not a second implementation of the marts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from deltalake import write_deltalake

_S, _I32, _I64, _F, _D, _B = pa.string(), pa.int32(), pa.int64(), pa.float64(), pa.date32(), pa.bool_()
_STRS = pa.list_(pa.field("element", _S))

SCHEMAS: dict[str, pa.Schema] = {
    "dim_title": pa.schema([
        ("title_id", _S), ("title_type", _S), ("title_name", _S), ("programme_id", _S),
        ("programme_type", _S), ("format", _S), ("show_id", _S), ("show_title", _S),
        ("season_id", _S), ("season_number", _I32), ("episode_number", _I32), ("runtime_s", _I32),
        ("release_date", _D), ("original_language", _S), ("language_group", _S),
        ("origin_country", _S), ("is_european_work", _B), ("genres", _STRS)]),
    "dim_programme": pa.schema([
        ("programme_id", _S), ("programme_type", _S), ("format", _S), ("programme_name", _S),
        ("show_id", _S), ("show_title", _S), ("season_number", _I32), ("episode_count", _I64),
        ("runtime_s", _I64), ("release_date", _D), ("original_language", _S), ("language_group", _S),
        ("origin_country", _S), ("is_european_work", _B), ("genres", _STRS)]),
    "dim_talent": pa.schema([
        ("talent_id", _S), ("talent_name", _S), ("roles", _STRS), ("programmes_credited", _I64)]),
    "dim_genre": pa.schema([("genre", _S), ("titles", _I64), ("programmes", _I64)]),
    "fct_title_daily": pa.schema([
        ("title_id", _S), ("programme_id", _S), ("country", _S), ("device_type", _S), ("plays", _I64),
        ("hours_viewed", _F), ("views", _F), ("unique_profiles", _I64), ("unique_accounts", _I64),
        ("starters", _I64), ("watchers", _I64), ("completers", _I64), ("event_date", _D)]),
    "fct_title_release_windows": pa.schema([
        ("programme_id", _S), ("programme_type", _S), ("window_days", _I32), ("release_date", _D),
        ("window_end_date", _D), ("data_through_date", _D), ("is_window_complete", _B),
        ("runtime_s", _I64), ("hours_viewed", _F), ("views", _F), ("plays", _I64),
        ("unique_profiles", _I64), ("unique_accounts", _I64), ("increment_profiles", _I64), ("starters", _I64),
        ("watchers", _I64), ("completers", _I64), ("completion_rate", _F), ("avg_share_watched", _F)]),
    "fct_top10_weekly": pa.schema([
        ("market", _S), ("list_name", _S), ("week_rank", _I32), ("programme_id", _S),
        ("programme_type", _S), ("hours_viewed", _F), ("views", _F), ("unique_profiles", _I64),
        ("runtime_s", _I64), ("week_end_date", _D), ("week_start_date", _D)]),
    "fct_title_retention": pa.schema([
        ("title_id", _S), ("progress_pct", _I32), ("starters", _I64), ("starters_reached", _I64),
        ("share_reached", _F)]),
    "fct_season_funnel": pa.schema([
        ("season_id", _S), ("episode_number", _I32), ("title_id", _S), ("episode_1_starters", _I64),
        ("episode_starters", _I64), ("episode_completers", _I64), ("share_started", _F),
        ("share_completed", _F), ("season_starters", _I64), ("season_completers", _I64),
        ("binge_rate", _F), ("median_days_to_complete", _F)]),
    "fct_genre_weekly": pa.schema([
        ("genre", _S), ("programmes_viewed", _I64), ("hours_viewed", _F), ("views", _F),
        ("unique_profiles", _I64), ("starters", _I64), ("completers", _I64), ("starter_profiles", _I64),
        ("completer_profiles", _I64), ("completion_rate", _F), ("share_of_hours", _F),
        ("week_end_date", _D), ("week_start_date", _D)]),
    "fct_talent_track_record": pa.schema([
        ("talent_id", _S), ("talent_name", _S), ("role", _S), ("programmes", _I64),
        ("programmes_with_complete_28d", _I64), ("median_views_28d", _F), ("mean_views_28d", _F),
        ("completion_rate_28d", _F),
        ("genre_mix", pa.list_(pa.field("element", pa.struct([("genre", _S), ("programmes", _I64)])))),
        ("latest_release_date", _D)]),
    "fct_market_offer_vs_demand": pa.schema([
        ("country", _S), ("month_start_date", _D), ("breakdown", _S), ("group_value", _S),
        ("programmes_available", _I64), ("runtime_hours_available", _F),
        ("hours_viewed", _F), ("unique_profiles", _I64), ("programme_share", _F), ("runtime_share", _F),
        ("demand_share", _F), ("demand_minus_offer_share", _F),
        ("european_works_programme_share", _F), ("european_works_runtime_share", _F),
        ("meets_avmsd_european_quota", _B)]),
    "fct_title_training": pa.schema([
        ("programme_id", _S), ("programme_type", _S), ("format", _S), ("programme_name", _S),
        ("release_date", _D), ("genres", _STRS),
        ("talent", pa.list_(pa.field("element", pa.struct([("talent_id", _S), ("role", _S),
                                                            ("billing_order", _I32)])))),
        ("runtime_minutes", _F), ("episodes", _I64), ("original_language", _S),
        ("origin_country", _S), ("show_id", _S), ("release_availability_share", _F), ("hours_viewed_28d", _F), ("views_28d", _F), ("starters_28d", _I64),
        ("completion_rate_28d", _F), ("window_end_date", _D), ("is_window_complete", _B)]),
}
PARTITIONS = {"fct_title_daily": ["event_date"], "fct_top10_weekly": ["week_start_date"],
              "fct_genre_weekly": ["week_start_date"]}

GENRES = ("drama", "comedy", "thriller", "crime", "documentary", "sci-fi", "romance",
          "animation", "horror", "family")
ORIGINS = (("en", "US", 0.40), ("en", "GB", 0.12), ("fr", "FR", 0.10), ("de", "DE", 0.08),
           ("es", "ES", 0.08), ("ko", "KR", 0.10), ("ja", "JP", 0.06), ("pt", "BR", 0.06))
EUROPEAN = {"GB", "FR", "DE", "ES", "IT", "NL", "SE", "DK"}
DEVICES = ("tv", "mobile", "web", "tablet")
ROLES = ("director", "writer", "actor", "actor", "actor", "showrunner")
FIRST = ("Ada", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lea",
         "Mo", "Nia", "Oto", "Pia", "Raf", "Sol", "Tess", "Uma", "Vik", "Wren", "Yas", "Zoe")
LAST = ("Abbott", "Brandt", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hayes", "Ito",
        "Jensen", "Kim", "Lopez", "Moreau", "Novak", "Okafor", "Park", "Rossi", "Sato", "Tan", "Weber")
WORDS = ("Harbour", "Night", "Signal", "Winter", "Glass", "River", "Ember", "Atlas", "Echo",
         "Orchard", "Summit", "Tide", "Lantern", "Meridian", "Quarry", "Velvet", "Hollow", "Crown")
TINY_PROGRAMME = "F-TINY"  # a film watched by only three profiles (small-cell suppression)


@dataclass(frozen=True)
class SampleSpec:
    programmes: int = 80  # films and seasons, besides the tiny film
    profiles: int = 600
    sessions: int = 12_000
    days: int = 120
    last_date: date = date(2024, 3, 31)
    countries: tuple[str, ...] = ("US", "GB", "FR", "DE", "ES", "KR")
    history_years: float = 2.0  # release dates spread this far before the first event date
    seed: int = 7


TEST_SPEC = SampleSpec()
# The demo's generator scale (bench/results/generate.json: 400 titles, ~13k profiles, ~200k
# sessions a month), over three months so that the forecaster has complete 28-day windows.
DEMO_SPEC = SampleSpec(programmes=400, profiles=13_000, sessions=600_000, days=90,
                       countries=("US", "BR", "GB", "FR", "DE", "MX", "ES", "IT", "JP", "KR",
                                  "CA", "IN", "NL", "SE"), history_years=4.0)


def _week_start(days: pd.Series) -> pd.Series:
    return days - pd.to_timedelta(days.dt.weekday, unit="D")


def _catalogue(spec: SampleSpec, rng: np.random.Generator):
    first_event = spec.last_date - timedelta(days=spec.days - 1)
    span = int(spec.history_years * 365)
    programmes, titles, credits = [], [], []
    n_talent = max(12, int(spec.programmes * 1.2))
    talent_ids = [f"T{i:05d}" for i in range(n_talent)]
    talent_weights = 1.0 / np.arange(1, n_talent + 1) ** 0.5
    talent_weights /= talent_weights.sum()
    origin_p = np.array([o[2] for o in ORIGINS]) / sum(o[2] for o in ORIGINS)
    shows = 0
    for i in range(spec.programmes + 1):
        tiny = i == spec.programmes
        is_film = tiny or rng.random() < 0.55
        lang, origin, _ = ORIGINS[0 if tiny else rng.choice(len(ORIGINS), p=origin_p)]
        # A third of the catalogue is library (premiered before the event window), the rest
        # premieres during it: those are the titles the forecaster can learn from.
        offset = int(rng.integers(-span, 0)) if rng.random() < 0.35 else int(rng.integers(0, spec.days))
        release = first_event + timedelta(days=offset)
        if tiny:
            release = spec.last_date - timedelta(days=10)
        genres = sorted(set(rng.choice(GENRES, size=int(rng.integers(1, 3)), replace=False)))
        name = " ".join(rng.choice(WORDS, size=2, replace=False))
        base = dict(original_language=lang, origin_country=origin,
                    language_group="english" if lang == "en" else "non_english",
                    is_european_work=origin in EUROPEAN, genres=genres, release_date=release)
        if is_film:
            pid = TINY_PROGRAMME if tiny else f"F{i:04d}"
            runtime = int(rng.integers(80, 150)) * 60
            programmes.append(dict(base, programme_id=pid, programme_type="film", format="film",
                                   programme_name="The Quiet Pier" if tiny else f"The {name}",
                                   show_id=None, show_title=None, season_number=None,
                                   episode_count=None, runtime_s=runtime))
            titles.append(dict(base, title_id=pid, title_type="film",
                               title_name=programmes[-1]["programme_name"], programme_id=pid,
                               programme_type="film", format="film", show_id=None, show_title=None,
                               season_id=None, season_number=None, episode_number=None,
                               runtime_s=runtime))
            episode_ids = [pid]
        else:
            shows += 1
            show_id, season = f"S{i:04d}", int(rng.integers(1, 3))
            pid = f"{show_id}-S{season}"
            n_episodes = int(rng.integers(3, 9))
            episode_runtime = int(rng.integers(25, 60)) * 60
            programmes.append(dict(base, programme_id=pid, programme_type="season", format="series",
                                   programme_name=f"{name}: Season {season}", show_id=show_id,
                                   show_title=name, season_number=season, episode_count=n_episodes,
                                   runtime_s=episode_runtime * n_episodes))
            episode_ids = []
            for e in range(1, n_episodes + 1):
                tid = f"{pid}E{e:02d}"
                episode_ids.append(tid)
                titles.append(dict(base, title_id=tid, title_type="episode",
                                   title_name=f"{name} {season}x{e:02d}", programme_id=pid,
                                   programme_type="season", format="series", show_id=show_id,
                                   show_title=name, season_id=pid, season_number=season,
                                   episode_number=e, runtime_s=episode_runtime))
        roles = ["director", "writer", "actor", "actor", "actor"] + ([] if is_film else ["showrunner"])
        people = rng.choice(talent_ids, size=len(roles), replace=False, p=talent_weights)
        for person, role in zip(people, roles):
            credits.append(dict(programme_id=pid, talent_id=str(person), role=role))
    return (pd.DataFrame(programmes), pd.DataFrame(titles), pd.DataFrame(credits), talent_ids)


def _sessions(spec, rng, programmes, titles):
    first_event = spec.last_date - timedelta(days=spec.days - 1)
    popularity = rng.lognormal(0.0, 1.0, len(programmes))
    popularity[programmes["programme_id"].eq(TINY_PROGRAMME).to_numpy()] = 0.0
    # Recent premieres draw more viewing.
    age = (pd.Timestamp(spec.last_date) - pd.to_datetime(programmes["release_date"])).dt.days.to_numpy()
    popularity = popularity * np.where(age < 60, 4.0, 1.0)
    p = popularity / popularity.sum()
    n = spec.sessions
    prog = rng.choice(len(programmes), size=n, p=p)
    day_offset = rng.integers(0, spec.days, size=n)
    days = pd.to_datetime(first_event) + pd.to_timedelta(day_offset, unit="D")
    release = pd.to_datetime(programmes["release_date"]).to_numpy()[prog]
    days = np.maximum(days.to_numpy(), release)  # nobody watches before the premiere
    profile = rng.integers(0, spec.profiles, size=n)
    frame = pd.DataFrame({"programme_id": programmes["programme_id"].to_numpy()[prog],
                          "event_date": days, "profile_id": profile})
    # Episodes: most sessions at the start of a season, fewer further in.
    episodes = titles.groupby("programme_id")["title_id"].apply(list).to_dict()
    frame["title_id"] = [
        ids[min(int(rng.geometric(0.35)) - 1, len(ids) - 1)] for ids in frame["programme_id"].map(episodes)
    ]
    tiny = pd.DataFrame({"programme_id": TINY_PROGRAMME, "title_id": TINY_PROGRAMME,
                         "event_date": pd.Timestamp(spec.last_date) - pd.Timedelta(days=2),
                         "profile_id": [1, 2, 3]})
    frame = pd.concat([frame, tiny], ignore_index=True)
    frame = frame[frame["event_date"] <= pd.Timestamp(spec.last_date)]
    frame["country"] = np.asarray(spec.countries)[frame["profile_id"].to_numpy() % len(spec.countries)]
    frame["device_type"] = rng.choice(DEVICES, size=len(frame), p=[0.5, 0.25, 0.15, 0.10])
    frame["account_id"] = frame["profile_id"] // 3
    runtime = titles.set_index("title_id")["runtime_s"]
    frame["runtime_s"] = frame["title_id"].map(runtime).to_numpy()
    share = np.clip(rng.beta(2.0, 1.2, size=len(frame)), 0.02, 1.0)
    frame["play_time_s"] = share * frame["runtime_s"]
    frame["is_starter"] = frame["play_time_s"] >= 120
    frame["is_watcher"] = share >= 0.7
    frame["is_completer"] = share >= 0.9
    return frame


def _profile_counts(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    grouped = frame.groupby(keys)
    out = grouped.agg(plays=("profile_id", "size"), hours_viewed=("play_time_s", "sum"),
                      unique_profiles=("profile_id", "nunique"),
                      unique_accounts=("account_id", "nunique")).reset_index()
    out["hours_viewed"] /= 3600.0
    for tier in ("starter", "watcher", "completer"):
        counted = frame[frame[f"is_{tier}"]].groupby(keys)["profile_id"].nunique().rename(f"{tier}s")
        out = out.merge(counted.reset_index(), on=keys, how="left")
        out[f"{tier}s"] = out[f"{tier}s"].fillna(0).astype("int64")
    return out


def build_sample_marts(spec: SampleSpec = TEST_SPEC) -> dict[str, pd.DataFrame]:
    """The marts as pandas frames, one per table in `SCHEMAS`."""
    rng = np.random.default_rng(spec.seed)
    programmes, titles, credits, talent_ids = _catalogue(spec, rng)
    sessions = _sessions(spec, rng, programmes, titles)
    last = pd.Timestamp(spec.last_date)
    marts: dict[str, pd.DataFrame] = {"dim_programme": programmes, "dim_title": titles}

    talent_names = {t: f"{FIRST[i % len(FIRST)]} {LAST[(i * 7) % len(LAST)]}"
                    + ("" if i < len(FIRST) * len(LAST) else f" {i}") for i, t in enumerate(talent_ids)}
    credited = credits.groupby("talent_id").agg(roles=("role", lambda r: sorted(set(r))),
                                                programmes_credited=("programme_id", "nunique"))
    marts["dim_talent"] = pd.DataFrame({
        "talent_id": talent_ids, "talent_name": [talent_names[t] for t in talent_ids],
        "roles": [credited["roles"].get(t, []) for t in talent_ids],
        "programmes_credited": [int(credited["programmes_credited"].get(t, 0)) for t in talent_ids]})
    genre_rows = titles.explode("genres")
    marts["dim_genre"] = (genre_rows.groupby("genres")
                          .agg(titles=("title_id", "nunique"), programmes=("programme_id", "nunique"))
                          .reset_index().rename(columns={"genres": "genre"}))

    # fct_title_daily: real distinct counts per cell.
    daily = _profile_counts(sessions, ["title_id", "programme_id", "country", "device_type", "event_date"])
    daily["views"] = daily["hours_viewed"] / (daily["title_id"].map(titles.set_index("title_id")["runtime_s"]) / 3600)
    marts["fct_title_daily"] = daily

    # Release windows. Programmes that premiered before the simulated sessions get windows
    # from a log-linear formula (genre, talent, format effects), so the forecaster has a
    # history to learn from and the comparables have audiences.
    first_event = sessions["event_date"].min()
    genre_effect = dict(zip(GENRES, rng.normal(0, 0.5, len(GENRES))))
    talent_effect = dict(zip(talent_ids, rng.normal(0, 0.4, len(talent_ids))))
    prog = programmes.set_index("programme_id")
    formula_views = {}
    for pid, p in prog.iterrows():
        people = credits[credits["programme_id"] == pid]["talent_id"]
        formula_views[pid] = float(np.expm1(
            4.0 + sum(genre_effect[g] for g in p["genres"]) / len(p["genres"])
            + people.map(talent_effect).sum() * 0.5 + (0.3 if p["format"] == "series" else 0.0)
            + rng.normal(0, 0.3)))
    share_of_28 = {1: 0.15, 7: 0.55, 28: 1.0, 91: 1.6}
    rows, previous = [], 0
    for window in (1, 7, 28, 91):
        end = pd.to_datetime(prog["release_date"]) + pd.Timedelta(days=window - 1)
        in_window = sessions[sessions["event_date"] <= sessions["programme_id"].map(end)]
        counts = _profile_counts(in_window, ["programme_id"]).set_index("programme_id")
        added_from = pd.to_datetime(prog["release_date"]) + pd.Timedelta(days=previous)
        increment = (in_window[in_window["event_date"] >= in_window["programme_id"].map(added_from)]
                     .groupby("programme_id")["profile_id"].nunique())
        released = prog[pd.to_datetime(prog["release_date"]) <= last]
        for pid, p in released.iterrows():
            runtime_h = p["runtime_s"] / 3600
            if pd.Timestamp(p["release_date"]) < first_event and pid != TINY_PROGRAMME:
                views = formula_views[pid] * share_of_28[window]
                profiles = int(views * 1.4) + 1
                before = int(formula_views[pid] * share_of_28.get(previous, 0.0) * 1.4) + 1 if previous else 0
                c = pd.Series(dict(hours_viewed=views * runtime_h, plays=int(profiles * 1.3),
                                   unique_profiles=profiles, unique_accounts=int(profiles * 0.7) + 1,
                                   increment_profiles=profiles - before // 2,
                                   starters=int(profiles * 0.9), watchers=int(profiles * 0.5),
                                   completers=int(profiles * 0.4)))
            else:
                c = counts.loc[pid] if pid in counts.index else None
            starters = int(c["starters"]) if c is not None else 0
            completers = int(c["completers"]) if c is not None else 0
            hours = float(c["hours_viewed"]) if c is not None else 0.0
            rows.append(dict(
                programme_id=pid, programme_type=p["programme_type"], window_days=window,
                release_date=p["release_date"], window_end_date=end[pid].date(),
                data_through_date=spec.last_date, is_window_complete=end[pid] <= last,
                runtime_s=int(p["runtime_s"]), hours_viewed=hours, views=hours / runtime_h,
                plays=int(c["plays"]) if c is not None else 0,
                unique_profiles=int(c["unique_profiles"]) if c is not None else 0,
                unique_accounts=int(c["unique_accounts"]) if c is not None else 0,
                increment_profiles=int(c["increment_profiles"] if "increment_profiles" in c
                                       else increment.get(pid, 0)) if c is not None else 0,
                starters=starters, watchers=int(c["watchers"]) if c is not None else 0,
                completers=completers, completion_rate=completers / starters if starters else None,
                avg_share_watched=float(rng.uniform(0.4, 0.9)) if starters else None))
        previous = window
    windows = pd.DataFrame(rows)
    marts["fct_title_release_windows"] = windows

    # Weekly Top 10, global and per country.
    sessions["week_start_date"] = _week_start(sessions["event_date"])
    volume = dict(play_time_s=("play_time_s", "sum"), unique_profiles=("profile_id", "nunique"))
    by_market = pd.concat([
        sessions.groupby(["week_start_date", "programme_id"]).agg(**volume).reset_index().assign(market="GLOBAL"),
        sessions.groupby(["week_start_date", "country", "programme_id"]).agg(**volume).reset_index()
        .rename(columns={"country": "market"})], ignore_index=True)
    by_market["hours_viewed"] = by_market["play_time_s"] / 3600
    by_market = by_market.join(prog[["format", "language_group", "programme_type", "runtime_s"]], on="programme_id")
    by_market["views"] = by_market["hours_viewed"] / (by_market["runtime_s"] / 3600)
    by_market["list_name"] = np.where(by_market["format"] == "film", "films", "tv")
    is_global = by_market["market"] == "GLOBAL"
    by_market.loc[is_global, "list_name"] += "_" + by_market.loc[is_global, "language_group"]
    by_market = by_market.sort_values(["views", "hours_viewed", "programme_id"], ascending=[False, False, True])
    by_market["week_rank"] = by_market.groupby(["week_start_date", "market", "list_name"]).cumcount() + 1
    top10 = by_market[by_market["week_rank"] <= 10].copy()
    top10["week_end_date"] = top10["week_start_date"] + pd.Timedelta(days=6)
    marts["fct_top10_weekly"] = top10

    # Retention per title and the season funnel.
    starters = sessions[sessions["is_starter"]].groupby("title_id")["profile_id"].nunique()
    retention = []
    for tid, n in starters.items():
        decay = rng.uniform(0.03, 0.08)
        for pct in range(10, 101, 10):
            reached = int(round(n * max(0.0, 1 - decay * pct / 10 - (0.1 if pct == 100 else 0))))
            retention.append(dict(title_id=tid, progress_pct=pct, starters=int(n),
                                  starters_reached=reached, share_reached=reached / n))
    marts["fct_title_retention"] = pd.DataFrame(retention)

    funnel = []
    seasons = titles[titles["programme_type"] == "season"]
    for sid, episodes in seasons.groupby("season_id"):
        episodes = episodes.sort_values("episode_number")
        first = sessions[(sessions["title_id"] == episodes["title_id"].iloc[0]) & sessions["is_starter"]]
        base = first["profile_id"].nunique()
        season_completers = int(base * rng.uniform(0.2, 0.5))
        for _, ep in episodes.iterrows():
            kept = max(0.0, 1 - 0.12 * (ep["episode_number"] - 1))
            started = int(round(base * kept))
            completed = int(round(started * 0.8))
            funnel.append(dict(
                season_id=sid, episode_number=ep["episode_number"], title_id=ep["title_id"],
                episode_1_starters=base, episode_starters=started, episode_completers=completed,
                share_started=started / base if base else None,
                share_completed=completed / base if base else None,
                season_starters=base, season_completers=season_completers,
                binge_rate=float(rng.uniform(0.2, 0.6)) if season_completers else None,
                median_days_to_complete=float(rng.uniform(2, 12)) if season_completers else None))
    marts["fct_season_funnel"] = pd.DataFrame(funnel)

    # Genre weekly.
    pweeks = sessions.groupby(["week_start_date", "programme_id"]).agg(
        hours_viewed=("play_time_s", lambda s: s.sum() / 3600)).reset_index()
    totals = pweeks.groupby("week_start_date")["hours_viewed"].sum()
    ptiers = sessions.groupby(["week_start_date", "programme_id"]).agg(
        starters=("is_starter", "sum"), completers=("is_completer", "sum")).reset_index()
    pweeks = pweeks.merge(ptiers, on=["week_start_date", "programme_id"])
    pweeks = pweeks.join(prog[["genres", "runtime_s"]], on="programme_id").explode("genres")
    pweeks["views"] = pweeks["hours_viewed"] / (pweeks["runtime_s"] / 3600)
    genre_weekly = pweeks.groupby(["week_start_date", "genres"]).agg(
        programmes_viewed=("programme_id", "nunique"), hours_viewed=("hours_viewed", "sum"),
        views=("views", "sum"), starters=("starters", "sum"), completers=("completers", "sum")).reset_index()
    by_genre = (sessions[["week_start_date", "programme_id", "profile_id", "is_starter", "is_completer"]]
                .join(prog["genres"], on="programme_id").explode("genres").groupby(["week_start_date", "genres"]))
    genre_profiles = pd.DataFrame({
        "unique_profiles": by_genre["profile_id"].nunique(),
        "starter_profiles": by_genre.apply(lambda g: g.loc[g["is_starter"], "profile_id"].nunique(), include_groups=False),
        "completer_profiles": by_genre.apply(lambda g: g.loc[g["is_completer"], "profile_id"].nunique(),
                                             include_groups=False)})
    genre_weekly = genre_weekly.join(genre_profiles, on=["week_start_date", "genres"])
    genre_weekly = genre_weekly.rename(columns={"genres": "genre"})
    genre_weekly["completion_rate"] = genre_weekly["completers"] / genre_weekly["starters"].where(genre_weekly["starters"] > 0)
    genre_weekly["share_of_hours"] = genre_weekly["hours_viewed"] / genre_weekly["week_start_date"].map(totals)
    genre_weekly["week_end_date"] = genre_weekly["week_start_date"] + pd.Timedelta(days=6)
    marts["fct_genre_weekly"] = genre_weekly

    # Training: every released programme with its 28-day window.
    w28 = windows[windows["window_days"] == 28].set_index("programme_id")
    training = []
    for i, (pid, p) in enumerate(prog.iterrows()):
        if pid not in w28.index:
            continue
        people = credits[credits["programme_id"] == pid]
        billing = (people["role"] == "actor").cumsum().where(people["role"] == "actor")
        window = w28.loc[pid]
        episodes = 1 if p["format"] == "film" else int(p["episode_count"])
        training.append(dict(
            programme_id=pid, programme_type=p["programme_type"], format=p["format"],
            programme_name=p["programme_name"], release_date=p["release_date"], genres=p["genres"],
            talent=[dict(talent_id=t, role=r, billing_order=None if pd.isna(b) else int(b))
                    for t, r, b in zip(people["talent_id"], people["role"], billing)],
            runtime_minutes=p["runtime_s"] / 60.0, episodes=episodes,
            original_language=p["original_language"], origin_country=p["origin_country"],
            show_id=p["show_id"],
            # Most programmes launch everywhere; every fourth in some markets only.
            release_availability_share=1.0 if i % 4 else 0.35 + 0.1 * (i % 5),
            hours_viewed_28d=float(window["hours_viewed"]), views_28d=float(window["views"]),
            starters_28d=int(window["starters"]), completion_rate_28d=window["completion_rate"],
            window_end_date=window["window_end_date"], is_window_complete=bool(window["is_window_complete"])))
    training = pd.DataFrame(training)
    marts["fct_title_training"] = training

    # Talent track record over complete 28-day windows.
    track = credits.merge(training[["programme_id", "views_28d", "is_window_complete", "release_date",
                                    "genres", "completion_rate_28d"]], on="programme_id")
    track_rows = []
    for (tid, role), group in track.groupby(["talent_id", "role"]):
        complete = group[group["is_window_complete"]]
        mix = group.explode("genres")["genres"].value_counts()
        track_rows.append(dict(
            talent_id=tid, talent_name=talent_names[tid], role=role, programmes=len(group),
            programmes_with_complete_28d=len(complete),
            median_views_28d=complete["views_28d"].median() if len(complete) else None,
            mean_views_28d=complete["views_28d"].mean() if len(complete) else None,
            completion_rate_28d=complete["completion_rate_28d"].mean() if len(complete) else None,
            genre_mix=[dict(genre=g, programmes=int(n)) for g, n in mix.items()],
            latest_release_date=group["release_date"].max()))
    marts["fct_talent_track_record"] = pd.DataFrame(track_rows)

    # Market offer vs demand, per country and month.
    sessions["month_start_date"] = sessions["event_date"].dt.to_period("M").dt.to_timestamp()
    market_rows = []
    for (country, month), group in sessions.groupby(["country", "month_start_date"]):
        month_end = month + pd.offsets.MonthEnd(0)
        offer = titles[pd.to_datetime(titles["release_date"]) <= month_end].copy()
        offer = offer[(offer["programme_id"].map(hash) % 5 != 0) | (offer["origin_country"] == country)]
        demand = group.join(titles.set_index("title_id")[["format", "origin_country"]], on="title_id")

        def origin_group(origins: pd.Series) -> pd.Series:
            return pd.Series(np.select(
                [origins == country, origins.isin(EUROPEAN), origins == "US"],
                ["domestic", "other_european", "us"], "rest_of_world"), index=origins.index)

        offer["origin_group"], demand["origin_group"] = origin_group(offer["origin_country"]), origin_group(demand["origin_country"])
        euro_programmes = offer[offer["is_european_work"]]["programme_id"].nunique()
        euro_share = euro_programmes / offer["programme_id"].nunique()
        euro_runtime = offer[offer["is_european_work"]]["runtime_s"].sum() / offer["runtime_s"].sum()
        for breakdown, column, values in (("origin_group", "origin_group", ("domestic", "other_european", "us", "rest_of_world")),
                                          ("format", "format", ("film", "series"))):
            programmes_by = offer.groupby(column)["programme_id"].nunique()
            runtime_by = offer.groupby(column)["runtime_s"].sum() / 3600
            hours_by = demand.groupby(column)["play_time_s"].sum() / 3600
            profiles_by = demand.groupby(column)["profile_id"].nunique()
            for value in values:
                market_rows.append(dict(
                    country=country, month_start_date=month.date(), breakdown=breakdown, group_value=value,
                    programmes_available=int(programmes_by.get(value, 0)),
                    runtime_hours_available=float(runtime_by.get(value, 0.0)),
                    hours_viewed=float(hours_by.get(value, 0.0)),
                    unique_profiles=int(profiles_by.get(value, 0)),
                    programme_share=programmes_by.get(value, 0) / programmes_by.sum(),
                    runtime_share=runtime_by.get(value, 0.0) / runtime_by.sum(),
                    demand_share=hours_by.get(value, 0.0) / hours_by.sum(),
                    european_works_programme_share=euro_share, european_works_runtime_share=euro_runtime,
                    meets_avmsd_european_quota=bool(euro_share >= 0.3)))
    market = pd.DataFrame(market_rows)
    market["demand_minus_offer_share"] = market["demand_share"] - market["runtime_share"]
    marts["fct_market_offer_vs_demand"] = market
    return marts


def _to_arrow(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    from decimal import Decimal

    columns = []
    for field in schema:
        values = frame[field.name]
        if pa.types.is_date32(field.type):
            values = pd.to_datetime(values).dt.date
        if pa.types.is_decimal(field.type):
            values = values.map(lambda v: None if pd.isna(v) else Decimal(f"{v:.{field.type.scale}f}"))
        values = values.astype(object).where(values.notna(), None) if not pa.types.is_list(field.type) else values
        columns.append(pa.array(list(values), type=field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def write_sample_warehouse(warehouse_dir: str | Path, spec: SampleSpec = TEST_SPEC,
                           skip: tuple[str, ...] = ()) -> dict[str, pd.DataFrame]:
    """Write every mart as a Delta table at `<warehouse_dir>/marts.db/<table>`; returns them."""
    marts = build_sample_marts(spec)
    for name, schema in SCHEMAS.items():
        if name in skip:
            continue
        write_deltalake(f"{Path(warehouse_dir)}/marts.db/{name}", _to_arrow(marts[name], schema),
                        mode="overwrite", partition_by=PARTITIONS.get(name))
    return marts
