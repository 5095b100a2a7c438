"""SyncBatchNorm that also covers escnn's batch norms.

Lightning's ``sync_batchnorm=True`` calls ``torch.nn.SyncBatchNorm.convert_sync_batchnorm``,
which rebuilds every container with ``add_module``; escnn's ``SequentialModule`` refuses that
(its ``add_module`` checks that field types chain) and the run dies with an AssertionError.
This plugin swaps only the batch-norm leaves in place instead: torch ``BatchNorm{1,2,3}d``
anywhere, including the ``BatchNorm3d`` inside escnn's ``InnerBatchNorm``. escnn norms that
are not torch batch norms (IIDBatchNorm, NormBatchNorm, GNormBatchNorm) would silently stay
per-process, so they are refused with a clear error.
"""

from __future__ import annotations

from lightning.pytorch.plugins.layer_sync import TorchSyncBatchNorm
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

UNSYNCABLE_ESCNN_NORMS = ("IIDBatchNorm1d", "IIDBatchNorm2d", "IIDBatchNorm3d", "NormBatchNorm", "GNormBatchNorm")


def _swap(module: nn.Module, convert) -> nn.Module:
    for name, child in list(module.named_children()):
        replacement = convert(child)
        if replacement is not child:
            # nn.Module.__setattr__ replaces the entry without escnn's add_module checks
            setattr(module, name, replacement)
        else:
            _swap(child, convert)
    return module


def to_sync(bn: nn.Module) -> nn.Module:
    if type(bn).__name__ in UNSYNCABLE_ESCNN_NORMS:
        raise ValueError(
            f"trainer.sync_batchnorm=true cannot synchronise escnn's {type(bn).__name__}: it is not a torch "
            "batch norm. Use InnerBatchNorm (what structured-ssl's encoders use) or set sync_batchnorm: false"
        )
    if not isinstance(bn, _BatchNorm) or isinstance(bn, nn.SyncBatchNorm):
        return bn
    sync = nn.SyncBatchNorm(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats)
    sync.load_state_dict(bn.state_dict())
    sync.train(bn.training)
    sync._original_class = type(bn)  # type: ignore[attr-defined]
    return sync


def from_sync(bn: nn.Module) -> nn.Module:
    if not isinstance(bn, nn.SyncBatchNorm):
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
