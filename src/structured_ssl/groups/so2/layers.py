"""Continuous rotations SO(2): an escnn encoder whose fibers can be read at ANY angle.

escnn's ``rot2dOnR2(N=-1, maximum_frequency=L)`` represents a feature on the circle by its
Fourier coefficients up to frequency L (the irreps 0..L, ``2L + 1`` numbers per field). The
lifted map here keeps that layout, ``(B, C, 2L + 1, H, W)``: the "group axis" holds Fourier
coefficients, not samples. A fiber at angle θ is the field's Fourier series evaluated at θ,

    z(θ) = w^T ρ(θ)^{-1} v,    w = (1, √2, 0, √2, 0, ...),

for the space-pooled coefficient vector v of each of the C fields. Rotating the input by φ maps
v to ρ(φ) v (escnn's equivariance), so the fiber read at θ + φ of the rotated input is the
fiber read at θ of the original: exact for band-limited features, for every φ. Between pixels
the input rotation interpolates, so at angles that are not multiples of 90° the encoder is
exact only up to that interpolation (and the filters' discretisation); at multiples of 90°
every step is a pixel permutation.

Why Fourier-based ReLUs (``FourierPointwise``, N samples on the circle) rather than norm
ReLUs: they learn better features; they are exactly equivariant to rotations that map their
sample grid to itself (multiples of 360/N, so 90° for N a multiple of 4) and alias slightly
in between, which the measured arbitrary-angle error includes.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from structured_ssl.groups.kit import SMALL_LAYERS, ConvLayers
from structured_ssl.groups.rotation.layers import SteerableEncoder
from structured_ssl.lifted.action import LiftedAction
from structured_ssl.lifted.contract import Element
from structured_ssl.lifted.escnn_compat import enn, gspaces
from structured_ssl.lifted.escnn_init import r2conv
from structured_ssl.lifted.warp import warp_rotation

#: Exact input elements of SO(2) on a square pixel grid: quarter turns (radians).
QUARTER_TURNS: tuple[float, ...] = (0.0, math.pi / 2, math.pi, 3 * math.pi / 2)


def coefficient_count(max_frequency: int) -> int:
    """Numbers per band-limited field: one for frequency 0, two (cos, sin) for each 1..L."""
    return 2 * max_frequency + 1


def inverse_rotation_matrices(theta: torch.Tensor, max_frequency: int) -> torch.Tensor:
    """ρ(θ)^{-1} = ρ(-θ) on the coefficients, ``(n, 2L+1, 2L+1)``: block-diagonal, 1 then a
    2x2 rotation by -lθ per frequency l (escnn's irrep l is ``[[cos lθ, -sin lθ], [sin lθ, cos lθ]]``)."""
    n = theta.shape[0]
    d = coefficient_count(max_frequency)
    out = torch.zeros(n, d, d, dtype=theta.dtype, device=theta.device)
    out[:, 0, 0] = 1.0
    for freq in range(1, max_frequency + 1):
        c, s = torch.cos(freq * theta), torch.sin(freq * theta)
        i = 2 * freq - 1
        out[:, i, i], out[:, i, i + 1] = c, s
        out[:, i + 1, i], out[:, i + 1, i + 1] = -s, c
    return out


def readout_weights(theta: torch.Tensor, max_frequency: int) -> torch.Tensor:
    """``r(θ) = w^T ρ(θ)^{-1}``, ``(n, 2L+1)``: the fiber at θ is ``Σ_j r_j(θ) v_j`` per field.

    Written out, ``r(θ) = (1, √2 cos θ, √2 sin θ, ..., √2 cos Lθ, √2 sin Lθ)``: the Fourier
    series of the field, normalised like escnn's band-limited regular representation.
    """
    cols = [torch.ones_like(theta)]
    for freq in range(1, max_frequency + 1):
        cols += [math.sqrt(2) * torch.cos(freq * theta), math.sqrt(2) * torch.sin(freq * theta)]
    return torch.stack(cols, dim=-1)


def fibers_at(coefficients: torch.Tensor, theta: torch.Tensor, max_frequency: int) -> torch.Tensor:
    """Fibers of per-example coefficient maps ``(n, C, 2L+1)`` at per-example angles ``(n,)``
    -> ``(n, C)``. Angles in radians, any real value (the series is 2π-periodic)."""
    weights = readout_weights(theta.to(coefficients.dtype), max_frequency)
    return torch.einsum("ncd,nd->nc", coefficients, weights)


def bundles_at(
    coefficients: torch.Tensor, start: torch.Tensor, offsets: torch.Tensor, max_frequency: int
) -> torch.Tensor:
    """A bundle per row: fibers at ``start + offsets[j]`` concatenated, ``(n, K C)``.

    ``offsets`` ``(K,)`` radians: the bundle's shape (its base space g0), moved as a whole.
    """
    angles = start[:, None].to(coefficients.dtype) + offsets[None].to(
        coefficients.device, coefficients.dtype
    )
    n, k = angles.shape
    weights = readout_weights(angles.reshape(-1), max_frequency).view(n, k, -1)
    return torch.einsum("ncd,nkd->nkc", coefficients, weights).reshape(n, -1)


def rotate_images(x: torch.Tensor, angle: torch.Tensor | float) -> torch.Tensor:
    """Rotate ``(B, C, H, W)`` counter-clockwise (escnn's sense) by per-example radians.

    Quarter turns for the whole batch are exact pixel permutations (``torch.rot90``); other
    angles are one batched bilinear warp about the centre with zero fill (kornia).
    """
    batch = x.shape[0]
    if not torch.is_tensor(angle):
        turns = angle / (math.pi / 2)
        if abs(turns - round(turns)) < 1e-9:
            return torch.rot90(x, int(round(turns)) % 4, dims=(-2, -1))
        angle = torch.full((batch,), float(angle), device=x.device)
    centre = ((x.shape[-1] - 1) / 2, (x.shape[-2] - 1) / 2)
    return warp_rotation(x, angle.to(x.device).float(), centre)


class SO2Action(LiftedAction):
    """T_φ rotates images by any angle φ (radians; quarter turns exact), Γ_φ applies ρ(φ) to each
    field's Fourier coefficients and rotates the spatial map like the input; the fiber map is
    the space-pooled coefficients ``(B, C, 2L+1)`` (read at an angle by
    [`fibers_at`][structured_ssl.groups.so2.layers.fibers_at])."""

    def __init__(self, out_channels: int, max_frequency: int) -> None:
        self.out_channels, self.max_frequency = out_channels, max_frequency

    def transform_input(self, x: torch.Tensor, g: Element) -> torch.Tensor:
        """T_φ x for ``g = (φ,)`` in radians (any angle; quarter turns are exact)."""
        return rotate_images(x, float(g[0]))

    def transform_output(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        """Γ_φ z: ρ(φ) on each field's coefficients, and the spatial map rotated like the input."""
        (phi,) = g
        rho = inverse_rotation_matrices(
            torch.tensor([-float(phi)], dtype=z.dtype), self.max_frequency
        )[0]
        moved = torch.einsum("ed,bcdhw->bcehw", rho.to(z.device), z)
        flat = rotate_images(moved.flatten(1, 2), float(phi))
        return flat.unflatten(1, (self.out_channels, coefficient_count(self.max_frequency)))


class SO2Encoder(SteerableEncoder):
    """A steerable CNN for SO(2) with band limit L: lifting conv then field-to-field convs.

    Args:
        in_channels: image channels.
        group: the group description (its plug-in says ``max_frequency`` and ``grid_samples``).
        layers: band-limited fields per layer (the last is C, the channels per fiber), kernel
            sizes and strides; padding ``k // 2``. Quarter turns are exact for an odd size at
            every stride-2 input (21 -> 11 -> 6, 29 -> 15 -> 8).
        max_frequency: L, the band limit of every field (irreps 0..L).
        grid_samples: N, points on the circle where the Fourier ReLU is applied (a multiple of
            4 keeps quarter turns exact; > 2L keeps the band-limited features resolved).
    """

    def __init__(
        self,
        in_channels: int,
        group,
        layers: ConvLayers = SMALL_LAYERS,
        max_frequency: int = 3,
        grid_samples: int = 16,
    ) -> None:
        gspace = gspaces.rot2dOnR2(N=-1, maximum_frequency=int(max_frequency))
        super().__init__(in_channels, group, gspace, layers)
        self.max_frequency = int(max_frequency)
        irreps = [(freq,) for freq in range(self.max_frequency + 1)]
        modules: list[enn.EquivariantModule] = []
        current = self.in_type
        for width, k, s in zip(layers.widths, layers.kernel_sizes, layers.strides, strict=True):
            relu = enn.FourierPointwise(
                self.gspace, int(width), irreps, function="p_relu", N=int(grid_samples)
            )
            modules += [
                r2conv(current, relu.in_type, k, stride=s, padding=k // 2, bias=False),
                enn.IIDBatchNorm2d(relu.in_type),
                relu,
            ]
            current = relu.out_type
        self.net = enn.SequentialModule(*modules)
        self.out_type = current
        self.action = SO2Action(self.out_channels, self.max_frequency)

    @property
    def coefficients(self) -> int:
        return coefficient_count(self.max_frequency)

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        y = self.net(enn.GeometricTensor(x, self.in_type)).tensor
        return y.unflatten(1, (self.out_channels, self.coefficients))

    # ----------------------------------------------------------------- read-outs
    def fibers_at(self, z: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """The fiber of each example's lifted map at its angle θ (radians), ``(B, C)``."""
        return fibers_at(self.fiber_map(z), theta, self.max_frequency)

    def invariant(self, z: torch.Tensor) -> torch.Tensor:
        """Rotation-invariant embedding ``(B, C)``: max of each field's Fourier series over a
        fine circle grid (the continuous analogue of the max over C_N), then mean over space."""
        theta = torch.arange(4 * self.coefficients + 4, device=z.device, dtype=z.dtype) * (
            2 * math.pi / (4 * self.coefficients + 4)
        )
        samples = torch.einsum("bcdhw,kd->bckhw", z, readout_weights(theta, self.max_frequency))
        return samples.amax(dim=2).mean(dim=(-2, -1))

    def export_plain(self) -> nn.Module:
        import copy

        return copy.deepcopy(self.net).eval().export()


def smooth_probe_images(count: int, size: int, sigma: float = 4.0, seed: int = 0) -> torch.Tensor:
    """Band-limited probe content for arbitrary angles: Gaussian-blurred noise (``sigma`` px)
    under a centred Gaussian window (0.15 x size), so a rotation keeps it on the canvas and
    bilinear interpolation loses little. The arbitrary-angle bound is stated for these."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(count, 1, size, size, generator=generator)
    radius = int(math.ceil(3 * sigma))
    taps = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(taps**2) / (2 * sigma**2))
    kernel = (kernel / kernel.sum()).view(1, 1, 1, -1)
    import torch.nn.functional as F

    blurred = F.conv2d(F.pad(noise, (radius, radius, 0, 0), mode="reflect"), kernel)
    blurred = F.conv2d(
        F.pad(blurred, (0, 0, radius, radius), mode="reflect"), kernel.transpose(-1, -2)
    )
    blurred = blurred / blurred.std(dim=(-2, -1), keepdim=True)
    centre = (size - 1) / 2
    yy, xx = torch.meshgrid(torch.arange(size) - centre, torch.arange(size) - centre, indexing="ij")
    window = torch.exp(-(yy**2 + xx**2) / (2 * (0.15 * size) ** 2))
    return (blurred + 1.5) * window


def interpolation_error(x: torch.Tensor, angle: float) -> float:
    """Relative error of rotating by ``angle`` and back: what bilinear warping loses on ``x``
    (the one error source an exactly band-limited encoder adds nothing to)."""
    back = rotate_images(rotate_images(x, angle), -angle)
    return float((back - x).norm() / x.norm())
