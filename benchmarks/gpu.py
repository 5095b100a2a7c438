"""GPU cost of every paper cell: the whole training loop beside its bare model step.

Per cell of configs/paper/cells.yaml (backbone paper_mnist / paper_cifar / paper_tiny x group
rotation / translation / scale x objective A-SSL / H-SSL), composed by structured_ssl.config.cells as
``fit`` composes it, on one device at ``--batch`` images per step:

* loop: ``Trainer.fit`` of the cell's LightningModule and DataModule with its configs'
  callbacks and augmentation, timed by a callback from the start of batch ``--warmup`` to the
  end of batch ``--warmup + --steps`` (epoch-end validation falls outside this window). When
  the dataset's files are absent the DataModule serves random images of the same shape
  (column "data": synthetic).
* step: the same module's ``training_step`` (its views, loss) + backward + its optimizer.
* FLOPs of one step by ``torch.utils.flop_counter.FlopCounterMode`` (every op it counts) ->
  achieved TFLOP/s and share of the device's dense bf16 peak (:data:`PEAK_BF16`).
* peak memory (``torch.cuda.max_memory_allocated``; on CPU the process's max RSS), the full
  recipe's hours at the loop's rate (:data:`RECIPES`), loop / step, H-SSL / A-SSL step time.

A torchvision ResNet-18 SimCLR step (benchmarks/gpu_anchor.py) is the anchor row. Writes
``gpu.md`` and ``gpu.json`` under ``--out``. Without CUDA it exits with one line;
``--cpu_smoke`` runs the same code on CPU with a tiny batch and few steps (not a measurement).

    python benchmarks/gpu.py [--batch 512] [--steps 10] [--warmup 3] [--out docs/results/gpu]
    python benchmarks/gpu.py --cpu_smoke --out /tmp/smoke
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import itertools
import json
import resource
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lightning as L  # noqa: E402
import torch  # noqa: E402
from common import machine, table  # noqa: E402
from gpu_anchor import anchor_rows  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from structured_ssl.config.cells import Cell, axis_file, objective_class  # noqa: E402
from structured_ssl.data.base import Splits  # noqa: E402
from structured_ssl.data.download import DatasetNotFoundError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1] / "configs" / "paper"
#: backbone -> (dataset of configs/paper/cells.yaml, recipe epochs, training images per epoch)
RECIPES = {
    "paper_mnist": ("mnist", 500, 60_000),
    "paper_cifar": ("cifar10", 1300, 50_000),
    "paper_tiny": ("tiny_imagenet", 1300, 100_000),
}
GROUPS = ("rotation", "translation", "scale")
OBJECTIVES = {"A-SSL": "augmentation", "H-SSL": "structured"}
#: dense (no sparsity) bf16 tensor-core peak in TFLOP/s by device-name substring, first match wins.
#: Source: NVIDIA's H100 / H200 / A100 datasheets, whose bf16 figures are quoted "with sparsity";
#: dense is half (H100/H200 SXM 1,979 -> 989; NVL 1,671 -> 835; H100 PCIe 1,513 -> 756; A100 312
#: is dense). The issue's 790 matches no datasheet row we can name, so the SXM figure is used.
PEAK_BF16 = (
    ("H200 NVL", 835.0),
    ("H100 NVL", 835.0),
    ("H100 PCIe", 756.0),
    ("H200", 989.0),
    ("H100", 989.0),
    ("A100", 312.0),
)
HEADERS = [
    "backbone",
    "group",
    "objective",
    "data",
    "loop img/s",
    "step img/s",
    "loop/step",
    "GFLOP/step",
    "TFLOP/s",
    "% bf16 peak",
    "peak mem GiB",
    "recipe h",
    "H/A step",
]


@contextlib.contextmanager
def shrunk_backbones() -> Iterator[None]:
    """--cpu_smoke only: the paper ResNets at 1/8 width and one block per stage, so every cell's
    code path runs in seconds on CPU (restored afterwards)."""
    from structured_ssl.encoders import paper

    saved = dict(paper.RESNETS)
    for name, layout in saved.items():
        paper.RESNETS[name] = dataclasses.replace(
            layout,
            widths=tuple(w // 8 for w in layout.widths),
            blocks=tuple(1 for _ in layout.blocks),
        )
    try:
        yield
    finally:
        paper.RESNETS.update(saved)


def bf16_peak(name: str) -> float | None:
    """The device's dense bf16 peak (TFLOP/s) from :data:`PEAK_BF16`, None when unknown (CPU too)."""
    return next((peak for key, peak in PEAK_BF16 if key in name), None)


