"""Top 10: the weekly lists, globally (four) or per country (two), with week-on-week movement."""

from __future__ import annotations

import pandas as pd
from dash import Input, Output, State, dcc, html

from .. import components as c
from .. import figures, queries
from ..data import MartReader

PATH = "/"
NAME = "Top 10"
TABLES = ("marts.fct_top10_weekly", "marts.dim_programme", "marts.fct_title_daily")


def lists(reader: MartReader, market: str, week: str) -> pd.DataFrame:
    return queries.top10_lists(reader.read("marts.fct_top10_weekly"), reader.read("marts.dim_programme"),
                               market, pd.Timestamp(week), reader.k)


def list_tables(frame: pd.DataFrame, market: str) -> html.Div:
    cards = []
    for name, label in queries.lists_for(market).items():
        rows = frame[frame["list_name"] == name]
        rows = rows.assign(title_link=[dcc.Link(n, href=f"/title?programme={p}")
                                       for n, p in zip(rows["programme_name"], rows["programme_id"])])
        cards.append(c.card(label, c.table(rows, [
            ("week_rank", "#", c.INT),
            ("movement", "", lambda m: c.movement(m)),
            ("title_link", "Title", lambda link: link),
            ("views", "Views", c.ONE),
            ("hours_viewed", "Hours", c.INT),
            ("weeks_in_top10", "Weeks", c.INT),
        ], empty="No titles in this list.")))
    return html.Div(cards, className="grid two")


def _week_options(reader: MartReader, weeks: list[pd.Timestamp]) -> tuple[list[dict], str | None]:
    return queries.period_options(weeks, queries.week_last_day, queries.data_through(reader.read("marts.fct_title_daily")),
                                  lambda w: f"{w:%d %b %Y} – {queries.week_last_day(w):%d %b}")


def layout(reader: MartReader, query: dict) -> html.Div:
    top10 = reader.read("marts.fct_top10_weekly")
    markets = queries.top10_markets(top10)
    market = query.get("market", queries.GLOBAL)
    weeks = queries.top10_weeks(top10, market if market in markets else queries.GLOBAL)
    week_options, week = _week_options(reader, weeks)
    if query.get("week") in [o["value"] for o in week_options]:
        week = query["week"]
    return html.Div([
        *c.header("Top 10", "The weekly lists (Monday–Sunday), ranked by views, with movement against "
                            "the week before."),
        html.Div([
            c.control("Market", dcc.Dropdown(id="top10-market", options=[{"label": "Global" if m == queries.GLOBAL else m, "value": m} for m in markets],
                                             value=market if market in markets else queries.GLOBAL, clearable=False)),
            c.control("Week", dcc.Dropdown(id="top10-week", options=week_options, value=week, clearable=False)),
        ], className="controls"),
        dcc.Loading(html.Div(id="top10-content"), type="dot"),
    ])


def content(reader: MartReader, market: str, week: str | None) -> list:
    if not week:
        return [c.empty("No Top 10 weeks in the warehouse yet.")]
    frame = lists(reader, market, week)
    return [c.card(None, c.graph(figures.top10_figure(frame, reader.k), id="top10-graph")),
            html.Div(style={"height": "16px"}), list_tables(frame, market)]


def register(app, reader: MartReader) -> None:
    @app.callback(Output("top10-week", "options"), Output("top10-week", "value"),
                  Input("top10-market", "value"), State("top10-week", "value"), prevent_initial_call=True)
    def _weeks(market, current):
        options, default = _week_options(reader, queries.top10_weeks(reader.read("marts.fct_top10_weekly"), market))
        return options, current if current in [o["value"] for o in options] else default

    @app.callback(Output("top10-content", "children"), Input("top10-market", "value"), Input("top10-week", "value"))
    def _content(market, week):
        return content(reader, market, week)
