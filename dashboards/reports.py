"""Offline reports: self-contained HTML files (plotly.js embedded) that open with no network.

Inputs:  the marts, read as the dashboards read them (`MartReader`), and the forecasts.
Outputs: under `<reports_dir>/<report_date>/`:
           top10_weekly.html       the four global lists of the latest whole week the data
                                   covers by the date (else the week in progress)
           title_performance.html  the week's global Top 10 programmes: windows and daily viewing
           slate_forecast.html     the scored slate (or the pitch-free model summary) and backtest

The same small-cell rule as the app applies (`privacy.suppress`, via `queries`): an export
never carries a number resting on fewer than `Settings.min_audience` profiles.
"""

from __future__ import annotations

import html
import logging
import shutil
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from slatehouse.settings import Settings

from . import figures, forecasting, queries, theme
from .data import MartReader, MissingTableError
from .privacy import SUPPRESSED_TEXT, format_value, is_suppressed

log = logging.getLogger(__name__)

Column = tuple[str, str, str | Callable[[Any], str]]


class _Document:
    """An HTML page whose first figure embeds plotly.js; later figures reuse it."""

    def __init__(self, title: str, subtitle: str):
        self.title, self.parts, self._has_plotly = title, [], False
        self.parts.append(f"<h1>{html.escape(title)}</h1><p class='lede'>{html.escape(subtitle)}</p>")

    def heading(self, text: str) -> None:
        self.parts.append(f"<h2 style='font-size:17px;margin:24px 0 8px'>{html.escape(text)}</h2>")

    def paragraph(self, text: str, css: str = "note") -> None:
        self.parts.append(f"<div class='{css}'>{html.escape(text)}</div>")

    def figure(self, fig: go.Figure) -> None:
        self.parts.append("<div class='card'>" + fig.to_html(
            full_html=False, include_plotlyjs=not self._has_plotly, include_mathjax=False,
            config={"displaylogo": False, "responsive": True}) + "</div>")
        self._has_plotly = True

    def table(self, frame: pd.DataFrame, columns: Sequence[Column], empty: str = "No rows.") -> None:
        if frame is None or frame.empty:
            self.paragraph(empty, "empty")
            return
        head = "".join(f"<th>{html.escape(h)}</th>" for _, h, _ in columns)
        flags = {c: is_suppressed(frame, c).to_numpy() for c, _, _ in columns}
        body = []
        for i, (_, row) in enumerate(frame.iterrows()):
            cells = []
            for column, _, fmt in columns:
                value = row.get(column)
                if flags[column][i]:
                    cells.append(f"<td class='num suppressed'>{SUPPRESSED_TEXT}</td>")
                elif callable(fmt):
                    cells.append(f"<td>{html.escape(str(fmt(value)))}</td>")
                elif fmt == "date":
                    cells.append("<td>–</td>" if pd.isna(value) else f"<td>{pd.Timestamp(value):%Y-%m-%d}</td>")
                elif fmt == "text":
                    cells.append(f"<td>{html.escape('–' if value is None or value != value else str(value))}</td>")
                else:
                    cells.append(f"<td class='num'>{format_value(value, False, fmt)}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        self.parts.append(f"<div class='card'><table class='data'><thead><tr>{head}</tr></thead>"
                          f"<tbody>{''.join(body)}</tbody></table></div>")

    def write(self, path: Path, footer: str) -> Path:
        page = ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
                f"<title>{html.escape(self.title)}</title><style>{theme.CSS}"
                ".card{margin-bottom:16px}</style></head><body>"
                "<nav class='navbar'><span class='brand'>Slatehouse</span>"
                f"<span class='nav-link active'>{html.escape(self.title)}</span></nav>"
                f"<main class='page'>{''.join(self.parts)}<div class='footer'>{html.escape(footer)}</div>"
                "</main></body></html>")
        path.write_text(page, encoding="utf-8")
        return path


def _viewing_through(reader: MartReader) -> date | None:
    """The latest event date in the marts, from the Delta log."""
    return reader.bounds("marts.fct_title_daily", "event_date")[1] if reader.exists("marts.fct_title_daily") else None


