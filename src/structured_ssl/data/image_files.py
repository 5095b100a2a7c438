"""One image file of a researcher's folder: opened, checked and decoded, or refused by name.

Why: among thousands of images one bad file (not an image, cut short, a decompression bomb,
unreadable, a mode whose values would be read wrong) used to end a run mid-epoch in a
100-line traceback that often did not name the file, or worse, was read wrong without a word
(16-bit grey served as white). Every problem here is a
[`DatasetFormatError`][structured_ssl.data.download.DatasetFormatError] whose message starts with
the file's path, so the CLI prints it as one line.

* [`open_image`][structured_ssl.data.image_files.open_image]: the file decoded (used for every item
  served).
* [`check_image`][structured_ssl.data.image_files.check_image]: the cheap check run once per file
  before a run starts: the header (format, size, mode) and, for PNG, every chunk's checksum
      (``verify``); other formats are
  decoded (JPEG at 1/8 scale, the decoder's draft mode), since their ``verify`` checks nothing.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from structured_ssl.data.download import DatasetFormatError

#: Pillow modes that are decoded to grey or RGB without losing their meaning; 16-bit grey is
#: scaled by 1/65535 (its bit depth), alpha is composited onto black (the zero padding's colour)
ACCEPTED_MODES = (
    "1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "RGBa", "La",
    "CMYK", "YCbCr", "I;16", "I;16B", "I;16L", "I;16N",
)  # fmt: skip
SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")
ALLOWED = (
    "an 8-bit grey, RGB, palette or CMYK image, or 16-bit grey (PNG, JPEG, BMP, GIF, TIFF, WebP)"
)


def _max_pixels() -> int:
    from PIL import Image

    return int(Image.MAX_IMAGE_PIXELS or 0)


def _refused(path: Path, problem: str) -> DatasetFormatError:
    return DatasetFormatError(f"{path}: {problem}; expected {ALLOWED}: replace or remove it")


def _open(path: Path) -> Any:
    """The image, its header read (nothing decoded); size and mode checked."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Pillow warns above MAX_IMAGE_PIXELS and raises above twice that: both refuse here
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DatasetFormatError(
            f"{path}: {_stated_size(path)} pixels is more than Pillow's decompression-bomb limit of "
            f"{_max_pixels()} pixels; expected images of at most that size (resize it)"
        ) from None
    except UnidentifiedImageError:
        raise _refused(path, "not an image Pillow can read (unknown or damaged header)") from None
    except PermissionError:
        raise DatasetFormatError(
            f"{path}: cannot be read (permission denied); expected a file this user may read "
            "(chmod a+r), or remove it from the folder"
        ) from None
    except OSError as error:  # a system error (errno) or Pillow's own, e.g. a cut header
        problem = (
            f"cannot be read ({error.strerror})"
            if error.errno
            else f"damaged or cut short ({error})"
        )
        raise _refused(path, problem) from None
    if image.mode not in ACCEPTED_MODES:
        image.close()
        raise _refused(path, f"mode {image.mode!r} (its value range is not stated) is not read")
    return image


def _stated_size(path: Path) -> str:
    """``W x H`` as the header states it, read without Pillow's size limit (for the message)."""
    from PIL import Image

    limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        with Image.open(path) as image:
            return f"{image.width} x {image.height}"
    except Exception:  # noqa: BLE001 - a header Pillow cannot read twice: no size to show
        return "its"
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def open_image(path: str | Path) -> Any:
    """The image at ``path``, fully decoded (the file is closed), or a one-line refusal."""
    path = Path(path)
    image = _open(path)
    try:
        with image:
            image.load()
            return image
    except OSError as error:
        raise _refused(path, f"cannot be decoded ({error})") from None


def check_image(path: str | Path) -> None:
    """Header, size, mode and (PNG) chunk checksums, or (other formats) a decode: see module."""
    path = Path(path)
    image = _open(path)
    try:
        with image:
            if image.format == "PNG":
                image.verify()
            else:
                if image.format == "JPEG":
                    image.draft(image.mode, (max(1, image.width // 8), max(1, image.height // 8)))
                image.load()
    except (OSError, SyntaxError, ValueError) as error:  # Pillow's verify raises SyntaxError too
        raise _refused(path, f"damaged or cut short ({error})") from None
