"""Slatehouse dashboards and offline reports over the marts (no JVM: delta-rs into pandas).

For the CLI:
    run_dashboard(settings, host, port, debug=False)  # `slatehouse dashboard`
    write_reports(settings, report_date) -> list[Path] # `slatehouse report --date D`

See docs/dashboards.md.
"""

__all__ = ["create_app", "run_dashboard", "write_reports"]


def __getattr__(name: str):
    # Loaded on first use (PEP 562), so that what reads the marts without the pages
    # (`slatehouse status`, the forecast job: `slatehouse.dashboards.data`) does not load Dash.
    if name in ("create_app", "run_dashboard"):
        from . import app

        return getattr(app, name)
    if name == "write_reports":
        from .reports import write_reports

        return write_reports
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
