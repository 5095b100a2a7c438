"""Steerable scale convolutions (SESN, Sosnovik et al., ICLR 2020), in plain torch.

escnn has no scale group, so the scale backbones are built here. The idea of SESN: every
kernel is a learned combination of a FIXED basis of Hermite-Gaussian functions, and the basis
is sampled once per scale s, dilated by s. The same weights therefore give the scale-s
kernel for every s, and zooming the input out by a ratio of two scales moves the output
along the scale axis (up to discretisation: pixels, finite kernels, strides).

Layout: scale-lifted maps are ``(batch, channels, scale, height, width)``, the project's
lifted layout (``lifted/base.py``).

Basis (SESN "type A" with two changes, both measured on the fiber maps H-SSL reads):

    psi_nm^s(y, x) = He_n(y / r) He_m(x / r) exp(-(y^2 + x^2) / (2 r^2)) / r^2,  r = envelope * s

* ``He_n`` are the probabilists' Hermite polynomials; ``n, m < effective_size``, so there are
  ``effective_size**2`` functions (function index ``f = n * effective_size + m``, n along
  height, m along width).
* The Gaussian's width is ``envelope * s`` pixels of the layer's own grid, sampled at integer
  offsets of the whole ``k x k`` grid at EVERY scale. Amplitude ``1 / r^2`` keeps the L1 mass
  of the dilated function constant, so a zoomed-out image gives the same response VALUES at
  the matching smaller scale. Each function is divided by its L2 norm at the smallest scale
  (one constant per function, shared by all scales, so dilation is preserved).
* SESN cuts scale s to a centred window of odd size ``int(k * s / max(scales)) // 2 * 2 + 1``.
  Rounding to odd sizes does not dilate (k=7, the paper's scales: windows 5,5,5,7,7,7, the
  Gaussian cut between 1.9 and 2.5 sigma). Here every scale uses the whole kernel, so only
  the (scale-independent) kernel edge truncates; with it, larger kernels for the largest
  scale and Hermite orders (3, 2, 2) the `small` fiber error fell from 0.27-0.47 to 0.04-0.07
  (``benchmarks/scale_design_sweep.py``).
* ``envelope=1.0`` is SESN's width (scale value = sigma in pixels). The encoders use 0.75:
  with 7x7 kernels after a stride it keeps the largest scale inside the kernel (2.3 sigma)
  while the smallest (0.75 px) is still sampled well enough; 0.6 and 1.0 both measured worse.

How equivariant (``structured_ssl.groups.scale.equivariance``, ``benchmarks/scale_equivariance.py``):
whole encoders on the space-pooled fibers, the paper's scale span on a geometric grid, reach
0.02-0.04 (one and two scale steps); see docs/concepts/bounds.md, "Scale equivariance".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from structured_ssl.lifted.hermite import SIGMA_PER_SCALE, hermite_basis, init_weight


class _SteerableBase(nn.Module):
    """What the two layers share: their signature, the fixed basis buffer, the conv settings and
    the weight (its shape is the layer's, `weight_shape`).

    Arguments after ``scales`` are keyword-only, so that a call written for a signature without
    ScaleConv's ``scale_size`` fails loudly instead of reading its stride as ``scale_size``.
    """

    basis: torch.Tensor  # registered buffer (F, S, k, k)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        effective_size: int,
        scales: Sequence[float],
        *,
        stride: int = 1,
        padding: int = 0,
        bias: bool = False,
        envelope: float = SIGMA_PER_SCALE,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.effective_size = kernel_size, effective_size
        self.scales = tuple(float(s) for s in scales)
        self.num_scales = len(self.scales)
        self.stride, self.padding, self.envelope = stride, padding, float(envelope)
        # computed once; saved with the state dict so a checkpoint carries the exact basis
        self.register_buffer(
            "basis", hermite_basis(kernel_size, effective_size, self.scales, envelope)
        )
        self.num_funcs = self.basis.shape[0]
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight = init_weight(self.weight_shape())

    def weight_shape(self) -> tuple[int, ...]:
        """The learned coefficients' shape: ``(C_out, C_in, ..., F)``."""
        raise NotImplementedError

    def _add_bias(self, y: torch.Tensor) -> torch.Tensor:
        return y if self.bias is None else y + self.bias.view(1, -1, 1, 1, 1)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}->{self.out_channels}, k={self.kernel_size}, "
            f"effective={self.effective_size}, scales={self.scales}, envelope={self.envelope}, stride={self.stride}, "
            f"padding={self.padding}, bias={self.bias is not None}"
        )


