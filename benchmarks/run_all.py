"""`make bench`: every benchmark, each printing its own table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["epoch_cost.py", "structure_cost.py", "framework_overhead.py", "end_to_end.py", "build_time.py", "exact_sizes.py"]

if __name__ == "__main__":
    for name in BENCHMARKS:
        print(f"\n# {name}\n", flush=True)
        subprocess.run([sys.executable, str(HERE / name)], check=True)
