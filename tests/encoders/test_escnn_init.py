"""The fast escnn init (lifted/escnn_init.py) draws from escnn's own distribution.

escnn's ``generalized_he_init`` walks one dict per coefficient (minutes for wide layers);
ours computes the same standard deviations per block. Checked two ways: the std tensor equals
escnn's exactly, including mixed field types, and a layer's output variance at init matches
that of ``R2Conv(initialize=True)``.
"""

from __future__ import annotations

import pytest
import torch
from escnn.nn.init import _generalized_he_init_variances

from structured_ssl.lifted.escnn_compat import enn, gspaces
from structured_ssl.lifted.escnn_init import he_init_std, r2conv

SPACES = {
    "C4": lambda: gspaces.rot2dOnR2(4),
    "D4": lambda: gspaces.flipRot2dOnR2(4),
    "C8": lambda: gspaces.rot2dOnR2(8),
}


def field_types(gspace):
    reg, triv, irrep = gspace.regular_repr, gspace.trivial_repr, list(gspace.irreps)[1]
    return [
        ([triv] * 3, [reg] * 4),  # lifting
        ([reg] * 3, [reg] * 5),  # regular to regular
        ([reg, triv, reg, irrep], [irrep, reg, triv, reg]),  # mixed, non-contiguous
    ]


@pytest.mark.parametrize("space", list(SPACES))
@pytest.mark.parametrize("kernel", [1, 3, 7])
def test_std_equals_escnn_generalized_he(space: str, kernel: int) -> None:
    gspace = SPACES[space]()
    for reprs_in, reprs_out in field_types(gspace):
        conv = enn.R2Conv(
            enn.FieldType(gspace, reprs_in),
            enn.FieldType(gspace, reprs_out),
            kernel,
            initialize=False,
        )
        assert torch.equal(
            he_init_std(conv.basisexpansion), _generalized_he_init_variances(conv.basisexpansion)
        )


def output_variance(make_conv, x: torch.Tensor, seeds: range) -> float:
    values = []
    for seed in seeds:
        torch.manual_seed(seed)
        conv = make_conv()
        with torch.no_grad():
            values.append(conv(x).tensor.var().item())
    return sum(values) / len(values)


def test_output_variance_at_init_matches_escnn_init() -> None:
    gspace = gspaces.rot2dOnR2(4)
    in_type = enn.FieldType(gspace, [gspace.regular_repr] * 8)
    out_type = enn.FieldType(gspace, [gspace.regular_repr] * 8)
    torch.manual_seed(0)
    x = enn.GeometricTensor(torch.randn(4, in_type.size, 9, 9), in_type)
    ours = output_variance(
        lambda: r2conv(in_type, out_type, 3, padding=1, bias=False), x, range(20)
    )
    escnn = output_variance(
        lambda: enn.R2Conv(in_type, out_type, 3, padding=1, bias=False), x, range(20, 40)
    )
    assert abs(ours / escnn - 1) < 0.15, (ours, escnn)


def test_r2conv_state_matches_escnn_in_training_mode() -> None:
    """No zero-filled filter buffer is allocated, and the module is what escnn's own R2Conv
    is after ``.train()``: same state keys, same output in train and eval mode."""
    from escnn.nn.modules.conv import rd_convolution

    gspace = gspaces.flipRot2dOnR2(4)
    field = enn.FieldType(gspace, [gspace.regular_repr] * 3)
    ours = r2conv(field, field, 3, padding=1, bias=True)
    reference = enn.R2Conv(field, field, 3, padding=1, bias=True).train()
    assert rd_convolution.torch is torch
    assert not hasattr(ours, "filter")
    assert set(ours.state_dict()) == set(reference.state_dict())
    x = enn.GeometricTensor(torch.randn(2, field.size, 7, 7), field)
    train_out = ours(x).tensor
    assert torch.allclose(ours.eval()(x).tensor, train_out, atol=1e-5)
