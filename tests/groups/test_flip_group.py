"""A new discrete group is one plug-in file and one config file: the test-only flip group.

``tests/groups/flip_group.py`` (registered only for these tests) runs end to end through code that
does not know it: H-SSL pairs are drawn on its index grid, A-SSL's mirrored views are escnn's
T_g, the ``check`` command finds the encoder exactly equivariant, and ``fit`` trains a step.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from cli_args import fit_one_step

from structured_ssl.groups import GROUP_TYPES, Group

REPO = Path(__file__).resolve().parents[2]
CONFIGS = [
    str(REPO / "configs" / "datasets" / "digits.yaml"),
    str(Path(__file__).with_name("flip_group.yaml")),
]


@pytest.fixture
def flip() -> Iterator[type]:
    """Register ``kind: flip`` for one test (other tests never see the group)."""
    cls = importlib.import_module("flip_group").Flip
    GROUP_TYPES["flip"] = cls
    try:
        yield cls
    finally:
        GROUP_TYPES.pop("flip", None)


def model(objective: str, **kwargs):
    from structured_ssl.encoders.factory import EncoderSpec
    from structured_ssl.methods import AugmentationSSL, StructuredSSL

    cls = {"structured": StructuredSSL, "augmentation": AugmentationSSL}[objective]
    return cls(
        group=Group("flip"),
        encoder=EncoderSpec(architecture="small"),
        in_channels=1,
        image_size=21,
        **kwargs,
    )


def test_the_plugin_names_the_group(flip) -> None:
    group = Group("flip")
    assert (group.short_name, group.size, group.plugin.fiber_grid_shape(None)) == ("F2", 2, (2,))
    from structured_ssl.groups import short_name_of

    assert short_name_of({"kind": "flip"}) == "F2", "run names come from the plug-in"


def test_structured_pairs_are_drawn_on_the_flip_grid(flip) -> None:
    torch.manual_seed(0)
    ssl = model("structured")
    x = torch.rand(16, 1, 21, 21)
    views = ssl.make_views(x)
    assert views.first.shape == (16, 1) and set(views.first.flatten().tolist()) <= {0, 1}
    assert set(views.first.flatten().tolist()) == {0, 1}, "both elements are drawn"
    pairs = ssl.read_pairs(views, ssl.encoder)
    assert pairs.first.shape == pairs.second.shape == (16, ssl.pair_dim())


def test_augmentation_mirrors_the_view_as_escnn_acts(flip) -> None:
    """A-SSL's view for f = 1 is T_g of the encoder's action (the plug-in's view_affine is right)."""
    ssl = model("augmentation")
    x = torch.rand(3, 1, 21, 21)
    mirrored = ssl.augment(x, torch.ones(3, 1, dtype=torch.long), None)
    expected = ssl.encoder.transform_input(x, (1,))
    assert torch.allclose(mirrored, expected, atol=1e-5)
    assert not torch.allclose(mirrored, x, atol=1e-3)


def test_check_finds_the_flip_encoder_exactly_equivariant(flip) -> None:
    from structured_ssl.experiments.check import check_config

    objective = str(REPO / "configs" / "objectives" / "structured.yaml")
    result = check_config([objective, *CONFIGS], images=4)
    assert result.group == "F2" and result.structured
    assert {r.element for r in result.rows} == {(1,)}
    assert result.passed, result.rows


@pytest.mark.parametrize("objective", ["structured", "augmentation"])
def test_fit_trains_a_step(flip, objective: str, tmp_path: Path, capsys) -> None:
    configs = [str(REPO / "configs" / "objectives" / f"{objective}.yaml"), *CONFIGS]
    printed = fit_one_step([a for c in configs for a in ("--config", c)], tmp_path, capsys)
    assert "final val/probe_acc" in printed, "the fit trained and validated"
    assert (
        "final val/fiber_equivariance_error" in printed or "final val/equivariance_error" in printed
    )
