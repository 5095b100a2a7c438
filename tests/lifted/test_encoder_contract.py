"""The encoder contract (``structured_ssl.lifted.contract``): every shipped encoder satisfies it,
a researcher's own module satisfies it by having its members, and a module that misses one
gets one line naming it, before anything trains."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from torch import nn

from structured_ssl.encoders.equivariance import measure
from structured_ssl.encoders.factory import EncoderSpec, build_encoder
from structured_ssl.groups import Group
from structured_ssl.lifted.base import LiftedEncoder
from structured_ssl.lifted.bounds import EXACT
from structured_ssl.lifted.contract import (
    AngleEncoder,
    EncoderContractError,
    EquivariantEncoder,
    check_encoder,
)

SHIPPED = [
    (Group(kind="rotation", order=8), EncoderSpec(), 21),
    (Group(kind="rotation", order=4), EncoderSpec(structured=False), 21),
    (Group(kind="dihedral", order=4), EncoderSpec(readout="paper"), 21),
    (Group(kind="translation"), EncoderSpec(), 21),
    (Group(kind="translation"), EncoderSpec(structured=False), 21),
    (Group(kind="scale"), EncoderSpec(), 21),
    (Group(kind="scale"), EncoderSpec(scale_lifting="sesn"), 21),
    (Group(kind="scale"), EncoderSpec(structured=False), 21),
    (Group(kind="so2"), EncoderSpec(), 21),
    (Group(kind="roto_translation", order=4), EncoderSpec(), 21),
    (Group(kind="rotation", order=4), EncoderSpec(architecture="paper_mnist"), 29),
    (Group(kind="translation"), EncoderSpec(architecture="paper_mnist"), 29),
]


@pytest.mark.parametrize(("group", "spec", "size"), SHIPPED, ids=lambda v: str(v)[:40])
def test_every_shipped_encoder_satisfies_the_contract(group, spec, size) -> None:
    encoder = build_encoder(spec, group, 1, size)
    assert isinstance(encoder, EquivariantEncoder)
    check_encoder(encoder, group, in_channels=1, image_size=size)
    assert isinstance(encoder, AngleEncoder) == (group.kind == "so2")


class ShiftEncoder(nn.Module):
    """A researcher's own translation encoder: a plain conv, fibers on its spatial cells."""

    def __init__(self, channels: int = 4) -> None:
        super().__init__()
        self.group, self.out_channels, self.structured = Group(kind="translation"), channels, True
        self.conv = nn.Conv2d(1, channels, 3, padding=1, padding_mode="circular")

    cell_pixels = 1

    @property
    def invariant_dim(self) -> int:
        return self.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x).unsqueeze(2)

    def fiber_map(self, z):
        return z[:, :, 0]

    def fiber_grid_cyclic(self) -> bool:
        return False

    def invariant(self, z):
        return z.mean(dim=(2, 3, 4))

    def transform_input(self, x, g):
        return torch.roll(x, tuple(g), dims=(-2, -1))

    def transform_output(self, z, g):
        return torch.roll(z, tuple(g), dims=(-2, -1))

    def comparable(self, z, g):
        return z

    def measured_fibers(self, maps):
        return maps.pooled(self.fiber_map, self.comparable)

    def equivariance_bound(self):
        return EXACT


def test_a_users_encoder_satisfies_the_contract() -> None:
    encoder = ShiftEncoder()
    check_encoder(encoder, Group(kind="translation"), in_channels=1, image_size=9)
    assert isinstance(encoder, EquivariantEncoder) and not isinstance(encoder, AngleEncoder)


class RotatedCopies(LiftedEncoder):
    """A LiftedEncoder subclass that states T_g and Γ_g itself and sets no action (the
    Python-API guide's pattern): the group's fiber map and its own transforms are its action."""

    def __init__(self) -> None:
        super().__init__()
        self.group, self.out_channels = Group(kind="rotation", order=4), 4
        self.net = nn.Conv2d(1, 4, 3, padding=1)

    def lift(self, x):
        turns = [torch.rot90(self.net(torch.rot90(x, -k, (-2, -1))), k, (-2, -1)) for k in range(4)]
        return torch.stack(turns, dim=2)

    def transform_input(self, x, g):
        return torch.rot90(x, g[0], dims=(-2, -1))

    def transform_output(self, z, g):
        return torch.rot90(torch.roll(z, g[0], dims=2), g[0], dims=(-2, -1))


