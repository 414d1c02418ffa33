"""The catalogue step's cost when it derives the dimensions again, measured side by side in
one run.

`ingest_catalog` loads the new snapshots, then rebuilds the seven SCD2 dimensions (titles,
shows, seasons, genres, talent, credits, availability) from every loaded snapshot. Each
repeat clears the marker that says which snapshots the dimensions reflect, so the step
derives and writes all seven again, as it does on every day a snapshot arrives. Timed:

- `catalog_s`: `ingest_catalog` as it is now;
- `before_s` (with `--before REF`): `ingest_catalog` as jobs/ingest.py was at that git ref,
  in the same session, alternating which goes first, for a change's speed-up.

The same ingest is timed with no silver sessions, so the listing-change check stops early
and the figure is the derivation and the writes. Results: bench/results/catalog.json.

    .venv/bin/python bench/bench_catalog.py --titles 200 [--before REF]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from slatehouse import io
from slatehouse.contract import schema as S
from slatehouse.generate import generate
from slatehouse.ingest import DIMENSIONS_FROM, _DIMENSIONS, ingest_catalog
from slatehouse.settings import Settings
from slatehouse.spark import get_spark

from bench_ingest import ingest_at  # bench/ is the script's folder, so first on the path

OUT = Path(__file__).parent / "results" / "catalog.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--titles", type=int, default=200)
    parser.add_argument("--days", type=int, default=7, help="days simulated, one snapshot each")
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--before", help="git ref whose jobs/ingest.py to time against the current one")
    args = parser.parse_args()
    variants = {"catalog": ingest_catalog}
    if args.before:
        variants["before"] = ingest_at(args.before).ingest_catalog

    home = Path(tempfile.mkdtemp(prefix="slatehouse-bench-"))
    settings = Settings(home=home, mode="demo", jars_dir=Path(".cache/jars"))
    start = date(2026, 3, 2)
    through = start + timedelta(days=args.days - 1)
    generate(Path(settings.landing_dir), start_date=start, days=args.days, members=300,
             titles=args.titles, seed=11, history_days=30)
    spark = get_spark(settings, "slatehouse-bench")
    io.ensure_database(spark, "bronze")
    io.ensure_database(spark, "silver")
    first = ingest_catalog(spark, settings, through)  # loads the snapshots once
    rows = {table: io.read_table(spark, table).count() for table, _, _ in _DIMENSIONS}

    times: dict[str, list[float]] = {name: [] for name in variants}
    for i in range(args.repeats):
        # Alternate which variant goes first, so neither always runs on a warmer JVM.
        for name in (list(variants) if i % 2 == 0 else list(reversed(variants))):
            io.set_table_property(spark, S.BRONZE_CATALOG, DIMENSIONS_FROM, "none")
            t0 = time.perf_counter()
            variants[name](spark, settings, through)
            times[name].append(time.perf_counter() - t0)
            after = {table: io.read_table(spark, table).count() for table, _, _ in _DIMENSIONS}
            assert after == rows, f"{name} derived other dimensions: {after} against {rows}"
        print(f"repeat {i + 1}: " + ", ".join(f"{name} {t[-1]:.1f}s" for name, t in times.items()))

    report = {
        "what": "ingest_catalog deriving and writing the seven SCD2 dimensions again from every loaded snapshot",
        "titles": args.titles,
        "snapshots": first.snapshots_total,
        "dimension_rows": rows,
        "catalog_s": [round(x, 2) for x in times["catalog"]],
        "catalog_median_s": round(statistics.median(times["catalog"]), 2),
        "spark_master": settings.spark_master,
        "cpu_count": os.cpu_count(),
        "load_avg_1m_after": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
    }
    if args.before:
        report |= {"before_ref": args.before, "before_s": [round(x, 2) for x in times["before"]],
                   "before_median_s": round(statistics.median(times["before"]), 2),
                   "speedup_median": round(statistics.median(times["before"]) / statistics.median(times["catalog"]), 3)}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    spark.stop()
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
