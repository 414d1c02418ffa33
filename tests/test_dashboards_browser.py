"""The dashboards in a real headless Chromium, over a small Delta warehouse of the marts' shape.

Chromium is Debian's package at /usr/bin/chromium (`bash .ci/install-chromium.sh`), driven
by Playwright for Python with `executable_path`; the app is served from a thread on a free
127.0.0.1 port. Screenshots go to test-artifacts/dashboards/. No Spark: the warehouse is
written with delta-rs (slatehouse.dashboards.sample).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from slatehouse.dashboards.app import BackgroundServer, create_app
from slatehouse.dashboards.sample import TINY_PROGRAMME, write_sample_warehouse
from slatehouse.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    # Without these Chromium keeps calling home, which floods a closed network.
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "dashboards"
TIMEOUT_MS = 30_000  # two shared cores: generous, and no assertion on time

# Per page: the graphs that must hold data points once the page has rendered.
PAGES = {
    "top10": ("/", ["top10-graph"]),
    "title": ("/title", ["title-daily-graph", "title-retention-graph"]),
    "season": (None, ["title-daily-graph", "title-retention-graph", "title-funnel-graph"]),
    "genre": ("/genre", ["genre-trend-graph", "genre-share-graph", "genre-completion-graph",
                         "genre-completion-trend-graph"]),
    "talent": ("/talent", ["talent-graph"]),
    "markets": ("/markets", ["markets-origin-graph", "markets-format-graph", "markets-european-graph"]),
}

# Data points per graph, read from the figure Plotly drew. Plotly.py sends numpy arrays as
# typed-array specs ({dtype, bdata}); plotly.js keeps the decoded array in `_inputArray`.
# A point counts when it is present and, if numeric, finite (suppressed values are NaN).
POINTS_JS = """ids => ids.map(id => {
    const plot = document.querySelector('#' + id + ' .js-plotly-plot');
    if (!plot || !plot.data) return [id, -1];
    const values = v => !v ? [] : Array.from(v._inputArray || v);
    const count = v => values(v).filter(e => e !== null && e !== undefined
                                         && (typeof e !== 'number' || Number.isFinite(e))).length;
    return [id, plot.data.reduce((sum, t) => sum + Math.min(count(t.x), count(t.y)), 0)];
})"""


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("dash")
    marts = write_sample_warehouse(root / "warehouse")
    settings = Settings(home=root, warehouse_dir=str(root / "warehouse"), min_audience=10)
    return settings, marts


@pytest.fixture(scope="module")
def server(warehouse):
    settings, _ = warehouse
    with BackgroundServer(create_app(settings)) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: run `bash .ci/install-chromium.sh` (Debian's chromium package)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.errors = errors
    yield opened
    context.close()


def _graph_points(page, graph_ids: list[str]) -> dict[str, int]:
    page.wait_for_function(
        """ids => ids.every(id => { const p = document.querySelector('#' + id + ' .js-plotly-plot');
                                   return p && p.data; })""",
        arg=graph_ids, timeout=TIMEOUT_MS)
    return dict(page.evaluate(POINTS_JS, graph_ids))


def _screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_renders_charts_with_data(server, warehouse, page, name):
    path, graphs = PAGES[name]
    if name == "season":
        programmes = warehouse[1]["dim_programme"]
        path = "/title?programme=" + programmes.loc[programmes["programme_type"] == "season", "programme_id"].iloc[0]
    page.goto(server.url + path)
    points = _graph_points(page, graphs)
    _screenshot(page, name)
    assert all(n > 0 for n in points.values()), f"{name}: graphs without data points: {points}"
    assert page.locator(".navbar .nav-link").count() == 6
    assert not page.errors, page.errors


def test_forecast_form_returns_a_forecast(server, page):
    page.goto(server.url + "/greenlight")
    page.wait_for_selector("#greenlight-submit", timeout=TIMEOUT_MS)
    page.locator("#greenlight-format input[value=series]").check()
    page.fill("#greenlight-episodes", "6")
    page.fill("#greenlight-runtime", "45")
    page.click("#greenlight-submit")
    page.wait_for_selector("#greenlight-point", timeout=TIMEOUT_MS)
    point = float(page.inner_text("#greenlight-point").replace(",", ""))
    interval = page.inner_text("#greenlight-interval")
    points = _graph_points(page, ["greenlight-forecast-graph", "greenlight-explanation-graph"])
    page.wait_for_selector("#greenlight-backtest .kpi", timeout=TIMEOUT_MS)
    _screenshot(page, "greenlight")
    assert point > 0
    assert interval.startswith("80% interval")
    assert "RMSLE" in page.inner_text("#greenlight-backtest")
    assert all(n > 0 for n in points.values()), points
    assert page.locator("#greenlight-comparables tbody tr").count() >= 1
    assert not page.errors, page.errors


def test_forecast_form_pitches_a_returning_shows_next_season(server, page):
    page.goto(server.url + "/greenlight")
    page.wait_for_selector("#greenlight-submit", timeout=TIMEOUT_MS)
    page.locator("#greenlight-format input[value=series]").check()
    page.click("#greenlight-show")
    page.locator(".dash-dropdown-option").first.click()  # the open dropdown's first show
    picked = page.inner_text("#greenlight-show")
    assert " so far)" in picked, picked  # e.g. "Ember Harbour (1 season so far)"
    show_title = picked.split(" (")[0].strip()
    page.click("#greenlight-submit")
    page.wait_for_selector("#greenlight-comparables tbody tr", timeout=TIMEOUT_MS)
    first = page.locator("#greenlight-comparables tbody tr").first.inner_text()
    assert first.startswith(f"{show_title}: Season"), first  # its earlier season comes first
    _graph_points(page, ["greenlight-explanation-graph"])
    labels = page.evaluate("""() => document.querySelector('#greenlight-explanation-graph .js-plotly-plot')
                                    .data.flatMap(trace => trace.y || [])""")
    assert any(str(label).startswith("show: ") for label in labels), labels
    assert not page.errors, page.errors


def test_small_audience_is_shown_as_suppressed(server, page):
    """The tiny film has three profiles: its windows show the marker, never the numbers."""
    page.goto(server.url + f"/title?programme={TINY_PROGRAMME}")
    table = page.wait_for_selector("#title-windows table", timeout=TIMEOUT_MS)
    _screenshot(page, "title-suppressed")
    rows = page.locator("#title-windows tbody tr")
    assert rows.count() == 4
    for i in range(4):
        cells = rows.nth(i).locator("td").all_inner_texts()
        # views, hours, profiles, starters, completers, completion, avg watched
        assert cells[3:] == ["suppressed"] * 7, cells
    # The chart renders after the table (Dash loads its graph component lazily): wait for it.
    page.wait_for_function(
        "() => (document.querySelector('#title-daily-graph') || {}).innerText?.includes('suppressed')",
        timeout=TIMEOUT_MS,
    )
    assert "suppressed" in page.inner_text("#title-daily-graph")
    assert table is not None
