"""Greenlight: describe a prospective production and get its 28-day views forecast with an
80% interval, the comparables and the explanation, beside the latest backtest accuracy.
A scored slate can be browsed below."""

from __future__ import annotations

import logging
import math
from datetime import date

from dash import Input, Output, State, dcc, html

from slatehouse.forecast import ForecastInputError, format_number

from .. import components as c
from .. import figures, forecasting
from ..data import MartReader

log = logging.getLogger(__name__)

PATH = "/greenlight"
NAME = "Greenlight"
TABLES = ("marts.fct_title_training", "marts.dim_talent", "marts.dim_genre", "marts.dim_programme",
          "marts.fct_title_release_windows", "marts.fct_title_daily")
SLATE_NAMES = ("programme_name", "pitch_name", "working_title", "title", "name", "title_id", "pitch_id")


def _field(label: str, component, wide: bool = False, hint: str | None = None) -> html.Div:
    caption = html.Label(label, title=hint) if hint else html.Label(label)
    return html.Div([caption, component], className="field wide" if wide else "field")


def layout(reader: MartReader, query: dict) -> html.Div:
    options = forecasting.form_options(reader.read("marts.fct_title_training"), reader.read("marts.dim_talent"),
                                       reader.read("marts.dim_genre"), reader.read("marts.dim_programme"),
                                       forecasting.history(reader))
    # Every role gets a dropdown (the callback reads them all); a role nobody in the
    # catalogue holds is hidden.
    talent_fields = [
        html.Div([html.Label(f"{role.capitalize()}{'s' if role == 'actor' else ''}"),
                  dcc.Dropdown(id=f"greenlight-talent-{role}", options=options["talent"][role], multi=True,
                               placeholder=f"from the catalogue's {role}s")],
                 className="field", style=None if options["talent"][role] else {"display": "none"})
        for role in forecasting.ROLES
    ]
    form = html.Div([
        _field("Format", dcc.RadioItems(id="greenlight-format", options=[{"label": " film", "value": "film"},
                                                                         {"label": " series", "value": "series"}],
                                        value="film", inline=True, inputStyle={"marginRight": "4px", "marginLeft": "10px"})),
        _field("Genres (first is primary)", dcc.Dropdown(id="greenlight-genres", options=options["genres"], multi=True,
                                                         value=options["genres"][:1])),
        _field("Episodes", dcc.Input(id="greenlight-episodes", type="number", min=1, max=100, step=1, value=8)),
        _field("Runtime, minutes (per episode)", dcc.Input(id="greenlight-runtime", type="number", min=1, max=400,
                                                           value=round(options["runtime_film"]))),
        _field("Original language", dcc.Dropdown(id="greenlight-language", options=options["languages"],
                                                 value="en" if "en" in options["languages"] else None)),
        _field("Origin country", dcc.Dropdown(id="greenlight-origin", options=options["countries"],
                                              value="US" if "US" in options["countries"] else None)),
        _field("Planned release (optional)", dcc.DatePickerSingle(id="greenlight-release", display_format="YYYY-MM-DD")),
        _field("Reach at release, %", dcc.Input(
            id="greenlight-availability", type="number", min=0, max=100, value=100),
            hint="The percentage of members able to watch it on release day: 100 for a worldwide release, "
                 "less when it opens in some countries only."),
        _field("Next season of (optional)", dcc.Dropdown(
            id="greenlight-show", options=options["shows"], placeholder="a new production")),
        *talent_fields,
        html.Div(html.Button("Forecast", id="greenlight-submit", className="button", n_clicks=0), className="field wide"),
    ], className="form")
    return html.Div([
        *c.header("Greenlight", "Describe a prospective production: the forecast of its views in the first 28 "
                                "days, with an 80% interval, the most comparable past programmes, and why."),
        c.card("The pitch", form, id="greenlight-form"),
        html.Div(style={"height": "16px"}),
        dcc.Loading(html.Div(id="greenlight-result", children=c.empty("Fill in the pitch and press Forecast.")), type="dot"),
        html.Div(style={"height": "16px"}),
        slate_section(reader),
    ])


def backtest_card(reader: MartReader) -> html.Div:
    try:
        scores = forecasting.latest_backtest(reader)
    except (ForecastInputError, ValueError) as exc:
        return c.card("Backtest accuracy", c.empty(f"No backtest: {exc}"), id="greenlight-backtest")
    if scores.empty:
        return c.card("Backtest accuracy", c.empty("No backtest yet."), id="greenlight-backtest")
    by_model = scores.set_index("model")
    model = by_model.loc["demand_model"] if "demand_model" in by_model.index else scores.iloc[0]
    baseline = by_model.loc["genre_median"] if "genre_median" in by_model.index else None
    cutoffs = model["cutoffs"]
    lines = [
        html.Div([c.kpi("RMSLE", f"{model['rmsle']:.2f}",
                        f"genre median: {baseline['rmsle']:.2f}" if baseline is not None else None),
                  c.kpi("Median % error", f"{model['mdape']:.0%}"),
                  c.kpi("80% interval coverage", f"{model['coverage_80']:.0%}", "should be near 80%")],
                 className="kpis"),
        html.Div(f"Out of time: at each cutoff ({', '.join(f'{c:%d %b %Y}' for c in cutoffs)}) the model was "
                 f"trained only on programmes released before it and scored on those released after; "
                 f"{int(model['n_test'])} programmes scored in all.", className="note"),
        html.Div(f"Source: {model.get('source', '')}.", className="note"),
        html.Div(f"Typical error is a factor of about {math.exp(model['rmsle']):.1f}× either way: "
                 "treat the forecast as a range, not a number.", className="callout"),
    ]
    return c.card("Latest backtest accuracy", *lines, id="greenlight-backtest")


