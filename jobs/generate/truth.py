"""The forecast's training rows straight from the simulator's ground truth (no Spark).

An oracle for `marts.fct_title_training`, computed a second, independent way: one row per
film or series season with a complete 28-day window inside the simulated days, with the
mart's definitions -

- `title_id`: the programme id (`film-00012`, or `show-0003-S2` for a season);
- `genres` in the catalogue's order (the first is the primary genre); `talent`: every
  credit of every episode, actors only when billed in the top 3 (`top_billed_actors` in
  dbt_project.yml), credits added part-way through included;
  each credit is `{talent_id, role}`, with `billing_order` too where the catalogue has one
  (the cast);
- `runtime_minutes` per episode, `episodes`, `original_language`, `origin_country`;
- `show_id`: a season's show (the catalogue's `show_id`); None for films;
- `views_28d`: seconds played by sessions starting (UTC) in [release, release + 27 days],
  over the programme's runtime;
- `release_availability_share`: the member-weighted share of markets where the programme
  is available on its release day - each country weighted by the distinct profiles with a
  session there (starting, UTC) in the 28 days up to and including the release day; NaN
  when no session falls in that window. Availability is the catalogue's own calendar
  (`Catalog.availability[day, work, country]`), which the snapshots report.

Views come from the true sessions, so they include the few sessions the pipeline
quarantines (too late, unknown title: about 0.3 % with the default fault rates) and the
last heartbeat's worth of play a session without `play_stop` loses. The real marts agree
within about 1 % per title (bench/bench_forecast.py --marts measures it).

Alongside, per programme, the truth behind it: `latent_quality`, `genre_effect`,
`talent_effect` (the work's; every season of a show shares its work's appeal).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from slatehouse.generate.run import Simulation

DAY_MS = 86_400_000
WINDOW_DAYS = 28
TOP_BILLED_ACTORS = 3
TRUTH_COLUMNS = ["work_id", "latent_quality", "genre_effect", "talent_effect"]


def programme_ids(titles: pd.DataFrame) -> pd.Series:
    """The mart's programme id per playable title: the film's id, or `<show>-S<season>`."""
    season = titles["season_number"].fillna(0).astype(int).astype(str)
    return pd.Series(
        np.where(titles["title_type"] == "film", titles["title_id"], titles["show_id"].fillna("") + "-S" + season),
        index=titles.index,
    )


def _credit(talent_id: str, role: str, billing_order) -> dict:
    """One training-row credit; `billing_order` only where the catalogue bills the credit (cast)."""
    credit = {"talent_id": talent_id, "role": role}
    if not pd.isna(billing_order):
        credit["billing_order"] = int(billing_order)
    return credit


def training_rows(sim: Simulation) -> pd.DataFrame:
    """Complete 28-day windows released inside the simulated days, oldest first (see module doc)."""
    cat = sim.catalog
    titles = cat.titles.assign(programme_id=programme_ids(cat.titles))
    works = cat.works.set_index("work_idx")

    origin_ms = int(np.datetime64(cat.origin, "ms").astype(np.int64))
    sessions = pd.DataFrame({
        "title_idx": sim.sessions["title_idx"],
        "play_s": sim.sessions["play_ms"] / 1000.0,
        "day": (sim.sessions["start_ms"] - origin_ms) // DAY_MS,
    })
    sessions["programme_id"] = titles["programme_id"].to_numpy()[sessions["title_idx"].to_numpy()]
    profile_days = pd.DataFrame({
        "day": sessions["day"].to_numpy(), "country_idx": sim.sessions["country_idx"],
        "profile_idx": sim.sessions["profile_idx"],
    }).drop_duplicates()

    programmes = titles.groupby("programme_id", sort=False).agg(
        work_idx=("work_idx", "first"), release_day=("release_day", "min"),
        runtime_s=("runtime_s", "sum"), episodes=("title_idx", "size"),
    )
    last_day = sim.first_day + sim.days - 1
    complete = (programmes["release_day"] >= sim.first_day) & (
        programmes["release_day"] + WINDOW_DAYS - 1 <= last_day)
    programmes = programmes[complete].copy()

    release = sessions["programme_id"].map(programmes["release_day"])
    in_window = release.notna() & (sessions["day"] >= release) & (sessions["day"] <= release + WINDOW_DAYS - 1)
    played = sessions[in_window].groupby("programme_id")["play_s"].sum()
    programmes["views_28d"] = played.reindex(programmes.index).fillna(0.0) / programmes["runtime_s"]
    programmes["release_availability_share"] = release_availability_shares(
        cat.availability, profile_days, programmes["release_day"].to_numpy(), programmes["work_idx"].to_numpy())

    credits = cat.credits.merge(cat.talent[["talent_idx", "talent_id"]], on="talent_idx")
    billed = (credits["role"] != "actor") | (credits["billing_order"].fillna(TOP_BILLED_ACTORS + 1)
                                              <= TOP_BILLED_ACTORS)
    credits = credits[billed.to_numpy()].assign(
        programme_id=titles["programme_id"].to_numpy()[credits.loc[billed.to_numpy(), "title_idx"].to_numpy()])
    credits = credits[credits["programme_id"].isin(programmes.index)]
    # One credit per programme, person and role, billed at its best over the episodes (the mart's rule).
    per_person = (credits.groupby(["programme_id", "talent_id", "role"], as_index=False)["billing_order"].min()
                  .sort_values(["programme_id", "talent_id", "role"]))
    talent = per_person.groupby("programme_id").apply(
        lambda g: [_credit(t, r, b) for t, r, b in zip(g["talent_id"], g["role"], g["billing_order"])],
        include_groups=False)

    w = works.loc[programmes["work_idx"]]
    out = pd.DataFrame({
        "title_id": programmes.index,
        "release_date": pd.Timestamp(cat.origin) + pd.to_timedelta(programmes["release_day"].to_numpy(), unit="D"),
        "format": np.where(w["kind"].to_numpy() == "film", "film", "series"),
        "genres": [list(g) for g in w["genres"]],
        "talent": [talent.get(p, []) for p in programmes.index],
        "runtime_minutes": (programmes["runtime_s"] / 60.0 / programmes["episodes"]).to_numpy(),
        "episodes": programmes["episodes"].astype(float).to_numpy(),
        "original_language": w["original_language"].to_numpy(),
        "origin_country": w["origin_country"].to_numpy(),
        "show_id": np.where(w["kind"].to_numpy() == "film", None, w["work_id"].to_numpy()),
        "release_availability_share": programmes["release_availability_share"].to_numpy(),
        "views_28d": programmes["views_28d"].to_numpy(),
        **{column: w[column].to_numpy() for column in TRUTH_COLUMNS},
    })
    return out.sort_values(["release_date", "title_id"], kind="mergesort").reset_index(drop=True)


def release_availability_shares(availability: np.ndarray, profile_days: pd.DataFrame, release_days: np.ndarray,
                                work_idx: np.ndarray) -> np.ndarray:
    """Per programme, the member-weighted share of countries where its work is available on
    the release day (see module doc). `profile_days`: distinct (day, country_idx, profile_idx)
    of the sessions; NaN where no session falls in the 28 days up to the release day."""
    n_countries = availability.shape[2]
    weights: dict[int, np.ndarray] = {}
    for day in np.unique(release_days):
        inside = profile_days[(profile_days["day"] > day - WINDOW_DAYS) & (profile_days["day"] <= day)]
        per_country = inside.drop_duplicates(["country_idx", "profile_idx"])["country_idx"].to_numpy()
        weights[int(day)] = np.bincount(per_country, minlength=n_countries).astype(float)
    out = np.full(len(release_days), np.nan)
    for i, (day, work) in enumerate(zip(release_days, work_idx)):
        w = weights[int(day)]
        if w.sum() > 0:
            out[i] = float(w[availability[int(day), int(work)]].sum() / w.sum())
    return out


def credit_lifts(sim: Simulation, rows: pd.DataFrame) -> pd.DataFrame:
    """Per training row and credit: programme (`title_id`), talent_id, role and `lift`, what
    that credit truly added to the title's log appeal - true_effect / billing order for a
    whole-work credit (1 for crew), true_effect x the share of the work's episodes for an
    episode director or writer (catalog._work_talent_effect)."""
    cat = sim.catalog
    titles = cat.titles.assign(programme_id=programme_ids(cat.titles))
    credits = cat.credits.merge(titles[["title_idx", "work_idx", "programme_id"]], on="title_idx").merge(
        cat.talent[["talent_idx", "talent_id", "true_effect"]], on="talent_idx")
    episodes_per_work = titles[titles["title_type"] == "episode"].groupby("work_idx").size()
    whole = credits[~credits["is_episode_level"]].drop_duplicates(["work_idx", "talent_idx"])
    whole = whole.assign(lift=whole["true_effect"] / whole["billing_order"].fillna(1).astype(float))
    episode = credits[credits["is_episode_level"]].groupby(["work_idx", "talent_idx", "talent_id", "role"]).agg(
        true_effect=("true_effect", "first"), n=("title_idx", "size")).reset_index()
    episode["lift"] = episode["true_effect"] * episode["n"] / episode["work_idx"].map(episodes_per_work)
    per_work = pd.concat([whole[["work_idx", "talent_id", "role", "lift"]],
                          episode[["work_idx", "talent_id", "role", "lift"]]])
    per_work = per_work.groupby(["work_idx", "talent_id", "role"], as_index=False)["lift"].sum()
    work_of = titles.groupby("programme_id")["work_idx"].first()
    pairs = [(pid, c["talent_id"], c["role"]) for pid, cs in zip(rows["title_id"], rows["talent"]) for c in cs]
    out = pd.DataFrame(pairs, columns=["title_id", "talent_id", "role"])
    out["work_idx"] = out["title_id"].map(work_of)
    out = out.merge(per_work, on=["work_idx", "talent_id", "role"], how="left")
    return out.drop(columns="work_idx").fillna({"lift": 0.0})


def talent_truth(sim: Simulation) -> pd.DataFrame:
    """talent_id, role, true_effect: what each person adds to a work's log appeal."""
    return sim.catalog.talent[["talent_id", "role", "true_effect"]].copy()
