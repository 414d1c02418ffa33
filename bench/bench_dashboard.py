"""How long a dashboard page takes to render, on demo-scale marts. Records, never asserts.

    .venv/bin/python bench/bench_dashboard.py              # the settings' warehouse if it has marts
    .venv/bin/python bench/bench_dashboard.py --sample     # a synthetic demo-scale warehouse

For each page it measures, over the app served on 127.0.0.1 and loaded in headless
Chromium (/usr/bin/chromium, as in the tests): the time from navigation until every chart
on the page holds its data (for Greenlight: from pressing Forecast until the forecast is
drawn), on the first visit (cold caches: Delta reads, the model fit) and then warm
(median of the repeats). It also times the pages' data functions server-side and the first
read of each mart. Results go to bench/results/dashboard.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from slatehouse.dashboards.app import BackgroundServer, create_app
from slatehouse.dashboards.data import MART_COLUMNS, MartReader
from slatehouse.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results" / "dashboard.json"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PAGES = {
    "top10": ("/", ["top10-graph"]),
    "title": ("/title", ["title-daily-graph", "title-retention-graph"]),
    "genre": ("/genre", ["genre-trend-graph", "genre-share-graph", "genre-completion-graph",
                         "genre-completion-trend-graph"]),
    "talent": ("/talent", ["talent-graph"]),
    "markets": ("/markets", ["markets-origin-graph", "markets-format-graph", "markets-european-graph"]),
    "greenlight": ("/greenlight", ["greenlight-forecast-graph", "greenlight-explanation-graph"]),
}
DRAWN_JS = """ids => ids.every(id => { const p = document.querySelector('#' + id + ' .js-plotly-plot');
                                      return p && p.data && p.querySelector('.main-svg'); })"""


def _render(page, url: str, name: str) -> float:
    path, graphs = PAGES[name]
    started = time.perf_counter()
    page.goto(url + path)
    if name == "greenlight":
        page.wait_for_selector("#greenlight-submit", timeout=120_000)
        started = time.perf_counter()  # the form itself renders like any page; time the forecast
        page.click("#greenlight-submit")
    page.wait_for_function(DRAWN_JS, arg=graphs, timeout=120_000)
    return time.perf_counter() - started


def _server_side(reader: MartReader) -> dict[str, dict[str, float]]:
    from slatehouse.dashboards.pages import genre, greenlight, markets, talent, title, top10

    top = reader.read("marts.fct_top10_weekly")
    week = top["week_start_date"].max().strftime("%Y-%m-%d")
    month = reader.read("marts.fct_market_offer_vs_demand")["month_start_date"].max().strftime("%Y-%m-%d")
    country = sorted(reader.read("marts.fct_market_offer_vs_demand")["country"].unique())[0]
    pitch = greenlight.pitch_from_form("series", ["drama"], 8, 45, "en", "US", None, {})
    calls = {
        "top10": lambda: (top10.layout(reader, {}), top10.content(reader, "GLOBAL", week)),
        "title": lambda: (title.layout(reader, {}), title.content(reader, title.default_programme(reader))),
        "genre": lambda: (genre.layout(reader, {}), genre.content(reader, week)),
        "talent": lambda: (talent.layout(reader, {}), talent.content(reader, talent.default_talent(reader))),
        "markets": lambda: (markets.layout(reader, {}), markets.content(reader, country, month)),
        "greenlight": lambda: (greenlight.layout(reader, {}), greenlight.result_section(reader, pitch)),
    }
    out = {}
    for name, call in calls.items():
        started = time.perf_counter()
        call()
        cold = time.perf_counter() - started
        warm = []
        for _ in range(3):
            started = time.perf_counter()
            call()
            warm.append(time.perf_counter() - started)
        out[name] = {"cold_s": round(cold, 3), "warm_median_s": round(statistics.median(warm), 3)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", action="store_true", help="bench a synthetic demo-scale warehouse")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    settings = Settings()
    source = f"warehouse {settings.warehouse_dir}"
    keep = None
    if args.sample or not MartReader(settings).exists("marts.fct_title_daily"):
        from slatehouse.dashboards.sample import DEMO_SPEC, write_sample_warehouse

        keep = tempfile.TemporaryDirectory(prefix="bench-dashboard-")
        started = time.perf_counter()
        write_sample_warehouse(Path(keep.name) / "warehouse", DEMO_SPEC)
        print(f"built a synthetic demo-scale warehouse in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        settings = Settings(home=keep.name, warehouse_dir=str(Path(keep.name) / "warehouse"),
                            min_audience=settings.min_audience)
        source = (f"synthetic demo-scale sample (slatehouse.dashboards.sample.DEMO_SPEC: {DEMO_SPEC.programmes} "
                  f"programmes, {DEMO_SPEC.profiles} profiles, {DEMO_SPEC.sessions} sessions over {DEMO_SPEC.days} days)")

    # First read of each mart (delta-rs -> Arrow -> pandas), on a fresh reader.
    reader = MartReader(settings)
    reads = {}
    for table in MART_COLUMNS:
        started = time.perf_counter()
        frame = reader.read(table)
        reads[table] = {"rows": len(frame), "read_s": round(time.perf_counter() - started, 3)}
    server_side = _server_side(MartReader(settings))

    from playwright.sync_api import sync_playwright

    browser_times = {}
    with BackgroundServer(create_app(settings)) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        page.goto(server.url + "/")  # load the JS bundles once, as a returning user has them
        page.wait_for_selector(".navbar .nav-link", timeout=120_000)
        for name in PAGES:
            cold = _render(page, server.url, name)
            warm = [_render(page, server.url, name) for _ in range(args.repeats)]
            browser_times[name] = {"first_visit_s": round(cold, 3), "warm_median_s": round(statistics.median(warm), 3),
                                   "warm_max_s": round(max(warm), 3)}
            print(f"{name:<11} first {cold:6.2f} s   warm median {statistics.median(warm):6.2f} s", file=sys.stderr)
        browser.close()

    result = {
        "what": "page render time in headless Chromium: navigation until every chart holds its data "
                "(Greenlight: Forecast pressed until the forecast is drawn); JS bundles already cached",
        "source": source,
        "min_audience": settings.min_audience,
        "browser": browser_times,
        "server_side_page_functions": server_side,
        "first_reads": reads,
        "cpu_count": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["browser"], indent=2))
    if keep is not None:
        keep.cleanup()


if __name__ == "__main__":
    main()
