"""Where `dbt build` spends its time, before and after, measured side by side in one run.

One generated dataset is ingested once. Then, in the same Spark session and alternating
`--rounds` times, each variant of the marts build runs:

  * a full refresh of the models (`dbt run --full-refresh`, as after a schema change), then
  * the daily build the pipeline runs (`build_marts(spark, settings, day, day)`).

The "before" variant is the dbt project and jobs/marts.py of a git ref (`--before`,
exported with `git archive` into a temporary folder and imported from there); "after" is
the working tree. Each variant keeps its own dbt target folder, so partial parsing works
for both as it would in production. Per build the script records dbt's own per-node
timings (run_results.json) summed by resource type, the time outside the nodes (parse,
compile, catalogue queries, row counts) and the wall clock. The machines are shared and
noisy: read the medians and the spread, not one figure. Results: bench/results/marts.json.

    SLATEHOUSE_MODE=demo .venv/bin/python bench/bench_marts.py --before 0842ec0
"""

from __future__ import annotations

import argparse
import importlib.util
import io as stdio
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from slatehouse.generate import generate
from slatehouse.ingest import ingest
from slatehouse.settings import Settings
from slatehouse.spark import get_spark

REPO = Path(__file__).resolve().parent.parent
OUT = Path(__file__).parent / "results" / "marts.json"


def _load_before(ref: str, into: Path):
    """jobs/marts.py and dbt/ as of `ref`, importable from `into` (dbt/ beside jobs/)."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", ref, "jobs/marts.py", "dbt"],
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=stdio.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    spec = importlib.util.spec_from_file_location("marts_before", into / "jobs" / "marts.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["marts_before"] = module
    spec.loader.exec_module(module)
    return module


def _node_summary(target: Path) -> dict:
    results = json.loads((target / "run_results.json").read_text())
    by_type: dict[str, dict] = {}
    slowest = []
    for r in results["results"]:
        kind = r["unique_id"].split(".")[0]
        entry = by_type.setdefault(kind, {"nodes": 0, "seconds": 0.0})
        entry["nodes"] += 1
        entry["seconds"] = round(entry["seconds"] + r["execution_time"], 3)
        slowest.append((r["execution_time"], r["unique_id"]))
    slowest.sort(reverse=True)
    return {
        "dbt_elapsed_s": round(results["elapsed_time"], 3),
        "by_resource_type": by_type,
        "slowest": [{"node": uid, "seconds": round(t, 3)} for t, uid in slowest[:8]],
    }


def _measure(label: str, fn, target: Path) -> dict:
    t0 = time.perf_counter()
    result = fn()
    wall = time.perf_counter() - t0
    summary = _node_summary(target)
    in_nodes = sum(v["seconds"] for v in summary["by_resource_type"].values())
    # Nodes run on several threads at once, so their sum can exceed the wall clock: what
    # dbt spends before and after executing them (parsing, the catalogue queries, the row
    # counts) is the wall clock less dbt's own elapsed time.
    summary.update(wall_s=round(wall, 3), outside_nodes_s=round(wall - in_nodes, 3),
                   outside_execution_s=round(wall - summary["dbt_elapsed_s"], 3),
                   command=result.command, success=result.success,
                   # the "before" code always ran them in a build
                   unit_tests_run=getattr(result, "unit_tests_run", result.command == "build"))
    print(f"  {label:<34} wall {wall:7.1f}s  " + "  ".join(
        f"{k} {v['nodes']}:{v['seconds']:.1f}s" for k, v in summary["by_resource_type"].items()), flush=True)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="0842ec0", help="git ref of the 'before' dbt project and marts.py")
    parser.add_argument("--members", type=int, default=600)
    parser.add_argument("--titles", type=int, default=60)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="slatehouse-bench-marts-"))
    settings = Settings(home=root / "after", mode="demo", warehouse_dir=str(root / "warehouse"),
                        landing_dir=str(root / "landing"), metastore_dir=root / "metastore",
                        jars_dir=REPO / ".cache" / "jars")
    # Same warehouse, metastore and landing; only dbt's target and log folders differ.
    before_settings = settings.model_copy(update={"home": root / "before"})
    start = date(2026, 3, 2)
    generate(Path(settings.landing_dir), start_date=start, days=args.days, members=args.members,
             titles=args.titles, seed=7, history_days=20)
    spark = get_spark(settings, "slatehouse-bench-marts")
    received = sorted(date.fromisoformat(p.name.split("=", 1)[1])
                      for p in Path(settings.landing_dir, "events").glob("received_date=*"))
    t0 = time.perf_counter()
    ingest(spark, settings, received)
    ingest_s = time.perf_counter() - t0
    day = start + timedelta(days=args.days - 1)

    from slatehouse import marts as after

    before = _load_before(args.before, root / "before-src")
    variants = {
        "before": (before, before_settings),
        "after": (after, settings),
    }
    runs: dict[str, list] = {name: [] for name in variants}
    dataset = {"members": args.members, "titles": args.titles, "days": args.days, "history_days": 20,
               "received_dates": [d.isoformat() for d in received],
               "silver_sessions": spark.table("silver.playback_sessions").count(),
               "ingest_s": round(ingest_s, 1)}
    for round_no in range(args.rounds):
        for name, (module, s) in variants.items():
            print(f"round {round_no + 1} {name}", flush=True)
            target = module.dbt_paths(s)[0]
            full = _measure("full refresh (models)", lambda: module.build_marts(
                spark, s, full_refresh=True, with_tests=False, count_rows=False), target)
            daily = _measure(f"daily build {day}", lambda: module.build_marts(spark, s, day, day), target)
            t0 = time.perf_counter()  # what count_rows=True adds to the build (inside wall_s)
            for table in after.mart_tables(spark):
                spark.table(table).count()
            daily["row_counts_s"] = round(time.perf_counter() - t0, 3)
            runs[name].append({"full_refresh_models": full, "daily_build": daily})
        _write(args, runs, dataset, day)  # after every round: a stopped run keeps its figures
    spark.stop()


def _write(args, runs: dict, dataset: dict, day: date) -> None:
    def med(name: str, kind: str, figure: str = "wall_s") -> float:
        return round(statistics.median(r[kind][figure] for r in runs[name]), 3)

    summary = {name: {"daily_build_wall_s_median": med(name, "daily_build"),
                      "daily_build_wall_s_all": [r["daily_build"]["wall_s"] for r in runs[name]],
                      "daily_build_outside_execution_s_median": med(name, "daily_build", "outside_execution_s"),
                      "daily_build_nodes": runs[name][-1]["daily_build"]["by_resource_type"],
                      "full_refresh_models_wall_s_median": med(name, "full_refresh_models"),
                      "full_refresh_outside_execution_s_median": med(
                          name, "full_refresh_models", "outside_execution_s")}
               for name in runs if runs[name]}
    report = {
        "benchmark": "dbt marts build, before vs after, alternating in one Spark session",
        "before_ref": args.before,
        "after": subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip() + " + working tree",
        "dataset": dataset,
        "daily_window": {"start": day.isoformat(), "end": day.isoformat()},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "note": "2 cores shared with other engineers' Spark jobs; figures are noisy"},
        "rounds_done": min(len(v) for v in runs.values()),
        "summary": summary,
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    print(f"wrote {args.out}", flush=True)


if __name__ == "__main__":
    main()
