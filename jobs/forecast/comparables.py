"""The past titles most like a pitch.

Similarity is a weighted sum of six scores, each in [0, 1], so it is itself in [0, 1]:

| part | weight | score |
|---|---|---|
| genres | 0.30 | Jaccard overlap of the genre sets |
| talent | 0.30 | shared talent ids / the smaller of the two credit lists (overlap coefficient) |
| format | 0.15 | 1 if both are films or both series |
| language | 0.075 | 1 if the original language matches |
| origin | 0.075 | 1 if the origin country matches |
| runtime | 0.10 | max(0, 1 - abs(log2(runtime ratio))): 1 when equal, 0 when one is twice the other |

Talent uses the overlap coefficient rather than Jaccard so that a pitch sharing its director
with a title that had a large cast still counts as close. Ties go to the more recent title.
A missing field scores 0 on its part. A pitch for a show's next season (`show_id`) lists
that show's earlier seasons first, whatever their score: they are what a commissioner
compares a renewal with. A dated pitch is compared only with titles released before it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

WEIGHTS = {
    "genres": 0.30,
    "talent": 0.30,
    "format": 0.15,
    "language": 0.075,
    "origin": 0.075,
    "runtime": 0.10,
}


def _multi_hot(lists, vocabulary: dict) -> sparse.csr_matrix:
    rows, cols = [], []
    for i, items in enumerate(lists):
        for item in set(items):
            j = vocabulary.get(item)
            if j is not None:
                rows.append(i)
                cols.append(j)
    return sparse.csr_matrix(
        (np.ones(len(rows)), (rows, cols)), shape=(len(lists), max(len(vocabulary), 1))
    )


class ComparableIndex:
    """Past titles indexed for similarity look-ups. Built from the training titles only."""

    def __init__(self, titles: pd.DataFrame, target: str):
        self.titles = titles.reset_index(drop=True)
        self.target = target
        self.genre_vocab = {g: i for i, g in enumerate(sorted({g for gs in titles["genres"] for g in gs}))}
        self.talent_vocab = {
            t: i for i, t in enumerate(sorted({tid for cs in titles["talent"] for tid, _ in cs}))
        }
        self.genres = _multi_hot(self.titles["genres"], self.genre_vocab)
        self.talent = _multi_hot([[tid for tid, _ in cs] for cs in self.titles["talent"]], self.talent_vocab)
        self.n_genres = np.asarray(self.genres.sum(axis=1)).ravel()
        self.n_talent = np.asarray(self.talent.sum(axis=1)).ravel()
        self.format = self.titles["format"].to_numpy()
        self.language = self.titles["original_language"].to_numpy()
        self.origin = self.titles["origin_country"].to_numpy()
        self.log2_runtime = np.log2(self.titles["runtime_minutes"].to_numpy(dtype=float))
        self.recency = self.titles["release_date"].rank(method="first").to_numpy() / max(len(titles), 1)
        self.show = self.titles["show_id"].to_numpy()

    def similarity(self, pitch: pd.Series) -> np.ndarray:
        genres = [g for g in pitch["genres"]]
        talent_ids = sorted({tid for tid, _ in pitch["talent"]})
        pitch_genres = _multi_hot([genres], self.genre_vocab)
        pitch_talent = _multi_hot([talent_ids], self.talent_vocab)

        shared_genres = np.asarray((self.genres @ pitch_genres.T).todense()).ravel()
        union = self.n_genres + len(set(genres)) - shared_genres
        genre_score = np.divide(shared_genres, union, out=np.zeros_like(shared_genres), where=union > 0)

        shared_talent = np.asarray((self.talent @ pitch_talent.T).todense()).ravel()
        smaller = np.minimum(self.n_talent, len(talent_ids))
        talent_score = np.divide(shared_talent, smaller, out=np.zeros_like(shared_talent), where=smaller > 0)

        def same(values, level):
            if level is None:
                return np.zeros(len(values))
            return (values == level).astype(float)

        runtime = pitch.get("runtime_minutes")
        if runtime is None or not np.isfinite(runtime):
            runtime_score = np.zeros(len(self.titles))
        else:
            with np.errstate(invalid="ignore"):
                gap = np.abs(self.log2_runtime - np.log2(runtime))
            runtime_score = np.nan_to_num(np.clip(1 - gap, 0, 1))

        return (
            WEIGHTS["genres"] * genre_score
            + WEIGHTS["talent"] * talent_score
            + WEIGHTS["format"] * same(self.format, pitch["format"])
            + WEIGHTS["language"] * same(self.language, pitch["original_language"])
            + WEIGHTS["origin"] * same(self.origin, pitch["origin_country"])
            + WEIGHTS["runtime"] * runtime_score
        )

    def nearest(self, pitch: pd.Series, k: int = 5) -> list[dict]:
        if k <= 0 or len(self.titles) == 0:
            return []
        score = self.similarity(pitch)
        show = pitch.get("show_id")
        same_show = (self.show == show).astype(float) if show is not None else np.zeros(len(self.titles))
        # A dated pitch is compared only with what was released before it: a title scored
        # as if it were pitched on its release day never sees itself or what came after.
        released = pitch.get("release_date")
        before = (self.titles["release_date"] < released).to_numpy() if pd.notna(released) \
            else np.ones(len(self.titles), dtype=bool)
        # lexsort: last key is primary. The pitch's own show first, then the highest
        # similarity, then the most recent.
        order = np.lexsort((-self.recency, -np.round(score, 9), -same_show))
        order = order[before[order]][:k]
        return [
            {
                "title_id": self.titles.at[i, "title_id"],
                "release_date": self.titles.at[i, "release_date"].date().isoformat(),
                "similarity": round(float(score[i]), 3),
                "actual": float(self.titles.at[i, self.target]),
            }
            for i in order
        ]