def _week_for(reader: MartReader, top10: pd.DataFrame, report_date: date) -> tuple[pd.Timestamp | None, str]:
    """The week a report dated `report_date` shows, and its heading: the latest week that
    ended by then and that the data covers to its end (as the dashboard opens on), else the
    week in progress, labelled as such."""
    through = _viewing_through(reader)
    limit = pd.Timestamp(min(report_date, through) if through else report_date)
    weeks = [w for w in queries.top10_weeks(top10) if w <= limit]
    if not weeks:
        return None, ""
    whole = [w for w in weeks if queries.week_last_day(w) <= limit]
    week = whole[0] if whole else weeks[0]
    heading = f"Week of {week:%d %b %Y} – {queries.week_last_day(week):%d %b %Y}"
    if not whole:
        heading += f" (so far: viewing through {limit:%d %b %Y})"
    return week, heading + "."


def _footer(reader: MartReader, tables: Sequence[str], report_date: date) -> str:
    versions = ", ".join(f"{t} v{v}" for t, v in reader.versions(tables).items() if v is not None)
    through = _viewing_through(reader)
    return (f"Report date {report_date.isoformat()}; viewing through {through or 'no date yet'}. "
            f"Numbers resting on fewer than {reader.k} profiles "
            f"are shown as '{SUPPRESSED_TEXT}'. Sources: {versions}.")


TOP10_COLUMNS: list[Column] = [
    ("week_rank", "#", "{:,.0f}"),
    ("movement", "Movement", lambda m: {"": "", "same": "="}.get(m, m)),
    ("programme_name", "Title", "text"),
    ("views", "Views", "{:,.1f}"),
    ("hours_viewed", "Hours", "{:,.0f}"),
    ("weeks_in_top10", "Weeks in Top 10", "{:,.0f}"),
]
WINDOW_COLUMNS: list[Column] = [
    ("window_days", "Window (days)", "{:,.0f}"),
    ("window_state", "Window", "text"),
    ("views", "Views", "{:,.1f}"),
    ("hours_viewed", "Hours", "{:,.1f}"),
    ("unique_profiles", "Profiles", "{:,.0f}"),
    ("starters", "Starters", "{:,.0f}"),
    ("completion_rate", "Completion", "{:.0%}"),
]


def _top10_report(reader: MartReader, out: Path, report_date: date) -> Path:
    from .pages import top10 as page

    top10 = reader.read("marts.fct_top10_weekly")
    week, heading = _week_for(reader, top10, report_date)
    doc = _Document("Weekly Top 10", "Global lists, Monday–Sunday, ranked by views, with movement "
                                     "against the week before.")
    if week is None:
        doc.paragraph(f"No Top 10 week starts on or before {report_date}.", "empty")
    else:
        lists = page.lists(reader, queries.GLOBAL, week.strftime("%Y-%m-%d"))
        doc.paragraph(heading, "lede")
        doc.figure(figures.top10_figure(lists, reader.k))
        for name, label in queries.LISTS.items():
            doc.heading(label)
            doc.table(lists[lists["list_name"] == name], TOP10_COLUMNS, empty="No titles in this list.")
    return doc.write(out / "top10_weekly.html", _footer(reader, page.TABLES, report_date))


def _title_report(reader: MartReader, out: Path, report_date: date, limit: int = 10) -> Path:
    from .pages import title as page

    k = reader.k
    top10 = reader.read("marts.fct_top10_weekly")
    week, heading = _week_for(reader, top10, report_date)
    doc = _Document("Title performance", "The programmes with the most hours in the week's global Top 10: "
                                         "release windows and daily viewing since release.")
    if week is None:
        doc.paragraph(f"No Top 10 week starts on or before {report_date}.", "empty")
    else:
        doc.paragraph(heading, "lede")
        chosen = (top10[(top10["market"] == queries.GLOBAL) & (top10["week_start_date"] == week)]
                  .sort_values("hours_viewed", ascending=False)["programme_id"].head(limit))
        programmes = reader.read("marts.dim_programme")
        names = queries.programme_names(programmes)
        for programme_id in chosen:
            doc.heading(str(names.get(programme_id, programme_id)))
            doc.table(queries.release_windows(reader.read("marts.fct_title_release_windows"), programme_id, k),
                      WINDOW_COLUMNS, empty="Not released by the latest event date.")
            daily = queries.title_daily(reader.read("marts.fct_title_daily"), programmes, programme_id, k,
                                        windows=reader.read("marts.fct_title_release_windows"), top10=top10)
            doc.figure(figures.title_daily_figure(daily, k).update_layout(height=300))
    return doc.write(out / "title_performance.html", _footer(reader, page.TABLES, report_date))


