"""Genre: weekly trends, share of hours and completion by genre."""

from __future__ import annotations

import pandas as pd
from dash import Input, Output, dcc, html

from .. import components as c
from .. import figures, queries
from ..data import MartReader

PATH = "/genre"
NAME = "Genre"
TABLES = ("marts.fct_genre_weekly", "marts.fct_title_daily")


def weekly(reader: MartReader) -> pd.DataFrame:
    return reader.derived("genre_weekly", list(TABLES[:1]), lambda genres: queries.genre_weekly(genres, reader.k))


def _through(reader: MartReader) -> pd.Timestamp | None:
    return queries.data_through(reader.read("marts.fct_title_daily"))


def layout(reader: MartReader, query: dict) -> html.Div:
    frame = weekly(reader)
    weeks = sorted(frame["week_start_date"].drop_duplicates(), reverse=True)
    options, week = queries.period_options(weeks, queries.week_last_day, _through(reader), lambda w: f"week of {w:%d %b %Y}")
    if query.get("week") in [o["value"] for o in options]:
        week = query["week"]
    return html.Div([
        *c.header("Genre", "What audiences watch and finish, by genre and week. A programme with several "
                           "genres counts fully in each, so shares can add up to more than 100%."),
        html.Div([c.control("Week", dcc.Dropdown(id="genre-week", options=options, value=week, clearable=False))],
                 className="controls"),
        dcc.Loading(html.Div(id="genre-content"), type="dot"),
    ])


def content(reader: MartReader, week: str | None) -> list:
    frame = weekly(reader)
    if frame.empty or not week:
        return [c.empty("No weekly genre data in the warehouse yet.")]
    k = reader.k
    this_week = frame[frame["week_start_date"] == pd.Timestamp(week)]
    # The trends plot whole weeks: a week in progress would read as a collapse.
    through = _through(reader)
    whole = frame if through is None else frame[frame["week_start_date"].map(queries.week_last_day) <= through]
    frame = whole if not whole.empty else frame
    return [
        c.card(None, c.graph(figures.genre_trend_figure(frame, "hours_viewed", "Hours viewed per week", k),
                             id="genre-trend-graph")),
        html.Div(style={"height": "16px"}),
        html.Div([
            c.card(None, c.graph(figures.genre_bars_figure(this_week, "share_of_hours", "Share of hours this week", k),
                                 id="genre-share-graph")),
            c.card(None, c.graph(figures.genre_bars_figure(this_week, "completion_rate", "Completion rate this week", k),
                                 id="genre-completion-graph")),
        ], className="grid two"),
        html.Div(style={"height": "16px"}),
        c.card(None, c.graph(figures.genre_trend_figure(frame, "completion_rate", "Completion rate per week", k,
                                                        percent=True), id="genre-completion-trend-graph")),
    ]


def register(app, reader: MartReader) -> None:
    @app.callback(Output("genre-content", "children"), Input("genre-week", "value"))
    def _content(week):
        return content(reader, week)