class WindowTimer(L.Callback):
    """Wall time from the start of batch ``first`` to the end of batch ``last`` of ``fit``."""

    def __init__(self, first: int, last: int) -> None:
        self.first, self.last = first, last
        self.start: float | None = None
        self.seconds: float | None = None

    def _sync(self, trainer: L.Trainer) -> None:
        if trainer.strategy.root_device.type == "cuda":
            torch.cuda.synchronize(trainer.strategy.root_device)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:  # noqa: ANN001
        if trainer.global_step == self.first and self.start is None:
            self._sync(trainer)
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:  # noqa: ANN001
        if trainer.global_step == self.last and self.seconds is None and self.start is not None:
            self._sync(trainer)
            self.seconds = time.perf_counter() - self.start


def cell_arguments(backbone: str, group: str, objective: str) -> tuple[list[str], list[str], bool]:
    """(config files, overrides, offered): the cell as structured_ssl.config.cells composes it; a cell
    the manifest does not offer (Tiny ImageNet x translation) from the same files, marked."""
    cell = Cell(RECIPES[backbone][0], OBJECTIVES[objective], group)
    if cell.offered(ROOT):
        configs, overrides = cell.arguments(ROOT)
        return list(configs), list(overrides), True
    files = [
        axis_file(ROOT, "objectives", cell.objective),
        axis_file(ROOT, "datasets", cell.dataset),
        axis_file(ROOT, "groups", group),
    ]
    if getattr(objective_class(files[0]), "uses_pairs", False):
        files.append(axis_file(ROOT, "losses", "ntxent_wide_head"))
    return [str(f) for f in files], [], False


