"""Plotly figures for the pages and the offline reports, from the `queries` frames.

Suppressed values arrive as NaN with a `<column>__suppressed` flag: lines leave a gap,
bars have no length and are labelled "suppressed" (on the bar and in its hover, which never
prints a number for them), and the figure says how many points were held back. Nothing
here computes a metric.

Rows of a categorical axis are placed by their label, so Plotly merges two rows with the
same label; names are not unique (remakes, a simulated catalogue), so labels that repeat
get the row's id appended (`queries.distinct_labels`).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from . import theme
from .privacy import SUPPRESSED_TEXT, is_suppressed
from .queries import GLOBAL, distinct_labels, lists_for

T = theme.TEMPLATE


def _empty(title: str, message: str) -> go.Figure:
    fig = go.Figure(layout=dict(template=T, title=title))
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font=dict(color=theme.MUTED))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


NOTE_MARGIN_B = 92  # room under the x-axis title for a note; the template's 48 holds ticks and title only


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _note(fig: go.Figure, text: str) -> None:
    """A muted line under the x-axis title. Placed in pixels below the plot area (not at a
    paper fraction, which lands on the tick labels when the plot is short), in a bottom
    margin made tall enough for it."""
    fig.add_annotation(text=text, showarrow=False, x=1, xref="paper", xanchor="right",
                       y=0, yref="paper", yanchor="top", yshift=-64,
                       font=dict(size=11, color=theme.MUTED))
    fig.update_layout(margin=dict(b=NOTE_MARGIN_B))


def _suppressed_note(fig: go.Figure, count: int, k: int) -> None:
    if count:
        _note(fig, f"{_plural(count, 'point')} {SUPPRESSED_TEXT} (fewer than {k} profiles)")


def _bar_values(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Bar lengths (0 where suppressed) and the suppressed mask."""
    hidden = is_suppressed(frame, column).to_numpy()
    values = frame[column].astype(float).fillna(0.0).to_numpy()
    return values, hidden


def _hover_values(values: Iterable[float], hidden: Iterable[bool], fmt: str) -> list[str]:
    """Per-point hover text (as customdata) for a value that may be suppressed: the marker
    where it is, else the value in `fmt`. A bar's hovertemplate prints this, never %{x} or
    %{y}, since a suppressed bar's length is a stand-in 0, not a number to show."""
    return [SUPPRESSED_TEXT if h else fmt.format(v) for v, h in zip(values, hidden)]


# The "suppressed" label of a zero-length bar: a readable size whatever the bar's width
# (Plotly shrinks outside text to the bar's width by default).
SUPPRESSED_BAR_TEXT = dict(textfont=dict(size=11), constraintext="none", cliponaxis=False)


def _legend_swatch(name: str, colour: str, group: str) -> go.Bar:
    """A data-free bar trace that only draws a legend entry in `colour`. Plotly colours a
    bar trace's legend swatch like its first bar, which is grey when that bar is
    suppressed; the real trace then hides its own entry and shares this one's group."""
    return go.Bar(x=[None], y=[None], name=name, marker_color=colour, legendgroup=group,
                  hoverinfo="skip", showlegend=True)


# --- Top 10 ----------------------------------------------------------------------------------

TOP10_LABEL_CHARS = 30  # longer row labels wrap: the right-hand lists' labels sit between the columns


def _wrap(label: str, width: int = TOP10_LABEL_CHARS) -> str:
    """`label` on lines of at most `width` characters, breaking after a season's
    "Show:" where there is one ("The Lost Frequency:<br>Season 2")."""
    if len(label) <= width:
        return label
    head, colon, tail = label.rpartition(": ")
    if colon and len(tail) <= width:
        return "<br>".join([*textwrap.wrap(head + ":", width), tail])
    return "<br>".join(textwrap.wrap(label, width)) or label


