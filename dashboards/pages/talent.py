"""Talent: a person's track record across titles and roles, against the median for their genre."""

from __future__ import annotations

import pandas as pd
from dash import Input, Output, dcc, html

from .. import components as c
from .. import figures, queries
from ..data import MartReader

PATH = "/talent"
NAME = "Talent"
TABLES = ("marts.dim_talent", "marts.fct_talent_track_record", "marts.fct_title_training",
          "marts.fct_title_release_windows")


def medians(reader: MartReader) -> pd.DataFrame:
    return reader.derived("genre_medians", ["marts.fct_title_training", "marts.fct_title_release_windows"],
                          lambda training, windows: queries.genre_medians(training, windows, reader.k))


def default_talent(reader: MartReader) -> str | None:
    track = reader.read("marts.fct_talent_track_record")
    if track.empty:
        return None
    return str(track.sort_values(["programmes_with_complete_28d", "programmes", "talent_id"],
                                 ascending=[False, False, True])["talent_id"].iloc[0])


def layout(reader: MartReader, query: dict) -> html.Div:
    options = queries.talent_options(reader.read("marts.dim_talent"))
    return html.Div([
        *c.header("Talent", "A person's programmes across roles, how they did in their first 28 days, "
                            "and the median for the genre."),
        html.Div([c.control("Person", dcc.Dropdown(id="talent-person", options=options,
                                                   value=query.get("talent") or default_talent(reader),
                                                   clearable=False), wide=True)], className="controls"),
        dcc.Loading(html.Div(id="talent-content"), type="dot"),
    ])


def content(reader: MartReader, talent_id: str | None) -> list:
    if not talent_id:
        return [c.empty("Pick a person.")]
    k = reader.k
    genre_medians = medians(reader)
    programmes = queries.talent_programmes(reader.read("marts.fct_title_training"),
                                           reader.read("marts.fct_title_release_windows"), genre_medians, talent_id, k)
    summary = queries.talent_summary(reader.read("marts.fct_talent_track_record"), programmes, genre_medians,
                                     talent_id, k)
    return [
        c.card("Track record by role", c.table(summary, [
            ("role", "Role", "text"),
            ("programmes", "Programmes", c.INT),
            ("programmes_with_complete_28d", "With 28 days", c.INT),
            ("median_views_28d", "Median views (28d)", c.ONE),
            ("mean_views_28d", "Mean views (28d)", c.ONE),
            ("completion_rate_28d", "Completion (28d)", c.PCT),
            ("main_genre", "Main genre", "text"),
            ("genre_median_views_28d", "Genre median views", c.ONE),
        ], id="talent-summary", empty="No credits for this person.")),
        html.Div(style={"height": "16px"}),
        c.card(None, c.graph(figures.talent_figure(programmes, k), id="talent-graph")),
        html.Div(style={"height": "16px"}),
        c.card("Programmes", c.table(programmes, [
            ("programme_name", "Programme", "text"),
            ("role", "Role", "text"),
            ("release_date", "Released", c.DATE),
            ("primary_genre", "Genre", "text"),
            ("views_28d", "Views (28d)", c.ONE),
            ("genre_median_views_28d", "Genre median", c.ONE),
            ("window_state", "28-day window", "text"),
        ], id="talent-programmes")),
    ]


def register(app, reader: MartReader) -> None:
    @app.callback(Output("talent-content", "children"), Input("talent-person", "value"))
    def _content(talent_id):
        return content(reader, talent_id)
