"""What scan needs to know about one image file, read from its header only.

`read_image_info` never decodes pixels: Pillow's `Image.open` parses the header, EXIF
orientation comes from `getexif()`, and truncation is caught by looking at the last
bytes of the file (a JPEG's EOI marker, a PNG's IEND chunk, a WebP's RIFF length).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from qbtui.safefile import open_regular

if TYPE_CHECKING:
    from PIL import Image

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".bmp", ".tif", ".tiff", ".gif"})
HEIF_SUFFIXES = frozenset({".heic", ".heif"})
JPEG_FORMATS = frozenset({"JPEG", "MPO"})  # MPO: a phone's JPEG with extra frames (depth, portrait)
EXIF_ORIENTATION_TAG = 0x0112
TAIL_BYTES = 1024
ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})


@cache
def ensure_heif_opener() -> None:
    """Teach Pillow to open HEIC/HEIF, once, on first need (pillow-heif is slow to import)."""
    from pillow_heif import register_heif_opener

    register_heif_opener()


@dataclass(frozen=True)
class ImageInfo:
    """Header facts of one image; `error` is set when the file cannot be read."""

    size_bytes: int
    format: str | None = None
    width: int | None = None
    height: int | None = None
    mode: str | None = None
    orientation: int = 1
    has_alpha: bool = False
    truncated: bool = False
    error: str | None = None
    too_many_pixels: bool = False

    @property
    def readable(self) -> bool:
        return self.error is None and not self.truncated and self.size_bytes > 0 and not self.too_many_pixels


def _looks_truncated(handle: BinaryIO, image_format: str, size: int) -> bool:
    """Cheap end-of-file check per format; formats without one are trusted."""
    if image_format == "WEBP":
        handle.seek(0)
        header = handle.read(8)
        return len(header) < 8 or int.from_bytes(header[4:8], "little") + 8 > size
    if image_format not in JPEG_FORMATS | {"PNG", "GIF"}:
        return False
    handle.seek(max(0, size - TAIL_BYTES))
    tail = handle.read()
    if image_format in JPEG_FORMATS:
        return b"\xff\xd9" not in tail
    if image_format == "PNG":
        return b"IEND" not in tail
    return not tail.rstrip(b"\x00").endswith(b"\x3b")


def read_image_info(path: Path, size_bytes: int | None = None) -> ImageInfo:
    """Header facts of `path` without decoding its pixels."""
    from PIL import Image, UnidentifiedImageError

    if size_bytes is None:
        size_bytes = os.stat(path).st_size
    if size_bytes == 0:
        return ImageInfo(size_bytes=0)
    if path.suffix.lower() in HEIF_SUFFIXES:
        ensure_heif_opener()
    try:
        with open_regular(path) as handle, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(handle)
            info = ImageInfo(
                size_bytes=size_bytes,
                format=image.format,
                width=image.width,
                height=image.height,
                mode=image.mode,
                orientation=_orientation(image),
                has_alpha=image.mode in ALPHA_MODES or "transparency" in image.info,
            )
            truncated = _looks_truncated(handle, image.format or "", size_bytes)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        return ImageInfo(size_bytes=size_bytes, error=str(error), too_many_pixels=True)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        return ImageInfo(size_bytes=size_bytes, error=str(error) or type(error).__name__)
    if truncated:
        return replace(info, orientation=1, has_alpha=False, truncated=True, error="the file ends early (truncated)")
    return info


def _orientation(image: Image.Image) -> int:
    orientation = image.getexif().get(EXIF_ORIENTATION_TAG, 1)
    return orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else 1
