"""Small-cell suppression: the one rule behind every audience number the dashboards and the
offline reports show.

A number computed from fewer than `k` distinct profiles (`Settings.min_audience`, 10 by
default) is never shown: it is blanked (NaN, so charts leave a gap) and flagged, and the
display layer prints `SUPPRESSED_TEXT` in its place. The profile count itself is blanked
too, since "3 profiles" is such a number. An unknown count is treated as small.

Catalogue facts (what is on offer, runtimes, release dates) do not describe profiles and
are never suppressed; forecasts are model outputs over the whole history, not cells.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

SUPPRESSED_TEXT = "suppressed"
FLAG_SUFFIX = "__suppressed"


def suppress(frame: pd.DataFrame, k: int, rules: Mapping[str, Iterable[str]]) -> pd.DataFrame:
    """A copy of `frame` with every small cell blanked and flagged.

    `rules` maps a distinct-profile count column to the value columns computed from those
    profiles, e.g. `{"unique_profiles": ["hours_viewed", "views"], "starters":
    ["completion_rate"]}`. For each rule, rows whose count is below `k` (or unknown) get
    the count and the values set to NaN and `<column>__suppressed` set to True. Applying
    the rule twice changes nothing.
    """
    out = frame.copy()
    for profiles, columns in rules.items():
        counts = pd.to_numeric(out[profiles], errors="coerce")
        small = (counts.isna() | (counts < k)).to_numpy()
        if profiles + FLAG_SUFFIX in out.columns:  # already suppressed: keep those rows small
            small |= out[profiles + FLAG_SUFFIX].to_numpy(dtype=bool)
        for column in dict.fromkeys([*columns, profiles]):
            flag = column + FLAG_SUFFIX
            previous = out[flag].to_numpy(dtype=bool) if flag in out.columns else False
            out[flag] = small | previous
            if small.any():
                if not pd.api.types.is_float_dtype(out[column]):
                    out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
                out.loc[small, column] = np.nan
    return out


def suppress_complement(parts: pd.DataFrame, profiles: str, columns: Iterable[str]) -> pd.DataFrame:
    """Secondary suppression for parts of a whole (shares that add up to 100 %, or volumes
    whose total is shown): the hidden parts' sum is the whole minus the shown ones, so it
    must rest on `k` or more profiles too. Two small parts (3 profiles and 0) would
    otherwise give away their sum, and with it each other. Distinct profiles do not add up
    across parts, so that is provable only when a hidden part has `k` or more: when any
    part is suppressed, the smallest shown part (by `profiles`) is suppressed with it.

    `parts` is one whole, already passed through `suppress` on `profiles`; `columns` are
    the value columns that add up. Returns a copy.
    """
    out = parts.copy()
    hidden = is_suppressed(out, profiles).to_numpy()
    if not hidden.any() or hidden.all():
        return out
    counts = pd.to_numeric(out[profiles], errors="coerce").to_numpy(float)
    second = int(np.nanargmin(np.where(hidden, np.inf, counts)))
    for column in dict.fromkeys([*columns, profiles]):
        flag = column + FLAG_SUFFIX
        out[flag] = is_suppressed(out, column).to_numpy() | (np.arange(len(out)) == second)
        out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
        out.loc[out.index[second], column] = np.nan
    return out


def is_suppressed(frame: pd.DataFrame, column: str) -> pd.Series:
    """True where `column` was blanked by `suppress` (all False if it never was)."""
    flag = column + FLAG_SUFFIX
    if flag in frame.columns:
        return frame[flag].astype(bool)
    return pd.Series(False, index=frame.index)


def profiles_at_least(cells: pd.DataFrame, keys: Sequence[str], profiles: str = "unique_profiles") -> pd.DataFrame:
    """A lower bound on the distinct profiles behind each group of mart cells.

    Distinct counts do not add up across cells (a profile can play on two devices or two
    days), but the union of the cells has at least as many profiles as its largest cell.
    Rolled-up numbers are suppressed on this bound, so they are shown only when they
    provably rest on `k` or more profiles; that over-suppresses a little, never under.
    Returns the keys and a `profiles_at_least` column.
    """
    if cells.empty:
        return pd.DataFrame(columns=[*keys, "profiles_at_least"])
    bound = cells.groupby(list(keys), dropna=False, observed=True)[profiles].max()
    return bound.rename("profiles_at_least").reset_index()


def format_value(value, suppressed: bool, fmt: str = "{:,.0f}") -> str:
    """The text for one number: the suppression marker, a dash for a genuine null, or `fmt`."""
    if suppressed:
        return SUPPRESSED_TEXT
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "–"
    return fmt.format(value)
