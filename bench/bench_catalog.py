"""The daily catalogue step: extending the SCD2 dimensions vs deriving them from every snapshot.

A warehouse holds `--days` daily catalogue snapshots; one more arrives. `ingest_catalog`
extends the seven dimensions from the last loaded snapshot onward ("extend"). The
alternative it replaced derives them again from every loaded snapshot ("derive all"),
which is still what a first load or an out-of-order snapshot does (`derive_dimensions`).
The extend time includes loading the new snapshot into bronze; derive all then starts
from the dimensions as they were (Delta RESTORE). They alternate `--repeats` times in one
session, and must give the same tables.
Results: bench/results/catalog.json.

    .venv/bin/python bench/bench_catalog.py --days 120 --titles 450
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from slatehouse import io
from slatehouse.contract import schema as S
from slatehouse.generate import generate
from slatehouse.ingest import _DIMENSIONS, derive_dimensions, ingest_catalog
from slatehouse.settings import Settings
from slatehouse.spark import get_spark

OUT = Path(__file__).parent / "results" / "catalog.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--titles", type=int, default=450)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="slatehouse-bench-"))
    settings = Settings(home=home, mode="demo", jars_dir=Path(".cache/jars"))
    start = date(2026, 1, 5)
    last = start + timedelta(days=args.days - 1)
    generate(Path(settings.landing_dir), start_date=start, days=args.days, members=20,
             titles=args.titles, seed=5)
    spark = get_spark(settings, "slatehouse-bench")
    ingest_catalog(spark, settings, last - timedelta(days=1))
    tables = [S.BRONZE_CATALOG] + [t for t, _, _ in _DIMENSIONS]
    before = {t: io.current_version(spark, t) for t in tables}
    snapshot_rows = spark.table(S.BRONZE_CATALOG).count()

    def restore() -> None:
        for t in tables:
            if io.table_exists(spark, t):
                spark.sql(f"RESTORE TABLE {t} TO VERSION AS OF {before[t]}")

    def contents() -> dict[str, list[str]]:
        return {t: sorted(map(repr, spark.table(t).collect())) for t, _, _ in _DIMENSIONS}

    extend_s, derive_s, results = [], [], {}
    for i in range(args.repeats):
        restore()
        t0 = time.perf_counter()
        ingest_catalog(spark, settings, last)
        extend_s.append(time.perf_counter() - t0)
        results["extend"] = contents()

        # The same new snapshot in bronze; the dimensions as they were; derive them all.
        for t, _, _ in _DIMENSIONS:
            spark.sql(f"RESTORE TABLE {t} TO VERSION AS OF {before[t]}")
        t0 = time.perf_counter()
        derive_dimensions(spark)
        derive_s.append(time.perf_counter() - t0)
        results["derive_all"] = contents()
        print(f"repeat {i + 1}: extend {extend_s[-1]:.1f}s, derive all {derive_s[-1]:.1f}s")

    report = {
        "what": "one new daily snapshot: ingest_catalog (load it, extend the SCD2 dimensions from the "
                "last loaded snapshot) vs derive_dimensions from every snapshot (load not included)",
        "snapshots_loaded_before": args.days - 1,
        "titles_per_snapshot": round(snapshot_rows / (args.days - 1)),
        "extend_s": [round(x, 2) for x in extend_s],
        "derive_all_s": [round(x, 2) for x in derive_s],
        "speedup": round(min(derive_s) / min(extend_s), 2),
        "same_tables": results["extend"] == results["derive_all"],
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
