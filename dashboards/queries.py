"""The pages' data functions: marts in, display-ready frames out. Plain pandas, no I/O.

Every function takes the mart frames it needs (as `MartReader.read` returns them: dates as
datetime64) and the suppression threshold `k`, and returns frames whose small cells are
already blanked and flagged by `privacy.suppress`. Metrics come from the marts; the only
arithmetic here is rolling cells up (sums of additive columns, the profile lower bound)
and comparing (ranks between weeks, medians over programmes). The Top 10, genre and
market marts carry their own distinct-profile count (`unique_profiles`), so those pages
suppress on it directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import numpy as np
import pandas as pd

from .privacy import (is_suppressed, profiles_at_least, suppress, suppress_apart, suppress_complement,
                      suppress_nested)

# The global Top 10 has four lists, by format and original language; each country's has
# two, by format (as Netflix publishes them).
LISTS = {
    "films_english": "Films (English)",
    "films_non_english": "Films (Non-English)",
    "tv_english": "TV (English)",
    "tv_non_english": "TV (Non-English)",
}
COUNTRY_LISTS = {"films": "Films", "tv": "TV"}
WINDOWS = (1, 7, 28, 91)
WINDOW_BEFORE_DATA = "before the data"  # a window_state: released before the earliest event date
GLOBAL = "GLOBAL"


def lists_for(market: str) -> dict[str, str]:
    """The Top 10 lists of a market: list_name -> label."""
    return LISTS if market == GLOBAL else COUNTRY_LISTS
ORIGIN_GROUPS = ("domestic", "other_european", "us", "rest_of_world")
FORMATS = ("film", "series")


def programme_names(programmes: pd.DataFrame) -> pd.Series:
    return programmes.set_index("programme_id")["programme_name"]


def distinct_labels(labels: Iterable, keys: Iterable) -> list[str]:
    """Labels for dropdown options or a chart's rows that keep different things apart: a
    label shared by different keys (two people, or a remake, with the same name) gets its
    key appended; a unique label is unchanged. (A chart places rows by label, so it would
    merge two programmes of the same name.)"""
    labels, keys = [str(label) for label in labels], [str(key) for key in keys]
    keys_of: dict[str, set[str]] = {}
    for label, key in zip(labels, keys):
        keys_of.setdefault(label, set()).add(key)
    return [f"{label} · {key}" if len(keys_of[label]) > 1 else label for label, key in zip(labels, keys)]


def data_through(daily: pd.DataFrame) -> pd.Timestamp | None:
    """The latest event date in the marts (fct_title_daily), or None before any viewing."""
    return None if daily.empty else pd.Timestamp(daily["event_date"].max())


def period_options(starts: list[pd.Timestamp], last_day, through: pd.Timestamp | None,
                   label) -> tuple[list[dict], str | None]:
    """Dropdown options for weeks or months (latest first) and the one to open on: the
    latest period the data covers to its end, since a period still in progress looks like a
    collapse next to whole ones. A period in progress is labelled "(so far)".

    `last_day(start)` is the period's last day; `label(start)` its text.
    """
    options, default = [], None
    for start in starts:
        done = through is None or last_day(start) <= through
        options.append({"label": label(start) + ("" if done else " (so far)"), "value": start.strftime("%Y-%m-%d")})
        if done and default is None:
            default = options[-1]["value"]
    return options, default or (options[0]["value"] if options else None)


def week_last_day(start: pd.Timestamp) -> pd.Timestamp:
    return start + pd.Timedelta(days=6)


def month_last_day(start: pd.Timestamp) -> pd.Timestamp:
    return start + pd.offsets.MonthEnd(0)


# --- Top 10 ----------------------------------------------------------------------------------

def top10_weeks(top10: pd.DataFrame, market: str = GLOBAL) -> list[pd.Timestamp]:
    """Weeks with a list for the market, latest first."""
    weeks = top10.loc[top10["market"] == market, "week_start_date"].drop_duplicates()
    return sorted(pd.to_datetime(weeks), reverse=True)


def top10_markets(top10: pd.DataFrame) -> list[str]:
    return [GLOBAL] + sorted(m for m in top10["market"].unique() if m != GLOBAL)


def top10_lists(top10: pd.DataFrame, programmes: pd.DataFrame, market: str, week_start: pd.Timestamp,
                k: int) -> pd.DataFrame:
    """The lists of one market and week (`lists_for`) with week-on-week movement. Hours and views
    are suppressed on the programme's distinct profiles in that week and market, and a
    country's also as a part of the global total (`_top10_week`).

    `movement`: "new" (never in this list before), "back" (in it before, not last week),
    "up n", "down n" or "same";
    empty when the data has no previous week. `weeks_in_top10` counts the weeks up to this
    one in which the programme made this market's list.
    """
    week_start = pd.Timestamp(week_start)
    in_market = top10[top10["market"] == market]
    week = _top10_week(top10[top10["week_start_date"] == week_start], k)
    current = week[week["market"] == market]
    previous_week = week_start - timedelta(days=7)
    previous = in_market[in_market["week_start_date"] == previous_week]
    has_previous = not previous.empty
    current = current.merge(
        previous[["list_name", "programme_id", "week_rank"]].rename(columns={"week_rank": "previous_rank"}),
        on=["list_name", "programme_id"], how="left")
    history = in_market[in_market["week_start_date"] <= week_start]
    weeks_in = history.groupby(["list_name", "programme_id"])["week_start_date"].nunique().rename("weeks_in_top10")
    current = current.join(weeks_in, on=["list_name", "programme_id"])

    def movement(row) -> str:
        if not has_previous:
            return ""
        if pd.isna(row["previous_rank"]):
            return "back" if row["weeks_in_top10"] > 1 else "new"
        change = int(row["previous_rank"]) - int(row["week_rank"])
        return "same" if change == 0 else (f"up {change}" if change > 0 else f"down {-change}")

    current["movement"] = current.apply(movement, axis=1) if len(current) else pd.Series(dtype=str)
    current["programme_name"] = current["programme_id"].map(programme_names(programmes)).fillna(current["programme_id"])
    current["list_order"] = current["list_name"].map({name: i for i, name in enumerate(lists_for(market))})
    return current.sort_values(["list_order", "week_rank"]).drop(columns="list_order").reset_index(drop=True)


def _top10_week(week: pd.DataFrame, k: int) -> pd.DataFrame:
    """Every market's rows of one week of fct_top10_weekly, suppressed as the Top 10 page
    shows them. A programme's global hours are the sum of its hours in each country: where
    its global row is shown, its country rows listed in the mart (the countries' own Top
    10s) and the rest (the countries where it is not listed, the global hours minus the
    listed ones) are parts of that whole, and the global hours minus the shown countries
    would give the hidden ones away. So they go through `suppress_complement`: the rest is
    never shown, and it rests on at least the global profiles minus the listed countries'
    (a lower bound, since a profile can watch in two countries). Where that bound is k or
    more, the hidden parts' sum is safe; where it is not, the rest is a small hidden part,
    so the smallest shown country is hidden with it (the global hours minus the countries
    would be the rest's). A rest of no hours (the programme is listed wherever it was
    watched) is no part, and then a hidden country takes the smallest shown one with it.
    The cells are worked out over the whole week, so they are the same whichever market's
    page is open."""
    week = week.reset_index(drop=True)
    out = suppress(week, k, {"unique_profiles": ["hours_viewed", "views"]})
    if out.empty:
        return out
    profiles = pd.to_numeric(week["unique_profiles"], errors="coerce")
    hours = pd.to_numeric(week["hours_viewed"], errors="coerce")
    is_global = (week["market"] == GLOBAL).to_numpy()
    shown_global = week.loc[is_global & ~is_suppressed(out, "hours_viewed").to_numpy(), "programme_id"]
    for programme_id, at in zip(shown_global, shown_global.index):
        listed = np.flatnonzero(~is_global & (week["programme_id"] == programme_id).to_numpy())
        if len(listed) == 0:
            continue
        rest_hours = hours[at] - hours.iloc[listed].sum()
        rest_profiles = profiles[at] - profiles.iloc[listed].sum(skipna=False)  # NaN when one is unknown
        has_rest = not np.isclose(rest_hours, 0.0, rtol=0.0, atol=1e-9 * max(1.0, abs(hours[at])))
        if has_rest and rest_profiles >= k:
            continue  # the hidden countries' hours are hidden in a rest of k profiles or more
        parts = out.iloc[listed]
        if has_rest:  # the countries without a list: hidden, and small
            rest = {"unique_profiles": max(rest_profiles, 0.0) if pd.notna(rest_profiles) else np.nan,
                    "hours_viewed": np.nan, "views": np.nan}
            parts = pd.concat([parts, pd.DataFrame([{**rest, **{c + "__suppressed": True for c in rest}}])],
                              ignore_index=True)
        parts = suppress_complement(parts, "unique_profiles", ["hours_viewed", "views"]).iloc[:len(listed)]
        for column in ("hours_viewed", "views", "unique_profiles"):
            out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
            out.loc[listed, column] = parts[column].to_numpy()
            out.loc[listed, column + "__suppressed"] = parts[column + "__suppressed"].to_numpy()
    return out


# --- Title -----------------------------------------------------------------------------------

def programme_options(programmes: pd.DataFrame) -> list[dict]:
    ordered = programmes.sort_values(["programme_name", "programme_id"])
    labels = [f"{name} ({'film' if kind == 'film' else 'season'})"
              for name, kind in zip(ordered["programme_name"], ordered["programme_type"])]
    details = [f"{pd.Timestamp(d):%Y}, {pid}" if pd.notna(d) else pid
               for d, pid in zip(ordered["release_date"], ordered["programme_id"])]
    return [{"label": label, "value": pid}
            for label, pid in zip(distinct_labels(labels, details), ordered["programme_id"])]


def title_daily(daily: pd.DataFrame, programmes: pd.DataFrame, programme_id: str, k: int, *,
                windows: pd.DataFrame | None = None, top10: pd.DataFrame | None = None) -> pd.DataFrame:
    """Daily hours and views of a programme over all countries and devices, by days since
    release. Views are the programme's: hours ÷ its runtime in hours (a season's total
    runtime for a season, as in fct_top10_weekly and fct_title_release_windows).

    A day is suppressed on the largest of its cells' profiles (a lower bound on the day's).
    The days add up to totals other tables show: the programme's release windows
    (fct_title_release_windows) and its weeks in the global Top 10 (fct_top10_weekly). A
    shown total minus the shown days would give the hidden days' sum away, so within each
    such total the days are also suppressed with `suppress_complement`."""
    programme = programmes.set_index("programme_id").loc[programme_id]
    cells = daily[daily["programme_id"] == programme_id]
    if cells.empty:
        return pd.DataFrame(columns=["event_date", "days_since_release", "hours_viewed", "views",
                                     "plays", "profiles_at_least"])
    out = cells.groupby("event_date").agg(hours_viewed=("hours_viewed", "sum"), plays=("plays", "sum"))
    out = out.join(profiles_at_least(cells, ["event_date"]).set_index("event_date")).reset_index()
    out["views"] = out["hours_viewed"] / (programme["runtime_s"] / 3600.0)
    out["days_since_release"] = (out["event_date"] - pd.Timestamp(programme["release_date"])).dt.days + 1
    out = out.sort_values("event_date").reset_index(drop=True)
    out = suppress(out, k, {"profiles_at_least": ["hours_viewed", "views", "plays"]})
    shown = (shown_windows(windows[windows["programme_id"] == programme_id], k) if windows is not None
             else pd.DataFrame(columns=["window_days", "hours_viewed"]))
    shown_days = sorted(shown.loc[~is_suppressed(shown, "hours_viewed"), "window_days"])
    # The first day is the 1-day window: where that is shown, hiding the day protects nothing.
    published = (out["days_since_release"] == 1).to_numpy() & (1 in shown_days)
    return suppress_complement(out, "profiles_at_least", ["hours_viewed", "views", "plays"],
                               _daily_totals(out, programme_id, k, shown_days, top10), published)


def _daily_totals(days: pd.DataFrame, programme_id: str, k: int, windows: list[int],
                  top10: pd.DataFrame | None) -> list:
    """Masks over a programme's days, one per total shown elsewhere: the days between two
    release windows whose hours are shown (`windows`: a window's days minus the smaller
    shown one's), and each global Top 10 week whose hours are shown."""
    totals, since = [], days["days_since_release"].to_numpy()
    previous = 0
    for window in windows:
        totals.append((since > previous) & (since <= window))
        previous = window
    if top10 is not None:
        weeks = top10[(top10["programme_id"] == programme_id) & (top10["market"] == GLOBAL)
                      & (pd.to_numeric(top10["unique_profiles"], errors="coerce") >= k)]
        for start in pd.to_datetime(weeks["week_start_date"]).drop_duplicates():
            totals.append(((days["event_date"] >= start) & (days["event_date"] <= week_last_day(start))).to_numpy())
    return totals


def window_states(windows: pd.DataFrame) -> pd.Series:
    """Per row of fct_title_release_windows: "complete", "open" or "before the data".

    The mart lists a programme once it is released, so its 1-day window has ended: if
    that window is still incomplete, the programme came out before the data begins."""
    done = windows["is_window_complete"].fillna(False).astype(bool)
    first_day_done = done.where(windows["window_days"] == 1).groupby(windows["programme_id"]).transform("max")
    before = first_day_done.eq(False)
    return pd.Series(["complete" if d else (WINDOW_BEFORE_DATA if b else "open") for d, b in zip(done, before)],
                     index=windows.index)


def shown_windows(windows: pd.DataFrame, k: int) -> pd.DataFrame:
    """fct_title_release_windows rows with their small cells suppressed: volumes on the
    window's profiles, rates on its starters, and any profile count below k on itself.
    The completion rate is also suppressed with its completers: next to the starters it
    would give their number away (starters x rate). A programme's windows are nested, so
    a window is also suppressed where its difference from a smaller window shown beside it
    rests on fewer than k profiles (`increment_profiles`) or is a count below k. Every
    page that shows a window's numbers (the Title page, a talent's programmes, the
    comparables) starts here."""
    counts = {
        "unique_profiles": ["hours_viewed", "views", "plays"],
        "starters": ["completion_rate", "avg_share_watched"],
        "watchers": [],
        "completers": ["completion_rate"],
    }
    return suppress_nested(suppress(windows, k, counts), k, whole="programme_id", order="window_days",
                           increment="increment_profiles",
                           volumes=["hours_viewed", "views", "plays", "avg_share_watched"],
                           counts={"unique_profiles": [], "starters": ["completion_rate"], "watchers": [],
                                   "completers": ["completion_rate"]})


def views_profiles(windows: pd.DataFrame, k: int, window_days: int = 28) -> pd.Series:
    """Per programme (the index), the profiles behind its window's views where
    `shown_windows` shows them, and unknown (NaN) where it suppresses them, so that a
    number resting on those views (a talent's programme, a comparable's actual) is
    suppressed with them."""
    at = (windows["window_days"] == window_days).to_numpy()
    rows = shown_windows(windows, k)[at]
    profiles = pd.to_numeric(windows["unique_profiles"], errors="coerce").to_numpy(float)[at]
    return pd.Series(np.where(is_suppressed(rows, "views").to_numpy(), np.nan, profiles),
                     index=rows["programme_id"].to_numpy(), name="unique_profiles")


def release_windows(windows: pd.DataFrame, programme_id: str, k: int) -> pd.DataFrame:
    """The 1/7/28/91-day windows of a programme, suppressed as in `shown_windows`, with
    `window_state`: "complete", "open" (its last day is after the latest event date) or
    "before the data" (the programme was released before the earliest event date, so its
    windows were never wholly observed)."""
    rows = windows[windows["programme_id"] == programme_id].sort_values("window_days").reset_index(drop=True)
    rows["window_state"] = window_states(rows)
    return shown_windows(rows, k)


def retention_curves(retention: pd.DataFrame, titles: pd.DataFrame, programme_id: str, k: int) -> pd.DataFrame:
    """Retention curves of the programme's titles (the film, or each episode), with a 0%
    point at 100% so the curve starts where every starter is."""
    members = titles.loc[titles["programme_id"] == programme_id, ["title_id", "title_name", "episode_number"]]
    curves = retention.merge(members, on="title_id")
    # A share gives its numerator away beside the starters: 8 % of 12 is one profile.
    curves = suppress(curves, k, {"starters": ["share_reached", "starters_reached"],
                                  "starters_reached": ["share_reached"]})
    # The points are nested (who reached 90 % reached 80 %): two shown ones differ by a count.
    curves = suppress_apart(curves, k, whole="title_id", counts={"starters_reached": ["share_reached"]},
                            top="starters")
    return curves.sort_values(["episode_number", "title_id", "progress_pct"], na_position="first").reset_index(drop=True)


def season_funnel(funnel: pd.DataFrame, programme_id: str, k: int) -> pd.DataFrame:
    rows = funnel[funnel["season_id"] == programme_id].sort_values("episode_number").reset_index(drop=True)
    rows = suppress(rows, k, {
        "episode_1_starters": ["share_started", "share_completed", "episode_starters", "episode_completers"],
        # Each share beside the episode-1 starters gives its numerator away, as above.
        "episode_starters": ["share_started"],
        "episode_completers": ["share_completed"],
        "season_completers": ["binge_rate", "median_days_to_complete"],
    })
    # Every count is within the episode-1 starters, each episode's nearly within the one
    # before's, and an episode's completers within its starters: two shares shown differ by
    # a count over the same denominator.
    rows = suppress_apart(rows, k, whole="season_id", top="episode_1_starters",
                          counts={"episode_starters": ["share_started"], "episode_completers": ["share_completed"]})
    return suppress_apart(rows, k, whole="title_id", top="episode_starters",
                          counts={"episode_completers": ["share_completed"]})


def biggest_drop(funnel_rows: pd.DataFrame) -> dict | None:
    """Where the season loses the most people: the episode with the largest fall in the
    share of episode-1 starters who start it, against the episode before."""
    shares = funnel_rows.set_index("episode_number")["share_started"].astype(float)
    drops = -shares.diff()
    if drops.dropna().empty or drops.max() <= 0:
        return None
    episode = int(drops.idxmax())
    return {"episode_number": episode, "drop": float(drops.max()),
            "share_before": float(shares.loc[:episode].iloc[-2]), "share_after": float(shares.loc[episode])}


# --- Genre -----------------------------------------------------------------------------------

def genre_weekly(genres: pd.DataFrame, k: int) -> pd.DataFrame:
    """Volumes are suppressed on the genre's distinct profiles in the week, starters and
    the completion rate on its distinct starters and completers: `starters` and
    `completers` are sums over the genre's programmes, so one profile that finished twelve
    of them makes twelve."""
    rows = suppress(genres, k, {
        "unique_profiles": ["hours_viewed", "views", "share_of_hours"],
        "starter_profiles": ["starters", "completers", "completion_rate"],
        "completer_profiles": ["completers", "completion_rate"],  # a rate is no safer than its numerator
    })
    return rows.sort_values(["week_start_date", "genre"]).reset_index(drop=True)


# --- Talent ----------------------------------------------------------------------------------

def talent_options(talent: pd.DataFrame) -> list[dict]:
    credited = talent[talent["programmes_credited"] > 0].sort_values(["talent_name", "talent_id"])
    labels = [f"{name} ({', '.join(roles)})" for name, roles in zip(credited["talent_name"], credited["roles"])]
    return [{"label": label, "value": tid}
            for label, tid in zip(distinct_labels(labels, list(credited["talent_id"])), credited["talent_id"])]


def _window_28(windows: pd.DataFrame, k: int) -> pd.DataFrame:
    """Each programme's 28-day window: the profiles behind its shown views (`views_profiles`),
    the starters behind its completion rate where `shown_windows` shows the rate with its
    starters and completers, unknown (NaN) where it suppresses any of them
    (`completion_profiles`), and its state."""
    at = (windows["window_days"] == 28).to_numpy()
    rows = windows.loc[at, ["programme_id"]]
    shown = shown_windows(windows, k)[at]
    rate_hidden = (is_suppressed(shown, "completion_rate") | is_suppressed(shown, "completers")
                   | is_suppressed(shown, "starters")).to_numpy()
    starters = pd.to_numeric(windows["starters"], errors="coerce").to_numpy(float)[at]
    return rows.assign(unique_profiles=rows["programme_id"].map(views_profiles(windows, k)).to_numpy(),
                       completion_profiles=np.where(rate_hidden, np.nan, starters),
                       window_state=window_states(windows).to_numpy()[at])


def _smallest(counts: pd.Series) -> float:
    """The smallest of a group's counts; unknown (NaN) if any is, since an unknown count is small."""
    return counts.min(skipna=False)


def genre_medians(training: pd.DataFrame, windows: pd.DataFrame, k: int) -> pd.DataFrame:
    """Median 28-day views per genre over programmes with a complete 28-day window. The
    median is one programme's views (or the mean of two), so it is suppressed unless each
    of those programmes has its views shown (`views_profiles`): beside the ones shown, it
    would otherwise give a hidden one's views away. `smallest_programme_profiles` is the
    smallest programme's count."""
    complete = training[training["is_window_complete"].fillna(False).astype(bool)]
    rows = complete[["programme_id", "genres", "views_28d"]].merge(
        _window_28(windows, k)[["programme_id", "unique_profiles"]], on="programme_id", how="left")
    rows = rows.explode("genres").rename(columns={"genres": "genre"}).dropna(subset=["genre"])
    medians = rows.groupby("genre").agg(genre_median_views_28d=("views_28d", "median"),
                                        genre_programmes=("programme_id", "nunique"),
                                        smallest_programme_profiles=("unique_profiles", _smallest)).reset_index()
    return suppress(medians, k, {"smallest_programme_profiles": ["genre_median_views_28d"]})


def _genre_median_of(frame: pd.DataFrame, medians: pd.DataFrame, genre: str) -> pd.DataFrame:
    """`frame` with the median of the genre in its column `genre`; a genre with no median
    (no complete programme) has none, which is not a suppressed one."""
    out = frame.merge(medians[["genre", "genre_median_views_28d", "genre_median_views_28d__suppressed"]]
                      .rename(columns={"genre": genre}), on=genre, how="left")
    flag = "genre_median_views_28d__suppressed"
    out[flag] = out[flag].astype("boolean").fillna(False).astype(bool)
    return out


def talent_programmes(training: pd.DataFrame, windows: pd.DataFrame, medians: pd.DataFrame,
                      talent_id: str, k: int) -> pd.DataFrame:
    """One row per programme and role the person is credited on, with the 28-day views and
    the median of the programme's primary genre."""
    rows = []
    for record in training.itertuples(index=False):
        for credit in record.talent if record.talent is not None else []:
            if credit["talent_id"] == talent_id:
                genres = list(record.genres) if record.genres is not None else []
                rows.append({"programme_id": record.programme_id, "programme_name": record.programme_name,
                             "role": credit["role"], "release_date": record.release_date,
                             "primary_genre": genres[0] if genres else None,
                             "views_28d": record.views_28d,
                             "is_window_complete": bool(record.is_window_complete)})
    columns = ["programme_id", "programme_name", "role", "release_date", "primary_genre", "views_28d",
               "is_window_complete", "unique_profiles", "completion_profiles", "window_state",
               "genre_median_views_28d"]
    if not rows:
        return pd.DataFrame(columns=columns)
    out = pd.DataFrame(rows).merge(_window_28(windows, k), on="programme_id", how="left")
    out = _genre_median_of(out, medians, "primary_genre")
    out = suppress(out, k, {"unique_profiles": ["views_28d"]})
    return out.sort_values(["release_date", "programme_id"]).reset_index(drop=True)


def talent_summary(track: pd.DataFrame, programmes: pd.DataFrame, medians: pd.DataFrame,
                   talent_id: str, k: int) -> pd.DataFrame:
    """fct_talent_track_record for one person (a row per role) against the median 28-day
    views of their most frequent genre. The role's figures are suppressed unless each of its
    complete programmes had k profiles: beside the programmes shown, a mean or median over
    one hidden programme and shown ones gives the hidden one's views away. Likewise the
    completion rate (the role's completers over its starters) is suppressed unless each of
    those programmes has its 28-day completion rate shown: the Title page shows a window's
    starters while it hides completers below k, and the pooled rate times the starters,
    minus the other programmes' completers, would be the hidden ones."""
    rows = track[track["talent_id"] == talent_id].copy()
    if rows.empty:
        return rows
    complete = programmes[programmes["is_window_complete"].fillna(False).astype(bool)]
    # The smallest programme: an unknown count (NaN) is small, as everywhere.
    by_role = complete.groupby("role")
    for bound, column in (("profiles_at_least", "unique_profiles"), ("rate_profiles_at_least", "completion_profiles")):
        smallest = by_role[column].agg(_smallest) if not complete.empty else pd.Series(dtype=float)
        rows[bound] = rows["role"].map(smallest)
    rows["main_genre"] = rows["genre_mix"].map(lambda mix: mix[0]["genre"] if mix is not None and len(mix) else None)
    rows = _genre_median_of(rows, medians, "main_genre")
    rows = suppress(rows, k, {"profiles_at_least": ["median_views_28d", "mean_views_28d", "completion_rate_28d"],
                              "rate_profiles_at_least": ["completion_rate_28d"]})
    return rows.sort_values("programmes", ascending=False).reset_index(drop=True)


# --- Markets ---------------------------------------------------------------------------------

def market_months(market: pd.DataFrame) -> list[pd.Timestamp]:
    return sorted(pd.to_datetime(market["month_start_date"].drop_duplicates()), reverse=True)


def market_shares(market: pd.DataFrame, country: str, month: pd.Timestamp, breakdown: str,
                  k: int) -> pd.DataFrame:
    """Catalogue share against demand share for one country, month and breakdown. Catalogue
    shares describe the offer and are never suppressed; demand figures are, on the group's
    distinct profiles in the country and month."""
    month = pd.Timestamp(month)
    rows = market[(market["country"] == country) & (market["month_start_date"] == month)
                  & (market["breakdown"] == breakdown)]
    order = ORIGIN_GROUPS if breakdown == "origin_group" else FORMATS
    rows = rows.assign(order=rows["group_value"].map({g: i for i, g in enumerate(order)}))
    rows = rows.sort_values("order").drop(columns="order").reset_index(drop=True)
    demand = ["hours_viewed", "demand_share", "demand_minus_offer_share"]
    # The demand shares add up to 100 %: the hidden ones together are 100 % minus the rest.
    return suppress_complement(suppress(rows, k, {"unique_profiles": demand}), "unique_profiles", demand)


def european_works(market: pd.DataFrame, month: pd.Timestamp) -> pd.DataFrame:
    """Per country: the European-works share of the catalogue in the month (a catalogue fact)."""
    rows = market[market["month_start_date"] == pd.Timestamp(month)]
    rows = rows.groupby("country", as_index=False).agg(
        european_works_programme_share=("european_works_programme_share", "first"),
        meets_avmsd_european_quota=("meets_avmsd_european_quota", "first"))
    return rows.sort_values("european_works_programme_share", ascending=False).reset_index(drop=True)
