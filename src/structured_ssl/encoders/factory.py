"""Build an encoder from plain settings: the group plus an :class:`EncoderSpec`.

Plain settings (not escnn objects) are what the CLI parses and what checkpoints store, so a
model can be rebuilt anywhere (escnn modules do not pickle).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from structured_ssl.encoders.cnn import UnstructuredCNN, UnstructuredMLP, mlp_cell_pixels
from structured_ssl.encoders.paper import build_paper_encoder
from structured_ssl.encoders.readout import READOUTS, Readout, build_readout
from structured_ssl.groups.kit import LayerKit, LayerOptions
from structured_ssl.groups.spec import Group
from structured_ssl.groups.translation.layers import ShiftAction
from structured_ssl.lifted.base import LiftedEncoder
from structured_ssl.lifted.plain import conv_stack

Architecture = Literal["small", "paper_mnist", "paper_cifar", "paper_tiny"]
SCALE_LIFTINGS: tuple[str, ...] = ("input", "sesn")
"""Scale encoders: lift by zooming the input (default) or SESN scale convs in every layer
(``groups/scale/pyramid.py`` says why the default)."""


@dataclass(frozen=True)
class EncoderSpec:
    """Which encoder to build.

    Args:
        architecture: "small" (3 layers, sized for the 21x21 embedded digits), or the
            paper's backbones "paper_mnist", "paper_cifar" (ResNet, 3x3 blocks),
            "paper_tiny" (ResNet, 4x2 blocks); see ``encoders/paper.py``.
        structured: True builds the group's equivariant encoder; False its structure-free
            twin of matched parameter count (fake fibers), the paper's ablation.
        widths: channels (or regular fields) per layer; None uses the architecture's default.
        kernel_sizes: per-layer kernel sizes of the ``small`` rotation/translation encoders
            (default 5/3/3: an 11 px receptive field; 11/7/7 gives the paper's 29 px).
        padding_mode: "circular" (default) or "zeros", translation CNNs only. Circular padding
            on a canvas padded to a multiple of the total stride makes shifts by whole cells
            exact whatever the weights; zero padding lets training use absolute position and
            break the structure H-SSL reads (measured: error 0.08 at init, 0.4-1.0 trained).
        rotation_conv: paper backbones' rotation layers: "sesn_copies" (the paper's SESN
            construction, one filter copied at each C4 / D4 element; the default) or "escnn"
            (escnn's full group conv, orientations mixed, ~2.7x parameters). The "small"
            encoder always uses escnn.
        scale_lifting: how scale encoders lift: "input" (default: one plain network on the
            image zoomed to each scale, ``groups/scale/pyramid.py``; exact up to
            interpolation whatever the weights, so training cannot break it) or "sesn" (the
            paper's SESN scale convs in every layer: within the bound at init for the 3-layer
            encoders, not after training, and not at ResNet depth).
        readout: what classifiers read (``encoders/readout.py``): "pool" (max over the group
            axis, mean over space; no parameters), "paper" (the paper's read-out of the
            architecture: the conv head on paper_mnist and small, the BN chain on the ResNets),
            or "conv" / "bn_chain" by name. Saved and reloaded with the encoder's weights.
    """

    architecture: Architecture = "small"
    structured: bool = True
    widths: tuple[int, ...] | None = None
    padding_mode: Literal["circular", "zeros"] = "circular"
    kernel_sizes: tuple[int, ...] | None = None
    rotation_conv: Literal["sesn_copies", "escnn"] | None = None
    scale_lifting: Literal["input", "sesn"] | None = None
    readout: Readout = "pool"

    def __post_init__(self) -> None:
        if self.widths is not None:
            widths = tuple(self.widths)
            wrong_count = self.architecture == "small" and len(widths) != len(SMALL_STRIDES)
            if (
                wrong_count
                or not widths
                or any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in widths)
            ):
                raise ValueError(
                    f"encoder.widths={list(widths)} is not allowed: expected positive integers (channels or "
                    f"fields per layer; {len(SMALL_STRIDES)} for architecture 'small'), or null for the architecture's default"  # noqa: E501
                )
            object.__setattr__(self, "widths", widths)
        if self.readout not in READOUTS:
            raise ValueError(f"encoder.readout={self.readout!r}; expected one of {list(READOUTS)}")
        if self.scale_lifting not in (None, *SCALE_LIFTINGS):
            raise ValueError(
                f"encoder.scale_lifting={self.scale_lifting!r}; expected one of {list(SCALE_LIFTINGS)}"
            )
        if self.kernel_sizes is None:
            return
        kernels = tuple(int(k) for k in self.kernel_sizes)
        if (
            self.architecture != "small"
            or len(kernels) != len(SMALL_STRIDES)
            or any(k < 1 or k % 2 == 0 for k in kernels)
        ):
            raise ValueError(
                f"encoder.kernel_sizes={list(kernels)}: allowed only with architecture 'small', as "
                f"{len(SMALL_STRIDES)} odd sizes (one per layer; odd keeps the grid centred), e.g. [11, 7, 7]"
            )
        object.__setattr__(self, "kernel_sizes", kernels)


SMALL_KERNELS = (5, 3, 3)
SMALL_STRIDES = (1, 2, 2)


def layer_options(spec: EncoderSpec) -> LayerOptions:
    """The settings of ``spec`` that choose among a group's layers (the kit's options)."""
    return LayerOptions(
        rotation_conv="escnn" if spec.rotation_conv == "escnn" else "sesn_copies",
        scale_lifting="sesn" if spec.scale_lifting == "sesn" else "input",
        padding_mode=spec.padding_mode,
    )


def build_encoder(
    spec: EncoderSpec, group: Group, in_channels: int, image_size: int
) -> LiftedEncoder:
    """The encoder the spec names, for images of ``in_channels`` x ``image_size``^2, with its
    classification read-out (``spec.readout``) attached as ``encoder.readout``. The group makes
    its layer kit once (``Group.layer_kit``); the architectures build from it."""
    kit = group.layer_kit(layer_options(spec))
    encoder = _build_backbone(spec, group, kit, in_channels, image_size)
    if spec.readout != "pool":
        readout = build_readout(
            spec.readout,
            spec.architecture,
            kit,
            encoder.out_channels,
            _output_grid(encoder, in_channels, image_size),
        )
        if readout is not None:
            encoder.readout = readout
    return encoder


def _build_backbone(
    spec: EncoderSpec, group: Group, kit: LayerKit, in_channels: int, image_size: int
) -> LiftedEncoder:
    if spec.architecture.startswith("paper_"):
        return build_paper_encoder(spec, group, kit, in_channels, image_size)
    if spec.architecture != "small":
        raise ValueError(
            f"encoder.architecture={spec.architecture!r}; expected 'small' or a paper_* architecture"
        )
    if spec.rotation_conv not in (None, "escnn"):
        raise ValueError(
            f"encoder.rotation_conv={spec.rotation_conv!r}: the 'small' encoder supports only 'escnn'"
        )
    widths = tuple(spec.widths or kit.small_widths)  # each group's default widths
    kernels = spec.kernel_sizes or SMALL_KERNELS
    structured: LiftedEncoder
    if kit.input_lift is not None:  # scale: one plain network on the zoomed inputs
        net = conv_stack(in_channels, widths, kernels, SMALL_STRIDES)
        structured = kit.input_lift(net, widths[-1])
    else:
        structured = kit.small(in_channels, widths, kernels, SMALL_STRIDES)
    if spec.structured:
        return structured
    return build_unstructured_twin(structured, group, kit, in_channels, image_size)


def build_unstructured_twin(
    structured: LiftedEncoder, group: Group, kit: LayerKit, in_channels: int, image_size: int
) -> LiftedEncoder:
    """A non-equivariant encoder with the same lifted output shape and about the same
    number of parameters as ``structured`` (hidden widths searched to match). One recipe for
    every group: fake fibers on the group axis, or (no group axis) a fake spatial grid. It
    claims the structured encoder's action (a fake grid: a shift by its own cells)."""
    target = structured.num_parameters()
    channels = structured.out_channels
    if not group.has_group_axis:
        grid = _output_grid(structured, in_channels, image_size)
        shift = ShiftAction(mlp_cell_pixels(image_size, grid))  # its fake cells, shifted

        def make(hidden: int) -> LiftedEncoder:
            return UnstructuredMLP(
                in_channels, group, image_size, shift, channels, grid, hidden=(hidden,)
            )
    else:
        kit.action(in_channels, channels, 1)  # a group without a twin (SO(2)) says so here

        def make(hidden: int) -> LiftedEncoder:
            return UnstructuredCNN(
                in_channels, group, structured.action, channels, widths=(hidden, 2 * hidden)
            )

    # parameter count grows with the hidden width: bisect for the closest match
    low, high = 1, 512
    while high - low > 1:
        mid = (low + high) // 2
        if make(mid).num_parameters() <= target:
            low = mid
        else:
            high = mid
    counts = {h: make(h).num_parameters() for h in (low, high)}
    return make(min(counts, key=lambda h: abs(counts[h] - target)))


def _output_grid(encoder: LiftedEncoder, in_channels: int, image_size: int) -> int:
    was_training = encoder.training
    with torch.no_grad():
        out = encoder.eval()(torch.zeros(1, in_channels, image_size, image_size))
    encoder.train(was_training)
    return int(out.shape[-1])
