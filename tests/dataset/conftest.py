"""Fixtures for the dataset tests: settings, a friend, and photos drawn with Pillow."""

from __future__ import annotations

import random
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


class Photos:
    """The drawing helpers, handed to tests as a fixture (importlib mode has no conftest import)."""

    draw = staticmethod(draw_photo)
    jpeg = staticmethod(save_jpeg)


@pytest.fixture
def photos() -> type[Photos]:
    return Photos
