"""The group plug-in contract, checked over EVERY registered group (a new file is tested at once).

Each plug-in must: build its ``small`` encoder and keep its own equivariance bound on its
checked elements; read a fiber map of the grid shape it states; draw A-SSL elements on a grid
the pair sampler accepts and warp a batch with them; survive pickling (checkpoints hold the
Group); and be found by ``structured_ssl.groups`` without any other file naming it.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

import structured_ssl.groups as groups_package
from structured_ssl.encoders.equivariance import measure
from structured_ssl.encoders.factory import EncoderSpec, build_encoder
from structured_ssl.groups import GROUP_TYPES, Group, GroupPlugin
from structured_ssl.lifted.probes import probe_images
from structured_ssl.ssl.augmentation import GroupAugmentation
from structured_ssl.ssl.pairs import FiberGrid, PairSampling, sample_position_pairs

KINDS = sorted(GROUP_TYPES)
SMALL_SIZE = 21  # the embedded digits' canvas: exact for rotations (1 + 4 k)


def default_group(kind: str) -> Group:
    return Group(kind, order=4)


def channels_for(kind: str) -> int:
    """1 (grey) unless the group refuses it in its own check (hue: RGB only)."""
    try:
        default_group(kind).plugin.check_channels(1)
    except ValueError:
        return 3
    return 1


@pytest.mark.parametrize("kind", KINDS)
def test_the_small_encoder_keeps_the_bound_its_group_states(kind: str) -> None:
    group = Group(
        kind, order=8
    )  # C8 / D8: only some elements are exact, the rest must not be claimed
    torch.manual_seed(0)
    channels = channels_for(kind)
    encoder = build_encoder(EncoderSpec(), group, channels, SMALL_SIZE)
    bound = encoder.equivariance_bound()
    assert bound is not None and bound == group.plugin.equivariance_bound()
    elements = group.plugin.checked_elements()
    assert elements and all(any(g) for g in elements), (
        "a bound must be stated for some non-identity element"
    )
    rows = measure(encoder, group.plugin.probe_images(channels, SMALL_SIZE, count=2), elements)
    assert all(row.within(bound) for row in rows), [
        (row.element, row.fiber, row.baseline) for row in rows
    ]


@pytest.mark.parametrize("kind", KINDS)
def test_the_fiber_map_has_the_grid_shape_the_group_states(kind: str) -> None:
    group = default_group(kind)
    channels = channels_for(kind)
    encoder = build_encoder(EncoderSpec(), group, channels, SMALL_SIZE)
    z = encoder.eval()(torch.randn(2, channels, SMALL_SIZE, SMALL_SIZE))
    assert z.shape[2] == group.size
    fibers = encoder.fiber_map(z)
    side = z.shape[-1]
    assert tuple(fibers.shape[2:]) == group.plugin.fiber_grid_shape(side)
    grid = FiberGrid.of(tuple(fibers.shape[2:]), group.grid_cyclic, 1, kind)
    first, second = sample_position_pairs(grid, PairSampling(), 5, torch.Generator().manual_seed(0))
    assert first.shape == second.shape == (5, len(grid.shape))


@pytest.mark.parametrize("kind", KINDS)
def test_augmentation_draws_on_a_grid_and_keeps_the_canvas(kind: str) -> None:
    group = default_group(kind)
    augment = GroupAugmentation(group, pixels_per_cell=4, image_size=SMALL_SIZE)
    grid = augment.element_grid
    g1, g2 = sample_position_pairs(
        grid, augment.element_sampling(1.0), 6, torch.Generator().manual_seed(0)
    )
    x = probe_images(channels_for(kind), SMALL_SIZE, count=6)
    views = augment(x, g1, torch.rand(6))
    assert views.shape == x.shape and torch.isfinite(views).all()
    assert not torch.allclose(views, augment(x, g2, torch.rand(6))) or torch.equal(g1, g2)


@pytest.mark.parametrize("kind", KINDS)
def test_a_group_value_pickles_and_reads_back_from_its_settings(kind: str) -> None:
    group = default_group(kind)
    assert pickle.loads(pickle.dumps(group)) == group
    assert hash(pickle.loads(pickle.dumps(group))) == hash(group)
    settings = {"kind": kind, "order": 4, "scales": list(group.scales), "unknown_key": 1}
    assert Group.from_config(settings) == group
    assert group.short_name and group.plugin.describe()


def test_every_module_in_the_package_registers_a_group() -> None:
    """A new group is one module or package (its plug-in and its layers): the package imports
    it, and it must register a kind."""
    folder = Path(groups_package.__file__).parent
    entries = {p.stem for p in folder.glob("*.py")} | {
        p.parent.name for p in folder.glob("*/__init__.py")
    }
    entries -= {"__init__", "base", "kit", "spec"}
    registering = {cls.__module__.split(".")[2] for cls in GROUP_TYPES.values()}
    assert entries <= registering, (
        f"modules that register no group: {sorted(entries - registering)}"
    )
    assert {"rotation", "dihedral", "translation", "scale", "so2", "roto_translation"} <= entries
    assert {"rotation", "dihedral", "translation", "scale"} <= set(GROUP_TYPES)


def test_a_subclass_with_a_kind_is_a_group_the_config_can_name() -> None:
    class Toy(GroupPlugin):
        kind = "toy_for_test"
        OPTIONS = {"width": 3}

        @property
        def size(self) -> int:
            return int(self.options["width"])

        @property
        def short_name(self) -> str:
            return f"Y{self.size}"

    try:
        assert Group("toy_for_test").short_name == "Y3"
        assert Group("toy_for_test", options={"width": 5}).size == 5
        with pytest.raises(
            ValueError, match=r"group.options.height: the toy_for_test group accepts options: width"
        ):
            Group("toy_for_test", options={"height": 2})
    finally:
        GROUP_TYPES.pop("toy_for_test")
    with pytest.raises(ValueError, match=r"group.kind='toy_for_test' is not a known group"):
        Group("toy_for_test")


def test_callers_use_only_hooks_the_contract_declares() -> None:
    """Every ``plugin.<hook>`` read anywhere in src is a member of GroupPlugin (so it has a
    documented default), and no caller probes a plug-in with getattr / hasattr."""
    import re

    src = Path(__file__).resolve().parents[2] / "src" / "structured_ssl"
    declared = set(dir(GroupPlugin)) | set(vars(GroupPlugin(Group())))
    used: dict[str, str] = {}
    for path in sorted(src.rglob("*.py")):
        # dotted paths (imports, docs cross-references such as
        # ``[RotationFamily][structured_ssl.groups.rotation.plugin.RotationFamily]``) name a
        # module's class, not a hook read off a plug-in
        text = re.sub(r"\bstructured_ssl(\.\w+)+", "", path.read_text())
        probe = re.search(r"\b(getattr|hasattr)\([^,()]*plugin\b", text)
        assert probe is None, f"{path.relative_to(src)} probes a plug-in: {probe.group(0)}"
        # a module path such as ``structured_ssl.groups.so2.plugin.SO2`` (a docs cross-reference)
        # reads no hook: dotted package paths are dropped before the scan
        code = re.sub(r"\bstructured_ssl(\.\w+)+", "", text)
        used.update({name: path.name for name in re.findall(r"\bplugin\.(\w+)", code)})
    assert len(used) >= 20, "the scan finds the callers"
    undeclared = {name: where for name, where in used.items() if name not in declared}
    assert not undeclared, f"hooks used but not declared on GroupPlugin: {undeclared}"
