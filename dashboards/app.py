"""The Dash app: a nav bar and six pages over the marts, read through `MartReader`.

    slatehouse dashboard            # 127.0.0.1:8050 by default (Settings.dashboard_host/port)

`create_app(settings)` builds the app; `run_dashboard(settings, host, port)` serves it;
`BackgroundServer` serves it from a thread (tests and the benchmark).
"""

from __future__ import annotations

import functools
import logging
import socket
import threading
import time
from urllib.parse import parse_qs

from dash import Dash, Input, Output, dcc, html, no_update
from werkzeug.serving import make_server

from slatehouse.settings import Settings

from . import components, queries, theme
from .data import MartReader, MissingTableError
from .pages import PAGES

log = logging.getLogger(__name__)

INDEX = """<!DOCTYPE html>
<html>
    <head>
        {%metas%}
        <title>{%title%}</title>
        {%favicon%}
        {%css%}
        <style>""" + theme.CSS + """</style>
    </head>
    <body>
        {%app_entry%}
        <footer>{%config%}{%scripts%}{%renderer%}</footer>
    </body>
</html>"""


def _nav(pathname: str, status: str) -> list:
    links = [dcc.Link(page.NAME, href=page.PATH,
                      className="nav-link active" if pathname == page.PATH else "nav-link")
             for page in PAGES]
    return [dcc.Link("Slatehouse", href="/", className="brand"), *links,
            html.Div(className="spacer"), html.Span(status, className="status", id="nav-status")]


def _status(reader: MartReader) -> str:
    try:
        daily = reader.read("marts.fct_title_daily")
    except MissingTableError:
        return "no marts yet"
    through = queries.data_through(daily)
    through = "no viewing yet" if through is None else f"data through {through:%d %b %Y}"
    return f"{through} · cells under {reader.k} profiles suppressed"


def create_app(settings: Settings, reader: MartReader | None = None) -> Dash:
    """The app over the settings' warehouse. Nothing is read until a page is requested."""
    reader = reader or MartReader(settings)
    app = Dash(__name__, title="Slatehouse", suppress_callback_exceptions=True,
               serve_locally=True, update_title=None)
    app.index_string = INDEX
    app.layout = html.Div([
        dcc.Location(id="url"),
        html.Nav(id="navbar", className="navbar"),
        html.Main(id="page", className="page"),
    ])
    by_path = {page.PATH: page for page in PAGES}

    @app.callback(Output("navbar", "children"), Output("page", "children"),
                  Input("url", "pathname"), Input("url", "search"))
    def _route(pathname, search):
        pathname = (pathname or "/").rstrip("/") or "/"
        page = by_path.get(pathname)
        query = {key: values[0] for key, values in parse_qs((search or "").lstrip("?")).items()}
        if page is None:
            body = html.Div([html.H1("Not found"), html.P(f"No page at {pathname}."), dcc.Link("Top 10", href="/")])
        else:
            try:
                body = page.layout(reader, query)
            except MissingTableError as exc:
                body = html.Div([html.H1(page.NAME), html.Div(str(exc), className="callout")])
        return _nav(pathname, _status(reader)), body

    for page in PAGES:
        page.register(_MissingMartsSaySo(app), reader)
    app.reader = reader  # for tests and the benchmark
    return app


class _MissingMartsSaySo:
    """The app as a page registers its callbacks on it: a callback that meets a missing
    mart puts the message naming it (and what to run) where its content goes, as `_route`
    does for a page's layout, and leaves its other outputs as they are, instead of failing
    the request and leaving the panel empty."""

    def __init__(self, app: Dash):
        self._app = app

    def __getattr__(self, name):
        return getattr(self._app, name)

    def callback(self, *args, **kwargs):
        register = self._app.callback(*args, **kwargs)
        # The outputs as Dash expects the reply shaped: one value for a single Output, a
        # list for a list of them, a tuple for several given one by one.
        spec = kwargs.get("output", next((a for a in args if isinstance(a, list) and a
                                          and all(isinstance(o, Output) for o in a)), None))
        given = [a for a in args if isinstance(a, Output)]
        outputs = spec if isinstance(spec, list) else [spec] if spec is not None else given
        # A pattern-matching output needs a list per output; such a callback is left alone.
        shaped = outputs and all(isinstance(o, Output) and isinstance(o.component_id, str) for o in outputs)

        def decorator(function):
            @functools.wraps(function)
            def guarded(*values, **named):
                try:
                    return function(*values, **named)
                except MissingTableError as exc:
                    if not shaped:
                        raise
                    replies = [components.empty(str(exc)) if output.component_property == "children" else no_update
                               for output in outputs]
                    if isinstance(spec, list):
                        return replies
                    return replies[0] if len(replies) == 1 else tuple(replies)

            return register(guarded)

        return decorator


def run_dashboard(settings: Settings, host: str | None = None, port: int | None = None, debug: bool = False) -> None:
    """Serve the dashboards until interrupted (the `slatehouse dashboard` command)."""
    host = host or settings.dashboard_host
    port = port or settings.dashboard_port
    _check_can_listen(host, port)
    app = create_app(settings)
    threading.Thread(target=warm_up, args=(app.reader,), name="dashboard-warm-up", daemon=True).start()
    log.info("dashboard on http://%s:%d (warehouse %s)", host, port, settings.warehouse_dir)
    app.run(host=host, port=port, debug=debug)


def _check_can_listen(host: str, port: int) -> None:
    """Raise OSError naming the address when the server could not listen there (a port out
    of range, taken, or a host not of this machine): before the app and its warm-up start."""
    if not 1 <= port <= 65535:
        raise OSError(f"cannot serve on port {port}: a port is a number from 1 to 65535")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server itself binds
            probe.bind(address)
    except OSError as exc:
        raise OSError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None


def warm_up(reader: MartReader) -> None:
    """Read the marts and fit the forecast model before the first visitor needs them (the
    fit and the in-process backtest are the slow first-visit steps: seconds, not ms)."""
    from . import forecasting
    from .pages import genre, markets, top10

    started = time.perf_counter()
    try:
        reader.read(top10.TABLES[0])
        genre.weekly(reader)
        reader.read(markets.TABLES[0])
        forecasting.demand_model(reader)
        forecasting.latest_backtest(reader)
    except Exception as exc:  # a missing mart or too little history: the pages say so
        log.warning("dashboard warm-up stopped: %s", exc)
        return
    log.info("dashboard warm-up done in %.1f s", time.perf_counter() - started)


class BackgroundServer:
    """The app served by werkzeug from a daemon thread; `port=0` picks a free port.

        with BackgroundServer(create_app(settings)) as server:
            page.goto(server.url + "/title")
    """

    def __init__(self, app: Dash, host: str = "127.0.0.1", port: int = 0):
        self._server = make_server(host, port, app.server, threaded=True)
        self.url = f"http://{host}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="dashboard", daemon=True)

    def __enter__(self) -> "BackgroundServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
