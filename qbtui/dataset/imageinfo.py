"""What scan needs to know about one image file, read from its header only.

`read_image_info` never decodes pixels: Pillow's `Image.open` parses the header, EXIF
orientation comes from `getexif()`, and truncation is caught by looking at the last
bytes of the file (a JPEG's EOI marker, a PNG's IEND chunk, a WebP's RIFF length).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".bmp", ".tif", ".tiff", ".gif"})
HEIF_SUFFIXES = frozenset({".heic", ".heif"})
EXIF_ORIENTATION_TAG = 0x0112
TAIL_BYTES = 1024
ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})

_heif_registered = False


def ensure_heif_opener() -> None:
    """Teach Pillow to open HEIC/HEIF, once, on first need (pillow-heif is slow to import)."""
    global _heif_registered
    if not _heif_registered:
        from pillow_heif import register_heif_opener

        register_heif_opener()
        _heif_registered = True


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

    @property
    def readable(self) -> bool:
        return self.error is None and not self.truncated and self.size_bytes > 0


def _tail(path: Path, size: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(max(0, size - TAIL_BYTES))
        return handle.read()


def _looks_truncated(path: Path, image_format: str, size: int) -> bool:
    """Cheap end-of-file check per format; formats without one are trusted."""
    if image_format == "JPEG":
        return b"\xff\xd9" not in _tail(path, size)
    if image_format == "PNG":
        return b"IEND" not in _tail(path, size)
    if image_format == "WEBP":
        with open(path, "rb") as handle:
            header = handle.read(8)
        return len(header) < 8 or int.from_bytes(header[4:8], "little") + 8 > size
    if image_format == "GIF":
        return not _tail(path, size).rstrip(b"\x00").endswith(b"\x3b")
    return False


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
        with Image.open(path) as image:
            image_format = image.format or ""
            orientation = int(image.getexif().get(EXIF_ORIENTATION_TAG, 1) or 1)
            has_alpha = image.mode in ALPHA_MODES or "transparency" in image.info
            info = ImageInfo(
                size_bytes=size_bytes,
                format=image_format,
                width=image.width,
                height=image.height,
                mode=image.mode,
                orientation=orientation if 1 <= orientation <= 8 else 1,
                has_alpha=has_alpha,
            )
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        return ImageInfo(size_bytes=size_bytes, error=str(error) or type(error).__name__)
    if _looks_truncated(path, info.format or "", size_bytes):
        return ImageInfo(
            size_bytes=size_bytes,
            format=info.format,
            width=info.width,
            height=info.height,
            mode=info.mode,
            truncated=True,
            error="the file ends early (truncated)",
        )
    return info
