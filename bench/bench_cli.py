"""How long the read-only commands take to answer, on a built warehouse. Records, never asserts.

    .venv/bin/python bench/bench_cli.py --home var          # after `make demo`

`slatehouse status` and `slatehouse forecast --pitch` read the Delta files with delta-rs;
`slatehouse sql "select 1"` starts Spark, as every command that reads through the
catalogue does, so it is the cost they no longer pay. Each command runs `--repeats` times,
the commands taking turns so that the machine's load falls on all of them alike; the
record keeps every time, the medians and each command's ratio to the Spark command's
median, measured side by side in one run. Results go to bench/results/cli.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "cli.json"
SPARK = "sql select 1"
COMMANDS = {
    "status": ["status"],
    "forecast --pitch": ["forecast", "--pitch", str(REPO / "docs" / "examples" / "pitch.yaml")],
    SPARK: ["sql", "select 1"],
}


def _seconds(args: list[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "slatehouse.cli", *args], env=env,
                          capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"slatehouse {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", type=Path, default=REPO / "var", help="a Slatehouse home with built marts")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    env = {**os.environ, "SLATEHOUSE_HOME": str(args.home.resolve()),
           "SLATEHOUSE_MODE": os.environ.get("SLATEHOUSE_MODE", "demo")}
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.repeats):
        for name, command in COMMANDS.items():
            times[name].append(round(_seconds(command, env), 3))
            print(name, times[name][-1], flush=True)
    medians = {name: round(statistics.median(t), 3) for name, t in times.items()}
    record = {
        "what": "wall-clock seconds from starting the command to its exit, on the home's warehouse",
        "home": str(args.home),
        "seconds": times,
        "median_s": medians,
        "ratio_to_spark_command": {name: round(m / medians[SPARK], 3) for name, m in medians.items()},
        "cpu_count": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                                 capture_output=True, text=True).stdout.strip(),
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record["median_s"]), "->", RESULTS)


if __name__ == "__main__":
    main()
