"""The Greenlight page's forecasts: the demand model, its latest backtest, the scored slate.

Inputs:  marts.fct_title_training (the model's history), marts.fct_title_release_windows
         (profiles behind each comparable's actual), and, when the pipeline has written
         them, marts.fct_forecast_backtest and marts.fct_slate_forecasts.
Outputs: forecasts for one pitch; backtest scores; the slate as a frame.

The model is fitted in-process from fct_title_training (about a second) and cached until
that table's Delta version changes. When the pipeline's backtest table is missing, one
out-of-time backtest is run here, cached the same way, and labelled as such.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from slatehouse import forecast

from . import queries
from .data import MartReader
from .privacy import suppress

log = logging.getLogger(__name__)

TARGET = "views_28d"
TRAINING = "marts.fct_title_training"
WINDOWS = "marts.fct_title_release_windows"
DAILY = "marts.fct_title_daily"
BACKTEST = "marts.fct_forecast_backtest"
SLATE = "marts.fct_slate_forecasts"
ROLES = ("director", "writer", "showrunner", "producer", "actor")


def mart_history(reader: MartReader) -> pd.DataFrame:
    """The forecaster's history from the warehouse, for every target, by the one rule the
    pipeline's forecast step, `slatehouse forecast` and these pages share
    (`forecast.history_from_training_mart`): fct_title_training's complete 28-day windows
    of titles released on or after the first event date of fct_title_daily (read from its
    partition values, not its rows). Cached until either table changes."""
    if not reader.exists(DAILY):
        return reader.derived("forecast_history", [TRAINING], forecast.history_from_training_mart)

    def build(training: pd.DataFrame) -> pd.DataFrame:
        return forecast.history_from_training_mart(training, reader.bounds(DAILY, "event_date")[0])

    return reader.derived("forecast_history", [TRAINING, DAILY], build, reads=[TRAINING])


def history(reader: MartReader) -> pd.DataFrame:
    """`mart_history`'s titles with a views target: the model these pages show."""
    rows = mart_history(reader)
    return rows[rows[TARGET].notna()].reset_index(drop=True)


def demand_model(reader: MartReader) -> forecast.DemandModel:
    """The fitted model, refitted only when fct_title_training (or the data's start) changes."""
    return reader.derived("demand_model", [TRAINING, DAILY], lambda *_: forecast.fit(history(reader), TARGET))


@dataclass(frozen=True)
class Pitch:
    format: str
    genres: tuple[str, ...] = ()
    talent: tuple[tuple[str, str], ...] = ()  # (talent_id, role); actors in billing order
    episodes: int | None = None
    runtime_minutes: float | None = None  # per episode for a series
    original_language: str | None = None
    origin_country: str | None = None
    release_date: date | None = None
    availability_share: float | None = None  # share of members who can watch on release day
    show_id: str | None = None  # the next season of this show; None for a new production

    def credits(self) -> list[dict]:
        """The talent as the forecaster takes it: actors carry their billing order, the
        order in which they were listed (1 = top billed)."""
        out, billed = [], 0
        for talent_id, role in self.talent:
            credit = {"talent_id": talent_id, "role": role}
            if role == "actor":
                billed += 1
                credit["billing_order"] = billed
            out.append(credit)
        return out

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([{
            "title_id": "pitch",
            "format": self.format,
            "genres": list(self.genres),
            "talent": self.credits(),
            forecast.AVAILABILITY: self.availability_share,
            "episodes": 1 if self.format == "film" else self.episodes,
            "runtime_minutes": self.runtime_minutes,
            "original_language": self.original_language or None,
            "origin_country": self.origin_country or None,
            "release_date": pd.Timestamp(self.release_date) if self.release_date else None,
            "show_id": self.show_id or None,
        }])


def _show_titles(programmes: pd.DataFrame | None) -> pd.Series:
    """show_id -> show title, from marts.dim_programme (empty without it)."""
    if programmes is None or not {"show_id", "show_title"} <= set(programmes.columns):
        return pd.Series(dtype=object)
    return programmes.dropna(subset=["show_id"]).drop_duplicates("show_id").set_index("show_id")["show_title"]


def _named(explanation: pd.DataFrame, talent: pd.DataFrame, programmes: pd.DataFrame) -> pd.DataFrame:
    """The explanation with people and shows by name: "tal-00617 (director)" reads
    "Ana Rossi (director)", a show id its title."""
    if explanation.empty:
        return explanation
    people = talent.drop_duplicates("talent_id").set_index("talent_id")["talent_name"]
    shows = _show_titles(programmes)

    def name(component: str, feature: str) -> str:
        if component == "talent" and " (" in feature:
            talent_id, role = feature.rsplit(" (", 1)
            return f"{people.get(talent_id, talent_id)} ({role}" if talent_id in people.index else feature
        if component == "show":
            return str(shows.get(feature, feature))
        return feature

    return explanation.assign(feature=[name(c, f) for c, f in zip(explanation["component"], explanation["feature"])])


def suppressed_comparables(comparables: list[dict], windows: pd.DataFrame | None, k: int) -> pd.DataFrame:
    """A forecast's comparables with the profiles behind each actual (its 28-day window's,
    from marts.fct_title_release_windows, as `queries.views_profiles` gives them), an
    actual resting on fewer than k profiles, on a window suppressed beside the others, or
    on an unknown number (no `windows`), suppressed. Every surface that shows comparables
    (the Greenlight page, `slatehouse forecast`) passes them through here."""
    frame = pd.DataFrame(comparables)
    if frame.empty:
        return frame
    profiles = queries.views_profiles(windows, k) if windows is not None else pd.Series(dtype=float)
    frame["unique_profiles"] = frame["title_id"].map(profiles)
    return suppress(frame, k, {"unique_profiles": ["actual"]})


