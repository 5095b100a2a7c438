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
* Every layer comes from the group's layer kit (``groups/kit.py``): this module knows the
  architectures, never a group.
* Rotations: by default the paper's SESN construction, one filter copied at every element of
  C4 / D4 (``groups/rotation/rot90_conv.py``); ``rotation_conv="escnn"`` builds escnn's full group conv
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
from typing import TYPE_CHECKING

import torch
from torch import nn

from structured_ssl.encoders.cnn import UnstructuredCNN, UnstructuredMLP, mlp_cell_pixels
from structured_ssl.encoders.paper_layers import ROTATION_CONVS, BasicBlock, conv_bn_relu
from structured_ssl.groups.kit import LayerKit, LayerOptions
from structured_ssl.groups.spec import Group
from structured_ssl.groups.translation.layers import ShiftAction
from structured_ssl.lifted.base import LiftedEncoder
from structured_ssl.lifted.contract import GroupAction
from structured_ssl.lifted.plain import pad_to_multiple

if TYPE_CHECKING:
    from structured_ssl.encoders.factory import EncoderSpec

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
    kit: LayerKit, in_channels: int, layout: ResNetLayout, out_scale: int = 1
) -> nn.Sequential:
    """The paper's ResNet body; ``out_scale`` widens the last block's output (the twins)."""
    layers: list[nn.Module] = [
        conv_bn_relu(kit, in_channels, 32, 7, 1, True, effective=7),
        conv_bn_relu(kit, 32, 64, 7, 1, False),
    ]
    current = 64
    for stage, (width, blocks, stride) in enumerate(
        zip(layout.widths, layout.blocks, layout.strides, strict=True)
    ):
        for b in range(blocks):
            last = stage == len(layout.widths) - 1 and b == blocks - 1
            cout = width * out_scale if last else width
            layers.append(BasicBlock(kit, current, cout, stride if b == 0 else 1, hidden=width))
            current = cout
    return nn.Sequential(*layers)


def paper_mnist_net(kit: LayerKit, in_channels: int) -> nn.Sequential:
    """paper_mnist's three convs (32, 64, 128; kernels 11, 7, 7; strides 1, 2, 2)."""
    first, second, third = kit.paper_mnist_effective_sizes  # Hermite orders per conv
    return nn.Sequential(
        conv_bn_relu(kit, in_channels, 32, 11, 1, True, effective=first),
        conv_bn_relu(kit, 32, 64, 7, 2, False, effective=second),
        conv_bn_relu(kit, 64, 128, 7, 2, False, effective=third),
    )


def plain_kit(group: Group) -> LayerKit:
    """Plain convolutions (zero padding), whatever the group: the twins' and the input-lifted
    scale encoder's networks."""
    plain = dataclasses.replace(group, kind="translation", options=None)
    return plain.layer_kit(LayerOptions(padding_mode="zeros"))


class PaperEncoder(LiftedEncoder):
    """A paper backbone built from ``kit`` (the group's layers); output ``(B, C, |G|, H', W')``."""

    def __init__(
        self,
        in_channels: int,
        group: Group,
        kit: LayerKit,
        architecture: str,
        padding_mode: str = "circular",
    ) -> None:
        super().__init__()
        self.group, self.kit = group, kit
        self.padding_mode = padding_mode
        if architecture == "paper_mnist":
            self.net = paper_mnist_net(kit, in_channels)
            self.out_channels = 128
        else:
            self.net = resnet(kit, in_channels, RESNETS[architecture])
            self.out_channels = RESNETS[architecture].widths[-1]
        self.stride = math.prod(layer_strides(architecture))
        self.action = kit.action(in_channels, self.out_channels, self.stride)

    @property
    def cell_pixels(self) -> int:
        return self.stride if not self.group.has_group_axis else 1

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        if not self.group.has_group_axis and self.padding_mode == "circular":
            # translation: a canvas the circular convs shift exactly on
            x = pad_to_multiple(x, self.stride)
        return self.kit.lift(self.net, x)


class PaperResNetTwin(LiftedEncoder):
    """Table 2 twin of a paper ResNet: plain convs, the last block |G| times wider, its
    ``C |G|`` output channels read as |G| fake fibers. It claims ``action``, the structured
    encoder's group action, so the equivariance metric can show the claim is false."""

    structured = False

    def __init__(
        self, in_channels: int, group: Group, architecture: str, action: GroupAction
    ) -> None:
        super().__init__()
        self.group = group
        layout = RESNETS[architecture]
        self.out_channels = layout.widths[-1]
        self.net = resnet(plain_kit(group), in_channels, layout, out_scale=group.size)
        self.action = action

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)[:, :, 0].unflatten(1, (self.out_channels, self.group.size))


def build_paper_encoder(
    spec: EncoderSpec, group: Group, kit: LayerKit, in_channels: int, image_size: int
) -> LiftedEncoder:
    """The paper backbone, or (``structured=False``) its Table 2 structure-free twin."""
    if spec.architecture not in PAPER_ARCHITECTURES:
        raise ValueError(
            f"encoder.architecture={spec.architecture!r}; expected one of {list(PAPER_ARCHITECTURES)}"
        )
    rotation_conv = spec.rotation_conv or "sesn_copies"
    if rotation_conv not in ROTATION_CONVS:
        raise ValueError(
            f"encoder.rotation_conv={rotation_conv!r}; expected one of {list(ROTATION_CONVS)}"
        )
    if spec.structured:
        kit.check_paper()  # before any layer is built
        if kit.input_lift is not None:  # scale: one plain network on the zoomed inputs
            plain = plain_kit(group)
            if spec.architecture == "paper_mnist":
                return kit.input_lift(paper_mnist_net(plain, in_channels), 128)
            layout = RESNETS[spec.architecture]
            return kit.input_lift(resnet(plain, in_channels, layout), layout.widths[-1])
        return PaperEncoder(in_channels, group, kit, spec.architecture, spec.padding_mode)
    if not group.has_group_axis:
        # Table 2: MLP (input, 1024, 2048), output read as 16 fake fibers of 128 (a 4x4 grid)
        shift = ShiftAction(mlp_cell_pixels(image_size, 4))  # its fake cells, shifted
        return UnstructuredMLP(
            in_channels, group, image_size, shift, out_channels=128, grid=4, hidden=(1024,)
        )
    # it claims what the structured encoder has
    width = 128 if spec.architecture == "paper_mnist" else RESNETS[spec.architecture].widths[-1]
    action = kit.action(in_channels, width, 1)
    if spec.architecture == "paper_mnist":
        # Table 2: the same 3-conv CNN with a |G| times wider last conv read as a fake group axis
        return UnstructuredCNN(
            in_channels, group, action, out_channels=128, widths=(32, 64), kernel_sizes=(11, 7, 7)
        )
    return PaperResNetTwin(in_channels, group, spec.architecture, action)
