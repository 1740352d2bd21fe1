"""The face engine on real photos: one face each, distances that tell people apart."""

from __future__ import annotations

import builtins
import importlib.util
from pathlib import Path

import pytest
from PIL import Image

from qbtui.faces.model import MIN_FACE_SCORE, SAME_PERSON_DISTANCE, FaceModel, FaceModelMissing, face_distance
from qbtui.faces.photo import load_photo
from tests.dataset.conftest import draw_photo

ONE_PERSON = ("obama.jpg", "obama2.jpg", "obama3.jpg", "obama_partial_face.jpg", "obama_partial_face2.jpg", "32bit.png")


def test_every_test_photo_has_one_face(face_model: FaceModel, face_photos: Path) -> None:
    for name in (*ONE_PERSON, "biden.jpg"):
        image, _size = load_photo(face_photos / name)
        faces = face_model.detect(image)
        assert len(faces) == 1, name
        face = faces[0]
        assert face.score >= MIN_FACE_SCORE and len(face.landmarks) == 5 and len(face.descriptor) == 128
        left, top, right, bottom = face.box
        assert 0 <= left < right <= image.width and 0 <= top < bottom <= image.height
        assert all(left - 5 <= x <= right + 5 and top - 5 <= y <= bottom + 5 for x, y in face.landmarks)
        assert face.pose in ("front", "three-quarter", "profile")
        assert face.sharpness > 0 and 0 < face.brightness < 255


def test_same_person_is_closer_than_the_threshold_and_another_is_farther(face_model: FaceModel, face_photos: Path) -> None:
    def describe(name: str):
        return face_model.detect(load_photo(face_photos / name)[0])[0]

    obama = [describe(name) for name in ONE_PERSON]
    biden = describe("biden.jpg")
    for index, first in enumerate(obama):
        for second in obama[index + 1 :]:
            assert face_distance(first, second) < SAME_PERSON_DISTANCE
        assert face_distance(first, biden) > SAME_PERSON_DISTANCE + 0.1


def test_coordinates_refer_to_the_image_passed_in(face_model: FaceModel, face_photos: Path) -> None:
    image, _size = load_photo(face_photos / "obama.jpg")
    big = image.resize((image.width * 3, image.height * 3))
    small_face = face_model.detect(image)[0]
    big_face = face_model.detect(big)[0]
    for small_value, big_value in zip(small_face.box, big_face.box, strict=True):
        assert abs(small_value * 3 - big_value) <= 0.08 * big_face.width


def test_the_pillow_drawings_of_the_dataset_tests_have_no_face(face_model: FaceModel) -> None:
    for seed in range(6):
        assert face_model.detect(draw_photo(seed, (640, 480))) == []


def test_load_photo_applies_exif_orientation(tmp_path: Path, face_photos: Path) -> None:
    image, _ = load_photo(face_photos / "obama.jpg")
    exif = Image.Exif()
    exif[0x0112] = 6
    sideways = image.transpose(Image.Transpose.ROTATE_90)
    sideways.save(tmp_path / "sideways.jpg", exif=exif)
    upright, size = load_photo(tmp_path / "sideways.jpg")
    assert upright.size == image.size == size
    small, size = load_photo(tmp_path / "sideways.jpg", at_least=300)
    assert size == image.size and 300 <= max(small.size) < max(image.size)


def test_missing_dlib_raises_face_model_missing_with_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "dlib" else real_find_spec(name, *a))
    real_import = builtins.__import__
    monkeypatch.setattr(
        builtins,
        "__import__",
        lambda name, *a, **k: (_ for _ in ()).throw(ImportError(name)) if name == "dlib" else real_import(name, *a, **k),
    )
    with pytest.raises(FaceModelMissing) as raised:
        FaceModel.load()
    assert "pip install" in raised.value.fix and "dlib-bin" in raised.value.fix
