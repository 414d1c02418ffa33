"""The model's scale and its design matrix.

Audience counts are modelled on `log1p`, proportions (completion rate) on the logit. The
design is additive on that scale:

    baseline
    + numeric terms (format, log runtime, log episodes, log budget, log availability at
      release, seasonality, trend), each standardised with the training titles' mean and
      spread
    + the title's genre effects, weighted (see below)
    + original-language effect + origin-country effect
    + the show's effect (a series season's show, or a film's franchise, where given)
    + for each credited role, the effects of the talent in that role, weighted (see below)

Within a role, each credited person's column carries the weight 1 / n^a, n being how many
share the role on the title. The exponent a is chosen with the penalties by REML (model.py)
from (0, 0.5, 1): a = 1 averages the cast (a 20-strong cast cannot add up to a wild
forecast), a = 0 sums it, and a = 0.5 gives the role's total the same prior variance
whatever the cast size. A credit that carries a `billing_order` (1 = top billed; usually the
cast) is weighted by billing_order^-c as well, so the coefficient is what the person adds
when billed first; c is chosen by REML too, from (0, 0.5, 1, 1.5, 2), and c = 0 ignores
billing. Credits without a billing order (crew, or a source without cast order) keep
1 / n^a alone. Genres are weighted 1 / k^b for k genres; b = 1 (the mean) unless the caller
sets it. Levels never seen in training (a new director, a new genre, a new show) have no
column and contribute 0, which is the prior: the average talent, genre, country or show.

A pitch's runtime, episodes, budget and availability are held within the training titles'
range, as the trend is held flat outside their release dates: a straight line in log
runtime fitted on 20-180 minutes says nothing about a 0.001-minute title (carried past
the range, it forecast one 5 times a feature film's audience). `Design.out_of_range` names
what was held.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import sparse

PROPORTION_EPS = 1e-3  # logit(0) is -inf; completion rates are clipped to [eps, 1 - eps]
YEAR_DAYS = 365.25
# Seasonality is fitted only on a history spanning two years: with less, each month is seen
# once and the annual harmonics soak up the trend, then extrapolate it into the months the
# history has not seen (on a 7-month simulated history they moved forecasts by a factor of 3).
SEASONALITY_MIN_SPAN_DAYS = 730
# An optional numeric input (budget, availability at release) is a term only when the
# history carries it often enough for its coefficient to mean something.
OPTIONAL_MIN_SHARE, OPTIONAL_MIN_TITLES = 0.2, 10
# Availability at release enters as log(share): a title that only half the members can
# watch can reach about half the audience, so views scale with the share and the log puts
# that on the model's log scale. The floor keeps a share of 0 (available nowhere yet)
# finite: 1 % of members.
AVAILABILITY_FLOOR = 0.01
# The numeric terms a pitch's input is held to the training range on, and the input each
# one reads (budget_missing, format and the season terms are bounded by construction).
RANGE_HELD = {
    "log_runtime": "runtime_minutes",
    "log_episodes": "episodes",
    "log_budget": "budget",
    "log_availability": "release_availability_share",
}


@dataclass(frozen=True)
class TargetScale:
    """`log` for counts (log1p / expm1), `logit` for proportions."""

    kind: str

    def forward(self, values) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        if self.kind == "logit":
            p = np.clip(values, PROPORTION_EPS, 1 - PROPORTION_EPS)
            return np.log(p / (1 - p))
        return np.log1p(values)

    def inverse(self, z) -> np.ndarray:
        z = np.asarray(z, dtype=float)
        if self.kind == "logit":
            return 1.0 / (1.0 + np.exp(-z))
        # A count is never negative: log1p(y) < 0 would mean y < 0, so it stands for 0.
        return np.maximum(np.expm1(z), 0.0)

    def inverse_bound(self, z) -> np.ndarray:
        """A forecast (point or interval end) back on the target's scale. A proportion is
        modelled clipped to [eps, 1 - eps], so a value at or beyond a clip stands for
        everything past it: 0 or 1. Without this, titles whose completion rate is exactly 0
        or 1 (common when only a few people started them) could never fall inside an
        interval; and the point goes through it too, so that p10 <= point <= p90 holds."""
        values = self.inverse(z)
        if self.kind == "logit":
            edge = float(np.log((1 - PROPORTION_EPS) / PROPORTION_EPS))
            values = np.where(np.asarray(z) >= edge, 1.0, np.where(np.asarray(z) <= -edge, 0.0, values))
        return values

    @property
    def target_kind(self) -> str:
        return "proportion" if self.kind == "logit" else "count"


PROPORTION_WORDS = ("rate", "share", "ratio", "proportion", "pct")


def scale_for(target: str, scale: str = "auto") -> TargetScale:
    """The scale for a target: explicit, or by name: logit when one of the name's words
    (split at `_`, `-`, spaces and camelCase) is in `PROPORTION_WORDS` (`completion_rate_28d`,
    `completionRate`), log otherwise (`watch_duration` and `revenue_generated` are not rates)."""
    if scale == "auto":
        words = re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", target).lower())
        is_proportion = any(word in PROPORTION_WORDS for word in words)
        return TargetScale("logit" if is_proportion else "log")
    if scale not in ("log", "logit"):
        raise ValueError(f"scale must be 'auto', 'log' or 'logit', got {scale!r}")
    return TargetScale(scale)


# Blocks of columns share one ridge penalty; see model.Hyperparameters.
BLOCK_INTERCEPT = "baseline"
BLOCK_NUMERIC = "numeric"
BLOCK_TREND = "trend"
BLOCK_GENRE = "genre"
BLOCK_LANGUAGE = "language"
BLOCK_ORIGIN = "origin"
BLOCK_TALENT = "talent"
BLOCK_SHOW = "show"

# Numeric columns and the explanation group each belongs to.
NUMERIC_GROUPS = {
    "is_series": "format",
    "log_runtime": "runtime",
    "log_episodes": "episodes",
    "log_budget": "budget",
    "budget_missing": "budget",
    "log_availability": "availability",
    "season_sin1": "season",
    "season_cos1": "season",
    "season_sin2": "season",
    "season_cos2": "season",
    "trend_years": "trend",
}


def _median_if_common(values: pd.Series) -> float | None:
    """The median of an optional numeric input, or None when too few titles carry it."""
    known = values.notna()
    if known.mean() >= OPTIONAL_MIN_SHARE and known.sum() >= OPTIONAL_MIN_TITLES:
        return float(values.median())
    return None


@dataclass
class Design:
    """Vocabulary and standardisation learned from the training titles, and nothing else.
    Every frame it reads has been through `inputs.normalise_titles`."""

    numeric_names: list[str]
    numeric_mean: np.ndarray
    numeric_sd: np.ndarray
    runtime_median: dict[str, float]
    episodes_median: float
    budget_median: float | None
    date_origin: pd.Timestamp
    last_date: pd.Timestamp
    # The training median of release_availability_share (what a pitch without one gets);
    # None when the history has too little of it, and the term is left out.
    availability_median: float | None = None
    # The training titles' lowest and highest value of each numeric term (None while the
    # design is being learned): a pitch's inputs are held within them.
    numeric_low: np.ndarray | None = None
    numeric_high: np.ndarray | None = None
    cast_exponent: float = 1.0  # set by fit to the chosen hyperparameters
    genre_exponent: float = 1.0
    billing_exponent: float = 0.0
    columns: list[tuple[str, object]] = field(default_factory=list)  # (block, key)
    index: dict[tuple[str, object], int] = field(default_factory=dict)

    @classmethod
    def learn(cls, titles: pd.DataFrame) -> "Design":
        runtime_median = {
            fmt: float(group.median())
            for fmt, group in titles.groupby("format")["runtime_minutes"]
            if group.notna().any()
        }
        if titles["runtime_minutes"].notna().any():
            runtime_median["_all"] = float(titles["runtime_minutes"].median())
        else:
            runtime_median["_all"] = 90.0
        series_episodes = titles.loc[titles["format"] == "series", "episodes"].dropna()
        episodes_median = float(series_episodes.median()) if len(series_episodes) else 8.0
        budget_median = _median_if_common(titles["budget"])
        availability = titles["release_availability_share"] if "release_availability_share" in titles.columns \
            else pd.Series(np.nan, index=titles.index)
        availability_median = _median_if_common(availability)

        numeric_names = ["is_series", "log_runtime", "log_episodes"]
        if budget_median is not None:
            numeric_names += ["log_budget", "budget_missing"]
        if availability_median is not None:
            numeric_names += ["log_availability"]
        span_days = (titles["release_date"].max() - titles["release_date"].min()).days
        if span_days >= SEASONALITY_MIN_SPAN_DAYS:
            numeric_names += ["season_sin1", "season_cos1", "season_sin2", "season_cos2"]
        numeric_names += ["trend_years"]

        design = cls(
            numeric_names=numeric_names,
            numeric_mean=np.zeros(len(numeric_names)),
            numeric_sd=np.ones(len(numeric_names)),
            runtime_median=runtime_median,
            episodes_median=episodes_median,
            budget_median=budget_median,
            availability_median=availability_median,
            date_origin=titles["release_date"].min(),
            last_date=titles["release_date"].max(),
        )
        raw = design._raw_numeric(titles)
        design.numeric_low, design.numeric_high = raw.min(axis=0), raw.max(axis=0)
        design.numeric_mean = np.nanmean(raw, axis=0)
        sd = np.nanstd(raw, axis=0)
        design.numeric_sd = np.where(sd > 1e-9, sd, 1.0)

        design.columns.append((BLOCK_INTERCEPT, "baseline"))
        for name in numeric_names:
            design.columns.append((BLOCK_TREND if name == "trend_years" else BLOCK_NUMERIC, name))
        genres = sorted({g for gs in titles["genres"] for g in gs})
        design.columns += [(BLOCK_GENRE, g) for g in genres]
        design.columns += [(BLOCK_LANGUAGE, v) for v in sorted(titles["original_language"].dropna().unique())]
        design.columns += [(BLOCK_ORIGIN, v) for v in sorted(titles["origin_country"].dropna().unique())]
        design.columns += [(BLOCK_SHOW, v) for v in sorted(titles["show_id"].dropna().unique())]
        credits = sorted({credit for cs in titles["talent"] for credit in cs})
        design.columns += [(BLOCK_TALENT, credit) for credit in credits]
        design.index = {column: i for i, column in enumerate(design.columns)}
        return design

    # -- numeric block ---------------------------------------------------------------------
    def _raw_numeric(self, titles: pd.DataFrame) -> np.ndarray:
        fmt = titles["format"].to_numpy()
        runtime = titles["runtime_minutes"].to_numpy(dtype=float).copy()
        for i in np.flatnonzero(np.isnan(runtime)):
            runtime[i] = self.runtime_median.get(fmt[i], self.runtime_median["_all"])
        episodes = titles["episodes"].to_numpy(dtype=float).copy()
        episodes[np.isnan(episodes)] = self.episodes_median
        episodes[fmt == "film"] = 1.0

        dates = titles["release_date"]
        # An undated pitch is placed at the end of history; its season terms are set to
        # the training mean below, so seasonality contributes nothing either way.
        undated = dates.isna().to_numpy()
        filled = dates.fillna(self.last_date)
        day_of_year = filled.dt.dayofyear.to_numpy(dtype=float)
        angle = 2 * np.pi * day_of_year / YEAR_DAYS
        # The trend is held flat outside the training releases: a straight line fitted on
        # months of history says little about the level a year later, or years earlier.
        capped = filled.clip(lower=self.date_origin, upper=self.last_date)
        years = (capped - self.date_origin).dt.days.to_numpy(dtype=float) / YEAR_DAYS

        values = {
            "is_series": (fmt == "series").astype(float),
            "log_runtime": np.log(runtime),
            "log_episodes": np.log(episodes),
            "season_sin1": np.sin(angle),
            "season_cos1": np.cos(angle),
            "season_sin2": np.sin(2 * angle),
            "season_cos2": np.cos(2 * angle),
            "trend_years": years,
        }
        if self.budget_median is not None:
            budget = titles["budget"].to_numpy(dtype=float)
            missing = np.isnan(budget)
            values["log_budget"] = np.log1p(np.where(missing, self.budget_median, budget))
            values["budget_missing"] = missing.astype(float)
        if self.availability_median is not None:
            share = titles["release_availability_share"].to_numpy(dtype=float) \
                if "release_availability_share" in titles.columns else np.full(len(titles), np.nan)
            share = np.where(np.isnan(share), self.availability_median, share)
            values["log_availability"] = np.log(np.maximum(share, AVAILABILITY_FLOOR))
        raw = np.column_stack([values[name] for name in self.numeric_names])
        if self.numeric_low is not None:
            for j, name in enumerate(self.numeric_names):
                if name in RANGE_HELD:
                    raw[:, j] = np.clip(raw[:, j], self.numeric_low[j], self.numeric_high[j])
        if undated.any():  # only pitches can be undated; history requires release_date
            for j, name in enumerate(self.numeric_names):
                if name.startswith("season_"):
                    raw[undated, j] = self.numeric_mean[j]
        return raw

    def out_of_range(self, titles: pd.DataFrame) -> list[list[str]]:
        """Per title, each input held to the training range, e.g. "runtime_minutes 0.001
        outside the training range 22-175, held at 22"."""
        raw = self._raw_numeric(titles)
        unclipped = replace(self, numeric_low=None, numeric_high=None)._raw_numeric(titles)
        notes: list[list[str]] = [[] for _ in range(len(titles))]
        for j, name in enumerate(self.numeric_names):
            if name not in RANGE_HELD:
                continue
            column = RANGE_HELD[name]
            given = titles[column].to_numpy(dtype=float) if column in titles.columns else np.full(len(titles), np.nan)
            low, high = self._input_scale(name, self.numeric_low[j]), self._input_scale(name, self.numeric_high[j])
            for i in np.flatnonzero((unclipped[:, j] != raw[:, j]) & ~np.isnan(given)):
                held = low if unclipped[i, j] < raw[i, j] else high
                notes[i].append(f"{column} {given[i]:g} outside the training range "
                                f"{low:g}-{high:g}, held at {held:g}")
        return notes

    @staticmethod
    def _input_scale(name: str, value: float) -> float:
        """A numeric term's value back on its input's own scale, to 3 significant figures."""
        value = float(np.expm1(value) if name == "log_budget" else np.exp(value))
        return float(f"{value:.3g}")

    def numeric(self, titles: pd.DataFrame) -> np.ndarray:
        return (self._raw_numeric(titles) - self.numeric_mean) / self.numeric_sd

    # -- the whole matrix ------------------------------------------------------------------
    def matrix(
        self, titles: pd.DataFrame, cast_exponent: float | None = None, genre_exponent: float | None = None,
        billing_exponent: float | None = None,
    ) -> sparse.csr_matrix:
        exponent = self.cast_exponent if cast_exponent is None else cast_exponent
        genre_weight_exponent = self.genre_exponent if genre_exponent is None else genre_exponent
        billing_weight_exponent = self.billing_exponent if billing_exponent is None else billing_exponent
        billing_lists = titles["billing"] if "billing" in titles.columns else [()] * len(titles)
        n = len(titles)
        rows: list[np.ndarray] = [np.arange(n)]
        cols: list[np.ndarray] = [np.zeros(n, dtype=int)]
        vals: list[np.ndarray] = [np.ones(n)]

        numeric = self.numeric(titles)
        for j, name in enumerate(self.numeric_names):
            block = BLOCK_TREND if name == "trend_years" else BLOCK_NUMERIC
            rows.append(np.arange(n))
            cols.append(np.full(n, self.index[(block, name)]))
            vals.append(numeric[:, j])

        r, c, v = [], [], []
        for i, (genres, language, origin, show, credits, billing) in enumerate(
            zip(titles["genres"], titles["original_language"], titles["origin_country"], titles["show_id"],
                titles["talent"], billing_lists)
        ):
            if genres:
                weight = len(genres) ** -genre_weight_exponent
                for g in genres:
                    j = self.index.get((BLOCK_GENRE, g))
                    if j is not None:
                        r.append(i), c.append(j), v.append(weight)
            for block, level in ((BLOCK_LANGUAGE, language), (BLOCK_ORIGIN, origin), (BLOCK_SHOW, show)):
                j = self.index.get((block, level))
                if j is not None:
                    r.append(i), c.append(j), v.append(1.0)
            per_role: dict[str, int] = {}
            for _, role in credits:
                per_role[role] = per_role.get(role, 0) + 1
            for k, credit in enumerate(credits):
                j = self.index.get((BLOCK_TALENT, credit))
                if j is not None:
                    weight = per_role[credit[1]] ** -exponent
                    order = billing[k] if k < len(billing) else math.nan
                    if order >= 1:  # NaN (not billed) compares False
                        weight *= order ** -billing_weight_exponent
                    r.append(i), c.append(j), v.append(weight)
        rows.append(np.asarray(r, dtype=int))
        cols.append(np.asarray(c, dtype=int))
        vals.append(np.asarray(v, dtype=float))
        return sparse.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n, len(self.columns)),
        )

    def blocks(self) -> np.ndarray:
        return np.array([block for block, _ in self.columns], dtype=object)
