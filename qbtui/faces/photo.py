"""Open a photo the way the face engine sees it: EXIF orientation applied, 8-bit RGB."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageOps

from qbtui.dataset.imageinfo import EXIF_ORIENTATION_TAG, HEIF_SUFFIXES, JPEG_FORMATS, ensure_heif_opener
from qbtui.safefile import open_regular

SIDEWAYS_ORIENTATIONS = frozenset({5, 6, 7, 8})
WHITE = (255, 255, 255)


def load_photo(path: Path, *, at_least: int | None = None) -> tuple[Image.Image, tuple[int, int]]:
    """The oriented RGB pixels of `path`, and the oriented full size of the photo.

    With `at_least`, a JPEG decodes at a reduced scale (Pillow's `draft`) whose long side
    stays at least that many pixels, so the image may be smaller than the full size.
    """
    if path.suffix.lower() in HEIF_SUFFIXES:
        ensure_heif_opener()
    with open_regular(path) as handle, Image.open(handle) as source:
        width, height = source.size
        if source.getexif().get(EXIF_ORIENTATION_TAG, 1) in SIDEWAYS_ORIENTATIONS:
            width, height = height, width
        if at_least is not None and source.format in JPEG_FORMATS and max(source.size) > at_least:
            scale = at_least / max(source.size)
            source.draft("RGB", (max(1, round(source.width * scale)), max(1, round(source.height * scale))))
        image = ImageOps.exif_transpose(source)
        rgb = to_rgb(image)
    return rgb, (width, height)


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB; 16-bit greyscale scaled down, transparency flattened onto white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        base = Image.new("RGB", rgba.size, WHITE)
        base.paste(rgba, mask=rgba.getchannel("A"))
        return base
    return image.convert("RGB")
