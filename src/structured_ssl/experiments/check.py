"""``structured-ssl check``: is the encoder a config builds equivariant where H-SSL reads it?

    structured-ssl check --config configs/objectives/structured.yaml --config configs/paper/datasets/mnist.yaml \
        --config configs/groups/rotation_c4.yaml
    structured-ssl check --config ... --config configs/paper/small.yaml --ckpt_path runs/.../last.ckpt
    structured-ssl check --cells configs --objectives structured --markdown docs/results/equivariance.md

``--cells ROOT`` checks every cell ``ROOT/cells.yaml`` offers (composed as the grid composes
them, [`structured_ssl.config.cells`][structured_ssl.config.cells]), optionally only some objectives
/ datasets.

It builds the config's model exactly as ``fit`` would (same parser, same checks, the data
module's image size), optionally loads a checkpoint's weights (``weights_only``), and prints
per group element the lifted-map error, the fiber-map error H-SSL reads, the no-shift
baseline and the encoder's bound. Exit status 1 when a bound is missed, 2 for bad input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from structured_ssl.config.cells import CellError, offered_cells
from structured_ssl.config.field_checks import CheckpointError
from structured_ssl.config.shipped_configs import resolve_config, resolve_config_root
from structured_ssl.data.base import ImageDataModule
from structured_ssl.encoders.equivariance import (
    ElementError,
    checked_elements,
    measure,
    worst,
)
from structured_ssl.encoders.escnn_state import drop_escnn_caches
from structured_ssl.methods.base import SSLMethod


@dataclass
class CheckResult:
    """One config's measurement: what was built and how far it is from its bound."""

    name: str
    group: str
    architecture: str
    structured: bool
    image_size: int
    bound: str
    rows: list[ElementError]
    passed: bool


#: Trainer settings that replace a config's cluster (GPUs, nodes, DDP, bf16) by one CPU process:
#: what a check of the model alone needs, on any machine.
ONE_CPU_PROCESS = (
    "--trainer.accelerator=cpu",
    "--trainer.devices=1",
    "--trainer.num_nodes=1",
    "--trainer.strategy=auto",
    "--trainer.sync_batchnorm=false",
    "--trainer.precision=32-true",
)


def build_model(
    configs: Sequence[str], overrides: Sequence[str], empty: str, ckpt_path: str | None = None
):
    """The LightningModule and DataModule that ``fit --config ...`` would train (no trainer run),
    and the checkpoint at ``ckpt_path`` (None without one).

    The check reads no data: the empty folder ``empty`` stands in for data_dir (no download).
    ``ckpt_path`` is read whole (allow-listed) and compared with the config BEFORE the build: a
    truncated file or a checkpoint of another group is one line, not a state_dict traceback."""
    import warnings

    from structured_ssl.experiments.lightning_cli import StructuredSSLCLI, silence_known_noise

    silence_known_noise()
    warnings.filterwarnings(
        "ignore", message=".*args parameter is intended to run from within Python.*"
    )
    args = [item for path in configs for item in ("--config", str(path))]
    args += [
        f"--data.init_args.data_dir={empty}",
        *overrides,
        "--trainer.logger=false",
        *ONE_CPU_PROCESS,
    ]

    class ModelOnlyCLI(StructuredSSLCLI):
        """The CLI's parsing and checks for a model that never reads its dataset."""

        reads_data_files = False

        checkpoint: dict[str, Any] | None = None

        def parse_arguments(self, parser: Any, args: Any) -> None:
            super().parse_arguments(parser, args)
            if ckpt_path:
                self.checkpoint = read_usable_checkpoint(ckpt_path, self.config.get("model"))

    cli = ModelOnlyCLI(
        SSLMethod,
        ImageDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        save_config_callback=None,
        run=False,
        args=args,
        auto_configure_optimizers=False,
    )
    return cli.model, cli.datamodule, cli.checkpoint


def read_usable_checkpoint(path: str, model_config: Any) -> dict[str, Any]:
    """The whole checkpoint at ``path``; exit 2 with one line unless it is complete,
    allow-listed and its model settings are the config's (the check ``fit --ckpt_path`` runs)."""
    from structured_ssl.experiments.resume_checks import check_against_config

    if not Path(path).is_file():
        raise SystemExit(
            _error(f"--ckpt_path={path!r} is not a file; expected a checkpoint written by fit")
        )
    try:
        return check_against_config(path, model_config, "check")
    except CheckpointError as error:
        raise SystemExit(_error(f"--{error}")) from None


def load_weights(model: torch.nn.Module, checkpoint: dict[str, Any]) -> None:
    """The weights of a checkpoint
    [`read_usable_checkpoint`][structured_ssl.experiments.check.read_usable_checkpoint] read (with
    the allow-list, on the CPU, its ``state_dict`` present) into ``model``."""

    state = checkpoint["state_dict"]
    drop_escnn_caches(model, state)
    model.load_state_dict(state, strict=True)


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr, flush=True)
    return 2