def synthetic_splits(channels: int, size: int, classes: int, train: int) -> Splits:
    """Random images of the dataset's shape, when its files are absent (timing needs shapes only)."""
    g = torch.Generator().manual_seed(0)

    def split(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.rand(n, channels, size, size, generator=g), torch.randint(
            0, classes, (n,), generator=g
        )

    return Splits(
        train=split(train), test=split(max(64, train // 8)), val=split(max(64, train // 8))
    )


def build(
    backbone: str,
    group: str,
    objective: str,
    device: torch.device,
    batch: int,
    root_dir: str,
    max_steps: int,
    extra: list[str],
):
    """The cell's (model, datamodule, trainer) on one device, as ``fit --config ...`` builds them."""
    from structured_ssl.data.base import ImageDataModule
    from structured_ssl.experiments.lightning_cli import StructuredSSLCLI, silence_known_noise
    from structured_ssl.methods.base import SSLMethod

    silence_known_noise()
    warnings.filterwarnings(
        "ignore", message=".*args parameter is intended to run from within Python.*"
    )
    configs, overrides, offered = cell_arguments(backbone, group, objective)
    cuda = device.type == "cuda"
    data_dir = ROOT.parents[1] / "data"  # the checkout's data/ when it exists; else an empty folder
    data_dir = data_dir if data_dir.is_dir() else Path(root_dir)
    args = (
        [item for path in configs for item in ("--config", path)]
        + overrides
        + [
            f"--data.init_args.batch_size={batch}",
            f"--data.init_args.data_dir={data_dir}",
            *(["--data.init_args.download=false"] if backbone != "paper_tiny" else []),
            f"--trainer.accelerator={'gpu' if cuda else 'cpu'}",
            "--trainer.devices=1",
            "--trainer.num_nodes=1",
            "--trainer.strategy=auto",
            "--trainer.sync_batchnorm=false",
            f"--trainer.precision={'bf16-mixed' if cuda else '32-true'}",
            f"--trainer.default_root_dir={root_dir}",
            "--trainer.num_sanity_val_steps=0",
            "--trainer.enable_progress_bar=false",
            "--trainer.enable_model_summary=false",
            f"--trainer.max_steps={max_steps}",
            *extra,
        ]
    )

    class BenchmarkCLI(StructuredSSLCLI):
        """No pre-build file check: a cell without its dataset falls back to synthetic images."""

        reads_data_files = False

    cli = BenchmarkCLI(
        SSLMethod,
        ImageDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        save_config_callback=None,
        run=False,
        args=args,
        auto_configure_optimizers=False,
    )
    data, source = cli.datamodule, "real"
    try:
        data.load_arrays()
    except (FileNotFoundError, OSError, RuntimeError, DatasetNotFoundError):
        info = data.info
        splits = synthetic_splits(
            info.channels, info.image_size, info.num_classes, train=64 * batch
        )
        data.load_arrays = lambda: splits  # type: ignore[method-assign]
        data.prepare_data = lambda: None  # type: ignore[method-assign]  # nothing to fetch or check
        source = "synthetic"
    return cli.model, data, cli.trainer, source, offered


def time_loop(model, data, trainer, warmup: int, steps: int) -> float:  # noqa: ANN001
    """Images/s of ``Trainer.fit`` between batch ``warmup`` and batch ``warmup + steps``."""
    timer = WindowTimer(warmup, warmup + steps)
    trainer.callbacks.append(timer)
    trainer.fit(model, datamodule=data)
    if timer.seconds is None:
        raise RuntimeError(
            f"fit stopped before batch {warmup + steps} (global_step {trainer.global_step})"
        )
    return steps * data.batch_size / timer.seconds


def time_step(
    model, data, trainer, device: torch.device, warmup: int, steps: int
) -> tuple[float, float]:  # noqa: ANN001
    """(images/s, FLOPs) of the bare step: training_step + backward + the trainer's optimizer."""
    model.to(device).train()
    optimizer = trainer.optimizers[0]
    x, y = next(iter(data.train_dataloader()))
    model.trainer = None  # detached: self.log is a no-op, as in a hand-written loop
    batch = (x.to(device), y.to(device))
    cuda = device.type == "cuda"

    def step(i: int) -> torch.Tensor:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            loss = model.training_step(batch, i)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*self.log.*")
        for i in range(warmup):
            step(i)
        with FlopCounterMode(display=False) as counter:
            step(warmup)
        if cuda:
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        for i in range(steps):
            loss = step(warmup + 1 + i)
        if cuda:
            torch.cuda.synchronize(device)
        seconds = (time.perf_counter() - start) / steps
    if not torch.isfinite(loss.detach().float()):
        raise FloatingPointError(f"non-finite loss {float(loss)}")
    return len(x) / seconds, float(counter.get_total_flops())


def peak_gib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    )  # KiB on Linux: process max RSS


def measure(
    backbone: str, group: str, objective: str, device: torch.device, args: argparse.Namespace
) -> dict:
    """One cell's row."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    with tempfile.TemporaryDirectory(prefix="gpu-bench-") as root_dir:
        model, data, trainer, source, offered = build(
            backbone,
            group,
            objective,
            device,
            args.batch,
            root_dir,
            args.warmup + args.steps + 1,
            args.extra,
        )
        loop = time_loop(model, data, trainer, args.warmup, args.steps)
        step, flops = time_step(model, data, trainer, device, args.warmup, args.steps)
    _, epochs, images = RECIPES[backbone]
    peak = bf16_peak(torch.cuda.get_device_name(device)) if device.type == "cuda" else None
    tflops = flops * step / data.batch_size / 1e12
    return {
        "backbone": backbone,
        "group": group,
        "objective": objective,
        "offered": offered,
        "data": source,
        "batch": data.batch_size,
        "loop_images_per_s": loop,
        "step_images_per_s": step,
        "loop_over_step": loop / step,
        "step_flops": flops,
        "achieved_tflops": tflops,
        "bf16_peak_share": tflops / peak if peak else None,
        "peak_memory_gib": peak_gib(device),
        "recipe_hours": epochs * images / loop / 3600,
    }


def add_ratios(rows: list[dict]) -> None:
    """H-SSL / A-SSL step time of each backbone x group, on both rows of the pair."""
    for r in rows:
        pair = [
            o
            for o in rows
            if (o["backbone"], o["group"]) == (r["backbone"], r["group"]) and "error" not in o
        ]
        rates = {o["objective"]: o["step_images_per_s"] for o in pair}
        if "error" not in r and {"A-SSL", "H-SSL"} <= rates.keys():
            r["h_over_a_step_time"] = rates["A-SSL"] / rates["H-SSL"]


def row(r: dict) -> list[object]:
    def f(key: str, scale: float = 1.0, digits: int = 1) -> str:
        value = r.get(key)
        return "n/a" if value is None else f"{value * scale:,.{digits}f}"

    if "error" in r:
        return [
            r["backbone"],
            r["group"],
            r["objective"],
            "-",
            r["error"],
            *["-"] * (len(HEADERS) - 5),
        ]
    name = r["objective"] + ("" if r["offered"] else " (not in cells.yaml)")
    return [
        r["backbone"],
        r["group"],
        name,
        r["data"],
        f("loop_images_per_s"),
        f("step_images_per_s"),
        f("loop_over_step", 1, 2),
        f("step_flops", 1e-9),
        f("achieved_tflops", 1, 2),
        f("bf16_peak_share", 100),
        f("peak_memory_gib", 1, 2),
        f("recipe_hours", 1, 2),
        f("h_over_a_step_time", 1, 2),
    ]


def report(
    rows: list[dict], anchors: list[dict], note: str | None, device: torch.device, smoke: bool
) -> str:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    peak = bf16_peak(name)
    lines = [
        "# benchmarks/gpu.py"
        + (
            ": CPU SMOKE RUN (checks the code path; NOT a performance measurement)" if smoke else ""
        ),
        "",
        machine(),
        f"dense bf16 peak used: {f'{peak:g} TFLOP/s' if peak else 'n/a (device not in PEAK_BF16)'}",
        "",
        table(HEADERS, [row(r) for r in rows]),
        "",
    ]
    if anchors:
        lines += [
            table(
                ["anchor step", "batch", "img/s", "GFLOP/step", "TFLOP/s", "% bf16 peak"],
                [
                    [
                        a["name"],
                        a["batch"],
                        f"{a['step_images_per_s']:,.1f}",
                        f"{a['step_flops'] / 1e9:,.1f}",
                        f"{a['achieved_tflops']:.2f}",
                        f"{100 * a['bf16_peak_share']:.1f}" if a["bf16_peak_share"] else "n/a",
                    ]
                    for a in anchors
                ],
            ),
            "",
        ]
    if note:
        lines += [note, ""]
    lines += [
        "loop: Trainer.fit between batches warmup and warmup+steps (no epoch-end validation in the window); "
        "step: training_step+backward+optimizer; FLOPs: FlopCounterMode on one step; recipe h: "
        "MNIST 500 x 60k, CIFAR-10 1300 x 50k, Tiny 1300 x 100k images at the loop rate; "
        "H/A step: H-SSL step time / A-SSL step time; peak mem on CPU: process max RSS."
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument(
        "--steps", type=int, default=10, help="timed steps (loop window and bare step)"
    )
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--backbones", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--groups", nargs="+", default=list(GROUPS), choices=list(GROUPS))
    parser.add_argument(
        "--objectives", nargs="+", default=list(OBJECTIVES), choices=list(OBJECTIVES)
    )
    parser.add_argument(
        "--no_anchor", action="store_true", help="skip the torchvision ResNet-18 anchor rows"
    )
    parser.add_argument(
        "--extra",
        nargs="*",
        default=[],
        help="more CLI overrides for every cell, e.g. "
        "--extra=--data.init_args.device_resident=true",
    )
    parser.add_argument(
        "--cpu_smoke",
        action="store_true",
        help="CPU, batch 4, 2 steps, paper ResNets at 1/8 width: checks the code path",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("docs/results/gpu"), help="gpu.md and gpu.json go here"
    )
    args = parser.parse_args(argv)
    for field in ("batch", "steps"):
        if getattr(args, field) < 1:
            sys.exit(f"--{field}={getattr(args, field)} is not allowed; expected an integer >= 1")
    if args.cpu_smoke:
        device, args.batch, args.steps, args.warmup = torch.device("cpu"), 4, 2, 1
    elif not torch.cuda.is_available():
        sys.exit(
            "benchmarks/gpu.py needs a CUDA device (torch.cuda.is_available() is False); "
            "--cpu_smoke checks the table code on CPU"
        )
    else:
        device = torch.device("cuda")
    peak = bf16_peak(torch.cuda.get_device_name(device)) if device.type == "cuda" else None
    rows: list[dict] = []
    with shrunk_backbones() if args.cpu_smoke else contextlib.nullcontext():
        for backbone, group, objective in itertools.product(
            args.backbones, args.groups, args.objectives
        ):
            try:
                rows.append(measure(backbone, group, objective, device, args))
            except torch.cuda.OutOfMemoryError:
                rows.append(
                    {
                        "backbone": backbone,
                        "group": group,
                        "objective": objective,
                        "error": "out of memory",
                    }
                )
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
            write(
                args.out,
                rows,
                [],
                "anchor not yet run (run cut short?)",
                device,
                args.cpu_smoke,
                peak,
            )
    anchors, note = (
        ([], "anchor skipped (--no_anchor)")
        if args.no_anchor
        else anchor_rows(device, args.batch, args.steps, args.warmup)
    )
    for a in anchors:
        a["achieved_tflops"] = a["step_flops"] * a["step_images_per_s"] / a["batch"] / 1e12
        a["bf16_peak_share"] = a["achieved_tflops"] / peak if peak else None
    print(write(args.out, rows, anchors, note, device, args.cpu_smoke, peak))
    return rows


def write(
    out: Path,
    rows: list[dict],
    anchors: list[dict],
    note: str | None,
    device: torch.device,
    smoke: bool,
    peak: float | None,
) -> str:
    """gpu.md and gpu.json under ``out`` (rewritten after each cell); returns the Markdown."""
    add_ratios(rows)
    text = report(rows, anchors, note, device, smoke)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu.md").write_text(text)
    payload = {
        "machine": machine(),
        "cpu_smoke": smoke,
        "bf16_peak_tflops": peak,
        "rows": rows,
        "anchor": anchors,
        "anchor_note": note,
    }
    (out / "gpu.json").write_text(json.dumps(payload, indent=1, allow_nan=False) + "\n")
    return text


if __name__ == "__main__":
    main()
