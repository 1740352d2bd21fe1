"""The faces found and the squares prep frames on the real photos, pinned to what the
analysis computed before it was made faster (issue 27): a speed-up must not move them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from qbtui.dataset.prep import prepare_friend
from qbtui.faces.analysis import analyse_photo
from qbtui.faces.model import FaceModel
from qbtui.registry import Friend, Settings, dataset_dir
from tests.faces.conftest import group_photo

# Within this many full-size pixels: a px or two of rounding, never another face.
TOLERANCE = 2
# Every face's box (left, top, right, bottom), largest first, in the oriented full-size pixels.
BOXES = {
    "32bit.png": [(138, 288, 474, 624)],
    "biden.jpg": [(420, 184, 780, 544)],
    "group.jpg": [(1022, 300, 1334, 612), (252, 172, 432, 354)],
    "obama.jpg": [(372, 139, 639, 406)],
    "obama2.jpg": [(138, 288, 474, 624)],
    "obama3.jpg": [(656, 308, 922, 576)],
    "obama_partial_face.jpg": [(0, 164, 190, 386)],
    "obama_partial_face2.jpg": [(383, 164, 551, 386)],
    "phone.jpg": [(372, 139, 639, 406)],
}
# The square prep crops; in group.jpg the friend (Obama, the majority) is the smaller face.
FRAMES = {
    "32bit.png": (0, 193, 626, 819),
    "biden.jpg": (0, 0, 970, 970),
    "group.jpg": (69, 34, 615, 580),
    "obama.jpg": (105, 0, 906, 801),
    "obama2.jpg": (0, 193, 626, 819),
    "obama3.jpg": (387, 104, 1191, 908),
    "obama_partial_face.jpg": (0, 69, 491, 560),
    "obama_partial_face2.jpg": (0, 44, 551, 595),
    "phone.jpg": (105, 0, 906, 801),
}


def near(found: tuple[int, ...], pinned: tuple[int, ...]) -> bool:
    return len(found) == len(pinned) and all(abs(a - b) <= TOLERANCE for a, b in zip(found, pinned, strict=True))


def friend_with_photos(root: Path, face_photos: Path, group: bool) -> tuple[Settings, Friend, Path]:
    """The real photos, one stored sideways (EXIF Orientation 6, as phones do) and, with
    `group`, Obama beside a larger Biden."""
    settings = Settings(datasets_dir=root / "datasets", lora_dir=root, logs_dir=root, base_model=root)
    friend = Friend(id="barack", name="Barack", token="qb_barack")
    folder = dataset_dir(settings, friend)
    folder.mkdir(parents=True)
    for photo in face_photos.iterdir():
        shutil.copy2(photo, folder / photo.name)
    upright = Image.open(face_photos / "obama.jpg").convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6
    upright.transpose(Image.Transpose.ROTATE_90).save(folder / "phone.jpg", exif=exif, quality=92)
    if group:
        group_photo(face_photos).save(folder / "group.jpg", quality=92)
    return settings, friend, folder


def test_the_faces_found_in_the_real_photos_are_pinned(tmp_path, face_photos, face_model: FaceModel):
    _, _, folder = friend_with_photos(tmp_path, face_photos, group=True)
    for name, boxes in BOXES.items():
        found = [face.box for face in analyse_photo(folder / name, face_model).faces]
        assert len(found) == len(boxes) and all(map(near, found, boxes)), (name, found)


@pytest.mark.parametrize("group", [False, True], ids=["one-face-each", "with-a-group-photo"])
def test_prep_frames_the_real_photos_where_it_always_did(tmp_path, face_photos, group):
    settings, friend, _ = friend_with_photos(tmp_path, face_photos, group)
    report = prepare_friend(settings, friend, dry_run=True, workers=2)
    frames = {action.source.name: action.frame for action in report.done}
    expected = {name: frame for name, frame in FRAMES.items() if group or name != "group.jpg"}
    assert frames.keys() == expected.keys()
    assert all(near(frames[name], frame) for name, frame in expected.items()), frames
