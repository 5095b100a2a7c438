"""The paper's backbones produce their documented shapes (encoders/paper.py docstring).

MNIST is padded to 29x29: "same" padding gives 8x8 maps (the paper's). The CIFAR-10 and Tiny
ImageNet ResNets (all groups, structured and twins) are built and trained for one step in
tests/methods/test_paper_training_step.py.
"""

from __future__ import annotations

import pytest
import torch

from structured_ssl.encoders import EncoderSpec, build_encoder
from structured_ssl.groups import PAPER_SCALES, Group

GROUPS = {
    "rotation": Group("rotation", 4),
    "translation": Group("translation"),
    "scale": Group("scale", scales=PAPER_SCALES),
}
CASES = [
    ("paper_mnist", 1, 29, 128, "rotation"),
    ("paper_mnist", 1, 29, 128, "translation"),
    ("paper_mnist", 1, 29, 128, "scale"),
]


@pytest.mark.parametrize("architecture,channels,size,width,group", CASES)
def test_paper_backbone_output_shape(
    architecture: str, channels: int, size: int, width: int, group: str
) -> None:
    g = GROUPS[group]
    encoder = build_encoder(
        EncoderSpec(architecture=architecture), g, in_channels=channels, image_size=size
    ).eval()
    with torch.no_grad():
        z = encoder(torch.rand(2, channels, size, size))
    assert z.shape == (2, width, g.size, 8, 8)
    assert encoder.invariant(z).shape == (2, width)


@pytest.mark.parametrize(
    "group,twin,fibers", [("translation", "UnstructuredMLP", 16), ("scale", "UnstructuredCNN", 6)]
)
def test_table_2_twins_have_fake_fibers_and_are_not_equivariant(
    group: str, twin: str, fibers: int
) -> None:
    g = GROUPS[group]
    encoder = build_encoder(
        EncoderSpec(architecture="paper_mnist", structured=False), g, in_channels=1, image_size=29
    )
    assert type(encoder).__name__ == twin
    from structured_ssl.callbacks.metrics import equivariance_error

    with torch.no_grad():
        z = encoder.eval()(torch.rand(2, 1, 29, 29))
    if group == "translation":  # 2048 outputs read as 16 fake positions of 128 channels
        assert z.shape[1] == 128 and z.shape[2] * z.shape[3] * z.shape[4] == fibers, tuple(z.shape)
    else:  # a 6x wider output read as a fake scale axis
        assert z.shape[:3] == (2, 128, fibers), tuple(z.shape)
    assert float(equivariance_error(encoder, torch.rand(3, 1, 29, 29))) > 0.1


def bn(c: int) -> int:
    return 2 * c


@pytest.mark.parametrize("group", ["rotation", "scale"])
def test_paper_mnist_twin_is_the_same_cnn_with_a_g_times_wider_last_conv(group: str) -> None:
    g = GROUPS[group]
    twin = build_encoder(
        EncoderSpec(architecture="paper_mnist", structured=False), g, in_channels=1, image_size=29
    )
    wide = 128 * g.size
    expected = 32 * 121 + bn(32) + 64 * 32 * 49 + bn(64) + wide * 64 * 49 + bn(wide)
    assert twin.num_parameters() == expected


@pytest.mark.parametrize("architecture", ["paper_cifar", "paper_tiny"])
@pytest.mark.parametrize("group", ["rotation", "scale"])
def test_resnet_twin_is_the_translation_resnet_with_a_g_times_wider_last_block(
    architecture: str, group: str
) -> None:
    """Table 2's twin: the same ResNet, plain convs, only the last block's output |G| wider
    (its second conv, its batch norm and a 1x1 projection shortcut that the identity needed)."""
    g = GROUPS[group]
    twin = build_encoder(
        EncoderSpec(architecture=architecture, structured=False), g, in_channels=3, image_size=33
    )
    plain = build_encoder(
        EncoderSpec(architecture=architecture), GROUPS["translation"], in_channels=3, image_size=33
    )
    assert type(twin).__name__ == "PaperResNetTwin" and twin.out_channels == 512
    convs = [
        m for m in twin.modules() if "Conv" in type(m).__name__ and next(m.children(), None) is None
    ]
    assert convs and all(type(m) is torch.nn.Conv2d for m in convs)
    k = g.size - 1
    widened = 512 * 512 * 9 * k + bn(512) * k + (512 * 512 * g.size + bn(512 * g.size))
    assert twin.num_parameters() - plain.num_parameters() == widened
