"""Fixtures for the face tests: the loaded model and a folder of real photos."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from qbtui.faces.model import FaceModel
from qbtui.registry import Friend, Settings, dataset_dir


@pytest.fixture(scope="session")
def face_model() -> FaceModel:
    return FaceModel.load()


@pytest.fixture
def photo_folder(tmp_path: Path, face_photos: Path) -> Path:
    """A training folder holding copies of the real test photos."""
    folder = tmp_path / "datasets" / "obama" / "20_obama"
    folder.mkdir(parents=True)
    for photo in face_photos.iterdir():
        shutil.copy2(photo, folder / photo.name)
    return folder


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    root = tmp_path / "work"
    return Settings(datasets_dir=root / "datasets", lora_dir=root / "loras", logs_dir=root / "logs", base_model=root / "m")


@pytest.fixture
def friend() -> Friend:
    return Friend(id="barack", name="Barack", token="qb_barack", repeats=20)


@pytest.fixture
def friend_folder(settings: Settings, friend: Friend) -> Path:
    folder = dataset_dir(settings, friend)
    folder.mkdir(parents=True)
    return folder


def put_photo(folder: Path, face_photos: Path, name: str, as_name: str | None = None, edit=None) -> Path:
    """Copy a real photo into the folder, with a caption; `edit` changes its pixels first."""
    target = folder / (as_name or name)
    if edit is None:
        shutil.copy2(face_photos / name, target)
    else:
        edit(Image.open(face_photos / name).convert("RGB")).save(target.with_suffix(".jpg"), quality=92)
        target = target.with_suffix(".jpg")
    target.with_suffix(".txt").write_text("qb_barack person\n", encoding="utf-8")
    return target


def group_photo(face_photos: Path) -> Image.Image:
    """Obama and Biden pasted side by side on one canvas."""
    obama = Image.open(face_photos / "obama.jpg").convert("RGB")
    biden = Image.open(face_photos / "biden.jpg").convert("RGB").crop((300, 100, 870, 700))
    canvas = Image.new("RGB", (1600, 900), (90, 110, 130))
    canvas.paste(obama.resize((obama.width * 700 // obama.height, 700)), (40, 100))
    canvas.paste(biden, (900, 150))
    return canvas
