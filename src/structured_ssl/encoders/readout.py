"""Classification read-outs: what a linear classifier sees of a lifted map ``(B, C, G, H, W)``.

The SSL losses read fibers of the lifted map; the paper classifies a different, invariant
vector, built per backbone (PAPER.md, "Architectures"):

* ``paper_mnist``: "one more conv (kernel 7, effective size 3, stride 2, no padding) gives
  128 dims" -- :class:`ConvReadout`;
* ``paper_cifar`` / ``paper_tiny``: "max-pool over the group axis, BN, ReLU, spatial average
  pool, BN -> 512 dims" -- :class:`BatchNormReadout`;
* the library's own read-out before this module, max over the group axis then mean over
  space, kept as ``readout: pool`` (:func:`structured_ssl.lifted.base.pool_invariant`, no parameters).

Where the paper's text is ambiguous (the appendix could not be retrieved here; PAPER.md is
the source), the choices made are:

* the MNIST classification conv is group-equivariant in the simplest exact way: one SESN-style
  filter (a 7x7 kernel spanned by the Hermite basis of effective size 3 at scale 1, as the
  backbone's convs) applied to every group slice, transformed by that slice's element where the
  element is a pixel-exact filter transform (C4 / D4: rot90 and flips, as the backbone's
  ``sesn_copies`` convs); scale and translation slices share the filter untransformed, which is
  what the input-lifted scale encoder does to each zoomed copy. The group slices are not mixed.
* BN (shared over the group axis) and ReLU follow that conv, as after every paper_mnist conv,
  then a max over the group axis and a mean over what space is left (1 x 1 on the 8 x 8 map).
  On an 8 x 8 map a 7 x 7 window with stride 2 and no padding reads rows/columns 0-6: the read
  -out is therefore not exactly rotation invariant (neither is the paper's, on its 8 x 8 map).
  Maps smaller than 7 use the largest odd kernel that fits. The head gives 128 dims whatever
  the backbone's width (the paper's 128; the shrunk ``small`` encoders end in 32 channels).
* The CIFAR chain's BNs are ``BatchNorm2d`` (per channel, over batch and space) then
  ``BatchNorm1d``, both with affine parameters.

Which parts train (as the paper's columns): a read-out belongs to the encoder (its weights are
saved, reloaded and frozen with it), but the SSL losses read fibers before it, and the online
probe reads it detached, so SSL objectives never move its weights (its BN statistics do follow
the training batches, in train mode). Supervised trains it end to end with the backbone. Frozen
keeps it at its random initialisation, in eval mode (BN statistics at their initial values).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from structured_ssl.groups.kit import LayerKit
from structured_ssl.lifted.hermite import hermite_basis, init_weight

Readout = Literal["pool", "paper", "conv", "bn_chain"]
READOUTS: tuple[str, ...] = ("pool", "paper", "conv", "bn_chain")
HEAD_KERNEL, HEAD_EFFECTIVE, HEAD_STRIDE, HEAD_DIM = 7, 3, 2, 128


def paper_readout_kind(architecture: str) -> str:
    """The paper's read-out for a backbone: the conv head on MNIST-sized backbones (also the
    ``small`` encoder, the MNIST stand-in), the BN chain on the ResNets."""
    return "bn_chain" if architecture in ("paper_cifar", "paper_tiny") else "conv"


class ConvReadout(nn.Module):
    """The paper's MNIST read-out: group-slice conv (k7, effective 3, stride 2, no padding),
    BN, ReLU, max over the group axis, mean over space -> ``(B, out_dim)``."""

    basis: torch.Tensor  # registered buffer (F, k, k)

    def __init__(
        self,
        in_channels: int,
        out_dim: int,
        map_size: int,
        filter_copies: Callable[[torch.Tensor], list[torch.Tensor]] | None = None,
    ) -> None:
        super().__init__()
        kernel = min(HEAD_KERNEL, map_size if map_size % 2 else map_size - 1)
        kernel = max(kernel, 1)
        effective = min(HEAD_EFFECTIVE, kernel)
        self.register_buffer("basis", hermite_basis(kernel, effective, (1.0,))[:, 0])  # (F, k, k)
        self.weight = init_weight((out_dim, in_channels, self.basis.shape[0]))
        # the group's pixel-exact filter copies, one per slice (C4 / D4: rot90 / flips), or
        # None: one filter shared by every slice (scale, translation, C_N with N != 4)
        self.filter_copies = filter_copies
        self.norm = nn.BatchNorm3d(out_dim)
        self.out_dim, self.kernel, self.effective = out_dim, kernel, effective

    def filters(self) -> torch.Tensor:
        return torch.einsum("oif,fyx->oiyx", self.weight, self.basis)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        b, c, g, h, w = z.shape
        kernel = self.filters()
        if self.filter_copies is None:  # one filter for every slice: one conv over (B G) images
            y = F.conv2d(z.transpose(1, 2).reshape(b * g, c, h, w), kernel, stride=HEAD_STRIDE)
            y = y.reshape(b, g, *y.shape[1:]).transpose(1, 2)
        else:
            y = torch.stack(
                [
                    F.conv2d(z[:, :, i], copy, stride=HEAD_STRIDE)
                    for i, copy in enumerate(self.filter_copies(kernel))
                ],
                dim=2,
            )
        return torch.relu(self.norm(y)).amax(dim=2).mean(dim=(-2, -1))

    def extra_repr(self) -> str:
        return f"k={self.kernel}, effective={self.effective}, stride={HEAD_STRIDE}, padding=0, out={self.out_dim}"


class BatchNormReadout(nn.Module):
    """The paper's CIFAR-10 / Tiny ImageNet read-out: max over the group axis, BN, ReLU,
    spatial average pool, BN -> ``(B, C)``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm_map, self.norm_vector = nn.BatchNorm2d(channels), nn.BatchNorm1d(channels)
        self.out_dim = channels

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.norm_vector(torch.relu(self.norm_map(z.amax(dim=2))).mean(dim=(-2, -1)))


def build_readout(
    kind: str, architecture: str, kit: LayerKit, channels: int, map_size: int
) -> nn.Module | None:
    """The read-out module ``kind`` names (None for ``pool``, which has no parameters)."""
    if kind not in READOUTS:
        raise ValueError(f"encoder.readout={kind!r}; expected one of {list(READOUTS)}")
    if kind == "paper":
        kind = paper_readout_kind(architecture)
    if kind == "pool":
        return None
    if kind == "conv":
        return ConvReadout(channels, HEAD_DIM, map_size, kit.filter_copies)
    return BatchNormReadout(channels)
