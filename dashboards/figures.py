"""Plotly figures for the pages and the offline reports, from the `queries` frames.

Suppressed values arrive as NaN with a `<column>__suppressed` flag: lines leave a gap,
bars are drawn as a grey stub labelled "suppressed", and the figure says how many points
were held back. Nothing here computes a metric.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from . import theme
from .privacy import SUPPRESSED_TEXT, is_suppressed
from .queries import LISTS

T = theme.TEMPLATE


def _empty(title: str, message: str) -> go.Figure:
    fig = go.Figure(layout=dict(template=T, title=title))
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font=dict(color=theme.MUTED))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def _suppressed_note(fig: go.Figure, count: int, k: int) -> None:
    if count:
        fig.add_annotation(text=f"{count} point{'s' if count != 1 else ''} {SUPPRESSED_TEXT} (fewer than {k} profiles)",
                           showarrow=False, x=1, y=-0.16, xref="paper", yref="paper", xanchor="right",
                           font=dict(size=11, color=theme.MUTED))


def _bar_values(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Bar lengths (0 where suppressed) and the suppressed mask."""
    hidden = is_suppressed(frame, column).to_numpy()
    values = frame[column].astype(float).fillna(0.0).to_numpy()
    return values, hidden


# --- Top 10 ----------------------------------------------------------------------------------

