"""Fixtures for the dataset tests: settings, a friend, and photos drawn with Pillow."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from qbtui.registry import Friend, Settings, dataset_dir


def draw_photo(seed: int, size: tuple[int, int] = (512, 512), mode: str = "RGB") -> Image.Image:
    """A distinct synthetic 'photo': a coloured background with random shapes."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    width, height = size
    for _ in range(12):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1, y1 = x0 + rng.randrange(1, width), y0 + rng.randrange(1, height)
        draw.ellipse((x0, y0, x1, y1), fill=tuple(rng.randrange(256) for _ in range(3)))
    return image.convert(mode) if mode != "RGB" else image


def save_jpeg(path: Path, seed: int, size=(512, 512), orientation: int | None = None, **options) -> Path:
    image = draw_photo(seed, size)
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        options["exif"] = exif
    image.save(path, "JPEG", quality=90, **options)
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    root = tmp_path / "work"
    return Settings(
        datasets_dir=root / "datasets",
        lora_dir=root / "loras",
        logs_dir=root / "logs",
        base_model=root / "model.safetensors",
    )


@pytest.fixture
def friend() -> Friend:
    return Friend(id="peter", name="Peter", token="qb_peter", repeats=30, describe="man, curly hair")


@pytest.fixture
def folder(settings: Settings, friend: Friend) -> Path:
    path = dataset_dir(settings, friend)
    path.mkdir(parents=True)
    return path


@pytest.fixture
def clean_dataset(folder: Path):
    """Twenty clean 512x512 JPEGs with good captions: a ready dataset."""

    def build(count: int = 20, start: int = 0) -> list[Path]:
        photos = []
        for index in range(start, start + count):
            photo = save_jpeg(folder / f"img_{index:03d}.jpg", seed=index)
            photo.with_suffix(".txt").write_text("qb_peter person, man, curly hair\n", encoding="utf-8")
            photos.append(photo)
        return photos

    return build


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ " + bytes(4) + b"".join(struct.pack(">i", round(v * 65536)) for v in (x, y, z))


def swapped_primaries_icc() -> bytes:
    """A minimal ICC v2 RGB profile whose red and green primaries are sRGB's swapped:
    pure red in it is pure green in sRGB, so a test can see the profile was applied."""
    white = _xyz(0.9642, 1.0, 0.8249)
    linear = b"curv" + bytes(4) + struct.pack(">I", 0)
    tags = [
        (b"wtpt", white),
        (b"rXYZ", _xyz(0.3851, 0.7169, 0.0971)),
        (b"gXYZ", _xyz(0.4361, 0.2225, 0.0139)),
        (b"bXYZ", _xyz(0.1431, 0.0606, 0.7141)),
        (b"rTRC", linear),
        (b"gTRC", linear),
        (b"bTRC", linear),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for signature, body in tags:
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    header = (
        struct.pack(">I", offset + len(data))
        + bytes(4)
        + struct.pack(">I", 0x02100000)
        + b"mntrRGB XYZ "
        + bytes(12)
        + b"acsp"
        + bytes(28)
        + white[8:]
        + bytes(48)
    )
    return header + struct.pack(">I", len(tags)) + table + data


class Photos:
    """The drawing helpers, handed to tests as a fixture (importlib mode has no conftest import)."""

    draw = staticmethod(draw_photo)
    jpeg = staticmethod(save_jpeg)
    swapped_icc = staticmethod(swapped_primaries_icc)


@pytest.fixture
def photos() -> type[Photos]:
    return Photos
