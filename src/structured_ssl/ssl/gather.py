"""The one cross-process helper the losses need: an all-gather that carries gradients.

Contrastive and batch-statistics losses must see the GLOBAL batch, so each process gathers
every process's embeddings. ``torch.distributed.all_gather`` has no autograd, and
``torch.distributed.nn.functional.all_gather`` backpropagates with ``reduce_scatter``, which
the gloo (CPU) backend does not implement. `_GatherWithGrad` does the gather in its
forward and, in its backward, SUMS the incoming gradients over processes (one ``all_reduce``)
before keeping this process's slice.

Why the sum: DDP optimises the mean over processes of the per-process losses and averages
parameter gradients by 1/world_size. The gradient of that mean with respect to this process's
rows is ``(1/N) * sum_r dL_r/dz``; summing here and letting DDP divide by N gives exactly that.
Taking only this process's own gradient would be off by the contributions of the other
processes' losses (lightly#1528), and a gather without autograd would drop them altogether.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

__all__ = ["gather_with_grad", "is_distributed", "rank", "world_size"]


def is_distributed() -> bool:
    """True when a default process group with more than one process exists."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    """Number of processes in the default group (1 when torch.distributed is not set up)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def rank() -> int:
    """This process's rank in the default group (0 when torch.distributed is not set up)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return 0


_MAX_DIMS = 8


def _check_equal_shapes(x: torch.Tensor) -> None:
    """Fail with a clear message, on every rank alike, when ranks hold different shapes.

    ``all_gather`` needs equal shapes and would otherwise hang or raise an opaque error; equal
    per-process batches are also what makes DDP's gradient average a global-batch gradient.
    One small collective: each rank sends ``(ndim, *shape)`` padded with -1.
    """
    if x.dim() > _MAX_DIMS:
        raise ValueError(
            f"gather_with_grad: at most {_MAX_DIMS} dims are supported, got shape {tuple(x.shape)}"
        )
    code = torch.full((_MAX_DIMS + 1,), -1, dtype=torch.long, device=x.device)
    code[0] = x.dim()
    code[1 : x.dim() + 1] = torch.tensor(x.shape, dtype=torch.long)
    codes = [torch.empty_like(code) for _ in range(world_size())]
    dist.all_gather(codes, code)
    shapes = [tuple(int(v) for v in c[1 : int(c[0]) + 1].tolist()) for c in codes]
    if any(s != shapes[0] for s in shapes):
        raise ValueError(
            f"gather_with_grad: every process must hold the same shape (use drop_last=True so "
            f"batches are equal); got per-rank shapes {shapes}"
        )


class _GatherWithGrad(torch.autograd.Function):
    """all_gather forward; all_reduce(SUM) + own slice backward (works on gloo and NCCL)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.rank = dist.get_rank()
        ctx.rows = x.shape[0]
        x = x.contiguous()
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x)
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = ctx.rank * ctx.rows
        return grad[start : start + ctx.rows]


def gather_with_grad(x: torch.Tensor, check_shapes: bool = True) -> torch.Tensor:
    """Concatenate ``x`` (shape ``(B, ...)``) from all processes along dim 0, in rank order.

    Returns ``(world_size * B, ...)``; this process's rows are
    ``[rank * B, (rank + 1) * B)``. Gradients flow back to every process's ``x`` (see the
    module docstring for why the backward sums). The identity when torch.distributed is not
    initialised or has one process.

    Args:
        x: this process's tensor; every process must pass the same shape.
        check_shapes: gather the shapes first (one tiny extra collective) so unequal batches
            raise a clear ValueError instead of hanging.
    """
    if not is_distributed():
        return x
    if check_shapes:
        _check_equal_shapes(x)
    return _GatherWithGrad.apply(x)