def top10_figure(lists: pd.DataFrame, k: int) -> go.Figure:
    if lists.empty:
        return _empty("Views this week", "No Top 10 for this market and week.")
    # The left lists' labels go in the left margin (automargin sizes it); the right lists'
    # labels go in the gap between the columns, which automargin cannot widen: it is sized
    # for TOP10_LABEL_CHARS characters at 11 px on the narrowest page the CSS allows.
    names = lists_for(lists["market"].iloc[0] if "market" in lists.columns else GLOBAL)
    rows_of_lists = (len(names) + 1) // 2
    fig = make_subplots(rows=rows_of_lists, cols=2, subplot_titles=list(names.values()),
                        horizontal_spacing=0.27, vertical_spacing=0.14)
    wrapped = False
    for i, (name, label) in enumerate(names.items()):
        row, col = i // 2 + 1, i % 2 + 1
        rows = lists[lists["list_name"] == name].sort_values("week_rank")
        values, hidden = _bar_values(rows, "views")
        names = [_wrap(f"{r}. {n}") for r, n in zip(rows["week_rank"], rows["programme_name"])]
        wrapped |= any("<br>" in n for n in names)
        fig.add_trace(go.Bar(
            x=values, y=names, orientation="h", name=label, showlegend=False,
            marker_color=[theme.SUPPRESSED if h else theme.PALETTE[i] for h in hidden],
            text=[SUPPRESSED_TEXT if h else f"{v:,.1f}" for v, h in zip(values, hidden)],
            textposition="outside", **SUPPRESSED_BAR_TEXT,
            customdata=_hover_values(values, hidden, "{:,.1f}"),
            hovertemplate="%{y}<br>views: %{customdata}<extra></extra>"),
            row=row, col=col)
        fig.update_yaxes(autorange="reversed", automargin=True, tickfont=dict(size=11), row=row, col=col)
        fig.update_xaxes(rangemode="tozero", row=row, col=col)
        if rows.empty or hidden.all():
            # No length to read: an axis from 0 to 1 would mean nothing, so say why instead.
            fig.update_xaxes(range=[0, 1], showticklabels=False, showgrid=False, row=row, col=col)
            fig.add_annotation(
                text="No titles in this list." if rows.empty else f"All {SUPPRESSED_TEXT} (fewer than {k} profiles)",
                showarrow=False, xref="x domain", yref="y domain", x=0, y=0, xanchor="left", yanchor="top",
                yshift=-4, font=dict(size=11, color=theme.MUTED), row=row, col=col)
    height = (740 if wrapped else 660) if rows_of_lists == 2 else (410 if wrapped else 370)
    fig.update_layout(template=T, height=height, title="Views this week",
                      margin=dict(l=24, r=60, t=72))
    return fig


# --- Title -----------------------------------------------------------------------------------

def title_daily_figure(daily: pd.DataFrame, k: int) -> go.Figure:
    title = "Daily views and hours since release"
    if daily.empty:
        return _empty(title, "No viewing recorded for this title.")
    hidden = is_suppressed(daily, "views").to_numpy()
    if hidden.all():
        return _empty(title, f"Daily figures {SUPPRESSED_TEXT}: fewer than {k} profiles on every day.")
    fig = make_subplots(specs=[[{"secondary_y": True}]])
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
    fig.update_layout(template=T, title=title, height=360)
    days = daily["days_since_release"]
    # Days are whole: Plotly would tick a short span at halves (0.5, 1.5).
    fig.update_xaxes(title_text="days since release", tickformat="d",
                     dtick=1 if days.max() - days.min() <= 14 else None)
    fig.update_yaxes(title_text="views", secondary_y=False, rangemode="tozero")
    fig.update_yaxes(title_text="hours", secondary_y=True, showgrid=False, rangemode="tozero")
    _suppressed_note(fig, int(hidden.sum()), k)
    return fig


