"""Title: one programme (a film or a season) since release: daily views and hours, the
release windows, the retention curve and, for a season, the funnel and binge rate."""

from __future__ import annotations

import pandas as pd
from dash import Input, Output, dcc, html

from .. import components as c
from .. import figures, queries
from ..data import MartReader
from ..privacy import SUPPRESSED_TEXT, format_value, is_suppressed

PATH = "/title"
NAME = "Title"
TABLES = ("marts.dim_programme", "marts.dim_title", "marts.fct_title_daily", "marts.fct_title_release_windows",
          "marts.fct_title_retention", "marts.fct_season_funnel", "marts.fct_top10_weekly")

WINDOW_COLUMNS = [
    ("window_days", "Window (days)", c.INT),
    ("window_end_date", "Ends", c.DATE),
    ("window_state", "Window", "text"),
    ("views", "Views", c.ONE),
    ("hours_viewed", "Hours", c.ONE),
    ("unique_profiles", "Profiles", c.INT),
    ("starters", "Starters", c.INT),
    ("completers", "Completers", c.INT),
    ("completion_rate", "Completion", c.PCT),
    ("avg_share_watched", "Avg watched", c.PCT),
]


def default_programme(reader: MartReader) -> str | None:
    """The programme with the most hours in the latest whole Top 10 week (the one the Top 10
    page opens on), else the first."""
    programmes = reader.read("marts.dim_programme")
    if programmes.empty:
        return None
    try:
        top10 = reader.read("marts.fct_top10_weekly")
        _, week = queries.period_options(queries.top10_weeks(top10), queries.week_last_day,
                                         queries.data_through(reader.read("marts.fct_title_daily")), str)
        latest = top10[(top10["market"] == queries.GLOBAL) & (top10["week_start_date"] == pd.Timestamp(week))]
        if not latest.empty:
            return str(latest.sort_values("hours_viewed", ascending=False)["programme_id"].iloc[0])
    except LookupError:
        pass
    return str(programmes.sort_values("programme_name")["programme_id"].iloc[0])


def layout(reader: MartReader, query: dict) -> html.Div:
    programmes = reader.read("marts.dim_programme")
    options = queries.programme_options(programmes)
    chosen = query.get("programme") or default_programme(reader)
    return html.Div([
        *c.header("Title", "A film or a season since release: daily viewing, the release windows, "
                           "how far starters get, and for a season where people drop off."),
        html.Div([c.control("Title", dcc.Dropdown(id="title-programme", options=options, value=chosen,
                                                  clearable=False), wide=True)], className="controls"),
        dcc.Loading(html.Div(id="title-content"), type="dot"),
    ])


def _kpis(programme: pd.Series, windows: pd.DataFrame, k: int) -> html.Div:
    items = [c.kpi("Released", pd.Timestamp(programme["release_date"]).strftime("%d %b %Y")),
             c.kpi("Format", "film" if programme["format"] == "film" else f"season, {int(programme['episode_count'] or 0)} episodes"),
             c.kpi("Genres", ", ".join(programme["genres"]) if programme["genres"] is not None else "–")]
    w28 = windows[windows["window_days"] == 28]
    if not w28.empty:
        row = w28.iloc[0]
        items.append(c.kpi("Views, first 28 days",
                           format_value(row["views"], bool(is_suppressed(w28, "views").iloc[0]), "{:,.1f}"),
                           {"complete": None, "open": "window still open"}.get(row["window_state"],
                                                                                 "released before the data")))
        items.append(c.kpi("Completion, 28 days",
                           format_value(row["completion_rate"], bool(is_suppressed(w28, "completion_rate").iloc[0]), "{:.0%}")))
    return html.Div(items, className="kpis")


def _season(reader: MartReader, programme_id: str) -> list:
    funnel = queries.season_funnel(reader.read("marts.fct_season_funnel"), programme_id, reader.k)
    if funnel.empty:
        return []
    drop = None if is_suppressed(funnel, "share_started").any() else queries.biggest_drop(funnel)
    first = funnel.iloc[0]
    binge = format_value(first["binge_rate"], bool(is_suppressed(funnel, "binge_rate").iloc[0]), "{:.0%}")
    days = format_value(first["median_days_to_complete"], bool(is_suppressed(funnel, "median_days_to_complete").iloc[0]), "{:.1f}")
    message = (f"Where do we lose people? The biggest drop is at episode {drop['episode_number']}: "
               f"{drop['share_before']:.0%} of episode-1 starters started the episode before, "
               f"{drop['share_after']:.0%} started this one." if drop else
               ("Where do we lose people? " + (f"{SUPPRESSED_TEXT}: too few profiles, or episodes within {reader.k} profiles of each other."
                                                if is_suppressed(funnel, "share_started").any()
                                                else "No drop between episodes.")))
    return [c.card("Season: where do we lose people?",
                   html.Div([c.kpi("Binge rate", binge, "completers who finished within 7 days"),
                             c.kpi("Median days to complete", days)], className="kpis"),
                   html.Div(message, className="callout", id="title-funnel-callout"),
                   c.graph(figures.funnel_figure(funnel, reader.k, drop), id="title-funnel-graph"))]


def content(reader: MartReader, programme_id: str | None) -> list:
    programmes = reader.read("marts.dim_programme").set_index("programme_id")
    if not programme_id:
        return [c.empty("Pick a title.")]
    if programme_id not in programmes.index:
        return [c.empty(f"No title {programme_id!r} in the catalogue; pick one above.")]
    programme = programmes.loc[programme_id]
    k = reader.k
    windows = queries.release_windows(reader.read("marts.fct_title_release_windows"), programme_id, k)
    daily = queries.title_daily(reader.read("marts.fct_title_daily"), reader.read("marts.dim_programme"), programme_id, k,
                                windows=reader.read("marts.fct_title_release_windows"),
                                top10=reader.read("marts.fct_top10_weekly"))
    curves = queries.retention_curves(reader.read("marts.fct_title_retention"), reader.read("marts.dim_title"), programme_id, k)
    parts = [
        _kpis(programme, windows, k),
        html.Div([c.card(None, c.graph(figures.title_daily_figure(daily, k), id="title-daily-graph")),
                  c.card(None, c.graph(figures.retention_figure(curves, k), id="title-retention-graph"))],
                 className="grid two"),
        html.Div(style={"height": "16px"}),
        c.card("Release windows", c.table(windows, WINDOW_COLUMNS, id="title-windows",
                                          empty="Not released by the latest event date."),
               html.Div("Windows count from the release date (day 1). Compare only complete windows.", className="note")),
    ]
    if programme["programme_type"] == "season":
        parts += [html.Div(style={"height": "16px"}), *_season(reader, programme_id)]
    return parts


def register(app, reader: MartReader) -> None:
    @app.callback(Output("title-content", "children"), Input("title-programme", "value"))
    def _content(programme_id):
        return content(reader, programme_id)
