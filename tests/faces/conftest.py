"""Fixtures for the face tests: the loaded model and a folder of real photos."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qbtui.faces.model import FaceModel


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