def result_section(reader: MartReader, pitch: forecasting.Pitch) -> list:
    model = forecasting.demand_model(reader)
    result = forecasting.forecast_pitch(model, pitch, reader.read("marts.dim_programme"),
                                        reader.read("marts.fct_title_release_windows"), reader.k,
                                        talent=reader.read("marts.dim_talent"))
    forecast_card = c.card(
        "Forecast: views in the first 28 days",
        html.Div(_views(result["point"]), className="forecast-number", id="greenlight-point"),
        html.Div(f"80% interval {_views(result['p10'])} – {_views(result['p90'])}", id="greenlight-interval"),
        html.Div(f"Talent with a track record: {result['n_known_talent']} of {result['n_talent']}.", className="note"),
        *([html.Div("Beyond every past programme, so the forecast holds it at the nearest: "
                    + "; ".join(result["held_to_range"]) + ".", className="callout", id="greenlight-held")]
          if result["held_to_range"] else []),
        c.graph(figures.forecast_figure(result, reader.k), id="greenlight-forecast-graph"),
    )
    return [
        html.Div([forecast_card, backtest_card(reader)], className="grid two"),
        html.Div(style={"height": "16px"}),
        html.Div([
            c.card(None, c.graph(figures.explanation_figure(result["explanation"]), id="greenlight-explanation-graph")),
            c.card("Comparables", c.table(result["comparables"], [
                ("programme_name", "Programme", "text"),
                ("release_date", "Released", c.DATE),
                ("similarity", "Similarity", "{:.2f}"),
                ("actual", "Actual views (28d)", c.ONE),
            ], id="greenlight-comparables", empty="No comparables.")),
        ], className="grid two"),
    ]


def _views(value) -> str:
    """A forecast in views, to 3 significant digits, as the CLI prints it."""
    return format_number(value, forecasting.TARGET)


def slate_section(reader: MartReader) -> html.Div:
    slate = forecasting.slate(reader)
    if slate is None:
        return c.card("Scored slate", c.empty("No slate has been scored yet: the pipeline writes "
                                              "marts.fct_slate_forecasts after a run."), id="greenlight-slate")
    name = next((col for col in SLATE_NAMES if col in slate.columns), slate.columns[0])
    columns = [(name, "Pitch", "text")] + [(col, label, fmt) for col, label, fmt in (
        ("format", "Format", "text"), ("genres", "Genres", lambda g: ", ".join(g) if g is not None else "–"),
        ("point", "Forecast", c.Number(_views)), ("p10", "p10", c.Number(_views)), ("p90", "p90", c.Number(_views)),
        ("n_known_talent", "Known talent", c.INT)) if col in slate.columns]
    return c.card("Scored slate",
                  c.graph(figures.slate_figure(slate, name), id="greenlight-slate-graph"),
                  c.table(slate.sort_values("point", ascending=False) if "point" in slate.columns else slate, columns),
                  id="greenlight-slate")


def pitch_from_form(fmt, genres, episodes, runtime, language, origin, release, talent: dict,
                    availability_percent=None, show=None) -> forecasting.Pitch:
    """The form's fields as a pitch. Actors are billed in the order they were picked; an
    empty availability field means unknown (the model then uses the history's median); a
    show makes a series pitch that show's next season, so its earlier seasons count (a
    film is nobody's next season: the field is disabled and ignored for one)."""
    credits = tuple((tid, role) for role, ids in talent.items() for tid in (ids or []))
    if availability_percent not in (None, "") and not 0 <= float(availability_percent) <= 100:
        raise ForecastInputError(f"reach at release is a percentage from 0 to 100, not {availability_percent}")
    try:
        release_date = date.fromisoformat(release[:10]) if release else None
    except ValueError as exc:
        raise ForecastInputError(f"planned release {release!r} is not a date ({exc})") from None
    return forecasting.Pitch(
        format=fmt or "film", genres=tuple(genres or ()), talent=credits,
        episodes=int(episodes) if episodes else None,
        runtime_minutes=float(runtime) if runtime else None,
        original_language=language, origin_country=origin,
        release_date=release_date,
        availability_share=float(availability_percent) / 100 if availability_percent not in (None, "") else None,
        show_id=(show or None) if fmt == "series" else None)


def register(app, reader: MartReader) -> None:
    roles = list(forecasting.ROLES)

    @app.callback(Output("greenlight-episodes", "disabled"), Output("greenlight-show", "disabled"),
                  Input("greenlight-format", "value"))
    def _series_only(fmt):
        return fmt == "film", fmt == "film"

    @app.callback(
        Output("greenlight-result", "children"),
        Input("greenlight-submit", "n_clicks"),
        State("greenlight-format", "value"), State("greenlight-genres", "value"),
        State("greenlight-episodes", "value"), State("greenlight-runtime", "value"),
        State("greenlight-language", "value"), State("greenlight-origin", "value"),
        State("greenlight-release", "date"), State("greenlight-availability", "value"),
        State("greenlight-show", "value"),
        *[State(f"greenlight-talent-{role}", "value") for role in roles],
        prevent_initial_call=True,
    )
    def _forecast(n_clicks, fmt, genres, episodes, runtime, language, origin, release, availability, show,
                  *talent):
        try:
            pitch = pitch_from_form(fmt, genres, episodes, runtime, language, origin, release,
                                    dict(zip(roles, talent)), availability, show)
            return result_section(reader, pitch)
        except ForecastInputError as exc:
            return c.card("Forecast", html.Div(f"Could not forecast this pitch: {exc}", className="callout"))
