"""Turn one image file into the bytes of a clean 512x512 sRGB JPEG (pure, no file writes).

Runs in prep's worker processes. JPEGs decode at reduced scale through Pillow's
`draft()`, so a 4032x3024 phone photo is read at 1008x756: most of prep's speed.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import TYPE_CHECKING

from qbtui.dataset.imageinfo import EXIF_ORIENTATION_TAG, HEIF_SUFFIXES, JPEG_FORMATS, ensure_heif_opener
from qbtui.safefile import open_regular

Box = tuple[int, int, int, int]

if TYPE_CHECKING:
    from PIL import Image

TARGET = 512
WHITE = (255, 255, 255)
JPEG_QUALITY = 95
SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I"})


def render_prepared_jpeg(path: Path, frame: Box | None = None) -> bytes:
    """EXIF-oriented, flattened on white, sRGB RGB, fitted and letterboxed, JPEG q95.

    With `frame` (a square in the oriented photo's full-size pixels, see
    qbtui.faces.framing) the photo is cropped to it first, so nothing is letterboxed.
    """
    from PIL import Image, ImageOps

    if path.suffix.lower() in HEIF_SUFFIXES:
        ensure_heif_opener()
    with open_regular(path) as handle, Image.open(handle) as source:
        full_width = source.height if source.getexif().get(EXIF_ORIENTATION_TAG, 1) in (5, 6, 7, 8) else source.width
        if source.format in JPEG_FORMATS:
            source.draft(source.mode, _draft_size(source.size, frame))
        icc_profile = source.info.get("icc_profile")
        image = ImageOps.exif_transpose(source)
    image = _to_eight_bit(image)
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        image = _flatten_on_white(image)
    elif image.mode not in ("RGB", "L", "CMYK"):
        image = image.convert("RGB")
    if frame is not None:
        image = _crop(image, frame, image.width / full_width)
    image = _fit(image)
    image = _to_srgb(image, icc_profile)
    canvas = Image.new("RGB", (TARGET, TARGET), WHITE)
    canvas.paste(image, ((TARGET - image.width) // 2, (TARGET - image.height) // 2))
    out = io.BytesIO()
    canvas.save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def _draft_size(size: tuple[int, int], frame: Box | None) -> tuple[int, int]:
    """The smallest decode size that still leaves the frame (or the photo) TARGET pixels wide."""
    if frame is None:
        return (TARGET, TARGET)
    scale = TARGET / max(1, frame[2] - frame[0])
    return (math.ceil(size[0] * scale), math.ceil(size[1] * scale))


def _crop(image: Image.Image, frame: Box, scale: float) -> Image.Image:
    """The square frame (full-size coordinates) cut out of an image decoded at `scale`; square to the pixel."""
    side = max(1, min(round((frame[2] - frame[0]) * scale), image.width, image.height))
    left = max(0, min(round(frame[0] * scale), image.width - side))
    top = max(0, min(round(frame[1] * scale), image.height - side))
    return image.crop((left, top, left + side, top + side))


def _to_eight_bit(image: Image.Image) -> Image.Image:
    """16-bit and 32-bit greyscale scaled down to 8 bits (a plain convert would clip)."""
    if image.mode in SIXTEEN_BIT_MODES:
        return image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if image.mode == "F":
        return image.convert("L")
    return image


def _flatten_on_white(image: Image.Image) -> Image.Image:
    from PIL import Image

    rgba = image.convert("RGBA")
    base = Image.new("RGB", rgba.size, WHITE)
    base.paste(rgba, mask=rgba.getchannel("A"))
    return base


def _fit(image: Image.Image) -> Image.Image:
    """Scaled (up or down) so the long side is 512, aspect ratio kept."""
    from PIL import Image

    scale = TARGET / max(image.width, image.height)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    if size == image.size:
        return image
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _to_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """RGB in sRGB: through the embedded ICC profile when there is a usable one."""
    if icc_profile:
        from PIL import ImageCms

        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
            converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass
    return image.convert("RGB")
