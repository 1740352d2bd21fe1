"""Scoring and the choice on real photographs standing in for samples (dlib's face model)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from qbtui.likeness.faces import reference_descriptors, sample_faces, training_photos
from qbtui.likeness.scoring import IDENTITY, choose, score_cell

faces = pytest.importorskip("qbtui.faces")


@pytest.fixture(scope="module")
def model():
    try:
        return faces.FaceModel.load()
    except faces.FaceModelMissing as error:
        pytest.skip(str(error))


def load(path: Path) -> Image.Image:
    with Image.open(path) as opened:
        return ImageOps.exif_transpose(opened).convert("RGB")


def checkpoint(model, label: str, images: list[tuple[str, Image.Image]], references):
    """A 'checkpoint' whose samples are the given pictures, as the pass scores them."""
    found = [
        sample_faces(model, image, path=name, prompt="a photo of qb_obama person", kind=IDENTITY, seed=seed)
        for seed, (name, image) in enumerate(images)
    ]
    return score_cell(label, int(label), f"{label}.safetensors", 0.8, found, references)


def test_the_friends_own_photos_win_and_a_checkpoint_without_faces_loses(model, face_photos: Path, tmp_path: Path) -> None:
    friend = tmp_path / "obama" / "30_obama"
    friend.mkdir(parents=True)
    for name in ("obama.jpg", "obama2.jpg"):
        shutil.copy(face_photos / name, friend / name)
    references, photos = reference_descriptors(model, training_photos(tmp_path / "obama"))
    assert (len(references), photos) == (2, 2)
    own = checkpoint(model, "400", [(name, load(face_photos / name)) for name in ("obama3.jpg", "obama2.jpg")], references)
    other = checkpoint(model, "800", [("biden.jpg", load(face_photos / "biden.jpg"))] * 2, references)
    blank = checkpoint(model, "1200", [("grey.png", Image.new("RGB", (512, 512), (128, 128, 128)))] * 2, references)
    assert own.likeness < 0.6 < other.likeness
    assert (own.match_rate, other.match_rate) == (1.0, 0.0)
    assert blank.face_rate == 0 and blank.likeness is None
    assert other.collapsed and not own.collapsed  # one photo twice: "every seed the same face"
    choice = choose([blank, other, own], min_face_rate=0.7, has_references=True)
    assert choice.cell is own
    only_blank = choose([blank], min_face_rate=0.7, has_references=True)
    assert only_blank.cell is None and only_blank.reason == "no faces in the samples"
