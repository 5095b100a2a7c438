"""The layer kit: the layers a group hands to the group-agnostic architectures.

The architectures in ``structured_ssl.encoders`` (the ``small`` encoder, the paper backbones,
the read-outs, the twins) are written once for every group. They receive a
[`LayerKit`][structured_ssl.groups.kit.LayerKit] built once by the group (``Group.layer_kit``), as
timm's blocks receive ``norm_layer`` and ``act_layer``: its members make the group's layers, and the
architecture never calls back into the group's plug-in. A plug-in builds its kit from its own layers
(``groups/<kind>/``), with the encoder settings that choose among them
([`LayerOptions`][structured_ssl.groups.kit.LayerOptions]) bound in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    import torch
    from torch import nn

    from structured_ssl.lifted.base import LiftedEncoder
    from structured_ssl.lifted.contract import GroupAction


#: Total downsampling of each architecture's stride-s layers (paper_tiny has a fourth stage):
#: what decides the image sizes at which rotations stay exact (the groups' size checks).
TOTAL_STRIDES = {"small": 4, "paper_mnist": 4, "paper_cifar": 4, "paper_tiny": 8}


@dataclass(frozen=True)
class LayerOptions:
    """The encoder settings that choose among a group's layers (``EncoderSpec``'s).

    Args:
        rotation_conv: paper backbones' rotation convs, "sesn_copies" or "escnn".
        scale_lifting: scale encoders lift their "input" or use "sesn" convs in every layer.
        padding_mode: the translation / roto-translation convs' padding ("circular", "zeros").
    """

    rotation_conv: Literal["sesn_copies", "escnn"] = "sesn_copies"
    scale_lifting: Literal["input", "sesn"] = "input"
    padding_mode: str = "circular"


@dataclass(frozen=True)
class ConvLayers:
    """A conv stack, one entry per layer (padding ``k // 2``): what the groups' encoders take as
    one argument. The defaults are the ``small`` encoder's."""

    widths: tuple[int, ...] = (8, 16, 32)
    kernel_sizes: tuple[int, ...] = (5, 3, 3)
    strides: tuple[int, ...] = (1, 2, 2)


#: the ``small`` encoder's layers: the groups' encoders' default.
SMALL_LAYERS = ConvLayers()


@dataclass(frozen=True)
class SmallLayout:
    """The ``small`` encoder's layers, one entry per layer: what every group's
    ``build_small`` reads (one object, so the plug-ins do not each restate the list)."""

    in_channels: int
    widths: tuple[int, ...]
    kernel_sizes: tuple[int, ...]
    strides: tuple[int, ...]

    @property
    def layers(self) -> ConvLayers:
        """The layers without the input channels: what the groups' encoders take."""
        return ConvLayers(self.widths, self.kernel_sizes, self.strides)


@dataclass(frozen=True)
class ConvShape:
    """One paper-backbone convolution (``lifting``: from images), padding ``k // 2``:
    what every group's ``paper_conv`` reads. ``effective_size`` is the Hermite order of
    groups whose filters are a basis expansion (scale), ignored by the others."""

    in_channels: int
    out_channels: int
    kernel_size: int
    stride: int
    lifting: bool
    effective_size: int = 3


class ActionFor(Protocol):
    """The group action an encoder with these widths has (or, a twin, claims); ``cell_pixels``
    is the pixel size of a fiber cell where fibers are spatial cells."""

    def __call__(self, in_channels: int, out_channels: int, cell_pixels: int) -> GroupAction: ...


def _nothing() -> None:
    """No paper-backbone setting to reject."""


@dataclass(frozen=True)
class LayerKit:
    """What an architecture may ask of a group, made once per encoder.

    Args:
        small_widths: the ``small`` encoder's default widths for this group.
        small: the structured ``small`` encoder.
        conv: the paper backbones' group convolution (a module; `conv_forward` applies it
            to the lifted layout ``(B, C, G, H, W)``, or to images when lifting).
        conv_forward: ``(conv, x, lifting) -> lifted map``.
        lift: ``(backbone, images) -> lifted map``: the whole paper backbone on images (scale
            subtracts the empty canvas' response).
        action: the group action of an encoder, or the one its twin claims.
        paper_mnist_effective_sizes: Hermite orders of paper_mnist's three convs.
        input_lift: ``(plain network, out_channels) -> encoder`` for a group whose encoder lifts
            its INPUT (scale's default); None: the layer-wise route.
        filter_copies: ``kernel -> one copy per group element`` for the read-out conv, where
            each element is a pixel-exact filter transform (C4 / D4); None: one shared filter.
        check_paper: rejects paper-backbone settings the group cannot build (one line).
    """

    small_widths: tuple[int, ...]
    small: Callable[[SmallLayout], LiftedEncoder]
    conv: Callable[[ConvShape], nn.Module]
    conv_forward: Callable[[nn.Module, torch.Tensor, bool], torch.Tensor]
    lift: Callable[[nn.Module, torch.Tensor], torch.Tensor]
    action: ActionFor
    paper_mnist_effective_sizes: tuple[int, int, int] = (11, 3, 3)
    input_lift: Callable[[nn.Module, int], LiftedEncoder] | None = None
    filter_copies: Callable[[torch.Tensor], list[torch.Tensor]] | None = None
    check_paper: Callable[[], None] = _nothing
