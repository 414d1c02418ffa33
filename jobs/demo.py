"""`make demo`: the main job end to end on the embedded default, under ./var/.

1. generate a realistic, seeded event log with faults (`slatehouse generate`);
2. backfill the history in bulk passes, then the daily run for the last day
   (`slatehouse backfill`, `slatehouse run`): bronze, silver, gates, dbt marts, gates,
   the forecast's backtest and slate, and the offline HTML reports;
3. print where everything is and how to open the dashboards.

    python -m slatehouse.demo [--members N] [--days N] [--titles N] [--big]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from slatehouse.settings import Settings

log = logging.getLogger("slatehouse.demo")

# Sized for the forecast (docs/simulator.md, "Sizing"): 120 days and 450 works give ~280
# films and seasons with a complete 28-day window, so the forecast the demo shows is
# trained on the real marts. 200 accounts keep member-days - what event ingest pays for -
# a fifth below the earlier 60 days x 500 accounts; the daily catalogue snapshots grow
# with days x titles instead (about 230k snapshot rows against 60k).
DEFAULT = dict(days=120, members=200, titles=450, history_days=0)
BIG = dict(days=180, members=1500, titles=600, history_days=0)
START = date(2026, 1, 5)
# Settings that point a command at a deployment's data rather than ./var.
DEPLOYMENT_SETTINGS = ("SLATEHOUSE_HOME", "SLATEHOUSE_LANDING_DIR", "SLATEHOUSE_WAREHOUSE_DIR",
                       "SLATEHOUSE_REPORTS_DIR", "SLATEHOUSE_METASTORE_DIR", "SLATEHOUSE_METASTORE_JDBC_URL")
EXAMPLE_SLATE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "slate.csv"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int)
    parser.add_argument("--members", type=int)
    parser.add_argument("--titles", type=int)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--big", action="store_true", help="a larger run: more days and members")
    parser.add_argument("--keep", action="store_true", help="keep an existing ./var warehouse")
    args = parser.parse_args(argv)
    from slatehouse.cli import setup_logging

    setup_logging(as_json=False)
    size = dict(BIG if args.big else DEFAULT)
    for k in ("days", "members", "titles"):
        if getattr(args, k):
            size[k] = getattr(args, k)

    # The demo deletes and rebuilds everything under ./var: a deployment's settings left in
    # the shell (its home, landing, warehouse or metastore) must not point it elsewhere.
    demo_home = Path("var").resolve()
    overrides = [name for name in DEPLOYMENT_SETTINGS if os.environ.get(name)
                 and not (name == "SLATEHOUSE_HOME" and Path(os.environ[name]).resolve() == demo_home)]
    if overrides:
        parser.error(f"the demo deletes and rebuilds its own warehouse under {demo_home}; "
                     f"unset {', '.join(overrides)} (a deployment's settings) to run it")
    settings = Settings(mode="demo", home=demo_home)
    t0 = time.perf_counter()
    if not args.keep:
        from slatehouse import pipeline

        # Under the run lock, so a run, `sql` or `serve-sql` still using ./var is not wiped
        # from under it (the lock file itself stays: a holder keeps its lock on it).
        try:
            with pipeline.pipeline_lock(settings, "demo-reset"):
                for sub in ("landing", "warehouse", "metastore", "reports", "dbt", "gx"):
                    target = settings.home / sub
                    shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)
        except pipeline.LockedError as exc:
            parser.exit(4, f"demo: not resetting {settings.home}: {exc}\n")

    from slatehouse.generate import generate

    gen = generate(Path(settings.landing_dir), start_date=START, seed=args.seed, **size)
    log.info("generated %d event lines, %d sessions, %d titles", gen.lines, gen.sessions, gen.titles)
    if EXAMPLE_SLATE.exists():  # the slate the pipeline scores into marts.fct_slate_forecasts
        shutil.copy(EXAMPLE_SLATE, settings.home / "slate.csv")

    from slatehouse import pipeline
    from slatehouse.spark import get_spark

    spark = get_spark(settings, "slatehouse-demo")
    received = sorted(date.fromisoformat(p.name.split("=", 1)[1])
                      for p in (Path(settings.landing_dir) / "events").glob("received_date=*"))
    # The backfill takes the history; the daily run takes the last simulated day together
    # with the stragglers received after it (late deliveries), so every line is ingested.
    last_day = START + timedelta(days=size["days"] - 1)
    history = [d for d in received if d < last_day]
    today = [d for d in received if d >= last_day]
    backfill = pipeline.run(spark, settings, history, command="backfill", with_outputs=False)
    daily = pipeline.run(spark, settings, today, command="run")
    spark.stop()

    summary = {
        "generated": {"event_lines": gen.lines, "sessions": gen.sessions, "titles": gen.titles,
                      "days": size["days"], "members": size["members"]},
        "backfill": {"run_id": backfill.run_id, "dates": f"{history[0]}..{history[-1]}",
                     "duration_s": backfill.duration_s},
        "daily_run": {"run_id": daily.run_id, "dates": [str(d) for d in today], "duration_s": daily.duration_s,
                      "steps": {s.step: s.status for s in daily.steps}},
        "counts": {**backfill.counts(), **daily.counts()},
        "reports": str(settings.reports_dir),
        "elapsed_s": round(time.perf_counter() - t0, 1),
    }
    totals = {k: sum(c[k] for c in summary["counts"].values()) for k in ("lines_read", "accepted", "quarantined", "duplicates")}
    (settings.home / "demo-summary.json").write_text(json.dumps(summary, indent=2, default=str))
    print(f"""
Slatehouse demo finished in {summary['elapsed_s']:.0f} s.
  event lines read {totals['lines_read']} = accepted {totals['accepted']} + quarantined {totals['quarantined']} + duplicates {totals['duplicates']}
  warehouse        {settings.warehouse_dir}
  reports          {settings.reports_dir}
  run summary      {settings.home / 'demo-summary.json'}
Next:
  .venv/bin/slatehouse status
  .venv/bin/slatehouse sql "select * from marts.fct_top10_weekly where market = 'GLOBAL' order by week_start_date desc, list_name, week_rank limit 20"
  .venv/bin/slatehouse forecast --pitch docs/examples/pitch.yaml
  .venv/bin/slatehouse dashboard     # http://127.0.0.1:8050
""")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as exc:  # Ctrl-C: a run's Interrupted says what was recorded
        print(f"\ndemo stopped: {exc or 'interrupted'}", file=sys.stderr)
        sys.exit(getattr(exc, "exit_code", 130))
