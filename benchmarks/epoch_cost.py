"""Cost per training step: augmentation vs structured vs unstructured, per group.

Same encoder, same batch, same loss; samples/s of a full training step (pair making,
forward, loss, backward, optimizer step) and the process's peak memory. Each cell runs in
its own process so peak memory is the cell's own. Target: structured step time <= 0.6x the
augmentation step time for the same encoder (physical limit ~0.5x: one forward/backward
instead of two).

The S-SSL / A-SSL ratio is measured PAIRED: both models built in one process and stepped in
alternating rounds (A then S, then S then A, ...), one ratio per round, the median of the
rounds reported with its spread; so a busy machine's slow drifts hit both sides alike.

    python benchmarks/epoch_cost.py [--rounds 9]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from common import device, machine, peak_memory_mb, reset_peak, table, time_it  # noqa: E402

GROUPS = {
    "rotation": {"kind": "rotation", "order": 8},
    "dihedral": {"kind": "dihedral", "order": 4},
    "translation": {"kind": "translation"},
    "scale": {"kind": "scale"},
}
OBJECTIVES = ("augmentation", "structured", "unstructured")


def training_step(group_name: str, objective: str, batch: int = 128):
    """``(model, step)``: one full training step of ``objective`` on a fixed random batch."""
    from structured_ssl.encoders import EncoderSpec
    from structured_ssl.groups import Group
    from structured_ssl.methods import AugmentationSSL, StructuredSSL

    torch.manual_seed(0)
    cls = AugmentationSSL if objective == "augmentation" else StructuredSSL
    spec = EncoderSpec(structured=objective != "unstructured")
    model = cls(group=Group(**GROUPS[group_name]), encoder=spec).to(device()).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.rand(batch, 1, 21, 21, device=device())

    def step() -> None:
        terms, _ = model.ssl_terms(x)
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        optimizer.step()

    return model, step


def paired_ratio(group_name: str, rounds: int, steps_per_round: int = 2) -> dict:
    """S-SSL / A-SSL step time from alternating rounds in one process: median and range."""
    _, augmentation = training_step(group_name, "augmentation")
    _, structured = training_step(group_name, "structured")
    ratios = []
    for index in range(rounds):
        order = (augmentation, structured) if index % 2 == 0 else (structured, augmentation)
        seconds = {
            fn: time_it(fn, repeats=steps_per_round, warmup=1 if index == 0 else 0) for fn in order
        }
        ratios.append(seconds[structured] / seconds[augmentation])
    ratios.sort()
    return {
        "group": group_name,
        "median": statistics.median(ratios),
        "low": ratios[0],
        "high": ratios[-1],
        "rounds": rounds,
    }


def measure(group_name: str, objective: str, batch: int = 128) -> dict:
    model, step = training_step(group_name, objective, batch)
    reset_peak()
    seconds = time_it(step, repeats=5, warmup=2)
    return {
        "group": group_name,
        "objective": objective,
        "step_s": seconds,
        "samples_per_s": batch / seconds,
        "peak_mb": peak_memory_mb(),
        "params": model.encoder.num_parameters(),
    }


def run_json(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--groups", nargs="+", default=list(GROUPS), choices=list(GROUPS))
    parser.add_argument(
        "--rounds", type=int, default=9, help="paired rounds of the S-SSL / A-SSL ratio"
    )
    parser.add_argument("--cell", nargs=2, metavar=("GROUP", "OBJECTIVE"), help=argparse.SUPPRESS)
    parser.add_argument("--paired", metavar="GROUP", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cell:
        print(json.dumps(measure(*args.cell)))
        return
    if args.paired:
        print(json.dumps(paired_ratio(args.paired, args.rounds)))
        return
    results = {}
    paired = {}
    for group in args.groups:
        for objective in OBJECTIVES:
            results[group, objective] = run_json("--cell", group, objective)
        paired[group] = run_json("--paired", group, "--rounds", str(args.rounds))
    rows = []
    for group in args.groups:
        aug = results[group, "augmentation"]["step_s"]
        for objective in OBJECTIVES:
            r = results[group, objective]
            rows.append(
                [
                    group,
                    objective,
                    r["params"],
                    f"{r['step_s'] * 1000:.0f}",
                    f"{r['samples_per_s']:.0f}",
                    f"{r['peak_mb']:.0f}",
                    f"{r['step_s'] / aug:.2f}",
                ]
            )
    print(f"## Training step cost per group (batch 128, 21x21 digits)\n{machine()}\n")
    print(
        table(
            [
                "group",
                "objective",
                "encoder params",
                "step ms",
                "samples/s",
                "peak MB",
                "time / A-SSL",
            ],
            rows,
        )
    )
    print(
        f"\n## S-SSL / A-SSL step time, paired rounds in one process (target <= 0.55)\n{machine()}\n"
    )
    print(
        table(
            ["group", "S-SSL / A-SSL (median)", "range over rounds", "rounds", "<= 0.55"],
            [
                [
                    g,
                    f"{p['median']:.3f}",
                    f"{p['low']:.3f}-{p['high']:.3f}",
                    p["rounds"],
                    "yes" if p["median"] <= 0.55 else "NO",
                ]
                for g, p in paired.items()
            ],
        )
    )


if __name__ == "__main__":
    main()
