"""The random draws of one training step: reproducible, different on every rank, split by example.

A step's group elements, fiber positions and continuous jitter come from a ``torch.Generator``
seeded from (run seed, step), the SAME generator on every rank. Each rank draws for the GLOBAL
batch and keeps the rows of its own examples (global example index = rank x local batch + i).
Hence:

* a run is reproducible from its seed, and a resumed run draws exactly what the uninterrupted
  run drew at that step (nothing about these draws needs checkpointing);
* example i on rank 0 and example i on rank 1 get different draws (they are different global
  examples), where a global RNG seeded alike on every rank would give them the same;
* 2 processes x B images draw what 1 process x 2B images draws when the single process sees the
  ranks' examples in rank order (tests/methods/test_ddp.py checks loss and gradients on that).

The draws are a few index tensors per step, so drawing the global batch on every rank costs
nothing. Kornia's extra augmentations draw from the global RNG inside their modules; they run
under [`StepDraws.local_rng`][structured_ssl.ssl.draws.StepDraws.local_rng], the global RNG forked
and seeded from (run seed, step, rank): reproducible and different per rank, but not split by
example.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from structured_ssl.ssl.pairs import (
    FiberGrid,
    PairSampling,
    sample_position_pairs,
    sample_positions,
)


def mix(*parts: int) -> int:
    """A 63-bit seed from integers; nearby inputs give unrelated seeds (unlike seed + step)."""
    digest = hashlib.blake2b(":".join(str(int(p)) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def run_seed() -> int:
    """The run's seed: what ``seed_everything`` set (``PL_GLOBAL_SEED``, also on DDP ranks it
    launches), else torch's initial seed of this process."""
    value = os.environ.get("PL_GLOBAL_SEED")
    return int(value) if value is not None else int(torch.initial_seed())


class StepDraws:
    """Draws for one step of one rank (see the module docstring).

    Args:
        seed: the run seed.
        step: the micro-batch counter (``global_step x accumulate_grad_batches + micro-batch``).
        rank, world_size: this process and how many draw together.
    """

    def __init__(self, seed: int, step: int, rank: int = 0, world_size: int = 1) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"StepDraws: rank={rank} must be in [0, world_size={world_size})")
        self.seed, self.step, self.rank, self.world_size = (
            int(seed),
            int(step),
            int(rank),
            int(world_size),
        )
        self.generator = torch.Generator().manual_seed(mix(self.seed, self.step))

    @staticmethod
    def from_global_rng() -> StepDraws:
        """Outside training (a notebook, a test calling ``make_views``): seeded from the global
        RNG, so ``torch.manual_seed`` makes it repeatable and successive calls differ."""
        return StepDraws(int(torch.randint(2**62, (1,)).item()), 0)

    def _mine(self, n: int) -> slice:
        return slice(self.rank * n, (self.rank + 1) * n)

    def pairs(
        self, grid: FiberGrid, sampling: PairSampling, n: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """This rank's ``n`` position pairs, ``(n, ndim)`` each."""
        first, second = sample_position_pairs(grid, sampling, n * self.world_size, self.generator)
        mine = self._mine(n)
        return first[mine], second[mine]

    def positions(self, grid: FiberGrid, n: int) -> torch.Tensor:
        """This rank's ``n`` uniform start positions (A-SSL's shared g0), ``(n, ndim)``."""
        return sample_positions(grid, n * self.world_size, self.generator)[self._mine(n)]

    def uniform(self, n: int) -> torch.Tensor:
        """This rank's ``n`` draws uniform on [0, 1)."""
        return torch.rand(n * self.world_size, generator=self.generator)[self._mine(n)]

    @contextmanager
    def local_rng(self, device: torch.device) -> Iterator[None]:
        """The global RNG (CPU, and ``device`` if CUDA) forked and seeded per (seed, step, rank),
        for code that only reads the global RNG (kornia modules); restored afterwards."""
        devices = [device] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            seed = mix(self.seed, self.step, self.rank, 1)
            torch.manual_seed(seed)
            yield
