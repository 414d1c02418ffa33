"""Members (accounts and their profiles) and when each profile sits down to watch.

A profile's sittings per day are Poisson with a per-profile rate (gamma-distributed, so
a few heavy viewers and a long tail of light ones), scaled by the weekday. Start times
follow a local-time hour profile with an evening peak, shifted to UTC by the home
country's offset.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from slatehouse.contract.schema import DEVICE_TYPES
from slatehouse.generate.config import (
    COUNTRIES,
    DEVICE_SHARES,
    HOUR_WEIGHTS_WEEKDAY,
    HOUR_WEIGHTS_WEEKEND,
    WEEKDAY_FACTOR,
)

N_SEGMENTS = 5  # taste clusters: each has its own genre affinities
MEAN_SITTINGS_PER_DAY = 0.45
DAY_MS = 86_400_000


@dataclass
class Audience:
    profiles: pd.DataFrame  # profile_idx, account_id, profile_id, country_idx, preferred_device_idx, signup_day, segment, activity
    segment_genre_affinity: np.ndarray  # [N_SEGMENTS, n_genres]


def build_audience(rng: np.random.Generator, *, n_accounts: int, first_day: int, n_days: int,
                   n_genres: int) -> Audience:
    shares = np.array([c[1] for c in COUNTRIES])
    country = rng.choice(len(COUNTRIES), size=n_accounts, p=shares / shares.sum())
    n_profiles = rng.choice([1, 2, 3, 4, 5], size=n_accounts, p=[0.35, 0.3, 0.2, 0.1, 0.05])
    # Most members joined before the period; some join during it and only watch after.
    joined_before = rng.random(n_accounts) < 0.85
    signup_day = np.where(joined_before, first_day - rng.integers(1, 3 * 365, n_accounts),
                          rng.integers(first_day, first_day + max(n_days, 1), n_accounts))
    acc = np.repeat(np.arange(n_accounts), n_profiles)
    rank = np.arange(len(acc)) - np.repeat(np.cumsum(n_profiles) - n_profiles, n_profiles)
    dev_p = np.array([DEVICE_SHARES[d] for d in DEVICE_TYPES])
    n = len(acc)
    activity = rng.gamma(1.1, MEAN_SITTINGS_PER_DAY / 1.1, n) * np.where(rank == 0, 1.15, 0.85)
    profiles = pd.DataFrame(dict(
        profile_idx=np.arange(n),
        account_id=[f"acc-{a + 1:06d}" for a in acc],
        profile_id=[f"prf-{a + 1:06d}-{r + 1}" for a, r in zip(acc, rank)],
        country_idx=country[acc],
        preferred_device_idx=rng.choice(len(DEVICE_TYPES), size=n, p=dev_p / dev_p.sum()),
        signup_day=signup_day[acc],
        segment=rng.integers(0, N_SEGMENTS, n),
        activity=activity,
    ))
    affinity = rng.normal(0.0, 0.6, (N_SEGMENTS, n_genres))
    return Audience(profiles=profiles, segment_genre_affinity=affinity)


def schedule_sittings(
    rng: np.random.Generator, aud: Audience, *, first_day: int, n_days: int, origin: date
) -> pd.DataFrame:
    """All sittings of the simulated days, sorted by profile and start time.

    Days are catalogue day indices (`first_day` .. `first_day + n_days - 1`); start_ms is
    UTC milliseconds since the Unix epoch. Each sitting gets a device, the country it is
    watched in and a time budget (how long the viewer has before getting up).
    """
    p = aud.profiles
    days = np.arange(first_day, first_day + n_days)
    origin_ms = int(np.datetime64(origin, "ms").astype(np.int64))
    weekday = (origin.weekday() + days) % 7
    lam = p.activity.to_numpy()[:, None] * np.asarray(WEEKDAY_FACTOR)[weekday][None, :]
    lam = np.where(days[None, :] >= p.signup_day.to_numpy()[:, None], lam, 0.0)
    counts = rng.poisson(lam)  # [profiles, days]
    prof, day_pos = np.nonzero(counts)
    reps = counts[prof, day_pos]
    prof = np.repeat(prof, reps)
    day = days[np.repeat(day_pos, reps)]
    n = len(prof)

    is_weekend = ((origin.weekday() + day) % 7) >= 5
    hw = np.asarray(HOUR_WEIGHTS_WEEKDAY, dtype=float)
    he = np.asarray(HOUR_WEIGHTS_WEEKEND, dtype=float)
    hour = np.where(
        is_weekend,
        np.searchsorted(np.cumsum(he) / he.sum(), rng.random(n), side="right"),
        np.searchsorted(np.cumsum(hw) / hw.sum(), rng.random(n), side="right"),
    ).clip(0, 23)
    local_ms = hour * 3_600_000 + rng.integers(0, 3_600_000, n)
    offset_min = np.array([c[2] for c in COUNTRIES])[p.country_idx.to_numpy()[prof]]
    start_ms = origin_ms + day.astype(np.int64) * DAY_MS + local_ms - offset_min.astype(np.int64) * 60_000
    # Local days are not UTC days: wrap the few sittings that fall outside the simulated
    # UTC period back into it, so every session starts inside it and hours keep their shape.
    period_start = origin_ms + first_day * DAY_MS
    start_ms = period_start + (start_ms - period_start) % (n_days * DAY_MS)
    day = (start_ms - origin_ms) // DAY_MS

    preferred = p.preferred_device_idx.to_numpy()[prof]
    dev_p = np.array([DEVICE_SHARES[d] for d in DEVICE_TYPES])
    device = np.where(rng.random(n) < 0.75, preferred,
                      rng.choice(len(DEVICE_TYPES), size=n, p=dev_p / dev_p.sum()))
    home = p.country_idx.to_numpy()[prof]
    # Travellers watch from another country, where the catalogue differs.
    country = np.where(rng.random(n) < 0.015, rng.integers(0, len(COUNTRIES), n), home)
    # Weekend and late-evening sittings run longer.
    budget_min = rng.lognormal(np.log(70), 0.7, n) * np.where(is_weekend, 1.25, 1.0)
    budget_ms = (np.clip(budget_min, 8, 480) * 60_000).astype(np.int64)

    s = pd.DataFrame(dict(profile_idx=prof, day=day, start_ms=start_ms, device_idx=device,
                          country_idx=country, budget_ms=budget_ms))
    s = s.sort_values(["profile_idx", "start_ms"], kind="stable").reset_index(drop=True)
    s["rank"] = s.groupby("profile_idx").cumcount()
    return s
