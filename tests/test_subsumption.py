"""The paper's central claim, as a test.

For an exactly equivariant encoder, the structured loss on x with fibers read at
g1^-1 g0 and g2^-1 g0 of ONE forward pass equals the augmentation loss on the two views
(T_g1 x, T_g2 x) read at the same g0, to float tolerance.
"""

from __future__ import annotations

import pytest
import torch

from structured_ssl.encoders.factory import EncoderSpec
from structured_ssl.groups import Group
from structured_ssl.losses import NTXent, VICReg
from structured_ssl.methods import AugmentationSSL, StructuredSSL
from structured_ssl.methods.augmentation import AugmentedViews
from structured_ssl.methods.structured import FiberViews
from structured_ssl.pairs import sample_positions


def source_positions(model, g: tuple[int, ...], positions: torch.Tensor) -> torch.Tensor:
    """Where the fiber at ``positions`` of Γ_g z comes from in z (i.e. g^-1 · position),
    found with the encoder's own Γ_g on an index-coded lifted map."""
    enc, grid = model.encoder, model.grid
    size = model.group.size
    code = torch.arange(size, dtype=torch.float32).view(1, 1, size, 1, 1).expand(1, enc.out_channels, size, 3, 3)
    moved = enc.fiber_map(enc.transform_output(code.contiguous(), g))[0, 0].reshape(-1)
    flat = positions[:, -1] if len(grid.shape) == 1 else positions[:, 0] * grid.shape[1] + positions[:, 1]
    source = moved[flat].round().long()
    if len(grid.shape) == 1:
        return source[:, None]
    return torch.stack([source // grid.shape[1], source % grid.shape[1]], dim=1)


@pytest.mark.parametrize("kind,order", [("rotation", 4), ("rotation", 8), ("dihedral", 4)])
@pytest.mark.parametrize("loss", [NTXent(temperature=0.1), VICReg()])
@pytest.mark.parametrize("train_mode", [False, True])
def test_structured_loss_equals_augmentation_loss(kind, order, loss, train_mode) -> None:
    torch.manual_seed(0)
    group = Group(kind, order)
    common = dict(group=group, encoder=EncoderSpec(), loss=loss, in_channels=1, image_size=21)
    structured = StructuredSSL(**common)
    augmentation = AugmentationSSL(**common)
    augmentation.load_state_dict(structured.state_dict(), strict=False)  # same encoder and head
    for model in (structured, augmentation):
        model.train(train_mode)

    batch = 16
    x = torch.rand(batch, 1, 21, 21)
    elements = group.exact_input_elements()
    pick = torch.randint(len(elements), (2, batch))
    g1 = torch.tensor([elements[i] for i in pick[0]])
    g2 = torch.tensor([elements[i] for i in pick[1]])
    base = sample_positions(structured.grid, batch)

    # A-SSL: two augmented views, both read at the same base g0
    views = torch.cat([augmentation.augment(x, g1), augmentation.augment(x, g2)])
    a_pairs = augmentation.read_pairs(AugmentedViews(views, base, 1), augmentation.encoder)

    # S-SSL: one un-augmented pass, read at g1^-1 g0 and g2^-1 g0
    first = torch.cat([source_positions(structured, tuple(g.tolist()), base[i : i + 1]) for i, g in enumerate(g1)])
    second = torch.cat([source_positions(structured, tuple(g.tolist()), base[i : i + 1]) for i, g in enumerate(g2)])
    s_pairs = structured.read_pairs(FiberViews(x, first, second), structured.encoder)

    torch.testing.assert_close(s_pairs.first, a_pairs.first, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(s_pairs.second, a_pairs.second, atol=1e-4, rtol=1e-4)
    loss_a = augmentation.loss_fn(augmentation.projector(a_pairs.first), augmentation.projector(a_pairs.second))["loss"]
    loss_s = structured.loss_fn(structured.projector(s_pairs.first), structured.projector(s_pairs.second))["loss"]
    torch.testing.assert_close(loss_s, loss_a, atol=1e-4, rtol=1e-4)


def test_subsumption_fails_without_structure() -> None:
    """The same construction on the unstructured twin does NOT give the same pairs."""
    torch.manual_seed(0)
    group = Group("rotation", 4)
    common = dict(group=group, encoder=EncoderSpec(structured=False), in_channels=1, image_size=21)
    structured, augmentation = StructuredSSL(**common), AugmentationSSL(**common)
    augmentation.load_state_dict(structured.state_dict(), strict=False)
    structured.eval(), augmentation.eval()
    x = torch.rand(8, 1, 21, 21)
    g1 = torch.ones(8, 1, dtype=torch.long)
    base = torch.zeros(8, 1, dtype=torch.long)
    views = torch.cat([augmentation.augment(x, g1), augmentation.augment(x, g1)])
    a_pairs = augmentation.read_pairs(AugmentedViews(views, base, 1), augmentation.encoder)
    src = source_positions(structured, (1,), base)
    s_pairs = structured.read_pairs(FiberViews(x, src, src), structured.encoder)
    rel = (s_pairs.first - a_pairs.first).norm() / a_pairs.first.norm()
    assert rel > 0.1
