"""Throughput of `slatehouse.generate`: lines written per second for one sizeable run.

    .venv/bin/python bench/bench_generate.py [--members 6000 --days 30 --titles 400]

Prints and records figures in bench/results/generate.json; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

from slatehouse.generate import generate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=6000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--titles", type=int, default=400)
    ap.add_argument("--history-days", type=int, default=0)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "generate.json")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="slatehouse-bench-"))
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        r = generate(tmp, start_date=date(2026, 1, 5), days=args.days, members=args.members,
                     titles=args.titles, seed=args.seed, history_days=args.history_days)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        size = sum(f.stat().st_size for f in (tmp / "events").rglob("*") if f.is_file())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    figures = dict(
        members=args.members, days=args.days, titles=args.titles, history_days=args.history_days,
        profiles=r.profiles, playable_titles=r.titles, sessions=r.sessions, events=r.events,
        lines=r.lines, files=r.files, event_bytes=size, wall_s=round(wall, 2),
        lines_per_s=round(r.lines / wall), mb_per_s=round(size / wall / 1e6, 1),
        cpu_s=round(cpu, 2), lines_per_cpu_s=round(r.lines / cpu),
        load_avg_1m=round(os.getloadavg()[0], 2),
        cpu_count=os.cpu_count(), python=platform.python_version(), machine=platform.machine(),
    )
    print(json.dumps(figures, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
