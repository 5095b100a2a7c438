"""GPU throughput of every paper backbone and objective: images/s, peak memory, step time.

One full training step (forward, loss, backward, optimizer) of each objective's
LightningModule ``training_step`` under bf16 autocast at batch 512 on the exact canvases
(29 / 33 / 65 px), on random images: the first GPU run fills the table "GPU throughput"
of docs/reports/paper-backbones.md. Without CUDA it exits with a one-line message; ``--cpu_smoke`` runs the
same code on CPU with a tiny batch, which is how the test suite checks the table path.

    python benchmarks/gpu.py [--batch 512] [--steps 10] [--json docs/results/gpu.json]
    python benchmarks/gpu.py --cpu_smoke --backbones paper_mnist --groups translation
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from build_time import BACKBONES  # noqa: E402
from common import machine, table, write_rows  # noqa: E402

from structured_ssl.encoders import EncoderSpec  # noqa: E402
from structured_ssl.groups import PAPER_SCALES, Group  # noqa: E402

GROUPS = {
    "rotation": Group("rotation", 4),
    "translation": Group("translation"),
    "scale": Group("scale", scales=PAPER_SCALES),
}
OBJECTIVES = ("AugmentationSSL", "StructuredSSL", "Frozen", "Supervised")
HEADERS = ["backbone", "group", "objective", "batch", "images/s", "step ms", "peak memory GiB"]


def build(objective: str, backbone: str, group: Group, device: torch.device):
    import structured_ssl.methods as methods

    channels, size = BACKBONES[backbone]
    projector = (128, 128, 128) if backbone == "paper_mnist" else (512, 2048, 512)
    kwargs = {"projector": projector} if objective in ("AugmentationSSL", "StructuredSSL") else {}
    model = getattr(methods, objective)(
        group=group,
        encoder=EncoderSpec(architecture=backbone),
        in_channels=channels,
        image_size=size,
        **kwargs,
    )
    return model.to(device).train(), channels, size


def measure(
    objective: str,
    backbone: str,
    group_name: str,
    batch: int,
    steps: int,
    warmup: int,
    device: torch.device,
) -> dict:
    """Median step time over ``steps`` after ``warmup`` steps; peak allocator memory (CUDA)."""
    model, channels, size = build(objective, backbone, GROUPS[group_name], device)
    if objective == "Frozen":
        model.encoder.eval()
    params = model.trainable_parameters() + list(model.probe.parameters())
    optimizer = torch.optim.SGD(params, lr=1e-3, momentum=0.9)
    x = torch.rand(batch, channels, size, size, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=".*self.log.*"
        )  # no Trainer attached: logging is a no-op
        for i in range(warmup + steps):
            start = time.perf_counter()
            with torch.autocast(device.type, dtype=torch.bfloat16):
                loss = model.training_step((x, y), i)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if cuda:
                torch.cuda.synchronize(device)
            if i >= warmup:
                times.append(time.perf_counter() - start)
    if not torch.isfinite(loss.detach().float()):
        raise FloatingPointError(f"{objective} on {backbone}/{group_name}: loss {float(loss)}")
    step = statistics.median(times)
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if cuda else float("nan")
    return {
        "backbone": backbone,
        "group": group_name,
        "objective": objective,
        "batch": batch,
        "images_per_s": batch / step,
        "step_ms": 1e3 * step,
        "peak_gib": peak,
    }


def row(r: dict) -> list[object]:
    if "error" in r:
        return [r["backbone"], r["group"], r["objective"], r["batch"], r["error"], "-", "-"]
    peak = (
        "-" if r["peak_gib"] != r["peak_gib"] else f"{r['peak_gib']:.2f}"
    )  # NaN: no CUDA allocator
    return [
        r["backbone"],
        r["group"],
        r["objective"],
        r["batch"],
        f"{r['images_per_s']:.1f}",
        f"{r['step_ms']:.1f}",
        peak,
    ]


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--backbones", nargs="+", default=list(BACKBONES), choices=list(BACKBONES))
    parser.add_argument("--groups", nargs="+", default=list(GROUPS), choices=list(GROUPS))
    parser.add_argument(
        "--objectives", nargs="+", default=list(OBJECTIVES), choices=list(OBJECTIVES)
    )
    parser.add_argument(
        "--cpu_smoke",
        action="store_true",
        help="run on CPU with batch 4, 1 step (checks the code path)",
    )
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    if args.cpu_smoke:
        device, args.batch, args.steps, args.warmup = torch.device("cpu"), 4, 1, 0
    elif not torch.cuda.is_available():
        sys.exit(
            "benchmarks/gpu.py needs a CUDA device (torch.cuda.is_available() is False); "
            "--cpu_smoke checks the table code on CPU"
        )
    else:
        device = torch.device("cuda")
    rows = []
    for backbone in args.backbones:
        for group_name in args.groups:
            for objective in args.objectives:
                try:
                    rows.append(
                        measure(
                            objective,
                            backbone,
                            group_name,
                            args.batch,
                            args.steps,
                            args.warmup,
                            device,
                        )
                    )
                except torch.cuda.OutOfMemoryError:
                    rows.append(
                        {
                            "backbone": backbone,
                            "group": group_name,
                            "objective": objective,
                            "batch": args.batch,
                            "error": "out of memory",
                        }
                    )
                print(rows[-1], file=sys.stderr, flush=True)
    print(
        machine() + (" (CPU smoke run: not a measurement)" if args.cpu_smoke else ", bf16 autocast")
    )
    print(table(HEADERS, [row(r) for r in rows]))
    write_rows(args.json, rows)
    return rows


if __name__ == "__main__":
    main()
