"""DataModules sharing one interface: un-augmented (image, label) batches, with the sizes
(channels, image size, classes) the CLI links into the model. Owns the datasets (digits,
MNIST and rotated MNIST, CIFAR-10, Tiny ImageNet, image folders, any ``Dataset``), their
checked downloads and the device-resident loader. Augmentation is not here (it belongs to
A-SSL, [`structured_ssl.ssl.augmentation`][structured_ssl.ssl.augmentation]). Imports nothing else
of the package, so the layers above (ssl, config, methods...) may all use it.
"""

from structured_ssl.data.any_dataset import DatasetDataModule
from structured_ssl.data.base import DataInfo, ImageDataModule
from structured_ssl.data.cifar import CIFAR10DataModule
from structured_ssl.data.colour_digits import ColourDigitsDataModule
from structured_ssl.data.digits import DigitsDataModule
from structured_ssl.data.download import DatasetFormatError, DatasetNotFoundError
from structured_ssl.data.image_folder import ImageFolderDataModule
from structured_ssl.data.mnist import MNISTDataModule, RotatedMNISTDataModule
from structured_ssl.data.tiny_imagenet import TinyImageNetDataModule

__all__ = [
    "CIFAR10DataModule",
    "ColourDigitsDataModule",
    "DataInfo",
    "DatasetDataModule",
    "DatasetFormatError",
    "DatasetNotFoundError",
    "DigitsDataModule",
    "ImageDataModule",
    "ImageFolderDataModule",
    "MNISTDataModule",
    "RotatedMNISTDataModule",
    "TinyImageNetDataModule",
]
