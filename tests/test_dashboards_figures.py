"""The dashboards' figures over hand-made frames: what a reader can see (hover text, legend,
labels, notes) for suppressed cells, repeated names and empty series. No browser: the
assertions are on the Plotly figure objects the pages hand to the browser."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from slatehouse.dashboards import figures, queries, theme
from slatehouse.dashboards.privacy import SUPPRESSED_TEXT, suppress

K = 10
D = pd.Timestamp


def hover_text(trace, i: int, label: str) -> str:
    """The hover text Plotly shows for point `i` of `trace`, with the row's label (`label`,
    the category axis: "%{x}" or "%{y}") written as LABEL. Any other %{...} left over would
    print a value Plotly reads off the point itself (its length), so the text is refused."""
    text = trace.hovertemplate.replace("<extra></extra>", "").replace(f"%{{{label}}}", "LABEL")
    if trace.customdata is not None:
        text = text.replace("%{customdata}", str(trace.customdata[i]))
    assert "%{" not in text, f"hover prints a value off the point: {trace.hovertemplate!r}"
    return text


def assert_suppressed_hover(trace, hidden: list[bool], label: str) -> None:
    assert any(hidden), "the frame should hold a suppressed cell"
    for i, is_hidden in enumerate(hidden):
        text = hover_text(trace, i, label)
        if is_hidden:
            assert SUPPRESSED_TEXT in text, text
            assert not re.search(r"\d", text), f"a suppressed bar's hover shows a number: {text!r}"
        else:
            assert SUPPRESSED_TEXT not in text and re.search(r"\d", text), text


# --- 1. a suppressed cell never shows a number, hover included ----------------------------

def top10_lists(profiles_by_list: dict[str, list[int]], names: list[str] | None = None) -> pd.DataFrame:
    rows = []
    for list_name, profiles in profiles_by_list.items():
        for rank, count in enumerate(profiles, start=1):
            rows.append({"list_name": list_name, "week_rank": rank, "programme_id": f"{list_name}-{rank}",
                         "programme_name": (names or [f"Show {rank}"] * len(profiles))[rank - 1],
                         "views": 100.0 / rank, "hours_viewed": 50.0 / rank, "unique_profiles": count})
    return suppress(pd.DataFrame(rows), K, {"unique_profiles": ["hours_viewed", "views"]})


def test_a_countrys_top10_has_a_films_and_a_tv_list():
    lists = top10_lists({name: [50, 40] for name in queries.COUNTRY_LISTS}).assign(market="FR")
    figure = figures.top10_figure(lists, K)
    assert [trace.name for trace in figure.data] == ["Films", "TV"]
    assert [a.text for a in figure.layout.annotations] == ["Films", "TV"]
    assert figure.layout.height < figures.top10_figure(top10_lists({n: [50] for n in queries.LISTS}), K).layout.height


def test_top10_hover_of_a_suppressed_bar_says_suppressed_not_a_number():
    lists = top10_lists({name: [50, 3, 40] for name in queries.LISTS})
    figure = figures.top10_figure(lists, K)
    for trace in figure.data:
        assert_suppressed_hover(trace, [False, True, False], label="y")
    assert hover_text(figure.data[0], 0, "y") == "LABEL<br>views: 100.0"


def test_genre_bars_hover_of_a_suppressed_bar_says_suppressed():
    week = suppress(pd.DataFrame({"genre": ["action", "drama", "crime"], "share_of_hours": [0.2, 0.5, 0.3],
                                  "unique_profiles": [4, 80, 30]}), K, {"unique_profiles": ["share_of_hours"]})
    trace = figures.genre_bars_figure(week, "share_of_hours", "Share of hours", K).data[0]
    hidden = [genre == "action" for genre in trace.y]
    assert_suppressed_hover(trace, hidden, label="y")
    assert hover_text(trace, list(trace.y).index("drama"), "y") == "LABEL: 50.0%"


def talent_programmes(names: list[str], profiles: list[int], ids: list[str] | None = None) -> pd.DataFrame:
    n = len(names)
    frame = pd.DataFrame({
        "programme_id": ids or [f"P{i}" for i in range(n)], "programme_name": names,
        "release_date": pd.date_range("2026-01-01", periods=n, freq="W"), "views_28d": np.arange(1, n + 1) * 10.0,
        "is_window_complete": True, "genre_median_views_28d": 12.0, "primary_genre": "drama",
        "unique_profiles": profiles,
    })
    return suppress(frame, K, {"unique_profiles": ["views_28d"]})


def test_talent_hover_of_a_suppressed_bar_says_suppressed():
    figure = figures.talent_figure(talent_programmes(["A", "B", "C"], [5, 40, 40]), K)
    assert_suppressed_hover(figure.data[0], [True, False, False], label="y")


def test_talent_bar_says_whether_a_window_is_open_or_began_before_the_data():
    programmes = talent_programmes(["New", "Old", "Done"], [40, 40, 40]).assign(
        is_window_complete=[False, False, True], window_state=["open", "before the data", "complete"])
    assert list(figures.talent_figure(programmes, K).data[0].text) == ["window open", "before the data", ""]
    # Without the window's state (a programme with no window row), the training mart's flag.
    assert list(figures.talent_figure(programmes.drop(columns="window_state"), K).data[0].text) == [
        "window open", "window open", ""]


def market_shares(profiles: list[int]) -> pd.DataFrame:
    frame = pd.DataFrame({"group_value": ["domestic", "other_european", "us", "rest_of_world"],
                          "runtime_share": [0.1, 0.3, 0.4, 0.2], "programme_share": [0.1, 0.3, 0.4, 0.2],
                          "demand_share": [0.15, 0.25, 0.45, 0.15], "unique_profiles": profiles})
    return suppress(frame, K, {"unique_profiles": ["demand_share"]})


def test_market_demand_hover_of_a_suppressed_bar_says_suppressed():
    figure = figures.market_shares_figure(market_shares([3, 50, 50, 4]), "BR: by origin", K)
    demand = next(t for t in figure.data if t.name.startswith("demand"))
    assert_suppressed_hover(demand, [True, False, False, True], label="x")


# --- 2. genre trends: legend beside the plot, the note clear of the ticks ----------------

def genre_weeks(genres: list[str], small: set[tuple[int, str]]) -> pd.DataFrame:
    weeks = pd.date_range("2026-01-05", periods=4, freq="7D")
    frame = pd.DataFrame([{"week_start_date": w, "genre": g, "hours_viewed": 100.0 + i,
                           "unique_profiles": 3 if (j, g) in small else 60}
                          for j, w in enumerate(weeks) for i, g in enumerate(genres)])
    return suppress(frame, K, {"unique_profiles": ["hours_viewed"]})


def note_below_the_axis(figure) -> None:
    notes = [a for a in figure.layout.annotations if SUPPRESSED_TEXT in a.text]
    assert len(notes) == 1
    note = notes[0]
    # Under the plot area by a fixed number of pixels, past the tick labels and axis title,
    # in a bottom margin tall enough to hold it.
    assert note.yref == "paper" and note.y == 0 and note.yanchor == "top" and note.yshift <= -60
    assert figure.layout.margin.b >= -note.yshift + 20


def test_genre_trend_legend_is_beside_the_plot_from_its_top():
    genres = [f"genre {i}" for i in range(13)]
    figure = figures.genre_trend_figure(genre_weeks(genres, {(1, "genre 3")}), "hours_viewed", "Hours", K)
    legend = figure.layout.legend
    assert legend.orientation == "v" and legend.x > 1 and legend.xanchor == "left"
    assert legend.yanchor == "top" and legend.y == 1
    # Thirteen entries at about 20 px each fit beside the plot without a scroll bar.
    plot_height = figure.layout.height - figure.layout.margin.t - figure.layout.margin.b
    assert plot_height >= 20 * len(genres)
    note_below_the_axis(figure)
    assert "1 point suppressed" in figure.layout.annotations[0].text


# --- 3. Top 10: labels fit, an all-suppressed list says so ------------------------------

def test_top10_labels_are_never_clipped_and_long_ones_wrap():
    long_name = "The Distant Inheritance: Season 1"
    lists = top10_lists({name: [50] * 3 for name in queries.LISTS}, names=["Glass Tide", long_name, "Other"])
    figure = figures.top10_figure(lists, K)
    for axis in ("yaxis", "yaxis2", "yaxis3", "yaxis4"):
        assert figure.layout[axis].automargin is True
    labels = list(figure.data[1].y)
    assert labels[0] == "1. Glass Tide"
    assert labels[1] == "2. The Distant Inheritance:<br>Season 1"
    assert all(len(line) <= figures.TOP10_LABEL_CHARS for label in labels for line in label.split("<br>"))


def test_top10_list_with_every_bar_suppressed_has_no_meaningless_axis():
    lists = top10_lists({"films_english": [3, 4, 5], "films_non_english": [50, 60, 70],
                         "tv_english": [50, 50, 50], "tv_non_english": [50, 50, 50]})
    figure = figures.top10_figure(lists, K)
    assert figure.layout.xaxis.showticklabels is False  # films_english: all suppressed
    assert figure.layout.xaxis2.showticklabels is not False
    notes = [a for a in figure.layout.annotations if a.text.startswith("All suppressed")]
    assert len(notes) == 1 and notes[0].xref == "x domain"


# --- 4. Title daily: an empty state when every day is suppressed, whole-day ticks --------

def daily(profiles: list[int]) -> pd.DataFrame:
    n = len(profiles)
    frame = pd.DataFrame({"event_date": pd.date_range("2026-05-02", periods=n), "days_since_release": range(1, n + 1),
                          "hours_viewed": 10.0, "views": 2.0, "plays": 5, "profiles_at_least": profiles})
    return suppress(frame, K, {"profiles_at_least": ["hours_viewed", "views", "plays"]})


def test_title_daily_with_every_day_suppressed_is_an_empty_state():
    figure = figures.title_daily_figure(daily([3, 2, 4]), K)
    assert len(figure.data) == 0
    assert figure.layout.xaxis.visible is False and figure.layout.yaxis.visible is False
    (message,) = figure.layout.annotations
    assert SUPPRESSED_TEXT in message.text and f"fewer than {K} profiles" in message.text


def test_title_daily_ticks_whole_days_and_notes_the_suppressed_ones():
    figure = figures.title_daily_figure(daily([30, 3, 40]), K)
    assert figure.layout.xaxis.dtick == 1 and figure.layout.xaxis.tickformat == "d"
    note_below_the_axis(figure)
    bars = figure.data[0]
    assert np.isnan(bars.y[1]), "a suppressed day draws no bar"


# --- 5. Markets: the legend's colour, readable labels, the 30% bar's label ---------------

def test_market_demand_legend_keeps_its_colour_when_the_first_bar_is_suppressed():
    figure = figures.market_shares_figure(market_shares([3, 50, 50, 50]), "BR: by origin", K)
    demand = next(t for t in figure.data if t.name.startswith("demand"))
    assert demand.marker.color == theme.ACCENT, "one colour: Plotly's legend swatch takes the first bar's"
    assert list(demand.text) == [SUPPRESSED_TEXT, "", "", ""]
    assert demand.textfont.size >= 10 and demand.constraintext == "none"


def test_european_works_bar_label_sits_outside_the_bars():
    works = pd.DataFrame({"country": ["ES", "BR", "US"], "european_works_programme_share": [0.4, 0.35, 0.3],
                          "meets_avmsd_european_quota": [True, True, True]})
    figure = figures.european_works_figure(works, "BR")
    (label,) = [a for a in figure.layout.annotations if a.text == "30% bar"]
    assert label.xref in ("paper", "x domain") and label.x == 1 and label.xanchor == "left"  # right of the plot
    assert figure.layout.margin.r >= 60


# --- 6. Retention: episodes by number, the note in words ---------------------------------

def retention(starters: dict[tuple[int | None, str], int]) -> pd.DataFrame:
    frame = pd.DataFrame([{"title_id": f"T{i}", "title_name": name, "episode_number": episode, "progress_pct": p,
                           "share_reached": 1 - p / 200, "starters": count, "starters_reached": count}
                          for i, ((episode, name), count) in enumerate(starters.items()) for p in (50, 100)])
    return suppress(frame, K, {"starters": ["share_reached", "starters_reached"]})


@pytest.mark.parametrize("hidden, note", [(1, "1 episode suppressed"), (2, "2 episodes suppressed")])
def test_retention_names_episodes_by_number_and_counts_the_suppressed_ones(hidden, note):
    starters = {(1, "Blue Verdict"): 40, (2, "Broken Circuit"): 30, (3, "Cold Open"): 3,
                (4, "Dust"): 3 if hidden == 2 else 30}
    figure = figures.retention_figure(retention(starters), K)
    names = [t.name for t in figure.data]
    assert names[:2] == ["Ep 1: Blue Verdict", "Ep 2: Broken Circuit"]
    assert all(SUPPRESSED_TEXT not in n for n in names)
    (annotation,) = figure.layout.annotations
    assert annotation.text == f"{note} (fewer than {K} starters, or points within {K} profiles of each other)"


def test_a_retention_line_breaks_at_a_hidden_point_instead_of_running_across_it():
    curve = pd.DataFrame({"title_id": "T1", "title_name": "The Film", "progress_pct": [10, 20, 30],
                          "share_reached": [0.9, np.nan, 0.5], "share_reached__suppressed": [False, True, False]})
    (trace,) = figures.retention_figure(curve, K).data
    assert list(trace.x) == [0, 10, 20, 30] and (trace.y[2] is None or np.isnan(trace.y[2]))
    assert trace.connectgaps in (None, False)


def test_retention_of_a_film_has_no_episode_number():
    figure = figures.retention_figure(retention({(None, "The Film"): 40}), K)
    assert [t.name for t in figure.data] == ["The Film"]


# --- 7. Two programmes with one name stay two rows ---------------------------------------

def test_talent_keeps_two_programmes_of_the_same_name_apart():
    programmes = talent_programmes(["Last Inheritance", "Other", "Last Inheritance"], [40, 40, 40],
                                   ids=["film-00077", "film-00100", "film-00143"])
    figure = figures.talent_figure(programmes, K)
    bars, medians = figure.data[0], next(t for t in figure.data if t.name == "median for the genre")
    assert len(set(bars.y)) == 3
    assert list(bars.y) == ["Last Inheritance (2026) · film-00077", "Other (2026)",
                            "Last Inheritance (2026) · film-00143"]
    assert list(medians.y) == list(bars.y), "each median sits on its own programme's row"


def test_talent_legend_swatch_is_the_series_colour_not_the_suppressed_grey():
    figure = figures.talent_figure(talent_programmes(["A", "B"], [5, 40]), K)
    bars = figure.data[0]
    assert bars.marker.color[0] == theme.SUPPRESSED and bars.showlegend is False
    (entry,) = [t for t in figure.data if t.name == "28-day views" and t.showlegend]
    assert entry.marker.color == theme.PRIMARY and entry.legendgroup == bars.legendgroup
    assert figure.layout.barmode == "overlay", "the legend-only bar must not take a slot beside the real one"


def test_forecast_keeps_two_comparables_of_the_same_name_apart():
    comparables = suppress(pd.DataFrame({"title_id": ["film-1", "film-2", "film-3"],
                                         "programme_name": ["Blue Garden", "Blue Garden", "Red Garden"],
                                         "actual": [10.0, 20.0, 30.0], "unique_profiles": [40, 40, 40]}),
                           K, {"unique_profiles": ["actual"]})
    result = {"point": 15.0, "p10": 5.0, "p90": 40.0, "comparables": comparables}
    shown = figures.forecast_figure(result, K).data[1]
    assert list(shown.y) == ["Blue Garden · film-1", "Blue Garden · film-2", "Red Garden"]


@pytest.mark.parametrize("with_id", [True, False])
def test_slate_keeps_two_pitches_of_the_same_name_apart(with_id):
    slate = pd.DataFrame({"pitch_name": ["Harbour", "Harbour", "Voices"], "point": [3.0, 1.0, 2.0],
                          "p10": [1.0, 0.5, 1.0], "p90": [9.0, 4.0, 5.0]})
    if with_id:
        slate["pitch_id"] = ["p-a", "p-b", "p-c"]
    labels = list(figures.slate_figure(slate, "pitch_name").data[0].y)
    assert len(set(labels)) == 3 and "Voices" in labels
    suffixes = ("p-a", "p-b") if with_id else ("row 1", "row 2")
    assert {f"Harbour · {suffix}" for suffix in suffixes} <= set(labels)


# --- 8. CSS: captions only ----------------------------------------------------------------

def test_caption_style_does_not_reach_labels_inside_components():
    """Dash renders dropdown options and radio/checklist items as <label>s inside the control;
    only the control's own caption (its direct child) is a small uppercase label."""
    css = re.sub(r"/\*.*?\*/", "", theme.CSS, flags=re.S)
    rules = {selector.strip(): body for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css)}
    element = re.compile(r"(?<![.\w-])label\b")  # the <label> element, not a .label class
    uppercase = [s for s, body in rules.items() if "uppercase" in body and element.search(s)]
    assert uppercase, "the caption rule is gone"
    for selector in uppercase:
        for part in selector.split(","):
            assert re.fullmatch(r"\s*\.(control|field)\s*>\s*label\s*", part), part


def test_table_aligns_numbers_right_however_they_are_formatted():
    from slatehouse.dashboards import components as c

    frame = suppress(pd.DataFrame({"name": ["A", "B"], "views": [1234.5, 3.0], "unique_profiles": [50, 2]}),
                     10, {"unique_profiles": ["views"]})
    table = c.table(frame, [("name", "Pitch", "text"), ("views", "Pattern", c.ONE),
                            ("views", "Callable", c.Number(lambda v: f"{v:.3g}")), ("name", "Child", lambda v: v)])
    head, body = table.children.children
    cls = lambda cell: getattr(cell, "className", None)  # noqa: E731
    assert [cls(th) for th in head.children.children] == [None, "num", "num", None]
    first, second = ([(td.children, cls(td)) for td in tr.children] for tr in body.children)
    assert first == [("A", None), ("1,234.5", "num"), ("1.23e+03", "num"), ("A", None)]
    assert second[1:3] == [(SUPPRESSED_TEXT, "num suppressed")] * 2
