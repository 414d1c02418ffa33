"""The simulated catalogue: films and series (seasons of episodes), their talent, their
latent appeal, and the day-by-day availability that snapshots report.

Appeal is additive on the log scale, so popularity comes out power-law-ish:

    log_appeal(work) = latent_quality + genre_effect + talent_effect

`genre_effect` is the mean effect of the work's genres; `talent_effect` is a billing-
weighted sum of its credited talent's effects. All three are written to ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from slatehouse.generate.config import COUNTRY_CODES, GENRES, ORIGINS

_ADJ = ("Silent", "Last", "Broken", "Golden", "Hidden", "Northern", "Crimson", "Quiet",
        "Wild", "Distant", "Midnight", "Paper", "Iron", "Glass", "Burning", "Hollow",
        "Electric", "Lost", "Winter", "Secret", "Little", "Final", "Second", "Blue")
_NOUN = ("Harbour", "Kingdom", "Signal", "Garden", "Witness", "Border", "Summer", "Engine",
         "Orchard", "Frequency", "Inheritance", "Lighthouse", "Verdict", "Horizon", "Archive",
         "Circuit", "Island", "Promise", "Station", "Ballad", "Empire", "Tide", "Hours", "Road")
_FIRST = ("Ana", "Luca", "Mei", "Tom", "Ines", "Kenji", "Sofia", "Omar", "Lea", "Jonas",
          "Priya", "Mateo", "Hana", "Noah", "Chloe", "Min-jun", "Elena", "Raj", "Yara", "Paul",
          "Ingrid", "Diego", "Aiko", "Marco", "Zoe", "Felix", "Amara", "Ji-woo", "Clara", "Leo")
_LAST = ("Martin", "Rossi", "Tanaka", "Silva", "Muller", "Garcia", "Kim", "Dubois", "Smith",
         "Novak", "Sato", "Lopez", "Bauer", "Park", "Moreau", "Jones", "Costa", "Larsen",
         "Khan", "Ricci", "Weber", "Nakamura", "Fischer", "Lee", "Bernard", "Santos", "Berg")

# The three parts of a work's log appeal (docs/simulator.md, "Appeal", says why these sizes).
# A talent's `true_effect` is what they add to the log appeal of a work they are credited
# on: directly for crew, divided by billing order for actors (top billing counts fully).
QUALITY_SD = 0.5  # the work's own quality: unknowable before release
GENRE_SD = 0.5  # per genre; a work gets the mean over its genres
ROLE_SD = {"director": 0.6, "showrunner": 0.6, "actor": 0.45, "writer": 0.25, "producer": 0.15}
# The working talent per role that the service hires from. Fixed, not scaled with the
# catalogue: the industry does not grow with one service's slate, so a longer history gives
# each person a longer track record. Picks are Zipf-weighted: most people work once or
# twice, a recurring core works a lot.
TALENT_POOL = {"actor": 600, "director": 120, "writer": 180, "producer": 150, "showrunner": 40}


@dataclass
class Catalog:
    """Everything the rest of the simulator needs to know about the catalogue.

    Day indices count from the catalogue's first day (`origin`); negative days are
    library titles released before it.
    """

    origin: date
    n_days: int  # days covered by the availability calendar (origin .. origin+n_days-1)
    works: pd.DataFrame  # one row per film or show
    titles: pd.DataFrame  # one row per playable title (film or episode)
    seasons: pd.DataFrame  # one row per season of a show
    talent: pd.DataFrame
    credits: pd.DataFrame  # title_idx, talent_idx, role, billing_order, from_day
    availability: np.ndarray  # bool [n_days, n_works, n_countries]
    changes: list[dict] = field(default_factory=list)  # SCD2 changes, for ground truth
    genre_effects: dict[str, float] = field(default_factory=dict)

    def day_of(self, d: date) -> int:
        return (d - self.origin).days


def _zipf_pick(rng: np.random.Generator, pool: int, k: int, exponent: float = 1.05) -> np.ndarray:
    """k distinct indices from a pool, drawn with power-law weights: a few talents work a lot."""
    w = (np.arange(1, pool + 1, dtype=float)) ** -exponent
    return rng.choice(pool, size=min(k, pool), replace=False, p=w / w.sum())


def build_catalog(
    rng: np.random.Generator, *, n_works: int, origin: date, n_days: int, history_days: int
) -> Catalog:
    """Draw works, seasons, episodes, talent and credits, and the availability calendar.

    Releases: a quarter of the works are library (released in the four years before the
    catalogue starts); the rest premiere uniformly over the catalogue's days, history
    included, so a long run has many titles with complete post-release windows.
    """
    n_countries = len(COUNTRY_CODES)
    genre_effects = {g: float(round(e, 4)) for g, e in zip(GENRES, rng.normal(0.0, GENRE_SD, len(GENRES)))}

    is_show = rng.random(n_works) < 0.35
    is_library = rng.random(n_works) < 0.25
    release_day = np.where(
        is_library, -rng.integers(30, 4 * 365, n_works), rng.integers(0, max(n_days, 1), n_works)
    )
    origin_idx = rng.choice(len(ORIGINS), size=n_works, p=_norm([o[2] for o in ORIGINS]))
    quality = rng.normal(0.0, QUALITY_SD, n_works)

    works_rows, season_rows, title_rows = [], [], []
    film_no = show_no = 0
    for w in range(n_works):
        lang, origin_country, _ = ORIGINS[origin_idx[w]]
        n_genres = rng.choice([1, 2, 3], p=[0.35, 0.45, 0.2])
        genres = [GENRES[i] for i in rng.choice(len(GENRES), size=n_genres, replace=False)]
        name = f"{_ADJ[rng.integers(len(_ADJ))]} {_NOUN[rng.integers(len(_NOUN))]}"
        if rng.random() < 0.3:
            name = f"The {name}"
        genre_effect = float(np.mean([genre_effects[g] for g in genres]))
        if is_show[w]:
            show_no += 1
            work_id = f"show-{show_no:04d}"
        else:
            film_no += 1
            work_id = f"film-{film_no:05d}"
        works_rows.append(dict(
            work_idx=w, work_id=work_id, kind="show" if is_show[w] else "film", name=name,
            genres=genres, original_language=lang, origin_country=origin_country,
            latent_quality=float(quality[w]), genre_effect=genre_effect,
            release_day=int(release_day[w]),
            # Interest after a premiere decays hyperbolically down to a library floor.
            decay_tau_days=float(rng.uniform(4, 18)), decay_alpha=float(rng.uniform(1.0, 1.8)),
            decay_floor=float(rng.uniform(0.03, 0.10)),
        ))
        # Drop-off: better titles lose fewer viewers. Hazard is per hour of content.
        hazard = float(np.exp(rng.normal(-1.2, 0.4) - 0.45 * quality[w]))
        sample_prob = float(1 / (1 + np.exp(-(rng.normal(-2.2, 0.4) - 0.6 * quality[w]))))
        if not is_show[w]:
            is_doc = "documentary" in genres
            runtime = int(np.clip(rng.normal(88 if is_doc else 106, 16), 70, 175) * 60)
            title_rows.append(dict(
                work_idx=w, title_id=work_id, title_type="film", show_id=None, show_title=None,
                season_number=None, episode_number=None, season_idx=-1, title=name,
                runtime_s=runtime + int(rng.integers(0, 60)), release_day=int(release_day[w]),
                credits_s=int(rng.uniform(240, 540)), abandon_hazard_per_h=hazard,
                sample_prob=sample_prob, next_episode_prob=np.nan,
            ))
            continue
        n_seasons = int(rng.choice([1, 2, 3, 4], p=[0.45, 0.3, 0.15, 0.1]))
        short = any(g in ("comedy", "animation", "reality", "family") for g in genres)
        base_runtime = rng.uniform(22, 32) if short else rng.uniform(42, 62)
        weekly = rng.random() < 0.2
        base_continue = float(np.clip(rng.normal(0.86, 0.05) + 0.04 * quality[w], 0.6, 0.97))
        for s in range(n_seasons):
            season_number = s + 1
            # The newest season premieres on the work's release day; older ones a year apart.
            s_release = int(release_day[w]) - (n_seasons - 1 - s) * int(rng.integers(300, 420))
            n_ep = int(rng.choice([4, 6, 8, 10, 12], p=[0.05, 0.3, 0.35, 0.2, 0.1]))
            sags = rng.random() < 0.3  # a saggy middle: viewers leave mid-season
            season_idx = len(season_rows)
            season_rows.append(dict(
                season_idx=season_idx, work_idx=w, season_number=season_number,
                release_day=s_release, n_episodes=n_ep, is_weekly=bool(weekly and s == n_seasons - 1),
                mid_season_sag=bool(sags), first_title_idx=len(title_rows),
            ))
            for e in range(n_ep):
                ep_release = s_release + (7 * e if weekly and s == n_seasons - 1 else 0)
                # Continuation to the next episode: the pilot loses most, then a flat
                # plateau, with a dip around the middle of a saggy season.
                cont = base_continue - (0.12 if e == 0 else 0.0)
                if sags:
                    mid = (n_ep - 1) / 2
                    cont -= 0.14 * np.exp(-((e - mid) ** 2) / 2.0)
                title_rows.append(dict(
                    work_idx=w, title_id=f"{work_id}-s{season_number:02d}e{e + 1:02d}",
                    title_type="episode", show_id=work_id, show_title=name,
                    season_number=season_number, episode_number=e + 1, season_idx=season_idx,
                    title=f"Episode {e + 1}" if rng.random() < 0.3 else
                    f"{_ADJ[rng.integers(len(_ADJ))]} {_NOUN[rng.integers(len(_NOUN))]}",
                    runtime_s=int(base_runtime * rng.uniform(0.9, 1.1) * 60),
                    release_day=ep_release, credits_s=int(rng.uniform(35, 90)),
                    abandon_hazard_per_h=hazard * float(rng.uniform(0.8, 1.25)),
                    sample_prob=sample_prob * (1.0 if e == 0 else 0.4),
                    next_episode_prob=float(np.clip(cont, 0.2, 0.98)) if e < n_ep - 1 else np.nan,
                ))

    works = pd.DataFrame(works_rows)
    seasons = pd.DataFrame(season_rows, columns=[
        "season_idx", "work_idx", "season_number", "release_day", "n_episodes", "is_weekly",
        "mid_season_sag", "first_title_idx"])
    titles = pd.DataFrame(title_rows)
    titles.insert(0, "title_idx", np.arange(len(titles)))

    talent, credits = _draw_credits(rng, works, titles, seasons)
    talent_effect = _work_talent_effect(works, titles, talent, credits)
    works["talent_effect"] = talent_effect
    works["log_appeal"] = works.latent_quality + works.genre_effect + works.talent_effect
    # Episode-level directors and writers nudge that episode's pull to the next one.
    ep_credit = credits.merge(talent[["talent_idx", "true_effect"]], on="talent_idx")
    ep_credit = ep_credit[ep_credit.is_episode_level].groupby("title_idx").true_effect.sum()
    nxt = titles.next_episode_prob.to_numpy().copy()
    bump = ep_credit.reindex(titles.title_idx).fillna(0).to_numpy()
    has = ~np.isnan(nxt)
    nxt[has] = np.clip(nxt[has] + 0.05 * bump[has], 0.2, 0.98)
    titles["next_episode_prob"] = nxt
    titles["release_day"] = titles.release_day.astype(int)

    avail, changes = _availability(rng, works, titles, n_days, n_countries)
    credits, credit_changes = _credit_additions(rng, titles, talent, credits, n_days)
    changes.extend(credit_changes)
    changes.sort(key=lambda c: (c["day"], c["title_id"], c["kind"]))
    return Catalog(origin=origin, n_days=n_days, works=works, titles=titles, seasons=seasons,
                   talent=talent, credits=credits, availability=avail, changes=changes,
                   genre_effects=genre_effects)


def _norm(x) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    return x / x.sum()


def _draw_credits(rng, works, titles, seasons):
    """Credits for every title. Films credit their crew directly; a show's showrunner,
    producers and cast are credited on every episode, while each episode gets one of the
    season's directors and writers. Talent is reused with power-law weights per role."""
    pools = dict(TALENT_POOL)
    talent_rows, offset = [], 0
    role_offset = {}
    for role, size in pools.items():
        role_offset[role] = offset
        effects = rng.normal(0.0, ROLE_SD[role], size)
        for i in range(size):
            talent_rows.append(dict(
                talent_idx=offset + i, talent_id=f"tal-{offset + i + 1:05d}",
                name=f"{_FIRST[rng.integers(len(_FIRST))]} {_LAST[rng.integers(len(_LAST))]}",
                role=role, true_effect=float(effects[i]),
            ))
        offset += size
    talent = pd.DataFrame(talent_rows)
    # Popular talent should not be the lowest ids: shuffle which id each rank maps to.
    rank_to_talent = {r: rng.permutation(n) + role_offset[r] for r, n in pools.items()}

    def pick(role, k):
        return rank_to_talent[role][_zipf_pick(rng, pools[role], k)]

    rows = []
    titles_by_work = titles.groupby("work_idx").title_idx.apply(list)
    seasons_by_work = seasons.groupby("work_idx")
    for w in works.itertuples():
        if w.kind == "film":
            t = titles_by_work[w.work_idx][0]
            crew = [("director", pick("director", 1 if rng.random() < 0.9 else 2)),
                    ("writer", pick("writer", int(rng.integers(1, 3)))),
                    ("producer", pick("producer", int(rng.integers(1, 3)))),
                    ("actor", pick("actor", int(rng.integers(3, 7))))]
            for role, ids in crew:
                for b, tal in enumerate(ids):
                    rows.append((t, int(tal), role, b + 1 if role == "actor" else None, False))
            continue
        core = [("showrunner", pick("showrunner", 1)),
                ("producer", pick("producer", int(rng.integers(1, 3)))),
                ("actor", pick("actor", int(rng.integers(3, 7))))]
        for s in seasons_by_work.get_group(w.work_idx).itertuples():
            directors = pick("director", int(rng.integers(1, 4)))
            writers = pick("writer", int(rng.integers(1, 3)))
            for e in range(s.n_episodes):
                t = s.first_title_idx + e
                for role, ids in core:
                    for b, tal in enumerate(ids):
                        rows.append((t, int(tal), role, b + 1 if role == "actor" else None, False))
                rows.append((t, int(directors[e % len(directors)]), "director", None, True))
                rows.append((t, int(writers[e % len(writers)]), "writer", None, True))
    credits = pd.DataFrame(rows, columns=["title_idx", "talent_idx", "role", "billing_order",
                                          "is_episode_level"])
    credits["billing_order"] = credits.billing_order.astype("Int64")
    credits["from_day"] = np.iinfo(np.int32).min  # credited from the start
    return talent, credits


