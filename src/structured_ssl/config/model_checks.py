"""What plain model settings decide, before any encoder is built: the group axis an objective
needs, the image size an architecture can take, the image channels a group acts on, and
whether the pair sampling fits the group's index grid. Run on the parsed config
([`check_model_config`][structured_ssl.config.config_checks.check_model_config]) and at the top
of ``SSLMethod.__init__`` (models built from Python)."""

from __future__ import annotations

import math

from structured_ssl.config.field_checks import ConfigError
from structured_ssl.encoders.factory import SMALL_KERNELS, SMALL_STRIDES, EncoderSpec
from structured_ssl.groups import GROUP_KINDS, Group, plugin_class
from structured_ssl.ssl.pairs import FiberGrid, PairSampling, allowed_pairs


# --------------------------------------------------------------------------- model settings
def reads_fiber_pairs(method: type) -> bool:
    """Whether the objective pairs fibers of ONE lifted map (S-SSL, hybrid): it needs a group axis."""
    return bool(getattr(method, "reads_fiber_pairs", False))


def check_group_axis(method: type, group: Group | None) -> None:
    """A structured objective reads its positive pairs off the encoder's group axis."""
    if group is None and reads_fiber_pairs(method):
        raise ConfigError(
            f"model.group=None: {method.__name__} reads its positive pairs from the fibers of the "
            f"encoder's group axis, so it needs a group ({', '.join(GROUP_KINDS)}); use "
            "AugmentationSSL with readout: invariant for an encoder without one"
        )


def encoder_output_size(spec: EncoderSpec, image_size: int) -> int | None:
    """Side of the encoder's last feature map, from the architecture's arithmetic (no build).

    None for architectures whose arithmetic is not known here;
    [`check_fit`][structured_ssl.config.config_checks.check_fit] then checks the built encoder's
    grid instead.
    """
    if spec.architecture != "small":
        return None

    size = image_size
    for k, s in zip(SMALL_KERNELS, SMALL_STRIDES, strict=True):
        size = (size + 2 * (k // 2) - k) // s + 1
    return size


def minimum_image_size(spec: EncoderSpec) -> int | None:
    """The smallest input side the architecture is meant for: its total stride, so that every
    cell of the last map still stands for real pixels rather than padding."""
    if spec.architecture != "small":
        return None

    return math.prod(SMALL_STRIDES)


def check_image_size(image_size: int, spec: EncoderSpec) -> None:
    """The image must be large enough for the encoder's depth (its total stride)."""
    if image_size < 1:
        raise ConfigError(f"data.image_size={image_size} must be >= 1")
    smallest = minimum_image_size(spec)
    if smallest is not None and image_size < smallest:
        raise ConfigError(
            f"data.image_size={image_size} is too small for encoder.architecture={spec.architecture!r}: "
            f"its layers downsample by {smallest} in total, so images need at least {smallest} x {smallest} pixels"
        )


def check_exact_rotation_size(group: Group, spec: EncoderSpec, image_size: int) -> None:
    """An image size that breaks the group's exact equivariance (the plug-in's
    ``check_image_size``; rotations: sizes ``1 + k x total_stride`` only)."""
    try:
        group.plugin.check_image_size(spec, image_size)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def fiber_grid_shape(
    group: Group, spec: EncoderSpec, image_size: int | None
) -> tuple[int, ...] | None:
    """The index grid the fiber sampler will see, from the settings alone (None when unknown)."""
    if not group.has_group_axis:
        side = None if image_size is None else encoder_output_size(spec, image_size)
        return group.plugin.fiber_grid_shape(side)
    return group.plugin.fiber_grid_shape(None)


def check_pairs_on_grid(
    shape: tuple[int, ...],
    cyclic: bool,
    pairs: PairSampling,
    kind: str,
    method: type,
    image_size: int | None = None,
) -> None:
    """Bundle size (pairs.g0_size) and offset range (pairs.max_distance) must fit the group's
    index grid ``shape``. Fiber-pair objectives draw bundle positions; A-SSL draws single cells.
    """
    uses_pairs = getattr(method, "uses_pairs", True)
    k = pairs.g0_size if reads_fiber_pairs(method) else 1
    spatial = not plugin_class(kind).has_group_axis  # fibers are the cells of the last map
    if spatial and uses_pairs and image_size is not None and min(shape) < k + 1:
        raise ConfigError(
            f"data.image_size={image_size} gives a {kind} fiber grid of {list(shape)} cells: a "
            f"{k} x {k} bundle (pairs.g0_size={pairs.g0_size}) then has fewer than 2 positions to pair; "
            f"use images whose last feature map has at least {k + 1} cells per side, or a smaller bundle"
        )
    try:  # every method builds this grid (A-SSL reads both views at one bundle)
        FiberGrid.of(tuple(shape), cyclic, pairs.g0_size, kind)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    if not uses_pairs:
        return
    grid = FiberGrid.of(tuple(shape), cyclic, k, kind)
    largest = grid.max_distance()
    if pairs.max_distance is not None and pairs.max_distance > largest + 1e-6:
        raise ConfigError(
            f"pairs.max_distance={pairs.max_distance} is larger than the {kind} group allows: the "
            f"largest topographic distance between {'bundle' if k > 1 else 'fiber'} positions on its "
            f"index grid {list(shape)} is {largest:.4g}; use a value in [0, {largest:.4g}], or null "
            "for any distance"
        )
    try:
        allowed_pairs(grid, pairs)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def check_model_settings(
    method: type,
    group: Group | None,
    encoder: EncoderSpec | None,
    pairs: PairSampling,
    image_size: int | None,
    in_channels: int | None = None,
) -> None:
    """Everything about the model that plain settings decide (no encoder is built).
    ``image_size`` / ``in_channels`` None (not known yet) skip what depends on them;
    ``encoder`` None (a researcher's own module, checked against the contract when it is handed
    over) skips what depends on the architecture."""
    check_group_axis(method, group)
    if group is None:
        return
    if in_channels is not None:
        try:
            group.plugin.check_channels(int(in_channels))
        except ValueError as error:
            raise ConfigError(str(error)) from None
    if encoder is None:
        shape = group.plugin.fiber_grid_shape(None) if group.has_group_axis else None
        if shape is not None:
            check_pairs_on_grid(shape, group.grid_cyclic, pairs, group.kind, method, image_size)
        return
    if image_size is not None:
        check_image_size(image_size, encoder)
        check_exact_rotation_size(group, encoder, image_size)
    shape = fiber_grid_shape(group, encoder, image_size)
    if shape is not None:
        check_pairs_on_grid(shape, group.grid_cyclic, pairs, group.kind, method, image_size)
