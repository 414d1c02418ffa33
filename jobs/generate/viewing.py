"""What each sitting watches: choice, binge chains, drop-off and resume.

Profiles are independent of each other, so the simulation is vectorised across
profiles and loops over "the r-th sitting of every profile" (and, inside a sitting, over
the k-th episode of a binge). A profile carries one piece of state between sittings:
the title it is in the middle of (a film stopped part-way, or the next episode of a
show) and the position to resume from.

A sitting either resumes that state or chooses something new. New choices are drawn with
weights

    exp(log_appeal + taste(segment, genres) + local bonus) x decay(days since premiere)

restricted to what is released and available in the country that day. Each session
then plays until the earliest of: the end of the title, the viewer abandoning it (a
per-title hazard per hour of content, plus an early "sampling" exit), or the sitting's
time budget running out (which leaves a resume point).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from slatehouse.generate.audience import N_SEGMENTS, Audience
from slatehouse.generate.catalog import Catalog
from slatehouse.generate.config import COUNTRY_CODES, GENRES
from slatehouse.generate.playback import plan_playback

OUT_COMPLETE, OUT_ABANDON, OUT_BUDGET = 0, 1, 2
OUTCOMES = ("complete", "abandon", "interrupted")
MAX_EPISODES_PER_SITTING = 10


def choice_cdf(cat: Catalog, aud: Audience, first_day: int, n_days: int) -> np.ndarray:
    """Flat cumulative weights: row g = (day, country, segment) is stored as g + cdf_g."""
    w = cat.works
    n_w = len(w)
    genre_hot = np.zeros((n_w, len(GENRES)))
    for i, gs in enumerate(w.genres):
        for g in gs:
            genre_hot[i, GENRES.index(g)] = 1.0 / len(gs)
    taste = genre_hot @ aud.segment_genre_affinity.T  # [works, segments]
    local = np.array([[0.6 if o == c else 0.0 for c in COUNTRY_CODES] for o in w.origin_country])
    local += np.where(w.original_language.to_numpy() == "en", 0.15, 0.0)[:, None]

    days = np.arange(first_day, first_day + n_days)
    latest = _latest_premiere(cat, days)  # [days, works]; huge negative = not released
    released = latest > np.iinfo(np.int32).min
    age = np.where(released, days[:, None] - latest, 0).astype(float)
    decay = w.decay_floor.to_numpy() + (1 - w.decay_floor.to_numpy()) * (
        1 + age / w.decay_tau_days.to_numpy()) ** -w.decay_alpha.to_numpy()
    base = np.exp(w.log_appeal.to_numpy())[None, :] * decay * released  # [days, works]
    avail = cat.availability[days]  # [days, works, countries]
    logw = local.T[:, None, :] + taste.T[None, :, :]  # [countries, segments, works]
    weights = base[:, None, None, :] * np.exp(logw)[None] * avail.transpose(0, 2, 1)[:, :, None, :]
    weights = weights.reshape(-1, n_w)
    total = weights.sum(axis=1, keepdims=True)
    cdf = np.cumsum(weights, axis=1) / np.where(total > 0, total, 1.0)
    cdf[:, -1] = 1.0
    return (cdf + np.arange(len(cdf))[:, None]).ravel()


def _latest_premiere(cat: Catalog, days: np.ndarray) -> np.ndarray:
    """Per day and work, the release day of the newest season (or film) out by then."""
    out = np.full((len(days), len(cat.works)), np.iinfo(np.int32).min, dtype=np.int64)
    films = cat.titles[cat.titles.title_type == "film"]
    for wi, rd in zip(films.work_idx.to_numpy(), films.release_day.to_numpy()):
        out[:, wi] = np.where(days >= rd, rd, out[:, wi])
    for wi, rd in zip(cat.seasons.work_idx.to_numpy(), cat.seasons.release_day.to_numpy()):
        out[:, wi] = np.where(days >= rd, np.maximum(out[:, wi], rd), out[:, wi])
    return out


def simulate_sessions(rng: np.random.Generator, cat: Catalog, aud: Audience,
                      sittings: pd.DataFrame, first_day: int, n_days: int) -> dict[str, np.ndarray]:
    """Run every sitting; return per-session arrays (sorted by start time)."""
    titles = cat.titles
    n_w, n_c = len(cat.works), len(COUNTRY_CODES)
    cdf = choice_cdf(cat, aud, first_day, n_days)

    t_work = titles.work_idx.to_numpy()
    t_runtime = titles.runtime_s.to_numpy().astype(np.int64) * 1000
    t_credits = titles.credits_s.to_numpy().astype(np.int64) * 1000
    t_hazard = titles.abandon_hazard_per_h.to_numpy()
    t_sample = titles.sample_prob.to_numpy()
    t_next_p = np.nan_to_num(titles.next_episode_prob.to_numpy(), nan=0.0)
    t_release = titles.release_day.to_numpy()
    t_is_ep = (titles.title_type == "episode").to_numpy()
    t_next = _next_title(cat)
    film_title = np.full(n_w, -1)
    film_title[t_work[~t_is_ep]] = np.flatnonzero(~t_is_ep)
    # Seasons of each show, padded: release day and first episode.
    max_s = int(cat.seasons.groupby("work_idx").size().max()) if len(cat.seasons) else 1
    s_release = np.full((n_w, max_s), np.iinfo(np.int32).max, dtype=np.int64)
    s_first = np.zeros((n_w, max_s), dtype=np.int64)
    for row in cat.seasons.itertuples():
        s_release[row.work_idx, row.season_number - 1] = row.release_day
        s_first[row.work_idx, row.season_number - 1] = row.first_title_idx

    prof_segment = aud.profiles.segment.to_numpy()
    n_p = len(aud.profiles)
    st_title = np.full(n_p, -1, dtype=np.int64)
    st_pos = np.zeros(n_p, dtype=np.int64)
    busy = np.full(n_p, np.iinfo(np.int64).min // 2, dtype=np.int64)

    sit = {c: sittings[c].to_numpy() for c in sittings.columns}
    by_rank = np.argsort(sit["rank"], kind="stable")
    bounds = np.searchsorted(sit["rank"][by_rank], np.arange(sit["rank"].max() + 2 if len(by_rank) else 1))
    out: list[dict[str, np.ndarray]] = []

    for r in range(len(bounds) - 1):
        idx = by_rank[bounds[r]:bounds[r + 1]]
        if len(idx) == 0:
            continue
        prof = sit["profile_idx"][idx]
        day = sit["day"][idx]
        country = sit["country_idx"][idx]
        device = sit["device_idx"][idx]
        start = np.maximum(sit["start_ms"][idx], busy[prof] + rng.integers(120_000, 1_200_000, len(idx)))
        budget = sit["budget_ms"][idx].copy()
        m = len(idx)

        cur = st_title[prof]
        cur_ok = cur >= 0
        safe = np.where(cur_ok, cur, 0)
        cur_ok &= t_release[safe] <= day
        cur_ok &= cat.availability[day, t_work[safe], country]
        resume = cur_ok & (rng.random(m) < 0.75)

        g = ((day - first_day) * n_c + country) * N_SEGMENTS + prof_segment[prof]
        pick = np.searchsorted(cdf, g + rng.random(m), side="right") - g * n_w
        work = np.clip(pick, 0, n_w - 1)
        is_film = film_title[work] >= 0
        n_rel = (s_release[work] <= day[:, None]).sum(axis=1)
        season = np.where(rng.random(m) < 0.6, n_rel - 1, (rng.random(m) * n_rel).astype(np.int64))
        season = np.clip(season, 0, max_s - 1)
        new_title = np.where(is_film, film_title[work], s_first[work, season])
        # A day with nothing released or available in that country has no new choice.
        new_ok = np.where(is_film, t_release[np.maximum(film_title[work], 0)] <= day, n_rel > 0)
        new_ok &= cat.availability[day, work, country]
        title = np.where(resume, cur, new_title)
        pos = np.where(resume, st_pos[prof], 0)

        alive = np.flatnonzero(resume | new_ok)
        t_wall = start.copy()
        for k in range(MAX_EPISODES_PER_SITTING):
            if len(alive) == 0:
                break
            tt, p0 = title[alive], pos[alive]
            n = len(alive)
            at_credits = rng.random(n) < 0.7
            end_pos = np.where(at_credits, t_runtime[tt] - t_credits[tt], t_runtime[tt])
            p0 = np.where(p0 > end_pos - 60_000, 0, p0)  # resumed at the very end: start over
            remaining = end_pos - p0
            sampled = (p0 == 0) & (rng.random(n) < t_sample[tt])
            abandon = np.where(sampled, rng.integers(15_000, 360_000, n),
                               (rng.exponential(1.0, n) / t_hazard[tt] * 3.6e6).astype(np.int64))
            left = budget[alive]
            content = np.maximum(np.minimum(np.minimum(remaining, abandon), left), 5_000)
            outcome = np.where(content >= remaining, OUT_COMPLETE,
                               np.where(abandon <= left, OUT_ABANDON, OUT_BUDGET))
            content = np.minimum(content, remaining)
            plan = plan_playback(rng, content, p0, t_is_ep[tt], device[alive])
            out.append(dict(
                profile_idx=prof[alive], title_idx=tt, device_idx=device[alive],
                country_idx=country[alive], day=day[alive], start_ms=t_wall[alive], pos0_ms=p0,
                content_ms=content, outcome=outcome, **plan,
            ))
            end_wall = t_wall[alive] + plan["wall_ms"]
            budget[alive] = left - plan["wall_ms"]
            pa = prof[alive]
            busy[pa] = end_wall

            nxt = t_next[tt]
            wants_next = (outcome == OUT_COMPLETE) & t_is_ep[tt] & (nxt >= 0) & (rng.random(n) < t_next_p[tt])
            nxt_out = wants_next & (t_release[np.maximum(nxt, 0)] <= day[alive])
            st_title[pa] = np.where(wants_next, nxt, np.where(outcome == OUT_BUDGET, tt,
                                    np.where((outcome == OUT_ABANDON) & (rng.random(n) < 0.15), tt, -1)))
            st_pos[pa] = np.where(wants_next, 0, p0 + content)
            binge = nxt_out & (budget[alive] > 180_000) & (rng.random(n) < 0.85)
            # Autoplay starts the next episode within seconds; otherwise a short browse.
            gap = np.where(rng.random(n) < 0.7, rng.integers(5_000, 20_000, n), rng.integers(20_000, 180_000, n))
            t_wall[alive] = end_wall + gap
            title[alive] = np.where(binge, nxt, tt)
            pos[alive] = 0
            alive = alive[binge]

    sessions = {key: np.concatenate([o[key] for o in out]) for key in out[0]} if out else {}
    if sessions:
        order = np.lexsort((sessions["profile_idx"], sessions["start_ms"]))
        sessions = {key: v[order] for key, v in sessions.items()}
    return sessions


def _next_title(cat: Catalog) -> np.ndarray:
    """The episode after each episode (crossing into the next season); -1 for none."""
    t = cat.titles
    nxt = np.full(len(t), -1, dtype=np.int64)
    ep = t[t.title_type == "episode"].sort_values(["work_idx", "season_number", "episode_number"])
    idx = ep.title_idx.to_numpy()
    same_show = ep.work_idx.to_numpy()[1:] == ep.work_idx.to_numpy()[:-1]
    nxt[idx[:-1][same_show]] = idx[1:][same_show]
    return nxt