def test_a_subclass_stating_its_own_transforms_is_measured() -> None:
    encoder = RotatedCopies()
    check_encoder(encoder, Group(kind="rotation", order=4), in_channels=1, image_size=9)
    rows = measure(encoder, torch.rand(2, 1, 9, 9))
    assert max(r.fiber for r in rows) < 1e-5 and all(
        r.within(encoder.equivariance_bound()) for r in rows
    )


def test_a_missing_member_is_named_in_one_line() -> None:
    class Bare(nn.Module):
        group = Group(kind="translation")

    with pytest.raises(EncoderContractError, match=r"^encoder Bare has no 'out_channels'") as info:
        check_encoder(Bare())
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda e: setattr(e, "out_channels", 0),
            r"ShiftEncoder\.out_channels=0: expected an integer >= 1",
        ),
        (lambda e: setattr(e, "structured", "yes"), r"ShiftEncoder\.structured='yes'"),
        (
            lambda e: setattr(e, "out_channels", 5),
            r"forward gave \(C, G\) = \(4, 1\); expected .* \(5, 1\)",
        ),
        (
            lambda e: setattr(e, "group", Group(kind="rotation", order=4)),
            r"differs from the model's group",
        ),
    ],
)
def test_a_wrong_member_is_named_in_one_line(change, message) -> None:
    encoder = ShiftEncoder()
    change(encoder)
    with pytest.raises(EncoderContractError, match=message) as info:
        check_encoder(encoder, Group(kind="translation"), in_channels=1, image_size=9)
    assert "\n" not in str(info.value)


def test_a_member_that_is_not_a_method_is_named() -> None:
    class NoFiberMap(ShiftEncoder):
        fiber_map = None  # type: ignore[assignment]

    with pytest.raises(
        EncoderContractError, match=r"^encoder NoFiberMap.fiber_map is NoneType, not a method$"
    ):
        check_encoder(NoFiberMap())


def test_a_plain_function_is_not_an_encoder() -> None:
    with pytest.raises(EncoderContractError, match="expected a torch.nn.Module"):
        check_encoder(lambda x: x)


def test_a_forward_that_fails_is_one_line() -> None:
    encoder = ShiftEncoder()
    with pytest.raises(EncoderContractError, match=r"failed on a 3x9x9 image: .*") as info:
        check_encoder(encoder, in_channels=3, image_size=9)
    assert "\n" not in str(info.value)


# ----------------------------------------------------------------- nobody probes an encoder
SRC = Path(__file__).resolve().parents[2] / "src" / "structured_ssl"
#: what an encoder or action is called where it is read (a getattr on one of these probes it)
ENCODER_NAMES = r"(?:encoder|action|claimed_action|twin|structured|bound|conv|self\.encoder)"
#: members of the contract, or members probed before it was declared (issue 29)
MEMBER_NAMES = (
    "stride|pool|claimed_action|comparable|for_element|in_type|out_type|action|readout|"
    "fiber_map|max_frequency|cell_pixels|invariant_dim|out_channels|rotation_conv"
)


def probes_in(text: str) -> list[str]:
    """``getattr`` / ``hasattr`` calls that read an encoder or action, or a contract member."""
    on_encoder = [  # a config mapping named "encoder" may be asked for ``get``
        hit
        for hit in re.findall(rf"\b(?:getattr|hasattr)\(\s*{ENCODER_NAMES}\b,[^)]*\)", text)
        if not re.search(r"[\"'](get|items)[\"']", hit)
    ]
    of_member = re.findall(rf"\b(?:getattr|hasattr)\([^()]*[\"'](?:{MEMBER_NAMES})[\"']", text)
    return on_encoder + of_member


def test_the_probe_scan_sees_a_probe() -> None:
    assert probes_in('pixels = int(getattr(self.encoder, "stride", 1))')
    assert probes_in('pool = getattr(action, "pool", None)')
    assert probes_in('if hasattr(bound, "for_element"):')
    assert not probes_in('datamodule = getattr(trainer, "datamodule", None)')


def test_no_module_probes_an_encoder_or_an_action() -> None:
    """Every member read of an encoder is declared (``lifted/contract.py``): no getattr/hasattr."""
    found = {
        str(path.relative_to(SRC)): hits
        for path in SRC.rglob("*.py")
        if (hits := probes_in(path.read_text()))
    }
    assert not found, f"encoders or actions probed with getattr/hasattr: {found}"


def test_no_architecture_calls_back_into_a_plugin() -> None:
    """The architectures receive a group's layer kit; they never call its plug-in."""
    calls = {
        str(path.relative_to(SRC)): n
        for path in (SRC / "encoders").rglob("*.py")
        if (n := len(re.findall(r"\.plugin\b", path.read_text())))
    }
    assert not calls, f"plug-in calls in encoders/: {calls}"
