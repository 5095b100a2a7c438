"""Build time of every paper backbone, for every group and rotation construction, and its Table 2 twin.

Every rank of every job pays ``build_encoder`` before its first step; escnn's own
``R2Conv(initialize=True)`` made ``paper_cifar`` C4 take ~414 s here (issue 16). The target
is under 20 s per backbone on this 2-core CPU. Wall time depends on what else runs on the
machine; CPU time (the process's user + system seconds) much less, so both are printed. Each build
runs in a fresh process, because
escnn caches kernel bases per process and a warm second build would hide the cost a job pays.

    python benchmarks/build_time.py [--backbones paper_mnist paper_cifar] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, table, write_rows  # noqa: E402

from structured_ssl.encoders import EncoderSpec, build_encoder  # noqa: E402
from structured_ssl.groups import PAPER_SCALES, Group  # noqa: E402

BACKBONES = {"paper_mnist": (1, 29), "paper_cifar": (3, 33), "paper_tiny": (3, 65)}
GROUPS = {
    "rotation C4": Group("rotation", 4),
    "dihedral D4": Group("dihedral", 4),
    "translation": Group("translation"),
    "scale (paper)": Group("scale", scales=PAPER_SCALES),
}


def variants(group_name: str) -> list[tuple[bool, str | None]]:
    """(structured, rotation_conv) pairs to build: both rotation constructions, then the twin."""
    rotation = group_name.startswith(("rotation", "dihedral"))
    return [(True, c) for c in (("sesn_copies", "escnn") if rotation else (None,))] + [
        (False, None)
    ]


def measure(
    backbone: str, group_name: str, structured: bool, rotation_conv: str | None = None
) -> dict:
    channels, size = BACKBONES[backbone]
    spec = EncoderSpec(architecture=backbone, structured=structured, rotation_conv=rotation_conv)
    start, cpu_start = time.perf_counter(), time.process_time()
    encoder = build_encoder(spec, GROUPS[group_name], in_channels=channels, image_size=size)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return {
        "backbone": backbone,
        "group": group_name,
        "structured": structured,
        "rotation_conv": rotation_conv,
        "encoder": type(encoder).__name__,
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "parameters": encoder.num_parameters(),
    }


def measure_cold(
    backbone: str, group_name: str, structured: bool, rotation_conv: str | None
) -> dict:
    """``measure`` in a fresh interpreter (imports not counted, escnn's basis cache empty)."""
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--one",
            backbone,
            group_name,
            str(structured),
            str(rotation_conv),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def render(rows: list[dict]) -> str:
    return table(
        [
            "backbone",
            "group",
            "encoder",
            "rotation_conv",
            "build s (wall)",
            "build s (CPU)",
            "parameters",
        ],
        [
            [
                r["backbone"],
                r["group"],
                r["encoder"],
                r.get("rotation_conv") or "-",
                f"{r['seconds']:.2f}",
                f"{r['cpu_seconds']:.2f}",
                f"{r['parameters']:,}",
            ]
            for r in rows
        ],
    )


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", nargs="+", default=list(BACKBONES), choices=list(BACKBONES))
    parser.add_argument("--groups", nargs="+", default=list(GROUPS), choices=list(GROUPS))
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        backbone, group_name, structured, rotation_conv = args.one
        print(
            json.dumps(
                measure(
                    backbone,
                    group_name,
                    structured == "True",
                    None if rotation_conv == "None" else rotation_conv,
                )
            )
        )
        return []
    rows = []
    for backbone in args.backbones:
        for group_name in args.groups:
            for structured, rotation_conv in variants(group_name):
                rows.append(measure_cold(backbone, group_name, structured, rotation_conv))
                print(rows[-1], flush=True, file=sys.stderr)
    print(f"{machine()}; load average {os.getloadavg()[0]:.1f} at the end")
    print(render(rows))
    write_rows(args.json, rows)
    return rows


if __name__ == "__main__":
    main()
