"""What each paper backbone costs, ours beside the paper's SESN construction (issue 16, item 2).

The paper builds every backbone from SESN layers: one filter per (output, input) channel on
the SESN basis (``effective_size^2`` coefficients), copied at each group element and never
mixing elements (PAPER.md). Our ``rotation_conv="sesn_copies"`` (the paper configs'
default) and the scale backbone are that construction, so their counts are what the paper's
model implies; ``rotation_conv="escnn"`` is escnn's full group conv (orientations mixed);
the translation backbone uses plain k x k filters (no basis), so its k7-effective-3 layers
hold more parameters than the paper's.

Per case: trainable parameters, the paper-implied count, forward GFLOPs (batch 1, eval mode,
on the canvas that keeps rotations exact; escnn's cached dense filter), cold build seconds and
one CPU training step (forward + backward, batch 2). Each case runs in a fresh process.

    python benchmarks/paper_cost.py [--backbones ...] [--json docs/results/paper_cost.json]
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

import torch  # noqa: E402
from build_time import BACKBONES, GROUPS  # noqa: E402
from common import machine, table, time_it  # noqa: E402

from structured_ssl.encoders import EncoderSpec, build_encoder  # noqa: E402

CONSTRUCTIONS = {
    "rotation C4": ("sesn_copies", "escnn"),
    "dihedral D4": ("sesn_copies", "escnn"),
    "translation": ("plain",),
    "scale (paper)": ("sesn",),
}


def paper_implied_parameters(backbone: str) -> int:
    """The SESN construction's count: the scale backbone's (same layers, same basis, one
    filter per channel pair, no mixing along the group axis; independent of |G|)."""
    channels, size = BACKBONES[backbone]
    return build_encoder(EncoderSpec(architecture=backbone), GROUPS["scale (paper)"], channels, size).num_parameters()


def forward_gflops(encoder: torch.nn.Module, x: torch.Tensor) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    encoder.eval()
    with torch.no_grad():
        encoder(x)  # escnn caches its dense filter in eval mode: count the convolution only
        with FlopCounterMode(display=False) as counter:
            encoder(x)
    return counter.get_total_flops() / 1e9


def step_seconds(encoder: torch.nn.Module, x: torch.Tensor) -> float:
    encoder.train()

    def step() -> None:
        encoder.zero_grad(set_to_none=True)
        encoder(x).sum().backward()

    return time_it(step, repeats=1, warmup=1)


def measure(backbone: str, group_name: str, construction: str, with_step: bool) -> dict:
    channels, size = BACKBONES[backbone]
    rotation_conv = construction if construction in ("sesn_copies", "escnn") else None
    spec = EncoderSpec(architecture=backbone, rotation_conv=rotation_conv)
    start = time.perf_counter()
    encoder = build_encoder(spec, GROUPS[group_name], channels, size)
    build = time.perf_counter() - start
    x = torch.rand(2, channels, size, size)
    return {
        "backbone": backbone, "group": group_name, "construction": construction, "canvas": size,
        "parameters": encoder.num_parameters(), "paper_parameters": paper_implied_parameters(backbone),
        "gflops": round(forward_gflops(encoder, x[:1]), 3), "build_s": round(build, 2),
        "step_s": round(step_seconds(encoder, x), 2) if with_step else None,
    }


def measure_cold(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--one", *args], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def render(rows: list[dict]) -> str:
    return table(
        ["backbone", "group", "construction", "parameters", "paper's SESN", "ratio", "GFLOPs (fwd, 1 image)",
         "build s", "CPU step s (batch 2)"],
        [[r["backbone"], r["group"], r["construction"], f"{r['parameters']:,}", f"{r['paper_parameters']:,}",
          f"{r['parameters'] / r['paper_parameters']:.2f}", r["gflops"], r["build_s"],
          "-" if r["step_s"] is None else r["step_s"]] for r in rows])


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", nargs="+", default=list(BACKBONES), choices=list(BACKBONES))
    parser.add_argument("--no_step", action="store_true", help="skip the CPU training step (the slow part)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        backbone, group_name, construction, with_step = args.one
        print(json.dumps(measure(backbone, group_name, construction, with_step == "True")))
        return []
    rows = []
    for backbone in args.backbones:
        for group_name, constructions in CONSTRUCTIONS.items():
            for construction in constructions:
                rows.append(measure_cold(backbone, group_name, construction, str(not args.no_step)))
                print(rows[-1], flush=True, file=sys.stderr)
    print(f"{machine()}; load average {os.getloadavg()[0]:.1f} at the end")
    print(render(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1) + "\n")
    return rows


if __name__ == "__main__":
    main()
