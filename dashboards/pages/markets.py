"""Markets: catalogue share against demand share by origin and format, per country, and the
European-works share of the catalogue against the AVMSD's 30% bar."""

from __future__ import annotations

import pandas as pd
from dash import Input, Output, dcc, html

from .. import components as c
from .. import figures, queries
from ..data import MartReader

PATH = "/markets"
NAME = "Markets"
TABLES = ("marts.fct_market_offer_vs_demand", "marts.fct_title_daily")


def layout(reader: MartReader, query: dict) -> html.Div:
    market = reader.read("marts.fct_market_offer_vs_demand")
    countries = sorted(market["country"].unique())
    months = queries.market_months(market)
    month_options, month = queries.period_options(months, queries.month_last_day,
                                                  queries.data_through(reader.read("marts.fct_title_daily")),
                                                  lambda m: f"{m:%B %Y}")
    if query.get("month") in [o["value"] for o in month_options]:
        month = query["month"]
    country = query.get("country") or (countries[0] if countries else None)
    return html.Div([
        *c.header("Markets", "What each country's catalogue offers against what its members watch, by "
                             "where the work comes from and by format."),
        html.Div([
            c.control("Country", dcc.Dropdown(id="markets-country", options=countries, value=country, clearable=False)),
            c.control("Month", dcc.Dropdown(id="markets-month", options=month_options, value=month, clearable=False)),
        ], className="controls"),
        dcc.Loading(html.Div(id="markets-content"), type="dot"),
    ])


def content(reader: MartReader, country: str | None, month: str | None) -> list:
    if not country or not month:
        return [c.empty("No market data in the warehouse yet.")]
    k = reader.k
    market = reader.read("marts.fct_market_offer_vs_demand")
    if country not in set(market["country"]):
        return [c.empty(f"No market data for {country}; pick a country above.")]
    origin = queries.market_shares(market, country, pd.Timestamp(month), "origin_group", k)
    formats = queries.market_shares(market, country, pd.Timestamp(month), "format", k)
    works = queries.european_works(market, pd.Timestamp(month))
    share_columns = [
        ("group_value", "Group", lambda v: str(v).replace("_", " ")),
        ("programmes_available", "Programmes", c.INT),
        ("programme_share", "Share of programmes", c.PCT1),
        ("runtime_share", "Share of hours on offer", c.PCT1),
        ("demand_share", "Share of hours viewed", c.PCT1),
        ("demand_minus_offer_share", "Demand − offer", "{:+.1%}"),
    ]
    return [
        html.Div([
            c.card(None, c.graph(figures.market_shares_figure(origin, f"{country}: by origin", k), id="markets-origin-graph"),
                   c.table(origin, share_columns, id="markets-origin-table")),
            c.card(None, c.graph(figures.market_shares_figure(formats, f"{country}: by format", k), id="markets-format-graph"),
                   c.table(formats, share_columns, id="markets-format-table")),
        ], className="grid two"),
        html.Div(style={"height": "16px"}),
        c.card(None, c.graph(figures.european_works_figure(works, country), id="markets-european-graph"),
               html.Div("Share of the programmes on offer that are European works (AVMSD Art. 13(1)); "
                        "grey bars are below the bar, the selected country is highlighted.", className="note")),
    ]


def register(app, reader: MartReader) -> None:
    @app.callback(Output("markets-content", "children"), Input("markets-country", "value"), Input("markets-month", "value"))
    def _content(country, month):
        return content(reader, country, month)
