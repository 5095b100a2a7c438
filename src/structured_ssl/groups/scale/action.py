"""How the scale group acts on images, on scale-lifted maps and on the space-pooled fibers
H-SSL pairs; shared by the scale encoders and (as the claimed action) by the structure-free
twin, so both are judged by one rule.

* T_j zooms the image OUT by ``a = scales[j] / scales[0]`` about its centre (anti-aliased).
* A kernel at scale s on the zoomed-out image sees what the kernel at scale ``a * s`` saw on
  the original, so Γ_j moves scale s to the scale ``s'`` with ``scales[s'] = a * scales[s]``
  and zooms its map out by a. On a geometric grid ``s' = s + j`` for every s. On the paper's
  uneven scales (1, 1.25, 1.33, 1.5, 1.66, 1.75) ``a * scales[s]`` lands on the grid only for
  some s (always s = 0, which is what makes fiber ``j`` of f(x) the fiber 0 of f(T_j x)):
  Γ_j is defined there and nowhere else, and :meth:`ScaleAction.comparable` keeps exactly
  those scales. ``uniform_shift=True`` is the old claim (shift every scale by j), kept to
  measure what the uneven grid costs.
* Pooled fibers: a zoom-out by a divides the space-sum of a map by a^2 (the area), so the
  fiber at scale s is the mean over space times ``(scales[0] / scales[s])^2``: the mean over
  a canvas whose area grows with the scale. Then ``fiber(f(T_j x))[s] = fiber(f(x))[s']``
  with no factor (the plain mean would need a^-2, and H-SSL would pair fibers that differ
  by it). This needs features that vanish on empty canvas. Batch norm gives empty canvas a
  response (its shift after training, the batch mean in training mode), and a zoom-out grows
  the empty part: with batch norm moved at random the `small` fiber error read 0.55-0.75. So
  the scale encoders return ``f(x) - f(0)`` (:func:`without_background`; f(0) is the same
  network on an empty image in the same batch, so border effects cancel too): 0.13-0.15
  (``benchmarks/scale_design_sweep.py``).
* ``maps_zoom=False``: the action of an encoder lifted by zooming its INPUT
  (``groups/scale/pyramid.py``): scale s of f(x) is a plain network on x zoomed out by
  ``scales[s] / scales[0]``, so f(T_j x) at s is the network on the same zoomed image as f(x)
  at s'. Γ_j then moves scale s' to s WITHOUT zooming the map, the whole map is comparable,
  and the fiber is the plain spatial mean.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from structured_ssl.groups.scale.conv import downscale, footprint_mask
from structured_ssl.lifted.action import LiftedAction
from structured_ssl.lifted.contract import Element, FiberTriple

if TYPE_CHECKING:
    from structured_ssl.groups.spec import Group

SCALE_MATCH_TOLERANCE = 0.005
"""``a * scales[s]`` counts as landing on ``scales[s']`` within this relative distance: the
paper lists its scales to two decimals (1.33 for 4/3, 1.66 for 5/3), i.e. to about 0.4%."""


class ScaleAction(LiftedAction):
    """T_g, Γ_g and what is comparable, on images, lifted maps and pooled fibers.

    Args:
        group: the scale group (its ``scales`` define the zooms).
        reach: how many extra scales above s an output at scale s depends on (a ScaleConv
            with ``scale_size`` r adds r - 1 per layer); those must exist for Γ_g to hold.
        uniform_shift: claim ``s -> s + j`` for every s (exact only on geometric scales).
        maps_zoom: False for input-lifted encoders, whose maps at matched scales are the
            same image (module docstring).
    """

    def __init__(
        self, group: Group, reach: int = 0, uniform_shift: bool = False, maps_zoom: bool = True
    ) -> None:
        self.group, self.reach, self.uniform_shift = group, int(reach), uniform_shift
        self.maps_zoom = maps_zoom

    # ----------------------------------------------------------------- the index map
    def zoom_factor(self, g: Element) -> float:
        return self.group.scales[g[0]] / self.group.scales[0]

    def scale_map(self, g: Element) -> list[tuple[int, int]]:
        """``(s, s')`` pairs: Γ_g puts scale s' of a map at scale s (and nothing elsewhere)."""
        scales, j = self.group.scales, g[0]
        last = len(scales) - 1 - self.reach
        if self.uniform_shift:
            return [(s, s + j) for s in range(len(scales)) if s + j <= last]
        a = self.zoom_factor(g)
        pairs = []
        for s, value in enumerate(scales):
            for t in range(s, last + 1):
                if abs(scales[t] - a * value) <= SCALE_MATCH_TOLERANCE * a * value:
                    pairs.append((s, t))
                    break
        return pairs

    def _targets_sources(
        self, g: Element, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        pairs = self.scale_map(g)
        targets = torch.tensor([s for s, _ in pairs], dtype=torch.long, device=device)
        sources = torch.tensor([t for _, t in pairs], dtype=torch.long, device=device)
        return targets, sources

    # ----------------------------------------------------------------- lifted maps
    def transform_input(self, x: torch.Tensor, g: Element) -> torch.Tensor:
        return downscale(x, self.zoom_factor(g))

    def transform_output(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        """Γ_g z: scale s' zoomed out by a, placed at s; zeros where Γ_g is undefined."""
        targets, sources = self._targets_sources(g, z.device)
        out = torch.zeros_like(z)
        moved = z[:, :, sources]
        out[:, :, targets] = downscale(moved, self.zoom_factor(g)) if self.maps_zoom else moved
        return out

    def comparable(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        """The scales Γ_g defines (in order), inside the zoomed canvas (other cells zeroed)."""
        targets, _ = self._targets_sources(g, z.device)
        if not self.maps_zoom:
            return z[:, :, targets]
        mask = footprint_mask((z.shape[-2], z.shape[-1]), self.zoom_factor(g), z.device).to(z.dtype)
        return z[:, :, targets] * mask

    # ----------------------------------------------------------------- pooled fibers
    def pool(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, C, S, H, W)`` -> ``(B, C, S)``: the area-normalised fiber (module docstring)."""
        if not self.maps_zoom:
            return z.mean(dim=(-2, -1))
        scales = torch.tensor(self.group.scales, dtype=z.dtype, device=z.device)
        return z.mean(dim=(-2, -1)) * (scales[0] / scales) ** 2

    def fiber_map(self, z: torch.Tensor) -> torch.Tensor:
        """What H-SSL reads: :meth:`pool`."""
        return self.pool(z)

    def measured_fibers(
        self,
        z: torch.Tensor,
        moved: torch.Tensor,
        moved_part: torch.Tensor,
        expected_part: torch.Tensor,
        g: Element,
    ) -> FiberTriple:
        """Fibers are area-normalised means over space and Γ_g acts on them directly: a zoom-out
        changes the area, so pooling a masked lifted map would not be what H-SSL reads."""
        fibers, moved_fibers = self.pool(z), self.comparable_fibers(self.pool(moved), g)
        return moved_fibers, self.transform_fibers(fibers, g), self.comparable_fibers(fibers, g)

    def transform_fibers(self, fibers: torch.Tensor, g: Element) -> torch.Tensor:
        """Γ_g on pooled fibers ``(B, C, S)``, restricted to the comparable scales."""
        _, sources = self._targets_sources(g, fibers.device)
        return fibers[:, :, sources]

    def comparable_fibers(self, fibers: torch.Tensor, g: Element) -> torch.Tensor:
        """The same scales of a pooled fiber map, unmoved (for f(T_g x), or the no-shift baseline)."""
        targets, _ = self._targets_sources(g, fibers.device)
        return fibers[:, :, targets]


def without_background(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``net(x) - net(0)``: lifted features that vanish wherever the receptive field sees no
    content (module docstring). The empty image runs in the SAME batch, so training-mode
    batch norm normalises both alike (it adds one image's weight to the statistics)."""
    z = net(torch.cat([x, torch.zeros_like(x[:1])]))
    return z[:-1] - z[-1:]