def check_config(
    configs: Sequence[str],
    ckpt_path: str | None = None,
    images: int = 8,
    seed: int = 0,
    overrides: Sequence[str] = (),
    name: str | None = None,
) -> CheckResult:
    """Build, (load), measure: one [`CheckResult`][structured_ssl.experiments.check.CheckResult]
    (``name``: default the config files)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="structured-ssl-check-") as empty:
        model, data, checkpoint = build_model(configs, overrides, empty, ckpt_path)
    if checkpoint is not None:
        load_weights(model, checkpoint)
    encoder = model.encoder
    # a group may state part of its bound on its own probe content, at elements beyond the
    # exact ones the online monitor checks on any data (SO(2): arbitrary angles, smooth images)
    plugin = encoder.group.plugin
    x = plugin.probe_images(data.channels, data.image_size, images, seed)
    rows = measure(encoder, x, [*checked_elements(encoder), *plugin.probe_only_elements()])
    bound = encoder.equivariance_bound()
    return CheckResult(
        name=name or " + ".join(Path(c).as_posix() for c in configs),
        group=encoder.group.short_name,
        architecture=(
            model.encoder_spec.architecture
            if model.encoder_spec is not None
            else f"{type(encoder).__module__}.{type(encoder).__qualname__}"  # the user's own
        ),
        structured=encoder.structured,
        image_size=data.image_size,
        bound=bound.describe() if bound else "none (structure-free)",
        rows=rows,
        passed=all(r.within(bound) for r in rows),
    )


def format_rows(result: CheckResult) -> str:
    lines = [
        f"{result.name}: {result.group}, {result.architecture}, "
        f"{'structured' if result.structured else 'structure-free twin'}, {result.image_size} px, bound {result.bound}",
        f"  {'element':>10}  {'lifted':>10}  {'fiber':>10}  {'no-shift':>10}",
    ]
    for r in result.rows:
        lines.append(
            f"  {str(r.element):>10}  {r.lifted:10.3g}  {r.fiber:10.3g}  {r.baseline:10.3g}"
        )
    lines.append(f"  {'PASS' if result.passed else 'FAIL: bound missed'}")
    return "\n".join(lines)


def markdown(results: Sequence[CheckResult]) -> str:
    """One row per config: the worst element against its bound (what docs/concepts/bounds.md shows)."""
    head = (
        "| config | group | architecture | image | worst lifted | worst fiber | no-shift (same g) | bound | ok |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
    )
    body = []
    for res in results:
        w = worst(res.rows)
        body.append(
            f"| `{res.name}` | {res.group} | {res.architecture}{'' if res.structured else ' (twin)'} | "
            f"{res.image_size} | {max(r.lifted for r in res.rows):.2g} | {w.fiber:.2g} | {w.baseline:.2g} | "
            f"{res.bound} | {('yes' if res.passed else 'NO') if res.structured else 'n/a'} |"
        )
    return head + "\n".join(body) + "\n"


def cell_jobs(args: argparse.Namespace) -> list[tuple[list[str], list[str], str]]:
    """(configs, overrides, name) of every cell ``--cells`` selects, composed as the grid does."""

    jobs = []
    for root in args.cells:
        try:
            cells = [
                c
                for c in offered_cells(root)
                if (args.objectives is None or c.objective in args.objectives)
                and (args.datasets is None or c.dataset in args.datasets)
            ]
            composed = [(c, c.arguments(root)) for c in cells]
        except CellError as error:
            raise SystemExit(_error(str(error))) from None
        jobs += [
            (
                [*configs, *args.overlay],
                list(overrides),
                f"{Path(root).as_posix()}/{c.dataset}/{c.name}",
            )
            for c, (configs, overrides) in composed
        ]
    return jobs


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="structured-ssl check", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--config",
        action="append",
        type=resolve_config,
        default=[],
        help="config file(s), composed in order as fit does",
    )
    parser.add_argument(
        "--each",
        nargs="+",
        type=resolve_config,
        default=[],
        help="check each of these configs on its own",
    )
    parser.add_argument(
        "--cells",
        type=resolve_config_root,
        nargs="+",
        default=None,
        help="check every cell these config roots' cells.yaml offer (e.g. configs configs/paper)",
    )
    parser.add_argument(
        "--objectives", nargs="+", default=None, help="with --cells: only these objectives"
    )
    parser.add_argument(
        "--datasets", nargs="+", default=None, help="with --cells: only these datasets"
    )
    parser.add_argument(
        "--overlay",
        action="append",
        type=resolve_config,
        default=[],
        help="composed after each --each config or cell",
    )
    parser.add_argument(
        "--ckpt_path", default=None, help="load these weights first (a trained encoder)"
    )
    parser.add_argument(
        "--images", type=int, default=8, help="probe images (smooth content in a centred disk)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", default=None, help="write the per-config table here")
    parser.add_argument(
        "--encoder",
        default=None,
        metavar="CLASS_PATH",
        help="measure your own encoder class (importable, satisfying the encoder contract) "
        "instead of the config's; its group must be the config's group",
    )
    parser.add_argument(
        "--encoder_init_args",
        default="{}",
        metavar="YAML",
        help="with --encoder: its init_args, e.g. '{order: 4}'",
    )
    args, overrides = parser.parse_known_args(argv)
    if args.encoder is not None:
        overrides.append(
            f"--model.init_args.encoder={{class_path: {args.encoder}, init_args: {args.encoder_init_args}}}"
        )
    if not args.config and not args.each and args.cells is None:
        parser.error(
            "give --config CONFIG (composable), --each CONFIG [CONFIG ...] or --cells ROOT"
        )
    if args.images < 1:
        parser.error(f"--images={args.images} must be >= 1")
    jobs: Sequence[tuple[list[str], list[str], str | None]] = (
        cell_jobs(args)
        if args.cells is not None
        else (
            [(list(args.config) + list(args.overlay), [], None)]
            if args.config
            else [([c, *args.overlay], [], None) for c in args.each]
        )
    )
    results = []
    for configs, cell_overrides, name in jobs:
        result = check_config(
            configs, args.ckpt_path, args.images, args.seed, [*cell_overrides, *overrides], name
        )
        print(format_rows(result), flush=True)
        results.append(result)
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(markdown(results))
        print(f"wrote {args.markdown}")
    failed = [r.name for r in results if not r.passed]
    if failed:
        print(
            f"bound missed in {len(failed)} of {len(results)} config(s): {', '.join(failed)}",
            file=sys.stderr,
        )
        raise SystemExit(1)


if __name__ == "__main__":
    main()
