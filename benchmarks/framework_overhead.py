"""Framework overhead and data path.

1. The project's LightningModule trained by Lightning's Trainer against a hand-written
   PyTorch loop training the same model (same optimizer groups, same warm-up + cosine
   schedule stepped per step, same batches, same number of steps). The two are run
   INTERLEAVED, in alternating order (L,P then P,L), so the machine's slow drifts hit both;
   each pair gives one relative difference (Lightning throughput / plain throughput - 1).
   Pairs are added until the 95% confidence interval (Student t) of the mean difference is
   narrower than ``--ci-width`` points, or ``--max-seconds`` pass (then: "inconclusive").
   Verdict: within 3% when the whole interval lies above -3%.
   Clock: ``--clock cpu`` (default) times each run by this process's CPU time
   (``time.process_time``, all its threads; torch runs one thread here). On a shared machine
   wall time also counts the other jobs' share of the cores: single wall-time pairs differed
   by up to 48 points (std 19) under load, so a 2-point interval would take ~1,400 pairs.
   The framework's overhead is work this process does, so CPU time measures it and not the
   neighbours. ``--clock wall`` is the right clock on a quiet or dedicated machine (a GPU:
   CPU time does not see the device).
2. The data path: DataLoader iteration plus on-device augmentation (A-SSL's two views) per
   batch, against the training step. Target: under 10% of step time.

    python benchmarks/framework_overhead.py [--group translation] [--steps 20] [--ci-width 2] [--max-seconds 300]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lightning as L  # noqa: E402
import torch  # noqa: E402
from common import device, machine, table, time_it  # noqa: E402
from scipy import stats  # noqa: E402

from structured_ssl.data import DigitsDataModule  # noqa: E402
from structured_ssl.groups import Group  # noqa: E402
from structured_ssl.methods import AugmentationSSL, StructuredSSL  # noqa: E402
from structured_ssl.methods.base import constant_lr  # noqa: E402
from structured_ssl.methods.optim import build_optimizer, warmup_cosine_lambda  # noqa: E402
from structured_ssl.ssl.pairs import PairSampling, sample_position_pairs  # noqa: E402

GROUPS = {
    "translation": Group("translation"),
    "rotation": Group("rotation", 8),
    "scale": Group("scale"),
}
TOLERANCE = 3.0  # percent
CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
now = CLOCKS["cpu"]  # set by --clock


class StepTimer(L.Callback):
    """Time (``now``: CPU or wall) of the training loop only (no set-up, no validation)."""

    def on_train_start(self, trainer, pl_module) -> None:
        self.start = now()

    def on_train_end(self, trainer, pl_module) -> None:
        self.seconds = now() - self.start


def lightning_seconds(model_cls, group: Group, data: DigitsDataModule, steps: int) -> float:
    torch.manual_seed(0)
    model = model_cls(group=group)
    timer = StepTimer()
    trainer = L.Trainer(
        max_steps=steps,
        max_epochs=-1,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer],
        accelerator="auto",
        devices=1,
    )
    trainer.fit(model, datamodule=data)
    assert trainer.global_step == steps, trainer.global_step
    return timer.seconds


def plain_loop_seconds(model_cls, group: Group, data: DigitsDataModule, steps: int) -> float:
    """The same model, optimizer groups and schedule as ``configure_optimizers`` builds."""
    torch.manual_seed(0)
    model = model_cls(group=group).to(device()).train()
    spec = model.optimizer_spec
    probe = {
        "params": list(model.probe.parameters()),
        "lr": spec.probe_lr,
        "weight_decay": 0.0,
        "lars_exclude": True,
    }
    optimizer = build_optimizer(
        [{"params": model.trainable_parameters(), "lr": spec.lr}, probe],
        spec.name,
        lr=spec.lr,
        weight_decay=spec.weight_decay,
        momentum=spec.momentum,
    )
    per_epoch = len(data.train_dataloader())
    schedule = warmup_cosine_lambda(int(round(spec.warmup_epochs * per_epoch)), steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, [schedule, constant_lr])
    start = now()
    step = 0
    while step < steps:  # epochs as Lightning runs them
        for x, y in data.train_dataloader():
            if step == steps:
                break
            step += 1
            x, y = x.to(device()), y.to(device())
            terms, invariant = model.ssl_terms(x)
            loss = terms["loss"] + model.probe_loss(invariant, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
    return now() - start


def confidence_interval(values: list[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean and the Student-t interval of the mean."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, -math.inf, math.inf
    half = (
        stats.t.ppf(0.5 + level / 2, len(values) - 1)
        * statistics.stdev(values)
        / math.sqrt(len(values))
    )
    return mean, mean - half, mean + half


def verdict(low: float, high: float, converged: bool) -> str:
    if low > -TOLERANCE:
        answer = f"within {TOLERANCE:.0f}%"
    elif high < -TOLERANCE:
        answer = f"NOT within {TOLERANCE:.0f}%"
    else:
        answer = f"undecided about {TOLERANCE:.0f}%"
    return answer if converged else f"inconclusive (CI not narrow enough in time; {answer} so far)"


def interleaved(
    model_cls, group: Group, data: DigitsDataModule, args: argparse.Namespace
) -> list[object]:
    """Pairs of runs until the CI is narrow enough (at least ``min_pairs``)."""
    differences: list[float] = []
    lightning_seconds(model_cls, group, data, args.steps)  # warm-up pair, not counted (first-run
    plain_loop_seconds(model_cls, group, data, args.steps)  # allocations, lazy imports)
    start = time.perf_counter()
    converged = False
    while True:
        order = (
            (lightning_seconds, plain_loop_seconds)
            if len(differences) % 2 == 0
            else (plain_loop_seconds, lightning_seconds)
        )
        seconds = {fn.__name__: fn(model_cls, group, data, args.steps) for fn in order}
        differences.append(100 * (seconds["plain_loop_seconds"] / seconds["lightning_seconds"] - 1))
        mean, low, high = confidence_interval(differences)
        if len(differences) >= args.min_pairs and high - low < args.ci_width:
            converged = True
            break
        if time.perf_counter() - start > args.max_seconds:
            break
    print(
        f"{model_cls.__name__}: {len(differences)} pairs, differences {[round(d, 1) for d in differences]}",
        file=sys.stderr,
    )
    return [
        model_cls.__name__,
        len(differences),
        f"{mean:+.1f}%",
        f"[{low:+.1f}, {high:+.1f}]",
        f"{high - low:.1f}",
        verdict(low, high, converged),
    ]


def data_path_rows(data: DigitsDataModule) -> list[list[object]]:
    model = AugmentationSSL(group=Group("rotation", 8)).to(device()).train()
    loader = data.train_dataloader()
    batches = list(loader)
    x = batches[0][0].to(device())
    n = len(batches)

    def iterate() -> None:
        for xb, _ in loader:
            xb.to(device())

    cells = model.augment.element_grid  # the group elements A-SSL draws its views from
    load_s = time_it(iterate, repeats=3, warmup=1) / n

    def augment() -> None:
        g1, g2 = sample_position_pairs(cells, PairSampling(), len(x))
        model.augment(x, g1), model.augment(x, g2)

    aug_s = time_it(augment)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step() -> None:
        terms, _ = model.ssl_terms(x)
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        optimizer.step()

    step_s = time_it(step)
    return [
        [
            "DataLoader batch (collate + to device)",
            f"{load_s * 1000:.1f}",
            f"{100 * load_s / step_s:.1f}%",
        ],
        [
            "two augmented views (kornia warp)",
            f"{aug_s * 1000:.1f}",
            f"{100 * aug_s / step_s:.1f}%",
        ],
        ["A-SSL training step (includes the views)", f"{step_s * 1000:.1f}", "100%"],
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--group", default="translation", choices=sorted(GROUPS))
    parser.add_argument("--steps", type=int, default=20, help="training steps per run")
    parser.add_argument(
        "--ci-width", type=float, default=2.0, help="stop when the 95%% CI is narrower (points)"
    )
    parser.add_argument("--min-pairs", type=int, default=4)
    parser.add_argument("--max-seconds", type=float, default=300.0, help="per objective")
    parser.add_argument("--no-data-path", action="store_true", help="skip the data-path table")
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="cpu",
        help="how runs are timed (module docstring)",
    )
    args = parser.parse_args()
    global now
    now = CLOCKS[args.clock]
    data = DigitsDataModule(batch_size=128)
    data.setup("fit")
    group = GROUPS[args.group]
    rows = [interleaved(cls, group, data, args) for cls in (StructuredSSL, AugmentationSSL)]
    print(
        f"## Framework overhead: Lightning vs a hand-written loop, {group.short_name}, {args.steps} steps of batch 128 "
        f"per run, {args.clock} time, interleaved pairs until the 95% CI is under {args.ci_width:g} points "
        f"(at most {args.max_seconds:g} s)\n"
        f"{machine()}\n"
    )
    print(
        table(
            [
                "objective",
                "pairs",
                "Lightning throughput vs plain (mean)",
                "95% CI",
                "CI width (points)",
                f"Lightning within {TOLERANCE:.0f}% of the plain loop?",
            ],
            rows,
        )
    )
    if not args.no_data_path:
        print(f"\n## Data path per batch against the training step (batch 128)\n{machine()}\n")
        print(table(["part", "ms per batch", "share of step"], data_path_rows(data)))


if __name__ == "__main__":
    main()