def _slate_report(reader: MartReader, out: Path, report_date: date) -> Path:
    doc = _Document("Slate forecast", "Forecast views in the first 28 days for the scored slate, with 80% "
                                      "intervals, beside the model's latest out-of-time accuracy.")
    try:
        scores = forecasting.latest_backtest(reader)
    except (ValueError, MissingTableError) as exc:
        scores = pd.DataFrame()
        doc.paragraph(f"No backtest: {exc}", "callout")
    if not scores.empty:
        doc.heading("Backtest accuracy (latest run, pooled over its cutoffs)")
        doc.paragraph("Cutoffs: " + ", ".join(f"{c:%Y-%m-%d}" for c in scores["cutoffs"].iloc[0]) + ".")
        doc.table(scores, [("model", "Model", "text"),
                           ("n_test", "Scored", "{:,.0f}"), ("rmsle", "RMSLE", "{:.3f}"), ("mdape", "Median % error", "{:.0%}"),
                           ("coverage_80", "80% coverage", "{:.0%}")])
        doc.paragraph(f"Source: {scores['source'].iloc[0]}.")
        doc.figure(figures.backtest_figure(scores))
    slate = forecasting.slate(reader)
    doc.heading("Slate")
    if slate is None or slate.empty:
        doc.paragraph("No slate has been scored yet: the pipeline writes marts.fct_slate_forecasts after a run.", "empty")
    else:
        from .pages.greenlight import SLATE_NAMES

        name = next((c for c in SLATE_NAMES if c in slate.columns), slate.columns[0])
        doc.figure(figures.slate_figure(slate, name))
        columns: list[Column] = [(name, "Pitch", "text")] + [
            (c, label, fmt) for c, label, fmt in (("format", "Format", "text"), ("point", "Forecast", "{:,.0f}"),
                                                  ("p10", "p10", "{:,.0f}"), ("p90", "p90", "{:,.0f}"))
            if c in slate.columns]
        doc.table(slate.sort_values("point", ascending=False) if "point" in slate.columns else slate, columns)
    tables = [forecasting.TRAINING, forecasting.BACKTEST, forecasting.SLATE]
    return doc.write(out / "slate_forecast.html", _footer(reader, tables, report_date))


def remove_reports(settings: Settings, before: date = date.max) -> list[Path]:
    """Remove the report folders of dates before `before` (retention, `slatehouse
    maintain`); by default every one (an erasure: they counted the members' viewing)."""
    removed = []
    for folder in sorted(Path(settings.reports_dir).glob("????-??-??")):
        try:
            day = date.fromisoformat(folder.name)
        except ValueError:
            continue
        if folder.is_dir() and day < before:
            shutil.rmtree(folder)
            removed.append(folder)
    return removed


def write_reports(settings: Settings, report_date: date, reader: MartReader | None = None) -> list[Path]:
    """Write the three offline reports for `report_date`; returns their paths."""
    if isinstance(report_date, str):
        report_date = date.fromisoformat(report_date)
    reader = reader or MartReader(settings)
    reader.read("marts.fct_top10_weekly")  # no marts yet: say so before making the folder
    out = Path(settings.reports_dir) / report_date.isoformat()
    out.mkdir(parents=True, exist_ok=True)
    paths = [_top10_report(reader, out, report_date), _title_report(reader, out, report_date),
             _slate_report(reader, out, report_date)]
    for path in paths:
        log.info("wrote %s (%d kB)", path, path.stat().st_size // 1024)
    return paths
