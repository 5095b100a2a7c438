"""What structure costs: escnn encoders against plain convolutions.

Forward+backward (training mode: escnn rebuilds every filter from its basis each call) of
the C8 and D4 encoders against a plain Conv2d encoder with the SAME number of channels and
one with the SAME number of parameters; and eval-mode inference of escnn (filters cached)
against its ``export()`` to plain torch modules.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from common import device, machine, table, time_it  # noqa: E402

from structured_ssl.encoders.factory import SMALL_KERNELS, SMALL_STRIDES  # noqa: E402
from structured_ssl.groups import Group  # noqa: E402
from structured_ssl.groups.kit import ConvLayers  # noqa: E402
from structured_ssl.groups.rotation.layers import RotationEncoder  # noqa: E402
from structured_ssl.groups.translation.layers import TranslationCNN  # noqa: E402


def train_step_seconds(module: torch.nn.Module, x: torch.Tensor) -> float:
    module.train()

    def step() -> None:
        module.zero_grad(set_to_none=True)
        module(x).float().sum().backward()

    return time_it(step)


def expansion_seconds(module: torch.nn.Module) -> float:
    """The part of a training step escnn spends rebuilding filters from the basis."""
    from escnn import nn as enn

    convs = [m for m in module.modules() if isinstance(m, enn.R2Conv)]
    module.train()

    def step() -> None:
        module.zero_grad(set_to_none=True)
        total = sum(conv.expand_parameters()[0].sum() for conv in convs)
        total.backward()

    return time_it(step)


def eval_seconds(module: torch.nn.Module, x: torch.Tensor) -> float:
    module.eval()
    with torch.no_grad():
        return time_it(lambda: module(x))


def params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def small_layers(widths: tuple[int, ...]) -> ConvLayers:
    """The ``small`` encoder's kernels and strides with these widths."""
    return ConvLayers(widths, SMALL_KERNELS, SMALL_STRIDES)


def matched_plain(target: int, widths: tuple[int, ...]) -> TranslationCNN:
    """Plain CNN whose widths are scaled to match ``target`` parameters."""
    best = None
    for scale in [s / 20 for s in range(1, 200)]:
        candidate = tuple(max(1, round(w * scale)) for w in widths)
        cnn = TranslationCNN(1, Group("translation"), small_layers(candidate))
        if best is None or abs(params(cnn) - target) < abs(params(best) - target):
            best = cnn
    return best


def main() -> None:
    dev = device()
    x = torch.rand(128, 1, 21, 21, device=dev)
    rows = []
    for group in (Group("rotation", 8), Group("dihedral", 4)):
        widths = (8, 16, 32)
        escnn_encoder = RotationEncoder(1, group, small_layers(widths)).to(dev)
        channels = tuple(w * group.size for w in widths)
        same_channels = TranslationCNN(1, Group("translation"), small_layers(channels)).to(dev)
        same_params = matched_plain(params(escnn_encoder), channels).to(dev)
        exported = escnn_encoder.export_plain().to(dev)
        t_escnn = train_step_seconds(escnn_encoder, x)
        rows.append(
            [
                group.short_name,
                "escnn (train: filter expansion each call)",
                params(escnn_encoder),
                f"{t_escnn * 1000:.0f}",
                "1.00",
            ]
        )
        for name, module in (
            ("plain Conv2d, same channels", same_channels),
            ("plain Conv2d, same params", same_params),
        ):
            t = train_step_seconds(module, x)
            rows.append(
                [group.short_name, name, params(module), f"{t * 1000:.0f}", f"{t / t_escnn:.2f}"]
            )
        t_expand = expansion_seconds(escnn_encoder)
        rows.append(
            [
                group.short_name,
                "  of which: filter expansion (fwd+bwd, all R2Convs)",
                "-",
                f"{t_expand * 1000:.0f}",
                f"{t_expand / t_escnn:.2f}",
            ]
        )
        t_eval = eval_seconds(escnn_encoder, x)
        t_export = eval_seconds(exported, x)
        rows.append(
            [
                group.short_name,
                "escnn eval forward (cached filters)",
                params(escnn_encoder),
                f"{t_eval * 1000:.0f}",
                "-",
            ]
        )
        rows.append(
            [
                group.short_name,
                "escnn export() eval forward",
                params(escnn_encoder),
                f"{t_export * 1000:.0f}",
                f"{t_export / t_eval:.2f} of eval",
            ]
        )
    print(f"## Cost of structure: encoder forward+backward, batch 128, 21x21\n{machine()}\n")
    print(table(["group", "encoder", "params", "ms", "ratio"], rows))


if __name__ == "__main__":
    main()
