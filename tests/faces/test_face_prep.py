"""Face-centred prep on real photos: the face stays in the square and grows; letterbox stays available."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PIL import Image

from qbtui.dataset.prep import prepare_friend
from qbtui.faces.model import FaceModel
from qbtui.faces.photo import load_photo
from qbtui.registry import originals_dir
from tests.dataset.conftest import draw_photo
from tests.faces.conftest import put_photo

PHOTOS = ("obama.jpg", "obama3.jpg", "biden.jpg", "32bit.png")


def white_bar_rows(image: Image.Image) -> int:
    """Rows and columns at the edges that are pure white all along (letterbox bars)."""
    grey = image.convert("L")
    width, height = grey.size
    rows = [all(grey.getpixel((x, y)) > 250 for x in range(0, width, 8)) for y in (0, height - 1)]
    columns = [all(grey.getpixel((x, y)) > 250 for y in range(0, height, 8)) for x in (0, width - 1)]
    return sum(rows) + sum(columns)


def test_face_prep_keeps_the_face_inside_the_square_and_larger_than_letterbox(
    settings, friend, friend_folder, face_photos, face_model: FaceModel, tmp_path: Path
):
    for name in PHOTOS:
        put_photo(friend_folder, face_photos, name)
    report = prepare_friend(settings, friend, workers=2)
    assert {action.source.name for action in report.done} == set(PHOTOS)
    assert all(action.framing == "face" and action.frame is not None for action in report.done)
    assert sorted(path.name for path in originals_dir(settings, friend).iterdir()) == sorted(PHOTOS)
    letterboxed = replace(settings, datasets_dir=tmp_path / "letterbox")
    other_folder = letterboxed.datasets_dir / friend.id / friend_folder.name
    other_folder.mkdir(parents=True)
    for name in PHOTOS:
        put_photo(other_folder, face_photos, name)
    prepare_friend(letterboxed, friend, workers=1, mode="letterbox")
    for name in PHOTOS:
        target = friend_folder / (Path(name).stem + ".jpg")
        cropped = Image.open(target)
        assert cropped.size == (512, 512) and white_bar_rows(cropped) == 0
        [face] = face_model.detect(load_photo(target)[0])
        left, top, right, bottom = face.box
        assert left > 0 and top > 0 and right < 512 and bottom < 512
        [boxed_face] = face_model.detect(load_photo(other_folder / (Path(name).stem + ".jpg"))[0])
        assert face.height > 1.2 * boxed_face.height, name
    again = prepare_friend(settings, friend, workers=2)
    assert again.done == () and again.unchanged == len(PHOTOS)


def test_a_photo_without_a_face_falls_back_to_letterbox_and_says_so(settings, friend, friend_folder, face_photos):
    put_photo(friend_folder, face_photos, "obama.jpg")
    draw_photo(5, (900, 600)).save(friend_folder / "drawing.jpg")
    report = prepare_friend(settings, friend, workers=1, dry_run=True)
    framing = {action.source.name: action.framing for action in report.done}
    assert framing == {"obama.jpg": "face", "drawing.jpg": "letterbox (no face found)"}
    report = prepare_friend(settings, friend, workers=1)
    assert white_bar_rows(Image.open(friend_folder / "drawing.jpg")) == 2


def test_prep_mode_letterbox_in_the_settings_letterboxes(settings, friend, friend_folder, face_photos):
    put_photo(friend_folder, face_photos, "obama3.jpg")
    report = prepare_friend(replace(settings, prep_mode="letterbox"), friend, workers=1)
    assert [action.framing for action in report.done] == ["letterbox"]
    assert white_bar_rows(Image.open(friend_folder / "obama3.jpg")) == 2


def test_an_exif_rotated_phone_photo_is_cropped_around_the_upright_face(settings, friend, friend_folder, face_photos, face_model):
    image = Image.open(face_photos / "obama.jpg").convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6
    image.transpose(Image.Transpose.ROTATE_90).save(friend_folder / "phone.jpg", exif=exif, quality=92)
    report = prepare_friend(settings, friend, workers=1)
    assert [action.framing for action in report.done] == ["face"]
    [face] = face_model.detect(Image.open(friend_folder / "phone.jpg"))
    assert face.height > 100
