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


def suppress_complement(parts: pd.DataFrame, profiles: str, columns: Iterable[str],
                        totals: Iterable[Sequence[bool]] | None = None,
                        published: Sequence[bool] | None = None) -> pd.DataFrame:
    """Secondary suppression for parts of a whole (shares that add up to 100 %, or volumes
    whose total is shown): the hidden parts' sum is the whole minus the shown ones, so it
    must rest on `k` profiles too. Two small parts (3 profiles and 0) would otherwise give
    away their sum, and with it each other. Distinct profiles do not add up across parts,
    so that is provable only when a hidden part has `k` or more: when some parts of a whole
    are suppressed and none of them has `k` profiles, the smallest shown part (by
    `profiles`) is suppressed with them. When every part is hidden, their sum is the whole,
    which rests on its own profiles.

    `parts` is already passed through `suppress` on `profiles`; `columns` are the value
    columns that add up. `totals` are masks over the rows, one per whole shown elsewhere
    (a release window, a Top 10 week: days whose sum is on another page); by default all
    the rows are one whole. Wholes that overlap can be combined: a part suppressed for one
    whole may be the only hidden part of another, which then gives it away, and with it a
    small part beside it in the first. So beyond each whole's own rule, no small hidden
    part may be a linear combination of the wholes (an audit of the wholes restricted to
    the hidden parts); while one is, a shown part that the combination subtracts is
    suppressed too: the smallest whose hiding leaves the small part undetermined, which
    may lie in a whole not holding the small part at all (a 7-day window minus the Top 10
    week that overlaps it, plus the week's shown day 8, is day 1). `published` marks parts
    shown elsewhere as they are (a release's first day is its 1-day window): their values
    are known, and hiding them would protect nothing, so they are never the part
    suppressed; a small part that the wholes and the published parts give away by
    themselves is left as it is. Returns a copy.
    """
    out = parts.copy()
    if out.empty:
        return out
    wholes = (np.ones((1, len(out)), dtype=bool) if totals is None
              else np.array([np.asarray(m, dtype=bool) for m in totals], dtype=bool).reshape(-1, len(out)))
    counts = pd.to_numeric(out[profiles], errors="coerce").to_numpy(float)
    hidden = is_suppressed(out, profiles).to_numpy().copy()
    known = np.zeros(len(out), dtype=bool) if published is None else np.asarray(published, dtype=bool)
    covered = np.zeros(len(out), dtype=bool)  # suppressed here: parts with k or more profiles
    stuck = np.zeros(len(wholes), dtype=bool)  # no shown part left to suppress
    # Small parts the wholes and the published parts give away on their own: hiding shown
    # parts cannot protect them (that is for the tables publishing the wholes).
    given_away = np.zeros(len(out), dtype=bool)

    def determined(unknown: np.ndarray, i: int) -> bool:
        """Whether part `i` is a linear combination of the wholes once the parts not
        `unknown` (shown or published) are subtracted from them."""
        system = wholes[:, unknown].astype(float)
        at = int(np.count_nonzero(unknown[:i]))
        target = np.zeros(system.shape[1])
        target[at] = 1.0
        weights = np.linalg.lstsq(system.T, target, rcond=None)[0]
        return bool(np.abs(system.T @ weights - target).max() < 1e-9)

    def next_part() -> int | None:
        """The shown part to suppress next, or None when the hidden parts are safe."""
        unknown = hidden & ~known
        for j, whole in enumerate(wholes):
            mine = unknown & whole
            if stuck[j] or not mine.any() or (mine & covered).any() or not (whole & ~unknown).any():
                continue  # nothing hidden, a part with k profiles among it, or it is the whole
            candidates = whole & ~hidden & ~known
            if not candidates.any():
                stuck[j] = True
                continue
            return int(np.argmin(np.where(candidates, counts, np.inf)))
        if not unknown.any() or len(wholes) == 0:
            return None
        columns_ = np.flatnonzero(unknown)
        system = wholes[:, columns_].astype(float)
        projection = np.linalg.pinv(system) @ system  # onto the combinations the wholes give
        for at, i in enumerate(columns_):
            if covered[i] or given_away[i] or projection[at, at] <= 1 - 1e-9:
                continue
            # The wholes that give part i away, with their weights: a shown part whose
            # wholes' weights do not cancel out is in the difference, so hiding it breaks it
            # (one in two wholes weighted +1 and -1, as a day in both a window and a week
            # that give a day away, is not).
            target = np.zeros(len(columns_))
            target[at] = 1.0
            weights = np.linalg.lstsq(system.T, target, rcond=None)[0]
            reach = np.abs(wholes.T.astype(float) @ weights) > 1e-9
            candidates = np.flatnonzero(reach & ~hidden & ~known)
            if len(candidates) == 0:
                given_away[i] = True
                continue
            candidates = candidates[np.argsort(counts[candidates], kind="stable")]
            for j in candidates:  # the smallest that leaves part i undetermined
                trial = unknown.copy()
                trial[j] = True
                if not determined(trial, i):
                    return int(j)
            return int(candidates[0])  # none alone does: hide one and look again
        return None

    while (second := next_part()) is not None:
        hidden[second] = covered[second] = True
    if covered.any():
        for column in dict.fromkeys([*columns, profiles]):
            out[column + FLAG_SUFFIX] = is_suppressed(out, column).to_numpy() | covered
            out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
            out.loc[covered, column] = np.nan
    return out


