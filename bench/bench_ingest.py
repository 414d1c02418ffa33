"""Ingest throughput against this machine's ceiling, measured side by side in one run.

The ceiling is the same Spark session reading the same landing files as text and
writing them to a Delta table with no logic at all. The ingest is `ingest_events` for
the same received date: parse, validate, deduplicate, pseudonymise, write bronze and
quarantine. Each is run `--repeats` times, alternating, and the best of each is kept,
because the machines are shared and noisy. Results: bench/results/ingest.json.

Also timed in each repeat: reading the lines alone (`read_lines_s`, written nowhere),
and with `--before REF`, `ingest_events` as `jobs/ingest.py` was at that git ref
(`before_s`), run in the same session in alternating order, for a change's speed-up.

    SLATEHOUSE_MODE=demo .venv/bin/python bench/bench_ingest.py --members 3000 [--before REF]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types
from datetime import date
from pathlib import Path

from slatehouse import io
from slatehouse.contract import schema as S
from slatehouse.generate import FaultRates, generate
from slatehouse.ingest import ingest_catalog, ingest_events
from slatehouse.settings import Settings
from slatehouse.spark import get_spark

OUT = Path(__file__).parent / "results" / "ingest.json"
ROOT = Path(__file__).resolve().parent.parent


def ingest_at(ref: str) -> types.ModuleType:
    """jobs/ingest.py as it was at a git ref (the rest of the package as it is now), for
    timing a change against the code before it in one session."""
    source = subprocess.run(["git", "show", f"{ref}:jobs/ingest.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    module = sys.modules[f"ingest_at_{ref}"] = types.ModuleType(f"ingest_at_{ref}")  # for its dataclasses
    exec(compile(source, f"{ref}:jobs/ingest.py", "exec"), module.__dict__)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=3000)
    parser.add_argument("--titles", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--before", help="git ref whose jobs/ingest.py to time against the current one")
    args = parser.parse_args()
    variants = {"ingest": ingest_events}
    if args.before:
        variants["before"] = ingest_at(args.before).ingest_events

    home = Path(tempfile.mkdtemp(prefix="slatehouse-bench-"))
    settings = Settings(home=home, mode="demo", jars_dir=Path(".cache/jars"))
    day = date(2026, 3, 2)
    gen = generate(Path(settings.landing_dir), start_date=day, days=1, members=args.members,
                   titles=args.titles, seed=5, history_days=30,
                   # a truncated gzip stops a plain text read, so the ceiling could not run
                   faults=dataclasses.replace(FaultRates(), truncated_gzip_files=0))
    spark = get_spark(settings, "slatehouse-bench")
    ingest_catalog(spark, settings, day)
    folder = io.event_landing_dir(settings, day)
    lines = spark.read.option("recursiveFileLookup", "true").text(folder).count()

    ceiling_s, read_lines_s = [], []
    times: dict[str, list[float]] = {name: [] for name in variants}
    results = {}
    for i in range(args.repeats):
        t0 = time.perf_counter()
        (spark.read.option("recursiveFileLookup", "true").text(folder)
         .write.format("delta").mode("overwrite").save(str(home / "ceiling")))
        ceiling_s.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        io.read_event_lines(spark, settings, [day]).write.format("noop").mode("overwrite").save()
        read_lines_s.append(time.perf_counter() - t0)

        # Alternate which variant goes first, so neither always runs on a warmer JVM.
        for name in (list(variants) if i % 2 == 0 else list(reversed(variants))):
            spark.sql(f"DROP TABLE IF EXISTS {S.BRONZE_EVENTS}")
            spark.sql(f"DROP TABLE IF EXISTS {S.BRONZE_QUARANTINE}")
            t0 = time.perf_counter()
            results[name] = variants[name](spark, settings, [day])[0]
            times[name].append(time.perf_counter() - t0)
        print(f"repeat {i + 1}: ceiling {ceiling_s[-1]:.1f}s, read lines {read_lines_s[-1]:.1f}s, "
              + ", ".join(f"{name} {t[-1]:.1f}s" for name, t in times.items()))

    counts = {name: dataclasses.asdict(r) for name, r in results.items()}
    assert all(c == counts["ingest"] for c in counts.values()), f"the variants counted differently: {counts}"
    result, ingest_s = results["ingest"], times["ingest"]
    best_ceiling, best_ingest = min(ceiling_s), min(ingest_s)
    report = {
        "what": "ingest_events (parse, validate, dedupe, pseudonymise, write bronze + quarantine) "
                "vs reading the same files as text and writing them to Delta with no logic",
        "lines": lines,
        "accepted": result.accepted,
        "members": args.members,
        "ceiling_s": [round(x, 2) for x in ceiling_s],
        "ingest_s": [round(x, 2) for x in ingest_s],
        "ceiling_lines_per_s": round(lines / best_ceiling),
        "ingest_lines_per_s": round(lines / best_ingest),
        "ratio_to_ceiling": round(best_ceiling / best_ingest, 3),
        "read_lines_s": [round(x, 2) for x in read_lines_s],
        "cpu_count": os.cpu_count(),
        "load_avg_1m_after": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "generated_lines": gen.lines,
    }
    if args.before:
        report |= {"before_ref": args.before, "before_s": [round(x, 2) for x in times["before"]],
                   "speedup_best": round(min(times["before"]) / best_ingest, 3),
                   "speedup_median": round(statistics.median(times["before"]) / statistics.median(ingest_s), 3)}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    spark.stop()
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
