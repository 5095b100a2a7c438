"""The paper's backbones (PAPER.md, "Architectures"), in rotation, scale and translation form.

* ``paper_mnist``: 3 convs, channels (32, 64, 128), kernels (11, 7, 7), strides (1, 2, 2),
  padding (5, 3, 3), no bias, BN + ReLU. On our 29x29 MNIST z is ``(128, |G|, 8, 8)`` as in
  the paper.
* ``paper_cifar``: lifting conv (k7; the paper's 9 channels, we use 32) -> conv k7 (effective
  3) to 64 -> 3 stages of 3 basic blocks (128, 256, 512), strides (1, 2, 2); ``paper_tiny``:
  4 stages of 2 blocks (64, 128, 256, 512), strides (1, 2, 2, 2). Padding is ``k // 2``
  everywhere ("same"; the paper does not state its padding), so the last map is 9x9 on the
  33x33 CIFAR-10 and 65x65 Tiny ImageNet canvases that keep rotations exact (the paper's 7x7
  and 4x4 differ).
* Rotations: by default the paper's SESN construction, one filter copied at every element of
  C4 / D4 (``rot90_conv.py``); ``rotation_conv="escnn"`` builds escnn's full group conv
  (orientations mixed: 2.7x the parameters of paper_cifar, |G|x the conv FLOPs).
* Exact rotation sizes: ``side = 1 (mod 2^s)`` for ``s`` stride-2 layers
  (``paper_layers.exact_rotation_size``): 29, 33, ... for paper_mnist and paper_cifar (s=2),
  57, 65, ... for paper_tiny (s=3).
* Table 2's structure-free twins (``structured=False``): translation, the MLP (input, 1024,
  2048) read as 16 fake fibers of 128; rotation and scale, the same network with plain
  convolutions and a |G| times wider output read as a fake group axis (paper_mnist: its last
  conv; the ResNets: their last block's output).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from structured_ssl.encoders.base import Element, LiftedEncoder, group_action
from structured_ssl.encoders.cnn import (
    ClaimsStructuredAction,
    UnstructuredCNN,
    UnstructuredMLP,
    pad_to_multiple,
)
from structured_ssl.encoders.paper_layers import (
    ROTATION_CONVS,
    BasicBlock,
    RotationConv,
    conv_bn_relu,
)

if TYPE_CHECKING:
    from structured_ssl.groups import Group  # a type only: the groups import the encoders

PAPER_ARCHITECTURES = ("paper_mnist", "paper_cifar", "paper_tiny")


@dataclass(frozen=True)
class ResNetLayout:
    widths: tuple[int, ...]
    blocks: tuple[int, ...]
    strides: tuple[int, ...]


RESNETS = {
    "paper_cifar": ResNetLayout((128, 256, 512), (3, 3, 3), (1, 2, 2)),
    "paper_tiny": ResNetLayout((64, 128, 256, 512), (2, 2, 2, 2), (1, 2, 2, 2)),
}
MNIST_STRIDES = (1, 2, 2)


def layer_strides(architecture: str) -> tuple[int, ...]:
    """The strides an input meets, in order (what decides the exact rotation sizes)."""
    if architecture == "paper_mnist":
        return MNIST_STRIDES
    layout = RESNETS[architecture]
    return (1, 1, *layout.strides)


def resnet(
    group: Group, in_channels: int, layout: ResNetLayout, out_scale: int = 1, **options
) -> nn.Sequential:
    """The paper's ResNet body; ``out_scale`` widens the last block's output (the twins)."""
    layers: list[nn.Module] = [
        conv_bn_relu(group, in_channels, 32, 7, 1, True, effective=7, **options),
        conv_bn_relu(group, 32, 64, 7, 1, False, **options),
    ]
    current = 64
    for stage, (width, blocks, stride) in enumerate(
        zip(layout.widths, layout.blocks, layout.strides, strict=True)
    ):
        for b in range(blocks):
            last = stage == len(layout.widths) - 1 and b == blocks - 1
            cout = width * out_scale if last else width
            layers.append(
                BasicBlock(group, current, cout, stride if b == 0 else 1, hidden=width, **options)
            )
            current = cout
    return nn.Sequential(*layers)


class PaperEncoder(LiftedEncoder):
    """A paper backbone for ``group``; output ``(B, C, |G|, H', W')``."""

    def __init__(
        self,
        in_channels: int,
        group: Group,
        architecture: str,
        rotation_conv: RotationConv = "sesn_copies",
        padding_mode: str = "circular",
    ) -> None:
        super().__init__()
        self.group = group
        self.padding_mode = padding_mode
        options: dict[str, Any] = {"rotation_conv": rotation_conv, "padding_mode": padding_mode}
        if architecture == "paper_mnist":
            first, second, third = (
                group.plugin.paper_mnist_effective_sizes
            )  # Hermite orders per conv
            self.net = nn.Sequential(
                conv_bn_relu(group, in_channels, 32, 11, 1, True, effective=first, **options),
                conv_bn_relu(group, 32, 64, 7, 2, False, effective=second, **options),
                conv_bn_relu(group, 64, 128, 7, 2, False, effective=third, **options),
            )
            self.out_channels = 128
        else:
            self.net = resnet(group, in_channels, RESNETS[architecture], **options)
            self.out_channels = RESNETS[architecture].widths[-1]
        self.stride = math.prod(layer_strides(architecture))
        self.action = (
            group_action(group, in_channels, self.out_channels) if group.has_group_axis else None
        )

    @property
    def cell_pixels(self) -> int:
        return self.stride

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        if self.action is None and self.padding_mode == "circular":
            x = pad_to_multiple(
                x, self.stride
            )  # translation: a canvas the circular convs shift exactly on
        return self.group.plugin.paper_lift(self.net, x)

    def transform_input(self, x: torch.Tensor, g: Element) -> torch.Tensor:
        if self.action is None:
            dy, dx = g
            return torch.roll(x, shifts=(dy * self.stride, dx * self.stride), dims=(-2, -1))
        return self.action.transform_input(x, g)

    def transform_output(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        if self.action is None:
            return torch.roll(z, shifts=tuple(g), dims=(-2, -1))
        return self.action.transform_output(z, g)

    def comparable(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        compare = getattr(self.action, "comparable", None)
        return compare(z, g) if compare else z


class PaperResNetTwin(ClaimsStructuredAction):
    """Table 2 twin of a paper ResNet: plain convs, the last block |G| times wider, its
    ``C |G|`` output channels read as |G| fake fibers. It claims the structured encoder's
    group action, so the equivariance metric can show the claim is false."""

    structured = False

    def __init__(self, in_channels: int, group: Group, architecture: str) -> None:
        super().__init__()
        self.group = group
        layout = RESNETS[architecture]
        self.out_channels = layout.widths[-1]
        plain = dataclasses.replace(
            group, kind="translation", options=None
        )  # plain convs, whatever the group
        self.net = resnet(plain, in_channels, layout, out_scale=group.size)
        self.claimed_action = group_action(group, in_channels, self.out_channels)

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)[:, :, 0].unflatten(1, (self.out_channels, self.group.size))


def build_paper_encoder(spec, group: Group, in_channels: int, image_size: int) -> LiftedEncoder:
    """The paper backbone, or (``structured=False``) its Table 2 structure-free twin."""
    if spec.architecture not in PAPER_ARCHITECTURES:
        raise ValueError(
            f"encoder.architecture={spec.architecture!r}; expected one of {list(PAPER_ARCHITECTURES)}"
        )
    rotation_conv = getattr(spec, "rotation_conv", None) or "sesn_copies"
    if rotation_conv not in ROTATION_CONVS:
        raise ValueError(
            f"encoder.rotation_conv={rotation_conv!r}; expected one of {list(ROTATION_CONVS)}"
        )
    conv: RotationConv = "escnn" if rotation_conv == "escnn" else "sesn_copies"
    if spec.structured:
        group.plugin.check_paper_settings(rotation_conv)  # before any layer is built
        whole = group.plugin.build_whole_encoder(
            spec, in_channels, image_size
        )  # e.g. scale's input lift
        if whole is not None:
            return whole
        return PaperEncoder(in_channels, group, spec.architecture, conv, spec.padding_mode)
    if not group.has_group_axis:
        # Table 2: MLP (input, 1024, 2048), output read as 16 fake fibers of 128 (a 4x4 grid)
        return UnstructuredMLP(
            in_channels, group, image_size, out_channels=128, grid=4, hidden=(1024,)
        )
    twin: UnstructuredCNN | PaperResNetTwin
    if spec.architecture == "paper_mnist":
        # Table 2: the same 3-conv CNN with a |G| times wider last conv read as a fake group axis
        twin = UnstructuredCNN(
            in_channels, group, out_channels=128, widths=(32, 64), kernel_sizes=(11, 7, 7)
        )
    else:
        twin = PaperResNetTwin(in_channels, group, spec.architecture)
    twin.claimed_action = group.plugin.twin_action(
        spec, in_channels, twin.out_channels
    )  # what the structured one has
    return twin
