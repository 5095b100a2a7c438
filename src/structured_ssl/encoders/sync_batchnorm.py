"""SyncBatchNorm that also covers escnn's batch norms.

Two problems with Lightning's default. It calls ``torch.nn.SyncBatchNorm.convert_sync_batchnorm``,
which rebuilds every container with ``add_module``; escnn's ``SequentialModule`` refuses that
(its ``add_module`` checks that field types chain) and the run dies with an AssertionError.
And torch's SyncBatchNorm refuses CPU modules under DDP ("SyncBatchNorm layers only work with
GPU modules"), so gloo runs could not test it. This plugin swaps only the batch-norm leaves
in place: torch ``BatchNorm{1,2,3}d`` anywhere, including the ``BatchNorm3d`` inside escnn's
``InnerBatchNorm``; with NCCL they become torch's SyncBatchNorm, with any other backend a
small [`GlobalBatchNorm`][structured_ssl.encoders.sync_batchnorm.GlobalBatchNorm] that all-reduces
the batch moments (with gradients). escnn norms that are not torch batch norms (IIDBatchNorm,
NormBatchNorm, GNormBatchNorm) would silently stay per-process, so they are refused with a clear
error.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from lightning.pytorch.plugins.layer_sync import TorchSyncBatchNorm
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

UNSYNCABLE_ESCNN_NORMS = (
    "IIDBatchNorm1d",
    "IIDBatchNorm2d",
    "IIDBatchNorm3d",
    "NormBatchNorm",
    "GNormBatchNorm",
)


def _swap(module: nn.Module, convert) -> nn.Module:
    for name, child in list(module.named_children()):
        replacement = convert(child)
        if replacement is not child:
            # nn.Module.__setattr__ replaces the entry without escnn's add_module checks
            setattr(module, name, replacement)
        else:
            _swap(child, convert)
    return module


class _AllReduceSum(torch.autograd.Function):
    """Sum over processes; the backward sums the gradients too (each rank's loss uses the sum)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class GlobalBatchNorm(_BatchNorm):
    """Batch norm whose training statistics are those of the global batch (any backend).

    Same parameters and buffers as the batch norm it replaces, so checkpoints are unchanged.
    """

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(
                f"GlobalBatchNorm expects (N, C, ...) input, got shape {tuple(x.shape)}"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (
            self.training
            and dist.is_available()
            and dist.is_initialized()
            and dist.get_world_size() > 1
        ):
            return super().forward(x)
        dims = [d for d in range(x.dim()) if d != 1]
        count = torch.tensor([x.numel() / x.shape[1]], device=x.device, dtype=x.dtype)
        moments = _AllReduceSum.apply(torch.cat([x.sum(dims), (x * x).sum(dims), count]))
        channels = x.shape[1]
        total = moments[-1]
        mean = moments[:channels] / total
        var = moments[channels : 2 * channels] / total - mean * mean
        if (
            self.track_running_stats
            and self.running_mean is not None
            and self.running_var is not None  # registered with running_mean (_NormBase)
            and self.num_batches_tracked is not None
        ):
            with torch.no_grad():
                momentum = self.momentum if self.momentum is not None else 0.1
                unbiased = var * total / (total - 1).clamp_min(1)
                self.running_mean.lerp_(mean.detach(), momentum)
                self.running_var.lerp_(unbiased.detach(), momentum)
                self.num_batches_tracked += 1
        shape = [1, channels] + [1] * (x.dim() - 2)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


def to_sync(bn: nn.Module) -> nn.Module:
    if type(bn).__name__ in UNSYNCABLE_ESCNN_NORMS:
        raise ValueError(
            f"trainer.sync_batchnorm=true cannot synchronise escnn's {type(bn).__name__}: it is not a torch "
            "batch norm. Use InnerBatchNorm (what structured-ssl's encoders use) or set sync_batchnorm: false"
        )
    if not isinstance(bn, _BatchNorm) or isinstance(bn, (nn.SyncBatchNorm, GlobalBatchNorm)):
        return bn
    nccl = dist.is_available() and dist.is_initialized() and dist.get_backend() == "nccl"
    cls = nn.SyncBatchNorm if nccl else GlobalBatchNorm
    sync = cls(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats)
    sync.load_state_dict(bn.state_dict())
    sync.train(bn.training)
    # Module.__setattr__ is typed for tensors and modules; a plain value is stored as is
    sync._original_class = type(bn)  # type: ignore[assignment]
    return sync


def from_sync(bn: nn.Module) -> nn.Module:
    if not isinstance(bn, (nn.SyncBatchNorm, GlobalBatchNorm)):
        return bn
    cls = getattr(bn, "_original_class", nn.BatchNorm2d)
    plain = cls(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats)
    plain.load_state_dict(bn.state_dict())
    plain.train(bn.training)
    return plain


class EscnnSyncBatchNorm(TorchSyncBatchNorm):
    """Lightning LayerSync plugin: SyncBatchNorm for torch and escnn (InnerBatchNorm) norms."""

    def apply(self, model: nn.Module) -> nn.Module:
        return _swap(model, to_sync)

    def revert(self, model: nn.Module) -> nn.Module:
        return _swap(model, from_sync)