def top10_figure(lists: pd.DataFrame, k: int) -> go.Figure:
    if lists.empty:
        return _empty("Views this week", "No Top 10 for this market and week.")
    fig = make_subplots(rows=2, cols=2, subplot_titles=list(LISTS.values()),
                        horizontal_spacing=0.22, vertical_spacing=0.14)
    for i, (name, label) in enumerate(LISTS.items()):
        rows = lists[lists["list_name"] == name].sort_values("week_rank")
        values, hidden = _bar_values(rows, "views")
        names = [f"{r}. {n}" for r, n in zip(rows["week_rank"], rows["programme_name"])]
        fig.add_trace(go.Bar(
            x=values, y=names, orientation="h", name=label, showlegend=False,
            marker_color=[theme.SUPPRESSED if h else theme.PALETTE[i] for h in hidden],
            text=[SUPPRESSED_TEXT if h else f"{v:,.1f}" for v, h in zip(values, hidden)],
            textposition="outside", cliponaxis=False,
            hovertemplate="%{y}<br>views %{x:,.1f}<extra></extra>"),
            row=i // 2 + 1, col=i % 2 + 1)
        fig.update_yaxes(autorange="reversed", row=i // 2 + 1, col=i % 2 + 1, tickfont=dict(size=11))
        fig.update_xaxes(rangemode="tozero", row=i // 2 + 1, col=i % 2 + 1)
    if not lists["views"].notna().any():
        fig.update_xaxes(range=[0, 1], showticklabels=False)
    fig.update_layout(template=T, height=660, title="Views this week", margin=dict(l=170, r=60, t=72))
    return fig


# --- Title -----------------------------------------------------------------------------------

def title_daily_figure(daily: pd.DataFrame, k: int) -> go.Figure:
    if daily.empty:
        return _empty("Daily views and hours since release", "No viewing recorded for this title.")
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    hidden = is_suppressed(daily, "views").to_numpy()
    fig.add_trace(go.Bar(x=daily["days_since_release"], y=daily["views"], name="views",
                         marker_color=theme.PRIMARY,
                         customdata=daily["event_date"].dt.strftime("%Y-%m-%d"),
                         hovertemplate="day %{x} (%{customdata})<br>views %{y:,.1f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=daily["days_since_release"], y=daily["hours_viewed"], name="hours viewed",
                             mode="lines+markers", line=dict(color=theme.ACCENT, width=2),
                             connectgaps=False, hovertemplate="day %{x}<br>hours %{y:,.1f}<extra></extra>"),
                  secondary_y=True)
    if hidden.any():
        fig.add_trace(go.Scatter(x=daily.loc[hidden, "days_since_release"], y=[0] * int(hidden.sum()),
                                 mode="markers", name=SUPPRESSED_TEXT,
                                 marker=dict(color=theme.SUPPRESSED, symbol="line-ew-open", size=14, line=dict(width=3)),
                                 hovertemplate=f"day %{{x}}: {SUPPRESSED_TEXT}<extra></extra>"))
    fig.update_layout(template=T, title="Daily views and hours since release", height=360)
    fig.update_xaxes(title_text="days since release")
    fig.update_yaxes(title_text="views", secondary_y=False, rangemode="tozero")
    fig.update_yaxes(title_text="hours", secondary_y=True, showgrid=False, rangemode="tozero")
    _suppressed_note(fig, int(hidden.sum()), k)
    return fig


def retention_figure(curves: pd.DataFrame, k: int) -> go.Figure:
    shown = curves[~is_suppressed(curves, "share_reached")]
    hidden_titles = curves.loc[is_suppressed(curves, "share_reached"), "title_id"].nunique()
    if shown.empty:
        fig = _empty("Retention: share of starters still watching",
                     f"{SUPPRESSED_TEXT}: fewer than {k} starters" if hidden_titles else "No starters yet.")
        return fig
    fig = go.Figure()
    titles = shown.drop_duplicates("title_id")
    for i, (title_id, name) in enumerate(zip(titles["title_id"], titles["title_name"])):
        rows = shown[shown["title_id"] == title_id]
        fig.add_trace(go.Scatter(
            x=[0, *rows["progress_pct"]], y=[1.0, *rows["share_reached"]], mode="lines+markers", name=name,
            line=dict(color=theme.PALETTE[i % len(theme.PALETTE)], width=2),
            hovertemplate=f"{name}<br>%{{x}}% of runtime: %{{y:.0%}}<extra></extra>"))
    fig.update_layout(template=T, title="Retention: share of starters still watching", height=360)
    fig.update_xaxes(title_text="% of runtime", ticksuffix="%")
    fig.update_yaxes(title_text="share of starters", tickformat=".0%", range=[0, 1.05])
    if hidden_titles:
        fig.add_annotation(text=f"{hidden_titles} title(s) {SUPPRESSED_TEXT} (fewer than {k} starters)",
                           showarrow=False, x=1, y=-0.16, xref="paper", yref="paper", xanchor="right",
                           font=dict(size=11, color=theme.MUTED))
    return fig


def funnel_figure(funnel: pd.DataFrame, k: int, drop: dict | None) -> go.Figure:
    if funnel.empty:
        return _empty("Season funnel", "No episodes.")
    if is_suppressed(funnel, "share_started").all():
        return _empty("Season funnel", f"{SUPPRESSED_TEXT}: fewer than {k} profiles started episode 1")
    episodes = [f"Ep {int(e)}" for e in funnel["episode_number"]]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=episodes, y=funnel["share_started"], name="started", marker_color=theme.PRIMARY,
                         hovertemplate="%{x}: %{y:.0%} of episode-1 starters started<extra></extra>"))
    fig.add_trace(go.Bar(x=episodes, y=funnel["share_completed"], name="completed", marker_color=theme.ACCENT,
                         hovertemplate="%{x}: %{y:.0%} of episode-1 starters completed<extra></extra>"))
    if drop:
        fig.add_annotation(x=f"Ep {drop['episode_number']}", y=drop["share_after"], ax=0, ay=-40,
                           text=f"biggest drop: −{drop['drop']:.0%}", font=dict(color=theme.ACCENT),
                           arrowcolor=theme.ACCENT)
    fig.update_layout(template=T, title="Season funnel: share of episode-1 starters", barmode="group", height=360)
    fig.update_yaxes(tickformat=".0%", range=[0, 1.1])
    return fig


# --- Genre -----------------------------------------------------------------------------------

def genre_trend_figure(genres: pd.DataFrame, metric: str, title: str, k: int, percent: bool = False) -> go.Figure:
    if genres.empty:
        return _empty(title, "No weekly genre data.")
    fig = go.Figure()
    order = genres.groupby("genre")["hours_viewed"].sum().sort_values(ascending=False).index
    for i, genre in enumerate(order):
        rows = genres[genres["genre"] == genre]
        fig.add_trace(go.Scatter(x=rows["week_start_date"], y=rows[metric], name=genre, mode="lines+markers",
                                 line=dict(color=theme.PALETTE[i % len(theme.PALETTE)], width=2),
                                 connectgaps=False,
                                 hovertemplate=f"{genre}<br>week of %{{x|%Y-%m-%d}}<br>%{{y:{'.1%' if percent else ',.1f'}}}<extra></extra>"))
    fig.update_layout(template=T, title=title, height=380, legend=dict(orientation="v", y=1, x=1.02, xanchor="left"))
    fig.update_xaxes(title_text="week starting", tickformat="%d %b")
    if percent:
        fig.update_yaxes(tickformat=".0%")
    _suppressed_note(fig, int(is_suppressed(genres, metric).sum()), k)
    return fig


def genre_bars_figure(week: pd.DataFrame, metric: str, title: str, k: int, percent: bool = True) -> go.Figure:
    if week.empty:
        return _empty(title, "No data for this week.")
    rows = week.sort_values(metric, ascending=True, na_position="first")
    values, hidden = _bar_values(rows, metric)
    fig = go.Figure(go.Bar(
        x=values, y=rows["genre"], orientation="h",
        marker_color=[theme.SUPPRESSED if h else theme.PRIMARY for h in hidden],
        text=[SUPPRESSED_TEXT if h else (f"{v:.0%}" if percent else f"{v:,.1f}") for v, h in zip(values, hidden)],
        textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{x:" + (".1%" if percent else ",.1f") + "}<extra></extra>"))
    fig.update_layout(template=T, title=title, height=380, margin=dict(l=100, r=60))
    if percent:
        fig.update_xaxes(tickformat=".0%")
    return fig


# --- Talent ----------------------------------------------------------------------------------

TALENT_FIGURE_ROWS = 30  # a long career is charted by its latest programmes; the table lists all


def talent_figure(programmes: pd.DataFrame, k: int) -> go.Figure:
    title = "28-day views per programme against the median for its genre"
    if programmes.empty:
        return _empty(title, "No programmes credited.")
    rows = programmes.drop_duplicates("programme_id").sort_values("release_date", kind="mergesort")
    if len(rows) > TALENT_FIGURE_ROWS:
        title += f" (the latest {TALENT_FIGURE_ROWS} of {len(rows)}; the table lists all)"
        rows = rows.tail(TALENT_FIGURE_ROWS)
    rows = rows.copy()
    labels = [f"{n} ({pd.Timestamp(d).year})" for n, d in zip(rows["programme_name"], rows["release_date"])]
    values, hidden = _bar_values(rows, "views_28d")
    complete = rows["is_window_complete"].astype(bool).to_numpy()
    fig = go.Figure()
    fig.add_trace(go.Bar(
        y=labels, x=values, orientation="h", name="28-day views",
        marker_color=[theme.SUPPRESSED if h else (theme.PRIMARY if c else "#8fa6bf") for h, c in zip(hidden, complete)],
        text=[SUPPRESSED_TEXT if h else ("window open" if not c else "") for h, c in zip(hidden, complete)],
        textposition="outside", cliponaxis=False,
        hovertemplate="%{y}<br>views %{x:,.1f}<extra></extra>"))
    fig.add_trace(go.Scatter(
        y=labels, x=rows["genre_median_views_28d"], mode="markers", name="median for the genre",
        marker=dict(symbol="line-ns-open", size=18, line=dict(width=3, color=theme.ACCENT)),
        customdata=rows["primary_genre"],
        hovertemplate="median for %{customdata}: %{x:,.1f}<extra></extra>"))
    fig.update_layout(template=T, title=title, height=max(300, 120 + 26 * len(rows)), margin=dict(l=240, r=80))
    fig.update_xaxes(title_text="views in the first 28 days", rangemode="tozero")
    fig.update_yaxes(autorange="reversed")
    return fig


# --- Markets ---------------------------------------------------------------------------------

def market_shares_figure(shares: pd.DataFrame, title: str, k: int) -> go.Figure:
    if shares.empty:
        return _empty(title, "No data for this market and month.")
    labels = shares["group_value"].str.replace("_", " ")
    demand, hidden = _bar_values(shares, "demand_share")
    fig = go.Figure()
    fig.add_trace(go.Bar(x=labels, y=shares["runtime_share"], name="catalogue share (hours on offer)",
                         marker_color=theme.PRIMARY, hovertemplate="%{x}: %{y:.1%} of hours on offer<extra></extra>"))
    fig.add_trace(go.Bar(x=labels, y=shares["programme_share"], name="catalogue share (programmes)",
                         marker_color="#8fa6bf", hovertemplate="%{x}: %{y:.1%} of programmes<extra></extra>"))
    fig.add_trace(go.Bar(x=labels, y=demand, name="demand share (hours viewed)",
                         marker_color=[theme.SUPPRESSED if h else theme.ACCENT for h in hidden],
                         text=[SUPPRESSED_TEXT if h else "" for h in hidden], textposition="outside",
                         hovertemplate="%{x}: %{y:.1%} of hours viewed<extra></extra>"))
    fig.update_layout(template=T, title=title, barmode="group", height=360)
    fig.update_yaxes(tickformat=".0%")
    return fig


def european_works_figure(works: pd.DataFrame, country: str | None) -> go.Figure:
    title = "European works in the catalogue (AVMSD: at least 30%)"
    if works.empty:
        return _empty(title, "No catalogue data for this month.")
    colours = [theme.ACCENT if c == country else (theme.PRIMARY if ok else theme.SUPPRESSED)
               for c, ok in zip(works["country"], works["meets_avmsd_european_quota"])]
    fig = go.Figure(go.Bar(x=works["country"], y=works["european_works_programme_share"], marker_color=colours,
                           hovertemplate="%{x}: %{y:.1%} European works<extra></extra>"))
    fig.add_hline(y=0.30, line=dict(color=theme.INK, dash="dash", width=1.5),
                  annotation_text="30% bar", annotation_position="top left")
    fig.update_layout(template=T, title=title, height=340)
    fig.update_yaxes(tickformat=".0%", range=[0, 1])
    return fig


# --- Greenlight ------------------------------------------------------------------------------

def forecast_figure(result: dict, k: int) -> go.Figure:
    """The forecast and its 80% interval beside the comparables' actual 28-day views."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=[result["point"]], y=["this pitch"], mode="markers", name="forecast",
        marker=dict(size=16, color=theme.PRIMARY),
        error_x=dict(type="data", symmetric=False, array=[result["p90"] - result["point"]],
                     arrayminus=[result["point"] - result["p10"]], color=theme.PRIMARY, thickness=3, width=10),
        hovertemplate="forecast %{x:,.0f}<extra></extra>"))
    comparables = result["comparables"]
    if comparables is not None and not comparables.empty:
        shown = comparables[~is_suppressed(comparables, "actual")]
        fig.add_trace(go.Scatter(
            x=shown["actual"], y=shown["programme_name"], mode="markers", name="comparable (actual)",
            marker=dict(size=11, color=theme.ACCENT, symbol="diamond"),
            hovertemplate="%{y}: %{x:,.0f} views<extra></extra>"))
    fig.update_layout(template=T, title="Forecast 28-day views, 80% interval, and comparables", height=320,
                      margin=dict(l=180))
    fig.update_xaxes(title_text="views in the first 28 days", rangemode="tozero")
    fig.update_yaxes(autorange="reversed")
    return fig


def explanation_figure(explanation: pd.DataFrame, limit: int = 10) -> go.Figure:
    title = "Why: contributions on the log scale"
    if explanation is None or explanation.empty:
        return _empty(title, "No explanation.")
    rows = explanation.head(limit + 1)
    rest = explanation.iloc[limit + 1:]
    labels = [f"{c}: {f}" if c != f else c for c, f in zip(rows["component"], rows["feature"])]
    values = list(rows["contribution"])
    if not rest.empty:
        labels.append(f"{len(rest)} smaller terms")
        values.append(float(rest["contribution"].sum()))
    fig = go.Figure(go.Waterfall(
        y=labels + ["forecast (log scale)"], x=values + [None], orientation="h",
        measure=["relative"] * len(values) + ["total"],
        increasing=dict(marker=dict(color=theme.GOOD)), decreasing=dict(marker=dict(color=theme.ACCENT)),
        totals=dict(marker=dict(color=theme.PRIMARY)), connector=dict(line=dict(color=theme.GRID)),
        hovertemplate="%{y}: %{x:+.3f}<extra></extra>"))
    fig.update_layout(template=T, title=title, height=60 + 28 * (len(labels) + 1), margin=dict(l=230))
    fig.update_yaxes(autorange="reversed")
    return fig


def slate_figure(slate: pd.DataFrame, name_column: str) -> go.Figure:
    title = "Slate forecasts: 28-day views with 80% intervals"
    if slate is None or slate.empty or not {"point", "p10", "p90"} <= set(slate.columns):
        return _empty(title, "No scored slate.")
    rows = slate.sort_values("point")
    fig = go.Figure(go.Scatter(
        x=rows["point"], y=rows[name_column].astype(str), mode="markers", marker=dict(size=12, color=theme.PRIMARY),
        error_x=dict(type="data", symmetric=False, array=rows["p90"] - rows["point"],
                     arrayminus=rows["point"] - rows["p10"], color=theme.PRIMARY),
        hovertemplate="%{y}: %{x:,.0f}<extra></extra>"))
    fig.update_layout(template=T, title=title, height=max(260, 40 + 34 * len(rows)), margin=dict(l=200))
    fig.update_xaxes(title_text="views in the first 28 days", rangemode="tozero")
    return fig


def backtest_figure(scores: pd.DataFrame) -> go.Figure:
    """RMSLE and 80% coverage of the model against the baselines (pooled over the cutoffs)."""
    title = "Backtest: error (RMSLE, lower is better) and 80% interval coverage"
    if scores is None or scores.empty:
        return _empty(title, "No backtest.")
    fig = make_subplots(rows=1, cols=2, subplot_titles=["RMSLE", "80% interval coverage"])
    colours = [theme.PRIMARY if m == "demand_model" else theme.SUPPRESSED for m in scores["model"]]
    labels = scores["model"].str.replace("_", " ")
    fig.add_trace(go.Bar(x=labels, y=scores["rmsle"], marker_color=colours, showlegend=False,
                         hovertemplate="%{x}: %{y:.3f}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Bar(x=labels, y=scores["coverage_80"], marker_color=colours, showlegend=False,
                         hovertemplate="%{x}: %{y:.0%}<extra></extra>"), row=1, col=2)
    fig.add_hline(y=0.8, line=dict(color=theme.ACCENT, dash="dash"), row=1, col=2)
    fig.update_yaxes(tickformat=".0%", range=[0, 1], row=1, col=2)
    fig.update_layout(template=T, title=title, height=320)
    return fig
