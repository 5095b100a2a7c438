"""End to end: wall time and peak RSS of the default run (`make fit`'s command).

Runs ``structured-ssl fit --config configs/default.yaml`` in a child process (logs to a
temporary directory) and reads the child's peak resident set size from the OS.
Target: under 5 minutes and under 3 GB on the 2-core CPU machine.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, table  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    epochs = sys.argv[1] if len(sys.argv) > 1 else None
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            str(Path(sys.executable).parent / "structured-ssl"),
            "fit",
            "--config",
            str(REPO / "configs/default.yaml"),
            f"--trainer.logger.init_args.save_dir={tmp}",
            "--trainer.enable_progress_bar=false",
        ]
        if epochs:
            command.append(f"--trainer.max_epochs={epochs}")
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
        wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    accuracy = next(
        (
            line.split("=")[-1].strip()
            for line in done.stdout.splitlines()
            if "final val/probe_acc" in line
        ),
        "-",
    )
    label = f"{epochs} epochs" if epochs else "as configured"
    print(
        f"## End to end: structured-ssl fit --config configs/default.yaml ({label})\n{machine()}\n"
    )
    print(
        table(
            ["wall s", "peak RSS GB", "final val/probe_acc", "target"],
            [[f"{wall:.0f}", f"{peak_gb:.2f}", accuracy, "< 300 s, < 3 GB"]],
        )
    )


if __name__ == "__main__":
    main()
