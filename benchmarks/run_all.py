"""`make bench`: every benchmark, each printing its own table, each table also written to
``--out`` (default ``docs/results/benchmarks/<name>.md``, committed) so the benchmark
tables of docs/reports/ have a source (``scripts/readme_tables.py write`` puts them there)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = [
    "epoch_cost.py",
    "structure_cost.py",
    "framework_overhead.py",
    "end_to_end.py",
    "build_time.py",
    "exact_sizes.py",
]

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=HERE.parent / "docs" / "results" / "benchmarks")
    parser.add_argument(
        "names", nargs="*", default=BENCHMARKS, help="a subset of " + ", ".join(BENCHMARKS)
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.names:
        print(f"\n# {name}\n", flush=True)
        done = subprocess.run(
            [sys.executable, str(HERE / name)], check=True, capture_output=True, text=True
        )
        print(done.stdout, end="", flush=True)
        (args.out / f"{Path(name).stem}.md").write_text(done.stdout)