def suppress_nested(frame: pd.DataFrame, k: int, *, whole: str, order: str, increment: str,
                    volumes: Sequence[str], counts: Mapping[str, Iterable[str]]) -> pd.DataFrame:
    """Secondary suppression for nested totals: a programme's 1-, 7-, 28- and 91-day
    windows, each containing the one before. Two shown totals give their difference away
    (the 7-day hours minus the 1-day hours are days 2-7's), so that difference must rest
    on `k` profiles too.

    `frame` holds the totals of each `whole`, ranked by `order`, already passed through
    `suppress`. Walking each whole from its smallest total, against the last row shown:

    - `volumes` (hours, plays, averages): `increment` counts the distinct profiles behind
      what a row adds to the row before it, and the difference of two rows rests on at
      least the largest increment between them. A row's volumes are suppressed when that
      bound is between 0 and `k` (a difference of nobody gives nobody away; an unknown
      increment is small, as everywhere).
    - `counts`, like `suppress`'s rules (a profile count and the values resting on it):
      the difference of two counts is itself a count of profiles (the 7-day starters
      minus the 1-day starters started on days 2-7), so a count is suppressed, with its
      values, when that difference is between 0 and `k`.

    Returns a copy.
    """
    out = frame.copy()
    ranked = np.lexsort((out[order].to_numpy(), out[whole].astype(str).to_numpy()))
    wholes = out[whole].astype(str).to_numpy()[ranked]
    first = np.r_[True, wholes[1:] != wholes[:-1]]  # where each whole's walk starts
    # An unknown increment (or none at all: marts built before the column) is small.
    given = out[increment] if increment in out.columns else pd.Series(np.nan, index=out.index)
    added = pd.to_numeric(given, errors="coerce").fillna(0.5).to_numpy(float)[ranked]
    hide = {column: np.zeros(len(out), dtype=bool) for column in [*volumes, *counts]}
    # Volumes: the profiles behind everything added since the last row shown.
    shown = ~is_suppressed(out, volumes[0]).to_numpy()[ranked]
    started, bound = False, 0.0
    for i, row in enumerate(ranked):
        if first[i]:
            started, bound = False, 0.0
        bound = max(bound, added[i])
        if not shown[i]:
            continue
        if started and 0 < bound < k:
            for column in volumes:
                hide[column][row] = True
        else:
            started, bound = True, 0.0
    # Counts: each against its own value in the last row of the whole that showed it.
    for column in counts:
        values = pd.to_numeric(out[column], errors="coerce").to_numpy(float)[ranked]
        shown = ~is_suppressed(out, column).to_numpy()[ranked]
        previous = np.nan
        for i, row in enumerate(ranked):
            if first[i]:
                previous = np.nan
            if not shown[i]:
                continue
            if 0 < values[i] - previous < k:  # False while nothing was shown (NaN)
                hide[column][row] = True
            else:
                previous = values[i]
    for source, columns in [*((v, [v]) for v in volumes), *counts.items()]:
        for column in dict.fromkeys([source, *columns]):
            small = hide[source]
            flag = column + FLAG_SUFFIX
            out[flag] = is_suppressed(out, column).to_numpy() | small
            if small.any():
                out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
                out.loc[small, column] = np.nan
    return out


def suppress_apart(frame: pd.DataFrame, k: int, *, whole: str, counts: Mapping[str, Iterable[str]],
                   top: str | None = None) -> pd.DataFrame:
    """Secondary suppression for counts of profiles that sit inside one another: a
    retention curve (the starters who reached 90 % are among those who reached 80 %, and
    all of them among the title's starters), a season's funnel (episode 3's starters are
    among episode 2's, nearly, and all among episode 1's). The difference of two such
    counts is itself a count (80 % minus 90 % is the starters who stopped in between), and
    shares of one denominator give it away as exactly, so within each `whole` any two
    values of a count column shown must differ by 0 or by `k` or more, and each must
    differ so from `top`.

    `frame` is already passed through `suppress`; `counts` maps each count column to the
    values resting on it (as `suppress`'s rules), and `top` names the count the others
    are within (the starters), shown beside them and never suppressed here. Walking a
    whole's shown counts of a column from the largest down, starting from `top`, a count
    within `k` of the last one kept is suppressed with its values. Counts that are nearly
    but not quite each other's subsets (two episodes' starters: a profile can skip one)
    are held apart all the same: most profiles watch in order. Returns a copy.
    """
    out = frame.copy()
    hide = {column: np.zeros(len(out), dtype=bool) for column in counts}
    keys = out[whole].astype(str).to_numpy()
    pool = pd.concat([pd.DataFrame({"key": keys, "row": np.arange(len(out)), "column": column,
                                    "value": pd.to_numeric(out[column], errors="coerce").to_numpy(float)})
                      [~is_suppressed(out, column).to_numpy()] for column in counts], ignore_index=True)
    if top is not None:
        tops = pd.DataFrame({"key": keys, "value": pd.to_numeric(out[top], errors="coerce").to_numpy(float)})
        tops = tops[~is_suppressed(out, top).to_numpy()].drop_duplicates("key").set_index("key")["value"]
    for (key, _), cells in pool.dropna(subset=["value"]).groupby(["key", "column"], sort=False):
        kept = tops.get(key, np.nan) if top is not None else np.nan
        for cell in cells.sort_values("value", ascending=False, kind="stable").itertuples(index=False):
            if 0 < abs(kept - cell.value) < k:  # False while nothing is kept (NaN)
                hide[cell.column][cell.row] = True
            else:
                kept = cell.value
    for source, columns in counts.items():
        small = hide[source]
        for column in dict.fromkeys([source, *columns]):
            out[column + FLAG_SUFFIX] = is_suppressed(out, column).to_numpy() | small
            if small.any():
                out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
                out.loc[small, column] = np.nan
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