def retention_figure(curves: pd.DataFrame, k: int) -> go.Figure:
    shown = curves[~is_suppressed(curves, "share_reached")]
    hidden_titles = curves.loc[is_suppressed(curves, "share_reached"), "title_id"].nunique()
    numbered = "episode_number" in curves.columns and curves["episode_number"].notna().any()
    why = f"fewer than {k} starters, or points within {k} profiles of each other"
    if shown.empty:
        fig = _empty("Retention: share of starters still watching",
                     f"{SUPPRESSED_TEXT}: {why}" if hidden_titles else "No starters yet.")
        return fig
    fig = go.Figure()
    titles = shown.drop_duplicates("title_id")
    episodes = titles["episode_number"] if numbered else [None] * len(titles)
    for i, (title_id, title_name, episode) in enumerate(zip(titles["title_id"], titles["title_name"], episodes)):
        # Hidden points stay in as gaps: the line does not run across them.
        rows = curves[curves["title_id"] == title_id]
        name = f"Ep {int(episode)}: {title_name}" if episode is not None and pd.notna(episode) else str(title_name)
        fig.add_trace(go.Scatter(
            x=[0, *rows["progress_pct"]], y=[1.0, *rows["share_reached"]], mode="lines+markers", name=name,
            line=dict(color=theme.PALETTE[i % len(theme.PALETTE)], width=2),
            hovertemplate=f"{name}<br>%{{x}}% of runtime: %{{y:.0%}}<extra></extra>"))
    fig.update_layout(template=T, title="Retention: share of starters still watching", height=360)
    fig.update_xaxes(title_text="% of runtime", ticksuffix="%")
    fig.update_yaxes(title_text="share of starters", tickformat=".0%", range=[0, 1.05])
    if hidden_titles:
        _note(fig, f"{_plural(hidden_titles, 'episode' if numbered else 'title')} {SUPPRESSED_TEXT} ({why})")
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
    # A vertical legend to the right of the plot, from its top; the template's legend sits
    # above the plot, where a dozen genres take the lines' height.
    fig.update_layout(template=T, title=title, height=max(380, 170 + 21 * len(order)), margin=dict(t=56),
                      legend=dict(orientation="v", yanchor="top", y=1, xanchor="left", x=1.02))
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
        textposition="outside", **SUPPRESSED_BAR_TEXT,
        customdata=_hover_values(values, hidden, "{:.1%}" if percent else "{:,.1f}"),
        hovertemplate="%{y}: %{customdata}<extra></extra>"))
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
    names = [f"{n} ({pd.Timestamp(d).year})" for n, d in zip(rows["programme_name"], rows["release_date"])]
    labels = distinct_labels(names, rows["programme_id"])
    values, hidden = _bar_values(rows, "views_28d")
    complete = rows["is_window_complete"].astype(bool).to_numpy()
    # A window not complete is open, or was never wholly observed (released before the data).
    states = (rows["window_state"] if "window_state" in rows.columns else pd.Series(np.nan, index=rows.index))
    states = [str(s) if pd.notna(s) else ("complete" if c else "open") for s, c in zip(states, complete)]
    fig = go.Figure()
    fig.add_trace(go.Bar(
        y=labels, x=values, orientation="h", name="28-day views", legendgroup="views", showlegend=False,
        marker_color=[theme.SUPPRESSED if h else (theme.PRIMARY if c else "#8fa6bf") for h, c in zip(hidden, complete)],
        text=[SUPPRESSED_TEXT if h else ("" if c else {"open": "window open"}.get(state, state))
              for h, c, state in zip(hidden, complete, states)],
        textposition="outside", **SUPPRESSED_BAR_TEXT,
        customdata=_hover_values(values, hidden, "{:,.1f}"),
        hovertemplate="%{y}<br>views: %{customdata}<extra></extra>"))
    fig.add_trace(_legend_swatch("28-day views", theme.PRIMARY, "views"))
    fig.add_trace(go.Scatter(
        y=labels, x=rows["genre_median_views_28d"], mode="markers", name="median for the genre",
        marker=dict(symbol="line-ns-open", size=18, color=theme.ACCENT, line=dict(width=3, color=theme.ACCENT)),
        customdata=rows["primary_genre"],
        hovertemplate="median for %{customdata}: %{x:,.1f}<extra></extra>"))
    # Overlay: one real bar trace, so nothing to group, and the legend swatch takes no slot.
    fig.update_layout(template=T, title=title, height=max(300, 120 + 26 * len(rows)), margin=dict(r=80),
                      barmode="overlay")
    fig.update_xaxes(title_text="views in the first 28 days", rangemode="tozero")
    fig.update_yaxes(autorange="reversed", automargin=True)
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
    # One colour for the whole trace: a suppressed bar has no length to colour, and Plotly
    # draws the legend swatch in the first bar's colour. Its label stands upright in the
    # bar's own slot, so it is readable without running over the neighbouring bars.
    fig.add_trace(go.Bar(x=labels, y=demand, name="demand share (hours viewed)", marker_color=theme.ACCENT,
                         text=[SUPPRESSED_TEXT if h else "" for h in hidden], textposition="outside",
                         textangle=-90, **SUPPRESSED_BAR_TEXT,
                         customdata=_hover_values(demand, hidden, "{:.1%}"),
                         hovertemplate="%{x}<br>share of hours viewed: %{customdata}<extra></extra>"))
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
    # The label goes right of the plot, level with the line: inside, it sits on a bar.
    fig.add_hline(y=0.30, line=dict(color=theme.INK, dash="dash", width=1.5),
                  annotation_text="30% bar", annotation_position="right", annotation_font=dict(size=11))
    fig.update_layout(template=T, title=title, height=340, margin=dict(r=72))
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
        keys = shown["title_id"] if "title_id" in shown.columns else shown.index
        fig.add_trace(go.Scatter(
            x=shown["actual"], y=distinct_labels(shown["programme_name"], keys), mode="markers",
            name="comparable (actual)",
            marker=dict(size=11, color=theme.ACCENT, symbol="diamond"),
            hovertemplate="%{y}: %{x:,.0f} views<extra></extra>"))
    fig.update_layout(template=T, title="Forecast 28-day views, 80% interval, and comparables", height=320)
    fig.update_xaxes(title_text="views in the first 28 days", rangemode="tozero")
    fig.update_yaxes(autorange="reversed", automargin=True)
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
    # Two pitches may share a working title: tell them apart by an id, else by slate row.
    key = next((c for c in ("pitch_id", "title_id") if c in slate.columns and c != name_column), None)
    slate = slate.reset_index(drop=True)
    keys = slate[key].astype(str) if key else [f"row {i + 1}" for i in slate.index]
    rows = slate.assign(_label=distinct_labels(slate[name_column], keys)).sort_values("point")
    fig = go.Figure(go.Scatter(
        x=rows["point"], y=rows["_label"], mode="markers", marker=dict(size=12, color=theme.PRIMARY),
        error_x=dict(type="data", symmetric=False, array=rows["p90"] - rows["point"],
                     arrayminus=rows["point"] - rows["p10"], color=theme.PRIMARY),
        hovertemplate="%{y}: %{x:,.0f}<extra></extra>"))
    fig.update_layout(template=T, title=title, height=max(260, 40 + 34 * len(rows)))
    fig.update_xaxes(title_text="views in the first 28 days", rangemode="tozero")
    fig.update_yaxes(automargin=True)
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