def forecast_pitch(model: forecast.DemandModel, pitch: Pitch, programmes: pd.DataFrame,
                   windows: pd.DataFrame, k: int, *, talent: pd.DataFrame) -> dict:
    """Point forecast, 80% interval, comparables (named; an actual resting on fewer than k
    profiles is suppressed) and the explanation (people and shows named from `talent`,
    marts.dim_talent, and `programmes`), for one pitch."""
    result = model.predict(pitch.frame()).iloc[0]
    comparables = suppressed_comparables(result["comparables"], windows, k)
    if not comparables.empty:
        names = queries.programme_names(programmes)  # a name two programmes share gets its id
        names = pd.Series(queries.distinct_labels(names.to_numpy(), names.index), index=names.index)
        comparables["programme_name"] = comparables["title_id"].map(names).fillna(comparables["title_id"])
    return {
        "point": float(result["point"]),
        "p10": float(result["p10"]),
        "p90": float(result["p90"]),
        "n_known_talent": int(result["n_known_talent"]),
        "n_talent": int(result["n_talent"]),
        "held_to_range": list(result["held_to_range"]),
        "comparables": comparables,
        "explanation": _named(pd.DataFrame(result["explanation"]), talent, programmes),
    }


def _in_process_backtest(titles: pd.DataFrame) -> pd.DataFrame:
    dates = pd.to_datetime(titles["release_date"]).sort_values().reset_index(drop=True)
    known_from = dates + pd.Timedelta(days=forecast.OUTCOME_DAYS)  # when each outcome was known
    if len(dates) <= forecast.model.MIN_TITLES:
        return pd.DataFrame(columns=["target", "scope", "cutoff"])
    # One cutoff with three quarters of the history before it, the latest quarter scored
    # out of time; in a young warehouse, no earlier than the day enough outcomes to train
    # on were known.
    cutoff = max(dates.iloc[int(len(dates) * 0.75)], known_from.sort_values().iloc[forecast.model.MIN_TITLES - 1])
    if not (dates >= cutoff).any():
        # Too few titles whose 28-day outcome is known: nothing can be scored yet.
        return pd.DataFrame(columns=["target", "scope", "cutoff"])
    return forecast.backtest(titles, TARGET, [cutoff])


def latest_backtest(reader: MartReader) -> pd.DataFrame:
    """The latest backtest of views_28d, one row per model (`scope == "overall"`, pooled
    over the cutoffs), with `cutoffs` (the dates) and `source`. Read from
    marts.fct_forecast_backtest (replaced on every pipeline run); before the pipeline has
    written it, one cutoff is backtested here and cached."""
    if reader.exists(BACKTEST):
        scores = reader.read(BACKTEST)
        source = "marts.fct_forecast_backtest"
        if "run_at" in scores.columns and scores["run_at"].notna().any():
            scores = scores[scores["run_at"] == scores["run_at"].max()]
            source += f", run {pd.Timestamp(scores['run_at'].iloc[0]):%Y-%m-%d %H:%M} UTC"
    else:
        scores = reader.derived("dashboard_backtest", [TRAINING, DAILY], lambda *_: _in_process_backtest(history(reader)))
        source = "computed by the dashboard: no marts.fct_forecast_backtest yet"
    scores = scores[scores["target"] == TARGET]
    if scores.empty:
        return scores
    cutoffs = sorted(pd.to_datetime(scores["cutoff"].dropna().unique()))
    overall = scores[scores["scope"] == "overall"]
    return overall.assign(cutoffs=[cutoffs] * len(overall), source=source).reset_index(drop=True)


def slate(reader: MartReader) -> pd.DataFrame | None:
    """The scored slate (marts.fct_slate_forecasts), or None before the pipeline writes it."""
    if not reader.exists(SLATE):
        return None
    return reader.read(SLATE)


def _show_options(history: pd.DataFrame | None, programmes: pd.DataFrame | None) -> list[dict]:
    if history is None or "show_id" not in history.columns:
        return []
    seasons = history["show_id"].dropna().value_counts()
    names = _show_titles(programmes)
    labels = [f"{names.get(show, show)} ({n} season{'s' if n > 1 else ''} so far)" for show, n in seasons.items()]
    options = [{"label": label, "value": show}
               for label, show in zip(queries.distinct_labels(labels, list(seasons.index)), seasons.index)]
    return sorted(options, key=lambda o: o["label"])


def form_options(training: pd.DataFrame, talent: pd.DataFrame, genres: pd.DataFrame,
                 programmes: pd.DataFrame | None = None, history: pd.DataFrame | None = None) -> dict:
    """Choices for the Greenlight form, from the catalogue. `shows` are the shows with a
    season in the model's `history` (the ones whose next season it can say something
    about), named by `programmes` (marts.dim_programme) where it has them."""
    credited = talent[talent["programmes_credited"] > 0].sort_values(["talent_name", "talent_id"])
    by_role = {}
    for role in ROLES:
        holders = credited[[roles is not None and role in list(roles) for roles in credited["roles"]]]
        labels = queries.distinct_labels(list(holders["talent_name"]), list(holders["talent_id"]))
        by_role[role] = [{"label": label, "value": tid} for label, tid in zip(labels, holders["talent_id"])]
    return {
        "genres": sorted(genres["genre"].dropna().unique()),
        "talent": by_role,
        "languages": sorted(training["original_language"].dropna().unique()),
        "countries": sorted(training["origin_country"].dropna().unique()),
        "shows": _show_options(history, programmes),
        "runtime_film": float(np.nanmedian(training.loc[training["format"] == "film", "runtime_minutes"].astype(float)))
        if (training["format"] == "film").any() else 100.0,
    }
