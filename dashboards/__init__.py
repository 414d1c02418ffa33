"""Slatehouse dashboards and offline reports over the marts (no JVM: delta-rs into pandas).

For the CLI:
    run_dashboard(settings, host, port, debug=False)  # `slatehouse dashboard`
    write_reports(settings, report_date) -> list[Path] # `slatehouse report --date D`

See docs/dashboards.md.
"""

from .app import create_app, run_dashboard
from .reports import write_reports

__all__ = ["create_app", "run_dashboard", "write_reports"]
