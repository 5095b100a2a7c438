"""``structured-ssl reproduce``: one command for one of the paper's tables, at its recipe.

    structured-ssl reproduce --table 1 --dataset mnist            # the GPUs it finds
    structured-ssl reproduce --table 1 --dataset mnist --dry-run  # the runs, not run

It runs the grid of the table's cells (A-SSL, H-SSL, Frozen, Supervised x the table's groups
for that dataset, ``configs/paper/cells.yaml``) and then ``structured-ssl report`` beside the
paper's values. Where it runs decides the recipe:

* one GPU: the paper cells with ``configs/paper/trainers/one_gpu.yaml`` (global batch 4096 on
  the device, LARS lr 0.1, bf16, the dataset's epochs);
* N GPUs: the paper cells' DDP layout on one node, N devices x 4096/N per device, batch norms
  synchronised (the global batch stays 4096, so the learning rate does too);
* no GPU: the embedded-digits grid (``configs/paper/small.yaml``, Table 2's MLP twin with
  ``small_paper_encoder.yaml``), whatever ``--dataset`` says: the paper's datasets need a GPU.

Finished runs are skipped, as ``grid`` skips them, so an interrupted table resumes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from structured_ssl.experiments.grid import main as grid_main

OBJECTIVES = ("augmentation", "structured", "frozen", "supervised")
#: the paper's rows per table and dataset (PAPER.md); Table 2 is "structure removed"
TABLES: dict[int, dict[str, tuple[str, ...]]] = {
    1: {
        "mnist": ("rotation", "translation", "scale"),
        "cifar10": ("rotation", "translation", "scale"),
        "tiny_imagenet": ("rotation", "scale"),
    },
    2: {
        "mnist": ("translation_unstructured", "scale_unstructured"),
        "cifar10": ("scale_unstructured",),
    },
}
PAPER_CONFIGS = Path("configs/paper")
#: CPU overlays: the shrunk digits cells, and the one that keeps Table 2's paper MLP twin
SMALL, SMALL_PAPER_ENCODER = (
    PAPER_CONFIGS / "small.yaml",
    PAPER_CONFIGS / "small_paper_encoder.yaml",
)
ONE_GPU = PAPER_CONFIGS / "trainers" / "one_gpu.yaml"
GLOBAL_BATCH = 4096


@dataclass(frozen=True)
class GridCall:
    """One ``structured-ssl grid`` invocation of the plan."""

    groups: tuple[str, ...]
    argv: tuple[str, ...]


def visible_gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def plan(
    table: int,
    dataset: str,
    gpus: int,
    out: Path,
    seeds: Sequence[int],
    epochs: int | None = None,
    objectives: Sequence[str] = OBJECTIVES,
) -> list[GridCall]:
    """The grid calls that make ``table`` for ``dataset`` on ``gpus`` GPUs (0: the digits)."""
    if table not in TABLES:
        raise SystemExit(f"--table {table}: the paper has tables {sorted(TABLES)}")
    if gpus > 0 and dataset not in TABLES[table]:
        raise SystemExit(f"--dataset {dataset}: table {table} has {sorted(TABLES[table])}")
    name = dataset if gpus > 0 else "mnist"  # the digits grid stands in for MNIST on a CPU
    groups = TABLES[table][name]
    common = [
        "--configs",
        str(PAPER_CONFIGS),
        "--dataset",
        name,
        "--objectives",
        *objectives,
        "--seeds",
        *map(str, seeds),
        "--out",
        str(out),
    ]
    if epochs is not None:
        common += ["--epochs", str(epochs)]
    if gpus == 0:
        plain = tuple(g for g in groups if g != "translation_unstructured")
        calls = (
            [GridCall(plain, ("--groups", *plain, "--overlay", str(SMALL), "--jobs", "2", *common))]
            if plain
            else []
        )
        if len(plain) < len(groups):
            calls.append(
                GridCall(
                    ("translation_unstructured",),
                    (
                        "--groups",
                        "translation_unstructured",
                        "--overlay",
                        str(SMALL_PAPER_ENCODER),
                        "--jobs",
                        "2",
                        *common,
                    ),
                )
            )
        return calls
    if gpus == 1:
        layout = ["--overlay", str(ONE_GPU)]
    else:
        if GLOBAL_BATCH % gpus:
            raise SystemExit(
                f"{gpus} GPUs: the global batch {GLOBAL_BATCH} does not split evenly; use CUDA_VISIBLE_DEVICES"
            )
        layout = [
            "--overlay",
            str(ONE_GPU),
            "--set",
            f"trainer.devices={gpus}",
            "--set",
            "trainer.strategy=ddp",
            "--set",
            "trainer.sync_batchnorm=true",
            "--set",
            f"data.init_args.batch_size={GLOBAL_BATCH // gpus}",
        ]
    return [GridCall(groups, ("--groups", *groups, *layout, *common))]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="structured-ssl reproduce", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--table", type=int, choices=sorted(TABLES), default=1)
    parser.add_argument(
        "--dataset", default="mnist", help="mnist, cifar10 or tiny_imagenet (GPU only)"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--epochs", type=int, default=None, help="default: the recipe's (MNIST 500, others 1300)"
    )
    parser.add_argument(
        "--gpus", type=int, default=None, help="default: the GPUs torch sees (0: the digits grid)"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="default results/reproduce-table<T>-<dataset>"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the runs and stop")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    gpus = visible_gpus() if args.gpus is None else args.gpus
    where = (
        f"{gpus} GPU(s)" if gpus else "no GPU: the embedded-digits grid (configs/paper/small.yaml)"
    )
    out = (
        args.out
        or Path("results") / f"reproduce-table{args.table}-{args.dataset if gpus else 'digits'}"
    )
    calls = plan(args.table, args.dataset, gpus, out, args.seeds, args.epochs)
    print(
        f"structured-ssl reproduce: table {args.table}, {args.dataset} on {where} -> {out}",
        flush=True,
    )
    for call in calls:
        grid_main([*call.argv, *(["--dry-run"] if args.dry_run else [])])
    if args.dry_run:
        return
    from structured_ssl.reporting.report import main as report_main

    report_main([str(out)])
    print(f"report beside the paper's values: {out / 'report.md'}")


if __name__ == "__main__":
    main()