class ScaleLift(_SteerableBase):
    """Z2 -> scale group: ``(B, C_in, H, W)`` -> ``(B, C_out, S, H', W')``.

    Weight ``(C_out, C_in, F)``; the scale-s kernel is ``sum_f w_f basis[f, s]``. All S
    kernels are stacked along the output channels (out-major, scale-minor) and applied in ONE
    conv2d, whose output is then already in the lifted layout (a view, no copy).
    """

    def weight_shape(self) -> tuple[int, ...]:
        return (self.out_channels, self.in_channels, self.num_funcs)

    def kernels(self) -> torch.Tensor:
        """``(C_out * S, C_in, k, k)``, index ``o * S + s``."""
        k = self.kernel_size
        kernel = torch.einsum("oif,fskl->osikl", self.weight, self.basis)
        return kernel.reshape(self.out_channels * self.num_scales, self.in_channels, k, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"ScaleLift expects images (B, C, H, W), got shape {tuple(x.shape)}")
        y = F.conv2d(x, self.kernels(), stride=self.stride, padding=self.padding)
        return self._add_bias(y.unflatten(1, (self.out_channels, self.num_scales)))


class ScaleConv(_SteerableBase):
    """Scale group -> scale group: ``(B, C_in, S, H, W)`` -> ``(B, C_out, S, H', W')``.

    Output scale s reads input scales ``s .. s + scale_size - 1`` (zeros beyond the last
    scale, as in SESN), each with its own weights, all synthesised with the basis at scale s:
    weight ``(C_out, C_in, scale_size, F)``. With ``scale_size > 1`` exact equivariance also
    needs geometrically spaced scales, and the top ``scale_size - 1`` scales see padding.

    One grouped conv2d (groups = S): scale-major channels, one group per output scale.
    Its arguments are ScaleLift's (``_SteerableBase``: keyword-only after ``scales``) plus the
    keyword ``scale_size``.
    """

    def __init__(self, *args: Any, scale_size: int = 1, **kwargs: Any) -> None:
        # a plain int, so nn.Module takes it before its __init__: the base's weight_shape reads it
        self.scale_size = scale_size
        super().__init__(*args, **kwargs)

    def weight_shape(self) -> tuple[int, ...]:
        if not 1 <= self.scale_size <= self.num_scales:
            raise ValueError(
                f"scale_size={self.scale_size} must be in [1, {self.num_scales}] (the number of scales)"
            )
        return (self.out_channels, self.in_channels, self.scale_size, self.num_funcs)

    def kernels(self) -> torch.Tensor:
        """``(S * C_out, C_in * scale_size, k, k)``: group s holds output scale s."""
        k = self.kernel_size
        kernel = torch.einsum("oirf,fskl->soirkl", self.weight, self.basis)
        return kernel.reshape(
            self.num_scales * self.out_channels, self.in_channels * self.scale_size, k, k
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 5 or z.shape[1] != self.in_channels or z.shape[2] != self.num_scales:
            raise ValueError(
                f"ScaleConv expects (B, {self.in_channels}, {self.num_scales}, H, W), got shape {tuple(z.shape)}"
            )
        b, c, s, h, w = z.shape
        if self.scale_size == 1:
            x = z.transpose(1, 2).reshape(b, s * c, h, w)
        else:
            padded = F.pad(z, (0, 0, 0, 0, 0, self.scale_size - 1))
            windows = padded.unfold(2, self.scale_size, 1)  # (B, C, S, H, W, r)
            x = windows.permute(0, 2, 1, 5, 3, 4).reshape(b, s * c * self.scale_size, h, w)
        y = F.conv2d(x, self.kernels(), stride=self.stride, padding=self.padding, groups=s)
        # (B, S, C_out, H', W') -> lifted layout as a view; the next ScaleConv's transpose
        # then finds scale-major memory and its reshape copies nothing
        return self._add_bias(y.unflatten(1, (s, self.out_channels)).transpose(1, 2))


class ScaleBatchNorm(nn.BatchNorm3d):
    """Batch norm shared across scales: statistics per channel over batch, scale and space.

    Sharing (not one norm per scale) is what keeps the layer equivariant: moving a map along
    the scale axis must not change how it is normalised. Being a ``BatchNorm3d`` on the
    ``(B, C, S, H, W)`` tensor, ``SyncBatchNorm.convert_sync_batchnorm`` converts it.
    """

    def __init__(self, num_channels: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__(num_channels, eps=eps, momentum=momentum)


class ScaleMaxProjection(nn.Module):
    """``(B, C, S, H, W)`` -> ``(B, C, H, W)``: max over scales, a scale-invariant read-out."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z.amax(dim=2)


# ----------------------------------------------------------------------- the group action
def antialias_sigma(factor: float) -> float:
    """Gaussian pre-blur (pixels) before shrinking by ``factor``: (factor - 1) / 2, the
    scikit-image / kornia ``rescale`` rule; 0 when not shrinking."""
    return max(0.0, (factor - 1.0) / 2.0)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``(..., H, W)`` with zero padding (the canvas convention:
    outside the image is zero, as for the zoom and the convs)."""
    if sigma <= 0:
        return x
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-(t**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    shape = x.shape
    flat = x.reshape(-1, 1, *shape[-2:])
    flat = F.conv2d(flat, kernel.view(1, 1, -1, 1), padding=(radius, 0))
    flat = F.conv2d(flat, kernel.view(1, 1, 1, -1), padding=(0, radius))
    return flat.reshape(shape)


def downscale(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Zoom ``(..., H, W)`` out by ``factor`` (> 1 shrinks) about the canvas centre, same size.

    Anti-aliased: a Gaussian pre-blur of sigma ``(factor - 1) / 2`` input pixels, then
    bilinear sampling of ``x`` at ``centre + factor * (p - centre)`` with zero fill outside.
    Why not ``F.interpolate(antialias=True)`` + padding: it can only place the shrunk image
    at whole-pixel offsets, so for most (size, factor) pairs its centre moves by a fraction
    of a pixel, and that shift would read as equivariance error. The centre is the
    continuous centre ``(H - 1) / 2``, the same point ``augment.rescale`` and a stride-2
    conv with ``k // 2`` padding on odd sizes keep fixed, so input and feature zooms agree.
    """
    if factor <= 0:
        raise ValueError(f"downscale factor={factor} must be positive")
    if factor == 1.0:
        return x
    shape = x.shape
    flat = gaussian_blur(x, antialias_sigma(factor)).reshape(-1, 1, *shape[-2:])
    theta = torch.tensor([[factor, 0.0, 0.0], [0.0, factor, 0.0]], dtype=x.dtype).to(
        x.device, non_blocking=True
    )
    grid = F.affine_grid(theta.expand(flat.shape[0], 2, 3), list(flat.shape), align_corners=False)
    out = F.grid_sample(flat, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.reshape(shape)


def shift_scales(z: torch.Tensor, shift: int) -> torch.Tensor:
    """``out[:, :, s] = z[:, :, s + shift]``; the last ``shift`` scales (no source) are zero."""
    if shift == 0:
        return z
    if not 0 < shift < z.shape[2]:
        raise ValueError(f"scale shift {shift} must be in [0, {z.shape[2]})")
    return F.pad(z[:, :, shift:], (0, 0, 0, 0, 0, shift))


def footprint_mask(
    size: tuple[int, int], factor: float, device: torch.device | None = None
) -> torch.Tensor:
    """``(H, W)`` mask of the cells a zoom-out by ``factor`` fills from inside the canvas.

    Outside it, ``downscale`` fills zeros, but an encoder on a zero region gives its
    zero-input response (non-zero once batch norm has learned a shift): Γ_g is not defined
    there, so equivariance checks leave it out.
    """
    masks = []
    for n in size:
        centre = (n - 1) / 2
        offset = (torch.arange(n, dtype=torch.float32, device=device) - centre).abs()
        masks.append(offset * factor <= centre + 1e-6)
    return (masks[0][:, None] & masks[1][None, :]).float()