def _work_talent_effect(works, titles, talent, credits) -> np.ndarray:
    """Per work: the sum of its credited talent's effects (actors divided by billing), plus,
    for a show, the average effect of the directors and writers of its episodes (each
    episode has one of each, so a director of half the episodes counts half)."""
    c = credits.merge(titles[["title_idx", "work_idx"]], on="title_idx").merge(
        talent[["talent_idx", "true_effect"]], on="talent_idx")
    whole = c[~c.is_episode_level].drop_duplicates(["work_idx", "talent_idx"])
    # Top billing carries the most weight; the fifth-billed actor barely moves anything.
    billing = whole.billing_order.fillna(1).to_numpy(dtype=float)
    effect = (whole.true_effect / billing).groupby(whole.work_idx).sum()
    episodes = c[c.is_episode_level].groupby(["work_idx", "role"]).true_effect.mean()
    effect = effect.add(episodes.groupby("work_idx").sum(), fill_value=0.0)
    return effect.reindex(works.work_idx).fillna(0.0).to_numpy()


def _availability(rng, works, titles, n_days, n_countries):
    """Availability per day, work and member country, plus a few SCD2-visible changes."""
    n_works = len(works)
    base = np.ones((n_works, n_countries), dtype=bool)
    regional = rng.random(n_works) < 0.35
    for w in np.flatnonzero(regional):
        k = int(rng.integers(3, n_countries - 2))
        chosen = np.zeros(n_countries, dtype=bool)
        chosen[rng.choice(n_countries, size=k, replace=False)] = True
        origin = works.origin_country.iat[w]
        if origin in COUNTRY_CODES:
            chosen[COUNTRY_CODES.index(origin)] = True
        base[w] = chosen
    avail = np.repeat(base[None, :, :], max(n_days, 1), axis=0)
    changes = []
    n_changes = max(3, int(round(0.04 * n_works * n_days / 30)))
    first_title = titles.groupby("work_idx").title_id.first()
    for _ in range(n_changes if n_days > 1 else 0):
        w = int(rng.integers(n_works))
        d = int(rng.integers(1, n_days))
        row = avail[d, w]
        if not row.all() and (row.sum() <= 2 or rng.random() < 0.5):
            c = int(rng.choice(np.flatnonzero(~row)))
            avail[d:, w, c] = True
            kind = "availability_added"
        else:
            c = int(rng.choice(np.flatnonzero(row)))
            avail[d:, w, c] = False
            kind = "availability_removed"
        changes.append(dict(day=d, title_id=str(first_title[w]), work_id=works.work_id.iat[w],
                            kind=kind, detail=COUNTRY_CODES[c]))
    return avail, changes


