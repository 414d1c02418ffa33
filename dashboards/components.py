"""Small layout pieces shared by the pages: tables that honour suppression, cards, KPIs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from dash import dcc, html

from .privacy import SUPPRESSED_TEXT, format_value, is_suppressed



@dataclass(frozen=True)
class Number:
    """A callable format for a numeric column: its cells align right like the patterns'."""

    format: Callable[[Any], str]


Formatter = str | Number | Callable[[Any], Any]

INT = "{:,.0f}"
ONE = "{:,.1f}"
PCT = "{:.0%}"
PCT1 = "{:.1%}"
DATE = "date"


def _cell(value: Any, suppressed: bool, fmt: Formatter, numeric: bool):
    if suppressed:
        return html.Td(SUPPRESSED_TEXT, className="num suppressed" if numeric else "suppressed",
                       title="fewer profiles than the small-cell threshold")
    if isinstance(fmt, Number):
        return html.Td(fmt.format(value), className="num")
    if callable(fmt):
        return html.Td(fmt(value))
    if fmt == DATE:
        text = "–" if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d")
        return html.Td(text)
    if fmt == "text":
        return html.Td("–" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value))
    return html.Td(format_value(value, False, fmt), className="num")


def table(frame: pd.DataFrame, columns: Sequence[tuple[str, str, Formatter]], *, id: str | None = None,
          empty: str = "No rows.") -> html.Div:
    """An HTML table of `frame`. `columns`: (column, header, format), the format being a
    `str.format` pattern, a `Number`, "text", "date" or a callable returning a Dash child
    (a text cell). Numeric columns (patterns and `Number`s) align right. Cells blanked
    by `privacy.suppress` print the suppression marker."""
    if frame is None or frame.empty:
        return html.Div(empty, className="empty")
    numeric = {c: isinstance(f, Number) or not (callable(f) or f in ("text", DATE)) for c, _, f in columns}
    flags = {c: is_suppressed(frame, c).to_numpy() for c, _, _ in columns}
    header = html.Thead(html.Tr([html.Th(h, className="num" if numeric[c] else None) for c, h, _ in columns]))
    rows = []
    for i, (_, row) in enumerate(frame.iterrows()):
        rows.append(html.Tr([_cell(row.get(c), bool(flags[c][i]), f, numeric[c]) for c, _, f in columns]))
    props = {"id": id} if id else {}
    return html.Div(html.Table([header, html.Tbody(rows)], className="data"), **props)


def card(title: str | None, *children, className: str = "card", **kwargs) -> html.Div:
    content = ([html.H3(title)] if title else []) + list(children)
    return html.Div(content, className=className, **kwargs)


def kpi(label: str, value: str, sub: str | None = None) -> html.Div:
    parts = [html.Div(label, className="label"), html.Div(value, className="value")]
    if sub:
        parts.append(html.Div(sub, className="sub"))
    return html.Div(parts, className="kpi")


def graph(figure, id: str | None = None, height: int | None = None) -> dcc.Graph:
    if height:
        figure.update_layout(height=height)
    props = {"id": id} if id else {}
    return dcc.Graph(figure=figure, config={"displaylogo": False}, **props)


def header(title: str, lede: str) -> list:
    return [html.H1(title), html.P(lede, className="lede")]


def control(label: str, component, wide: bool = False) -> html.Div:
    return html.Div([html.Label(label), component], className="control wide" if wide else "control")


def empty(message: str) -> html.Div:
    return html.Div(message, className="empty")


def movement(text: str) -> html.Span:
    if text.startswith("up"):
        return html.Span(f"▲ {text[3:]}", className="move-up")
    if text.startswith("down"):
        return html.Span(f"▼ {text[5:]}", className="move-down")
    if text in ("new", "back"):
        return html.Span(text, className="move-new")
    return html.Span("=" if text == "same" else "")
