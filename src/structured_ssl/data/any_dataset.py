"""A researcher's own data: any map-style torch ``Dataset`` behind the shipped interface.

The shipped data modules load whole splits as tensors
([`ImageDataModule.load_arrays`][structured_ssl.data.base.ImageDataModule.load_arrays]). A
researcher's dataset may not fit in memory and may yield PIL images, arrays or tensors of any size,
so [`DatasetDataModule`][structured_ssl.data.any_dataset.DatasetDataModule] keeps it lazy: each item
is converted on access to the shared format (float32 ``(C, H, W)`` in [0, 1], resized and
zero-padded to ``image_size``; int64 label, or `UNLABELLED`). Everything else is the base class's:
the seeded ``EpochSampler`` (per-rank draws under DDP, exact mid-epoch resume), the loaders, the
``dataset(name)`` the evaluation callbacks read, and batched augmentation on the model's device
(objectives augment batches; data modules never do).

Without labels (items that are images only, or a flat image folder) the module serves
pretraining only: no validation split, ``predict`` embeds the training images, and
[`refuse_evaluation_without_labels`][structured_ssl.data.any_dataset.refuse_evaluation_without_labels]
answers a ``validate``/``test`` or an evaluation callback with one line.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, Subset

from structured_ssl.data.base import DataInfo, ImageDataModule, pad_images, rotate_images
from structured_ssl.data.sampling import dataset_size

#: the label of an unlabelled image; the online probe ignores it (see ``SSLMethod.probe_loss``)
UNLABELLED = -1
#: callbacks that read labels (evaluation); an unlabelled fit must not list them
LABEL_CALLBACKS = ("FitSummary", "OnlineKNN", "TestLinearEval", "EmbeddingProjector")


def to_image(item: Any, channels: int | None = None) -> torch.Tensor:
    """One image as float32 ``(C, H, W)`` in [0, 1]: a PIL image, an ``(H, W[, C])`` array
    (uint8 is scaled by 1/255) or a ``(C, H, W)`` tensor; ``channels`` 1 or 3 converts."""
    if hasattr(item, "convert") and hasattr(item, "size"):  # a PIL image
        item = pil_array(item, channels)
    if isinstance(item, np.ndarray):
        array = item[..., None] if item.ndim == 2 else item
        tensor = torch.from_numpy(np.array(array)).permute(
            2, 0, 1
        )  # a writable copy (PIL's is read-only)
    else:
        tensor = torch.as_tensor(item)
        tensor = tensor[None] if tensor.ndim == 2 else tensor
    if tensor.ndim != 3:
        raise ValueError(f"data: an image must be 2-D or 3-D, got shape {tuple(tensor.shape)}")
    tensor = tensor.float() / 255.0 if tensor.dtype == torch.uint8 else tensor.float()
    if channels is not None and tensor.shape[0] != channels:
        if channels == 1:
            tensor = tensor.mean(0, keepdim=True)
        elif tensor.shape[0] == 1:
            tensor = tensor.expand(channels, -1, -1)
        else:
            raise ValueError(
                f"data.channels={channels}, but an image has {tensor.shape[0]} channels"
            )
    return tensor


#: PIL modes served as one channel (with ``channels`` null)
GREY_MODES = ("1", "L", "LA", "La", "I", "F", "I;16", "I;16B", "I;16L", "I;16N")


def pil_array(image: Any, channels: int | None = None) -> np.ndarray:
    """A PIL image as an ``(H, W, C)`` array: uint8, or float32 in [0, 1] for 16-bit grey
    (scaled by its bit depth: Pillow's own conversion to 8 bits clips every value above 255 to
    white) and for images with transparency (composited onto black, the padding's colour)."""
    grey = image.mode in GREY_MODES
    mode = {1: "L", 3: "RGB"}.get(channels or 0, "L" if grey else "RGB")
    if image.mode.startswith("I;16"):
        array = np.asarray(image, dtype=np.float32) / 65535.0
        return array[..., None] if mode == "L" else np.repeat(array[..., None], 3, axis=-1)
    transparent = image.mode in ("LA", "La", "PA", "RGBA", "RGBa") or (
        image.mode == "P" and "transparency" in image.info
    )
    if not transparent:
        return np.asarray(image.convert(mode))
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0
    rgb = rgba[..., :3] * rgba[..., 3:]
    luma = np.asarray([0.299, 0.587, 0.114], np.float32)  # Pillow's own RGB -> L weights
    return (rgb @ luma)[..., None] if mode == "L" else rgb


def fit_square(image: torch.Tensor, resize_to: int, image_size: int) -> torch.Tensor:
    """Centre-crop to a square, resize to ``resize_to`` (antialiased bilinear), zero-pad to
    ``image_size``: a whole image inside a canvas a rotation keeps it in (as the digits)."""
    h, w = image.shape[-2:]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    image = image[:, top : top + side, left : left + side]
    if side != resize_to:
        image = F.interpolate(
            image[None], size=resize_to, mode="bilinear", antialias=True, align_corners=False
        )[0]
    return pad_images(image[None], image_size)[0].clamp(0, 1)


def split_item(item: Any) -> tuple[Any, int]:
    """``(image, label)`` of a dataset item: ``(image, label, ...)`` or an image alone."""
    if isinstance(item, (tuple, list)):
        if len(item) >= 2:
            return item[0], int(item[1])
        return item[0], UNLABELLED
    if isinstance(item, dict):
        return item.get("image", item.get("img")), int(item.get("label", UNLABELLED))
    return item, UNLABELLED


class AsImages(Dataset):
    """A view of ``dataset`` serving the shared format: ``(image (C, S, S) in [0, 1], label)``,
    each image optionally rotated by its own seeded angle (the rotated test set)."""

    def __init__(
        self,
        dataset: Dataset,
        channels: int,
        resize_to: int,
        image_size: int,
        angles: torch.Tensor | None = None,
    ):
        self.dataset, self.channels, self.resize_to, self.image_size, self.angles = (
            dataset,
            channels,
            resize_to,
            image_size,
            angles,
        )

    def __len__(self) -> int:
        return dataset_size(self.dataset)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image, label = split_item(self.dataset[index])
        image = fit_square(to_image(image, self.channels), self.resize_to, self.image_size)
        if self.angles is not None:
            image = rotate_images(image[None], self.angles[index : index + 1])[0]
        return image, label


class DatasetDataModule(ImageDataModule):
    """Any map-style ``Dataset`` (items ``(image, label)`` or images alone) as a data module.

    Args:
        train: the training images (and labels). Split into train/val (``val_fraction``) and,
            without ``test``, train/test (``test_fraction``), seeded by ``seed``.
        val, test: official splits, if the dataset has them.
        image_size: side of the square canvas served (odd keeps stride-2 layers exactly
            rotation-equivariant: 1 + k x 4, e.g. 29, 33, 65).
        resize_to: side each image is centre-cropped and resized to before zero-padding to
            ``image_size`` (None: ``image_size``, no padding).
        channels: 1 (grey) or 3 (RGB); None: as the first image.
        num_classes: None: ``train.targets`` if present, else read from every train label once.
        test_fraction: share of ``train`` held out for testing when ``test`` is None.
        **kwargs: data_dir, val_fraction, seed, num_workers, rotated_test_max_angle,
            train_subset: see [`ImageDataModule`][structured_ssl.data.base.ImageDataModule]
            (not ``device_resident``: these images load lazily).
    """

    needs_files = False
    #: lazily loaded images are not held as device tensors
    filled_arguments: ClassVar[tuple[str, ...]] = ("device_resident",)

    def __init__(
        self,
        train: Dataset,
        val: Dataset | None = None,
        test: Dataset | None = None,
        image_size: int = 33,
        resize_to: int | None = None,
        channels: int | None = None,
        num_classes: int | None = None,
        test_fraction: float = 0.15,
        batch_size: int = 128,
        **kwargs: Any,
    ) -> None:
        super().__init__(batch_size=batch_size, device_resident=False, **kwargs)
        resize_to = image_size if resize_to is None else resize_to
        if not 1 <= resize_to <= image_size:
            raise ValueError(
                f"data.resize_to={resize_to} must be in [1, data.image_size={image_size}]"
            )
        if channels not in (None, 1, 3):
            raise ValueError(
                f"data.channels={channels} is not allowed; use 1 (grey), 3 (RGB) or null (as the images)"
            )
        if not 0.0 < test_fraction < 1.0:
            raise ValueError(f"data.test_fraction must be in (0, 1), got {test_fraction}")
        if dataset_size(train, "data.train") < 1:
            raise ValueError("data.train holds no images")
        self.sources: dict[str, Dataset | None] = {"train": train, "val": val, "test": test}
        self.image_size_, self.resize_to, self.test_fraction = image_size, resize_to, test_fraction
        first_image, first_label = split_item(train[0])
        self.labelled = first_label != UNLABELLED
        self.channels_ = channels or int(to_image(first_image).shape[0])
        self.num_classes_ = num_classes

    # ----------------------------------------------------------------- interface
    @property
    def info(self) -> DataInfo:
        """Channels and size as served; classes as given or counted (2 without labels: a
        placeholder for the online probe, which then never trains); nominal statistics."""
        if self.num_classes_ is None:
            self.num_classes_ = max(2, self._count_classes()) if self.labelled else 2
        c = self.channels_
        return DataInfo(
            channels=c,
            image_size=self.image_size_,
            num_classes=self.num_classes_,
            mean=(0.5,) * c,
            std=(0.25,) * c,
        )

    def _count_classes(self) -> int:
        train = self._train_source
        targets = getattr(train, "targets", None)
        labels = (
            targets
            if targets is not None
            else [split_item(train[i])[1] for i in range(dataset_size(train))]
        )
        return int(torch.as_tensor(list(labels)).max()) + 1

    @property
    def _train_source(self) -> Dataset:
        train = self.sources["train"]
        if train is None:  # set from the required ``train`` argument
            raise ValueError(f"{type(self).__name__} has no train Dataset")
        return train

    def load_arrays(self) -> Any:
        raise NotImplementedError("DatasetDataModule serves its datasets lazily (see setup)")

    def setup(self, stage: str | None = None) -> None:
        """Seeded splits as index views of the datasets; nothing is loaded here."""
        if self._datasets is not None:
            return
        generator = torch.Generator().manual_seed(self.seed)
        view = lambda d, angles=None: AsImages(  # noqa: E731
            d, self.channels_, self.resize_to, self.image_size_, angles
        )  # noqa: E731
        train, val, test = self._train_source, self.sources["val"], self.sources["test"]
        if not self.labelled:  # pretraining only: every image trains
            self._datasets = {"train": view(self._subset(train, generator))}
            return
        if test is None:
            order = torch.randperm(
                dataset_size(train), generator=torch.Generator().manual_seed(self.seed + 1)
            ).tolist()
            n_test = max(1, int(round(self.test_fraction * len(order))))
            train, test = Subset(train, order[n_test:]), Subset(train, order[:n_test])
        if val is None:
            order = torch.randperm(dataset_size(train), generator=generator).tolist()
            n_val = max(1, int(round(self.val_fraction * len(order))))
            train, val = Subset(train, order[n_val:]), Subset(train, order[:n_val])
        angles = (
            torch.rand(dataset_size(test), generator=generator) * 2 - 1
        ) * self.rotated_test_max_angle
        self._datasets = {
            "train": view(self._subset(train, generator)),
            "val": view(val),
            "test": view(test),
            "test_rotated": view(test, angles),
        }

    def _subset(self, train: Dataset, generator: torch.Generator) -> Dataset:
        if self.train_subset is None:
            return train
        order = torch.randperm(dataset_size(train), generator=generator)
        return Subset(train, order[: self.train_subset].tolist())

    def val_dataloader(self) -> Any:
        return self._loader("val", shuffle=False) if self.labelled else []

    def test_dataloader(self) -> Any:
        if not self.labelled:
            raise ValueError(unlabelled_message(self, "test"))
        return super().test_dataloader()

    def predict_dataloader(self) -> DataLoader:
        """Embeddings of the test images, or of every image when there are no labels."""
        return self._loader("test" if self.labelled else "train", shuffle=False)

    def describe(self) -> str:
        return f"{type(self).__name__}(train={type(self.sources['train']).__name__})"


def unlabelled_message(datamodule: Any, what: str) -> str:
    """The one line refusing evaluation on unlabelled data, naming the data and the remedy."""
    return (
        f"data: {datamodule.describe()} has no labels, so {what} cannot run; unlabelled images "
        "serve `fit` (pretraining) only, without validation or evaluation callbacks: use "
        "class subfolders (or a labelled Dataset) to evaluate"
    )


def refuse_evaluation_without_labels(
    subcommand: str | None, datamodule: Any, trainer: Any
) -> str | None:
    """The one-line refusal for evaluation on an unlabelled data module, else None: a
    ``validate``/``test``, a checkpoint monitoring a metric, or a callback that reads labels."""
    if getattr(datamodule, "labelled", True):
        return None
    if subcommand in ("validate", "test"):
        return unlabelled_message(datamodule, f"`{subcommand}`")
    for callback in getattr(trainer, "callbacks", []) if subcommand in (None, "fit") else []:
        name = type(callback).__name__
        if name in LABEL_CALLBACKS or getattr(callback, "monitor", None):
            what = f"trainer.callbacks {name}" + (
                f"(monitor={callback.monitor})" if getattr(callback, "monitor", None) else ""
            )
            return unlabelled_message(datamodule, what)
    return None