def _credit_additions(rng, titles, talent, credits, n_days):
    """A credit that appears part-way through the period (a late-confirmed cast member)."""
    changes, rows = [], []
    n = max(2, int(round(0.01 * len(titles) * n_days / 30))) if n_days > 1 else 0
    actors = talent.talent_idx[talent.role.isin(["actor", "producer"])].to_numpy()
    for _ in range(n):
        t = int(rng.integers(len(titles)))
        tal = int(rng.choice(actors))
        if ((credits.title_idx == t) & (credits.talent_idx == tal)).any():
            continue
        d = int(rng.integers(1, n_days))
        role = str(talent.role.iat[tal])
        existing = credits[(credits.title_idx == t) & (credits.role == "actor")]
        billing = len(existing) + 1 + len([r for r in rows if r[0] == t]) if role == "actor" else None
        rows.append((t, tal, role, billing, False, d))
        changes.append(dict(day=d, title_id=titles.title_id.iat[t], work_id=None,
                            kind="credit_added", detail=talent.talent_id.iat[tal]))
    if rows:
        extra = pd.DataFrame(rows, columns=list(credits.columns))
        extra["billing_order"] = extra.billing_order.astype("Int64")
        credits = pd.concat([credits, extra], ignore_index=True)
    return credits, changes


def day_to_date(origin: date, day: int) -> date:
    return origin + timedelta(days=int(day))
